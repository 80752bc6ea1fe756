// Embedding lookup, as torch.nn.functional.embedding: the forward copies one weight row per id
// (a memcpy each); the backward adds each output row's gradient into the row of its id. Ids
// repeat, so the backward splits the work by columns, never by ids: every element of the weight
// gradient is summed by one thread in id order, with no atomics and the same result at any thread
// count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "core/loop.hpp"
#include "nabla/ops.hpp"

namespace nabla {

namespace {

// The ids as a contiguous i64 copy (u8 ids widened), each checked to lie in [0, vocab).
Tensor checked_ids(const Tensor& indices, int64_t vocab) {
  NABLA_CHECK(indices.dtype() == DType::i64 || indices.dtype() == DType::u8,
              "embedding: expected integer ids (i64 or u8), got dtype ", indices.dtype(),
              " (convert them with .to(DType::i64))");
  Tensor ids = indices.dtype() == DType::i64 && indices.is_contiguous()
                   ? indices
                   : contiguous_copy(indices, DType::i64);
  const int64_t* p = ids.data<int64_t>();
  for (int64_t i = 0; i < ids.numel(); ++i) {
    NABLA_CHECK(p[i] >= 0 && p[i] < vocab, "embedding: id ", p[i],
                " is out of range for a vocabulary of ", vocab, " (ids must be in [0, ", vocab,
                "))");
  }
  return ids;
}

// PyTorch's embedding_renorm_: every distinct looked-up row whose L2 norm exceeds max_norm is
// scaled in place by max_norm / (norm + 1e-7). Written straight into the weight's storage, so it
// is not recorded (the weight is usually a leaf that requires grad).
template <class T>
void renorm_rows(Tensor& weight, const Tensor& ids, double max_norm) {
  std::vector<int64_t> rows(ids.data<int64_t>(), ids.data<int64_t>() + ids.numel());
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  T* w = static_cast<T*>(weight.raw_data());
  const int64_t dim = weight.size(1), rs = weight.strides()[0], cs = weight.strides()[1];
  for (int64_t r : rows) {
    T* row = w + r * rs;
    double sq = 0;
    for (int64_t j = 0; j < dim; ++j) sq += static_cast<double>(row[j * cs]) * row[j * cs];
    const double norm = std::sqrt(sq);
    if (norm <= max_norm) continue;
    const T scale = static_cast<T>(max_norm / (norm + 1e-7));
    for (int64_t j = 0; j < dim; ++j) row[j * cs] *= scale;
  }
}

// out[i, :] = weight[ids[i], :] for a weight with contiguous rows.
template <class T>
void gather_rows(const T* w, int64_t row_stride, const int64_t* ids, int64_t n, int64_t dim,
                 T* out) {
  parallel_for_if(n * dim >= kParallelThreshold && n > 1, n, [&](int64_t i) {
    std::memcpy(out + i * dim, w + ids[i] * row_stride, dim * sizeof(T));
  });
}

// grad[ids[i], :] += g[i, :] for every i whose id is not `padding_idx`. Each thread owns a block
// of columns and walks the ids in order.
template <class T>
void scatter_add_rows(const T* g, const int64_t* ids, int64_t n, int64_t dim, int64_t padding_idx,
                      T* grad) {
  constexpr int64_t kColumnBlock = 64;
  const int64_t blocks = (dim + kColumnBlock - 1) / kColumnBlock;
  parallel_for_if(n * dim >= kParallelThreshold && blocks > 1, blocks, [&](int64_t b) {
    const int64_t begin = b * kColumnBlock, end = std::min(dim, begin + kColumnBlock);
    for (int64_t i = 0; i < n; ++i) {
      if (ids[i] == padding_idx) continue;
      T* dst = grad + ids[i] * dim;
      const T* src = g + i * dim;
#pragma omp simd
      for (int64_t j = begin; j < end; ++j) dst[j] += src[j];
    }
  });
}

// The row-sparse weight gradient: each id's output rows summed (ids equal to padding_idx left
// out), stored for the distinct ids only.
Tensor embedding_sparse_grad(const Tensor& grad_out, const Tensor& ids, int64_t vocab, int64_t dim,
                             int64_t padding_idx) {
  const Tensor g = grad_out.reshape({ids.numel(), dim});
  if (padding_idx < 0) return row_sparse(ids.reshape({ids.numel()}), g, vocab);
  const int64_t* p = ids.data<int64_t>();
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < ids.numel(); ++i)
    if (p[i] != padding_idx) kept.push_back(i);
  const Tensor positions = from_vector(kept);
  return row_sparse(index_select(ids.reshape({ids.numel()}), 0, positions),
                    index_select(g, 0, positions), vocab);
}

}  // namespace

