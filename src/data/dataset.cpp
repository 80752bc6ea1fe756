// Datasets and the row gathering that assembles batches.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/tensor_impl.hpp"
#include "nabla/data.hpp"

namespace nabla::data {
namespace {

Shape with_batch_axis(int64_t batch, const Shape& sample_shape) {
  Shape shape{batch};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  return shape;
}

// Copies equally shaped examples' tensors into one [n, ...] buffer; `what` names the field.
Tensor stack_examples(const std::vector<Tensor>& parts, const char* what) {
  const Tensor& first = parts.front();
  Tensor out = make_tensor(with_batch_axis(static_cast<int64_t>(parts.size()), first.shape()),
                           first.dtype());
  const size_t nbytes = first.numel() * dtype_size(first.dtype());
  auto* dst = static_cast<char*>(out.raw_data());
  for (size_t i = 0; i < parts.size(); ++i) {
    const Tensor& part = parts[i];
    NABLA_CHECK(part.shape() == first.shape() && part.dtype() == first.dtype(),
                "Dataset::get_batch: example ", i, " of the batch has ", what, " shape ",
                part.shape(), " (", dtype_name(part.dtype()), "), expected ", first.shape(), " (",
                dtype_name(first.dtype()), ") like the first example");
    std::memcpy(dst + i * nbytes, part.contiguous().raw_data(), nbytes);
  }
  return out;
}

// Copies the rows indices[begin, end) of `from` (checked in range) to rows [begin, end) of `to`.
// Shuffled rows come from anywhere in a data set larger than the caches, and each copy would
// first wait for its row to arrive from memory. Prefetching the row kAhead indices on (its first
// 4 KiB: the hardware prefetcher follows a longer row) overlaps those waits: 32 random
// Fashion-MNIST rows (3 KiB each) took 10.3 us, now 6.9 (a Zen 5 core, one epoch's batches).
// A run of consecutive indices (every batch when not shuffling) is one copy, which streams its
// own rows: they are not prefetched.
void copy_rows(const char* from, size_t row_bytes, const int64_t* indices, size_t begin, size_t end,
               char* to) {
  constexpr size_t kAhead = 4, kPrefetchBytes = 4096;
  size_t prefetched = begin;  // the rows of indices [begin, prefetched) are prefetched or copied
  const auto prefetch_until = [&](size_t stop) {
    for (; prefetched < std::min(stop, end); ++prefetched) {
      const char* row = from + indices[prefetched] * row_bytes;
      for (size_t b = 0; b < std::min(row_bytes, kPrefetchBytes); b += 64)
        __builtin_prefetch(row + b);
    }
  };
  prefetch_until(begin + kAhead);
  size_t i = begin;
  while (i < end) {
    const int64_t start = indices[i];
    size_t run = 1;
    while (i + run < end && indices[i + run] == start + static_cast<int64_t>(run)) ++run;
    prefetched = std::max(prefetched, i + run);
    prefetch_until(i + run + kAhead);
    std::memcpy(to + i * row_bytes, from + start * row_bytes, run * row_bytes);
    i += run;
  }
}

}  // namespace

Batch Dataset::get_batch(const std::vector<int64_t>& indices) const {
  NABLA_CHECK(!indices.empty(), "Dataset::get_batch: expected at least one index");
  std::vector<Tensor> inputs, targets;
  inputs.reserve(indices.size());
  targets.reserve(indices.size());
  for (int64_t index : indices) {
    Example example = get(index);
    NABLA_CHECK(example.input.defined(), "Dataset::get_batch: example ", index, " has no input");
    NABLA_CHECK(example.target.defined() == (targets.empty() || targets.front().defined()),
                "Dataset::get_batch: example ", index,
                " differs from the others in having a target");
    inputs.push_back(std::move(example.input));
    targets.push_back(std::move(example.target));
  }
  Batch batch;
  batch.inputs = stack_examples(inputs, "input");
  if (targets.front().defined()) batch.targets = stack_examples(targets, "target");
  return batch;
}

TensorDataset::TensorDataset(Tensor inputs, Tensor targets) {
  NABLA_CHECK(inputs.defined() && inputs.dim() >= 1,
              "TensorDataset: expected inputs with a sample axis (at least 1-d), got ",
              inputs.defined() ? inputs.shape() : Shape{}, inputs.defined() ? "" : " (undefined)");
  // Detached: a batch never carries the autograd graph of how the data was made.
  inputs_ = inputs.detach().contiguous();
  if (targets.defined()) {
    NABLA_CHECK(targets.dim() >= 1 && targets.size(0) == inputs.size(0),
                "TensorDataset: inputs have ", inputs.size(0), " samples (shape ", inputs.shape(),
                ") but targets have ", targets.dim() >= 1 ? targets.size(0) : 0, " (shape ",
                targets.shape(), "); expected the same number along the first axis");
    targets_ = targets.detach().contiguous();
  }
}

int64_t TensorDataset::size() const { return inputs_.size(0); }

Example TensorDataset::get(int64_t index) const {
  NABLA_CHECK(index >= 0 && index < size(), "TensorDataset::get: index ", index,
              " out of range for ", size(), " samples");
  Example example;
  example.input = inputs_.select(0, index);
  if (targets_.defined()) example.target = targets_.select(0, index);
  return example;
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  Batch batch;
  batch.inputs = gather_rows(inputs_, indices);
  if (targets_.defined()) batch.targets = gather_rows(targets_, indices);
  return batch;
}

Tensor gather_rows(const Tensor& source, const std::vector<int64_t>& indices) {
  NABLA_CHECK(source.defined() && source.dim() >= 1,
              "gather_rows: expected a tensor with a first axis, got shape ",
              source.defined() ? source.shape() : Shape{});
  const Tensor src = source.contiguous();
  const int64_t rows = src.size(0);
  for (int64_t index : indices)
    NABLA_CHECK(index >= 0 && index < rows, "gather_rows: index ", index, " out of range for ",
                rows, " rows");
  Shape row_shape(src.shape().begin() + 1, src.shape().end());
  const size_t n = indices.size();
  Tensor out = make_tensor(with_batch_axis(static_cast<int64_t>(n), row_shape), src.dtype());
  const size_t row_bytes = shape_numel(row_shape) * dtype_size(src.dtype());
  const auto* from = static_cast<const char*>(src.raw_data());
  auto* to = static_cast<char*>(out.raw_data());
  // Batches from 64 KB are copied on the thread pool, each thread a contiguous part of the batch
  // (256 shuffled Fashion-MNIST rows: 57-61 us on one thread, 35-38 on two; the bench MLP at
  // batch 256 on two threads 0.140-0.146 against 0.153-0.161 s per epoch). At batch 32 (100 KB)
  // the copy is still a tenth of the MLP's step, which was 2-4% faster with it split (two
  // threads, 24 epochs alternating in four runs; batch 64's CNN and LSTM even). From the
  // library's own background threads (the loader's prefetch thread, pipeline workers) this runs
  // on one thread: they set their OpenMP thread count to 1.
  constexpr size_t kParallelBytes = size_t{64} << 10;
  if (n * row_bytes < kParallelBytes || omp_in_parallel()) {
    copy_rows(from, row_bytes, indices.data(), 0, n, to);
    return out;
  }
#pragma omp parallel
  {
    const size_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    copy_rows(from, row_bytes, indices.data(), n * t / threads, n * (t + 1) / threads, to);
  }
  return out;
}

}  // namespace nabla::data
