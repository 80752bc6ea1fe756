// Datasets over token streams.
#include <cstring>

#include "core/tensor_impl.hpp"
#include "nabla/data.hpp"

namespace nabla::data {

SequenceWindowDataset::SequenceWindowDataset(Tensor ids, int64_t window, int64_t stride)
    : window_(window), stride_(stride) {
  NABLA_CHECK(ids.defined() && ids.dim() == 1 && ids.dtype() == DType::i64,
              "SequenceWindowDataset: expected a 1-d i64 tensor of token ids, got ",
              ids.defined() ? detail::str("shape ", ids.shape(), " (", dtype_name(ids.dtype()), ")")
                            : std::string("an undefined tensor"));
  NABLA_CHECK(window >= 1, "SequenceWindowDataset: window must be at least 1, got ", window);
  NABLA_CHECK(stride >= 1, "SequenceWindowDataset: stride must be at least 1, got ", stride);
  NABLA_CHECK(ids.numel() >= window + 1, "SequenceWindowDataset: the stream has ", ids.numel(),
              " tokens, expected at least window + 1 = ", window + 1,
              " (a window of inputs and the token after it)");
  ids_ = ids.detach().contiguous();
}

int64_t SequenceWindowDataset::size() const { return (ids_.numel() - window_ - 1) / stride_ + 1; }

Example SequenceWindowDataset::get(int64_t index) const {
  NABLA_CHECK(index >= 0 && index < size(), "SequenceWindowDataset::get: index ", index,
              " out of range for ", size(), " windows");
  const int64_t start = index * stride_;
  Example example;
  example.input = ids_.slice(0, start, start + window_);
  example.target = ids_.slice(0, start + 1, start + window_ + 1);
  return example;
}

Batch SequenceWindowDataset::get_batch(const std::vector<int64_t>& indices) const {
  NABLA_CHECK(!indices.empty(), "SequenceWindowDataset::get_batch: expected at least one index");
  const auto batch_size = static_cast<int64_t>(indices.size());
  Batch batch;
  batch.inputs = make_tensor({batch_size, window_}, DType::i64);
  batch.targets = make_tensor({batch_size, window_}, DType::i64);
  const int64_t* ids = ids_.data<int64_t>();
  int64_t* inputs = batch.inputs.data<int64_t>();
  int64_t* targets = batch.targets.data<int64_t>();
  const size_t row_bytes = static_cast<size_t>(window_) * sizeof(int64_t);
  for (int64_t row = 0; row < batch_size; ++row) {
    const int64_t index = indices[static_cast<size_t>(row)];
    NABLA_CHECK(index >= 0 && index < size(), "SequenceWindowDataset::get_batch: index ", index,
                " out of range for ", size(), " windows");
    const int64_t* start = ids + index * stride_;
    std::memcpy(inputs + row * window_, start, row_bytes);
    std::memcpy(targets + row * window_, start + 1, row_bytes);
  }
  return batch;
}

}  // namespace nabla::data
