// Indexing along an axis: gather (as torch.gather), index_select and one_hot. index_select is a
// gather whose index is broadcast (stride 0) over the other axes, so both share one kernel and
// one backward: the gradient is scatter-added into zeros at the indices.
#include "kernels/cpu/index.hpp"

#include <algorithm>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;

namespace {
void check_index_dtype(const Tensor& index, const char* op) {
  NABLA_CHECK(index.dtype() == DType::i64, op, ": expected an i64 index tensor, got dtype ",
              index.dtype(), " (convert it with .to(DType::i64))");
}

// Every index in [0, size), or an Error naming the first offending index, the axis and its size.
void check_index_range(const Tensor& index, int64_t size, int64_t axis, const char* op,
                       const Shape& shape) {
  const Tensor c = index.contiguous();
  const int64_t* p = c.data<int64_t>();
  for (int64_t i = 0; i < c.numel(); ++i) {
    NABLA_CHECK(p[i] >= 0 && p[i] < size, op, ": index ", p[i], " is out of range for axis ", axis,
                " of size ", size, " (input shape ", shape, "; expected 0 <= index < ", size, ")");
  }
}

// A scalar tensor as shape [1], since the kernels walk at least one axis.
Tensor at_least_1d(const Tensor& t) {
  return t.dim() == 0 ? make_view(t, {1}, {1}, t.offset()) : t;
}

// out = x gathered at `index` along `axis` (index already checked), with the backward recorded.
Tensor gather_checked(const Tensor& x, int64_t axis, const Tensor& index, const char* node) {
  const Tensor x1 = at_least_1d(x), index1 = at_least_1d(index);
  Tensor out1 = make_tensor(index1.shape(), x.dtype());
  dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::gather(index1.shape(), axis, static_cast<const T*>(x1.raw_data()), x1.strides(),
                         index1.data<int64_t>(), index1.strides(),
                         static_cast<T*>(out1.raw_data()));
  });
  Tensor out = index.dim() == 0 ? make_view(out1, {}, {}, 0) : out1;
  if (needs_grad({x})) {
    record(node, {x}, {out}, [in = x.shape(), axis, index1](auto& g) {
      Tensor grad = zeros(in, g[0].dtype());
      Tensor grad1 = at_least_1d(grad);
      const Tensor g1 = at_least_1d(g[0]);
      dispatch_floating(grad.dtype(), "gather backward", [&](auto tag) {
        using T = decltype(tag);
        kernels::cpu::scatter_add(index1.shape(), axis, g1.data<T>(), g1.strides(),
                                  index1.data<int64_t>(), index1.strides(), grad1.data<T>(),
                                  grad1.strides());
      });
      return std::vector<Tensor>{grad};
    });
  }
  return out;
}
}  // namespace

Tensor gather(const Tensor& x, int64_t axis, const Tensor& index) {
  const int64_t a = normalize_axis(axis, x.dim(), "gather", x.shape());
  check_index_dtype(index, "gather");
  const int64_t x_dim = std::max<int64_t>(x.dim(), 1);
  const Shape x_shape = x.dim() == 0 ? Shape{1} : x.shape();
  const Shape index_shape = index.dim() == 0 ? Shape{1} : index.shape();
  NABLA_CHECK(static_cast<int64_t>(index_shape.size()) == x_dim, "gather: index of shape ",
              index.shape(),
              " must have as many axes as the input of "
              "shape ",
              x.shape());
  for (int64_t d = 0; d < x_dim; ++d) {
    NABLA_CHECK(d == a || index_shape[d] <= x_shape[d], "gather: index of shape ", index.shape(),
                " is larger than the input of shape ", x.shape(), " on axis ", d,
                " (expected index size <= input size on every axis but ", a, ")");
  }
  check_index_range(index, x_shape[a], axis, "gather", x.shape());
  return gather_checked(x, a, index, "GatherBackward");
}

Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index) {
  const int64_t a = normalize_axis(axis, x.dim(), "index_select", x.shape());
  check_index_dtype(index, "index_select");
  NABLA_CHECK(index.dim() <= 1, "index_select: expected a 1-d index, got shape ", index.shape());
  const Shape x_shape = x.dim() == 0 ? Shape{1} : x.shape();
  check_index_range(index, x_shape[a], axis, "index_select", x.shape());
  // The index read as if it had the output's shape: its values along `axis`, repeated elsewhere.
  Shape out_shape = x_shape;
  out_shape[a] = index.numel();
  Shape strides(out_shape.size(), 0);
  strides[a] = index.dim() == 0 ? 0 : index.strides()[0];
  const Tensor broadcast_index = make_view(index, out_shape, strides, index.offset());
  Tensor out = gather_checked(x, a, broadcast_index, "IndexSelectBackward");
  if (x.dim() == 0) out = reshape(out, {});  // PyTorch keeps a scalar input's 0-d shape
  return out;
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype) {
  NABLA_CHECK(labels.dtype() == DType::i64, "one_hot: expected i64 labels, got dtype ",
              labels.dtype(), " (convert them with .to(DType::i64))");
  NABLA_CHECK(num_classes > 0, "one_hot: num_classes must be positive, got ", num_classes);
  const Tensor c = labels.contiguous();
  const int64_t* p = c.data<int64_t>();
  for (int64_t i = 0; i < c.numel(); ++i) {
    NABLA_CHECK(p[i] >= 0 && p[i] < num_classes, "one_hot: label ", p[i],
                " is out of range for num_classes ", num_classes, " (expected 0 <= label < ",
                num_classes, ")");
  }
  Shape shape = labels.shape();
  shape.push_back(num_classes);
  Tensor out = zeros(shape, dtype);
  dispatch_all(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* o = static_cast<T*>(out.raw_data());
    for (int64_t i = 0; i < c.numel(); ++i) o[i * num_classes + p[i]] = static_cast<T>(1);
  });
  return out;
}

}  // namespace nabla
