// Row-sparse tensors: the gradient of a table of which a step looked up a few rows (Embedding with
// sparse=true, take_rows). The tensor's own storage holds the stored rows' values and its impl
// names their row numbers; see Tensor::is_row_sparse.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/dispatch.hpp"
#include "core/tensor_impl.hpp"

namespace nabla {

bool Tensor::is_row_sparse() const { return defined() && impl()->sparse_rows != nullptr; }

Tensor Tensor::sparse_row_indices() const {
  return is_row_sparse() ? Tensor(impl()->sparse_rows) : Tensor();
}

Shape Tensor::dense_shape() const {
  if (!is_row_sparse()) return shape();
  Shape dense = shape();
  dense[0] = impl()->sparse_dense_rows;
  return dense;
}

Tensor Tensor::to_dense() const {
  if (!is_row_sparse()) return *this;
  const Tensor values = contiguous_data(*this);
  Tensor dense = zeros(dense_shape(), dtype());
  const int64_t rows = size(0),
                row_bytes = rows == 0 ? 0 : values.numel() / rows * dtype_size(dtype());
  const int64_t* ids = sparse_row_indices().data<int64_t>();
  const char* src = static_cast<const char*>(values.raw_data());
  char* dst = static_cast<char*>(dense.raw_data());
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(dst + ids[r] * row_bytes, src + r * row_bytes, row_bytes);
  return dense;
}

Tensor row_sparse(const Tensor& row_ids, const Tensor& rows, int64_t dense_rows) {
  NABLA_CHECK(row_ids.defined() && rows.defined(), "row_sparse: row_ids or rows is undefined");
  NABLA_CHECK(row_ids.dtype() == DType::i64 && row_ids.dim() == 1, "row_sparse: expected row ids ",
              "i64 [K], got dtype ", row_ids.dtype(), " shape ", row_ids.shape());
  NABLA_CHECK(rows.dim() >= 1 && rows.size(0) == row_ids.size(0), "row_sparse: expected rows [",
              row_ids.size(0), ", ...] for ", row_ids.size(0), " row ids, got shape ",
              rows.shape());
  NABLA_CHECK(is_floating(rows.dtype()), "row_sparse: expected floating rows, got dtype ",
              rows.dtype());
  const Tensor ids = contiguous_data(row_ids);
  const Tensor values = contiguous_data(rows);
  const int64_t k = ids.numel();
  const int64_t* id = ids.data<int64_t>();
  for (int64_t i = 0; i < k; ++i) {
    NABLA_CHECK(id[i] >= 0 && id[i] < dense_rows, "row_sparse: row id ", id[i],
                " is out of range for ", dense_rows, " rows");
  }
  // A stable sort of the positions by id: rows of one id are summed in the order given.
  std::vector<int64_t> order(static_cast<size_t>(k));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [id](int64_t a, int64_t b) { return id[a] < id[b]; });
  std::vector<int64_t> unique_ids;
  for (int64_t pos : order)
    if (unique_ids.empty() || unique_ids.back() != id[pos]) unique_ids.push_back(id[pos]);
  const auto r = static_cast<int64_t>(unique_ids.size());
  const int64_t width = k == 0 ? 0 : values.numel() / k;
  Shape out_shape = rows.shape();
  out_shape[0] = r;
  Tensor out = zeros(out_shape, rows.dtype());
  dispatch_floating(rows.dtype(), "row_sparse", [&](auto tag) {
    using T = decltype(tag);
    const T* src = static_cast<const T*>(values.raw_data());
    T* dst = out.data<T>();
    int64_t slot = -1, last = -1;
    for (int64_t pos : order) {
      if (id[pos] != last) {
        ++slot;
        last = id[pos];
      }
      T* d = dst + slot * width;
      const T* s = src + pos * width;
      for (int64_t j = 0; j < width; ++j) d[j] += s[j];
    }
  });
  out.impl()->sparse_rows = from_vector(unique_ids).impl_ptr();
  out.impl()->sparse_dense_rows = dense_rows;
  return out;
}

}  // namespace nabla
