// Sums of gradients of which one or both are row-sparse (Tensor::is_row_sparse), where the
// backward meets two paths into one tensor or adds into a leaf's grad.
#include <cstring>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"

namespace nabla::autograd {

namespace {
// The rows of a and b one after the other (a contiguous copy in a's dtype).
Tensor stacked_rows(const Tensor& a, const Tensor& b) {
  const Tensor x = contiguous_copy(a, a.dtype()), y = contiguous_copy(b, a.dtype());
  Shape shape = a.shape();
  shape[0] = a.size(0) + b.size(0);
  Tensor out = make_tensor(shape, a.dtype());
  const size_t x_bytes = static_cast<size_t>(x.numel()) * dtype_size(a.dtype());
  std::memcpy(out.raw_data(), x.raw_data(), x_bytes);
  std::memcpy(static_cast<char*>(out.raw_data()) + x_bytes, y.raw_data(),
              static_cast<size_t>(y.numel()) * dtype_size(a.dtype()));
  return out;
}
}  // namespace

// a + b for gradients of one tensor, either of which may be row-sparse: two sparse ones stay
// sparse (their rows merged), a sparse one added to a dense one gives a dense sum. A fresh
// tensor; neither input changes.
Tensor add_gradients(const Tensor& a, const Tensor& b) {
  NABLA_CHECK(a.dense_shape() == b.dense_shape(), "backward: gradients of shapes ", a.dense_shape(),
              " and ", b.dense_shape(), " meet for one tensor");
  if (a.is_row_sparse() && b.is_row_sparse()) {
    const Tensor ids = stacked_rows(a.sparse_row_indices(), b.sparse_row_indices());
    return row_sparse(ids, stacked_rows(a, b), a.dense_shape()[0]);
  }
  const Tensor& sparse = a.is_row_sparse() ? a : b;
  const Tensor& dense = a.is_row_sparse() ? b : a;
  Tensor sum = contiguous_copy(dense, dense.dtype());
  const Tensor values = contiguous_copy(sparse, dense.dtype());
  const int64_t rows = values.size(0), width = rows == 0 ? 0 : values.numel() / rows;
  const int64_t* ids = sparse.sparse_row_indices().data<int64_t>();
  dispatch_floating(sum.dtype(), "backward", [&](auto tag) {
    using T = decltype(tag);
    const T* src = values.data<T>();
    T* dst = sum.data<T>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < width; ++j) dst[ids[r] * width + j] += src[r * width + j];
  });
  return sum;
}

}  // namespace nabla::autograd