Tensor embedding(const Tensor& indices, const Tensor& weight, int64_t padding_idx, double max_norm,
                 bool sparse) {
  NABLA_CHECK(indices.defined() && weight.defined(), "embedding: ids or weight is undefined");
  NABLA_CHECK(weight.dim() == 2, "embedding: expected a weight [num_embeddings, embedding_dim], ",
              "got shape ", weight.shape());
  NABLA_CHECK(is_floating(weight.dtype()), "embedding: expected a floating weight (f32 or f64), ",
              "got dtype ", weight.dtype());
  const int64_t vocab = weight.size(0), dim = weight.size(1);
  NABLA_CHECK(padding_idx >= -1 && padding_idx < vocab, "embedding: padding_idx ", padding_idx,
              " is out of range for a vocabulary of ", vocab,
              " (expected -1 for none, or 0 <= ", "padding_idx < ", vocab, ")");
  NABLA_CHECK(max_norm >= 0 && std::isfinite(max_norm), "embedding: max_norm must be >= 0 ",
              "(0 = no renormalization), got ", max_norm);
  const Tensor ids = checked_ids(indices, vocab);
  const int64_t n = ids.numel();

  Shape out_shape = indices.shape();
  out_shape.push_back(dim);
  Tensor out = make_tensor(out_shape, weight.dtype());
  dispatch_floating(weight.dtype(), "embedding", [&](auto tag) {
    using T = decltype(tag);
    if (max_norm > 0) {
      Tensor w = weight;
      renorm_rows<T>(w, ids, max_norm);
    }
    // Rows are copied whole, so only a weight whose rows are not contiguous is copied first.
    const Tensor w =
        weight.strides()[1] == 1 || dim <= 1 ? weight : contiguous_copy(weight, weight.dtype());
    gather_rows(static_cast<const T*>(w.raw_data()), w.strides()[0], ids.data<int64_t>(), n, dim,
                out.data<T>());
  });

  // A row-sparse gradient goes to a leaf weight only: a node between would read its values as a
  // dense [R, D] gradient.
  if (sparse && weight.is_leaf() && autograd::needs_grad({weight})) {
    autograd::record(
        "EmbeddingSparseBackward", {weight}, {out}, [ids, vocab, dim, padding_idx](auto& grads) {
          return std::vector<Tensor>{embedding_sparse_grad(grads[0], ids, vocab, dim, padding_idx)};
        });
  } else if (autograd::needs_grad({weight})) {
    autograd::record("EmbeddingBackward", {weight}, {out},
                     [ids, vocab, dim, padding_idx](auto& grads) {
                       const Tensor g = grads[0].contiguous();
                       Tensor grad = zeros({vocab, dim}, g.dtype());
                       dispatch_floating(g.dtype(), "embedding backward", [&](auto tag) {
                         using T = decltype(tag);
                         scatter_add_rows(g.data<T>(), ids.data<int64_t>(), ids.numel(), dim,
                                          padding_idx, grad.data<T>());
                       });
                       return std::vector<Tensor>{grad};
                     });
  }
  return out;
}

}  // namespace nabla
