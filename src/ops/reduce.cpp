// Reductions over any axes with keepdim. sum is the primitive; its backward broadcasts the
// gradient back over the reduced axes. max/min along an axis find their indices with a kernel
// and, when a gradient is needed, take their values with gather, whose backward routes the
// gradient to the selected elements.
#include "kernels/cpu/reduce.hpp"

#include <algorithm>
#include <numeric>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "kernels/cpu/reduce_arg.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;
using kernels::cpu::Extreme;

namespace {
// Sum of contiguous `x` over normalized `axes`, result shaped with keepdim.
Tensor sum_kernel(const Tensor& x_in, const Axes& axes) {
  const Shape kept_shape = reduced_shape(x_in.shape(), axes, true);
  const int64_t d = x_in.dim(), m = static_cast<int64_t>(axes.size());
  bool leading = true, trailing = true;
  for (int64_t i = 0; i < m; ++i) {
    leading = leading && axes[i] == i;
    trailing = trailing && axes[i] == d - m + i;
  }
  Tensor x = x_in;
  if (!leading && !trailing) {  // move kept axes first, then reduce the trailing block
    Shape perm;
    for (int64_t a = 0; a < d; ++a)
      if (!std::binary_search(axes.begin(), axes.end(), a)) perm.push_back(a);
    perm.insert(perm.end(), axes.begin(), axes.end());
    NoGradGuard no_grad;  // a layout change inside the forward, not part of the graph
    x = permute(x_in, perm).contiguous();
    trailing = true;
  } else {
    x = contiguous_data(x_in);
  }
  int64_t reduced = 1;
  for (int64_t a : axes) reduced *= x_in.shape()[a];
  const int64_t kept =
      reduced == 0 ? shape_numel(kept_shape) : x.numel() / std::max<int64_t>(reduced, 1);
  const DType out_dtype = is_floating(x.dtype()) ? x.dtype() : DType::i64;
  if (!is_floating(x.dtype()) && x.dtype() != DType::i64) x = contiguous_copy(x, DType::i64);
  Tensor out = make_tensor(kept_shape, out_dtype);
  dispatch_numeric(out_dtype, "sum", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, uint8_t>) {
      return;
    } else {
      if (leading && !trailing) {
        kernels::cpu::sum_rows_into(x.data<T>(), reduced, kept, out.data<T>());
      } else {
        kernels::cpu::sum_trailing(x.data<T>(), kept, reduced, out.data<T>());
      }
    }
  });
  return out;
}
}  // namespace

Tensor sum(const Tensor& x, const Axes& axes_in, bool keepdim) {
  const Axes axes = normalize_axes(axes_in, x.dim(), "sum", x.shape());
  Tensor out = sum_kernel(x, axes);
  if (!keepdim)
    out = make_view(out, reduced_shape(x.shape(), axes, false),
                    contiguous_strides(reduced_shape(x.shape(), axes, false)), 0);
  if (needs_grad({x})) {
    record("SumBackward", {x}, {out}, [in = x.shape(), axes](auto& g) {
      // Put the reduced axes back as size 1, then broadcast.
      Tensor grad = reshape(g[0], reduced_shape(in, axes, true));
      return std::vector<Tensor>{expand(grad, in)};
    });
  }
  return out;
}

Tensor mean(const Tensor& x, const Axes& axes_in, bool keepdim) {
  NABLA_CHECK(is_floating(x.dtype()), "mean: expected a floating tensor, got dtype ", x.dtype(),
              " (convert it with .to(DType::f32))");
  const Axes axes = normalize_axes(axes_in, x.dim(), "mean", x.shape());
  int64_t count = 1;
  for (int64_t a : axes) count *= x.shape()[a];
  return sum(x, axes, keepdim) * (1.0 / static_cast<double>(std::max<int64_t>(count, 1)));
}

Tensor var(const Tensor& x, const Axes& axes_in, int64_t correction, bool keepdim) {
  NABLA_CHECK(is_floating(x.dtype()), "var: expected a floating tensor, got dtype ", x.dtype(),
              " (convert it with .to(DType::f32))");
  NABLA_CHECK(correction >= 0, "var: correction must be >= 0, got ", correction);
  const Axes axes = normalize_axes(axes_in, x.dim(), "var", x.shape());
  int64_t count = 1;
  for (int64_t a : axes) count *= x.shape()[a];
  // As torch.var: no degrees of freedom left divides by zero (inf, or nan for a zero sum).
  const double scale = 1.0 / static_cast<double>(std::max<int64_t>(count - correction, 0));
  Tensor out, centre;
  {
    NoGradGuard no_grad;  // two passes (mean, then squared deviations) for accuracy
    centre = mean(x, axes, true);
    const Tensor deviation = x - centre;
    out = sum(deviation * deviation, axes, keepdim) * scale;
  }
  if (needs_grad({x})) {
    record("VarBackward", {x}, {out}, [x, centre, scale](auto& g) {
      const Tensor grad = reshape(g[0], centre.shape()) * (2 * scale);
      return std::vector<Tensor>{(x - centre) * grad};
    });
  }
  return out;
}

namespace {
// Extreme values along `axis` and their first indices; NaN counts as the extreme.
ValuesIndices extreme_along(const Tensor& x, int64_t axis, bool keepdim, Extreme kind,
                            const char* op) {
  const int64_t a = normalize_axis(axis, x.dim(), op, x.shape());
  const Shape shape = x.dim() == 0 ? Shape{1} : x.shape();  // a scalar reduces as shape [1]
  const int64_t len = shape[a];
  NABLA_CHECK(len > 0, op, ": cannot reduce axis ", axis, " of size 0 (shape ", x.shape(),
              "); expected a non-empty axis");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < a; ++d) outer *= shape[d];
  for (int64_t d = a + 1; d < static_cast<int64_t>(shape.size()); ++d) inner *= shape[d];
  const Shape out_shape = x.dim() == 0 ? Shape{} : reduced_shape(shape, {a}, keepdim);
  const Tensor in = contiguous_data(x);
  ValuesIndices result{make_tensor(out_shape, x.dtype()), make_tensor(out_shape, DType::i64)};
  dispatch_numeric(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::arg_extreme(in.data<T>(), outer, len, inner, kind, result.values.data<T>(),
                              result.indices.data<int64_t>());
  });
  if (needs_grad({x})) {
    // The values again, as a gather that autograd records: its backward puts the gradient at
    // the selected indices and zeros elsewhere.
    const Shape kept_shape = reduced_shape(x.shape(), {a}, true);
    result.values = reshape(gather(x, a, reshape(result.indices, kept_shape)), out_shape);
  }
  return result;
}

// The extreme over all elements. PyTorch 1.13's max()/min() backward splits the gradient evenly
// among the elements equal to the result, and so does this.
Tensor extreme_all(const Tensor& x, Extreme kind, const char* op) {
  NABLA_CHECK(x.numel() > 0, op, ": cannot reduce an empty tensor of shape ", x.shape(),
              "; expected at least one element");
  const Tensor in = contiguous_data(x);
  Tensor out = make_tensor({}, x.dtype());
  dispatch_numeric(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    out.data<T>()[0] = kernels::cpu::extreme(in.data<T>(), in.numel(), kind);
  });
  if (needs_grad({x})) {
    record(kind == Extreme::max ? "MaxBackward" : "MinBackward", {x}, {out},
           [x, o = out.detach()](auto& g) {
             const Tensor ties = eq(x, o).to(x.dtype());
             const double count = sum(ties).item();
             if (count == 0) return std::vector<Tensor>{zeros(x.shape(), x.dtype())};  // NaN
             return std::vector<Tensor>{ties * (g[0] * (1.0 / count))};
           });
  }
  return out;
}
}  // namespace

ValuesIndices max(const Tensor& x, int64_t axis, bool keepdim) {
  return extreme_along(x, axis, keepdim, Extreme::max, "max");
}
ValuesIndices min(const Tensor& x, int64_t axis, bool keepdim) {
  return extreme_along(x, axis, keepdim, Extreme::min, "min");
}
Tensor max(const Tensor& x) { return extreme_all(x, Extreme::max, "max"); }
Tensor min(const Tensor& x) { return extreme_all(x, Extreme::min, "min"); }

Tensor argmax(const Tensor& x, int64_t axis, bool keepdim) {
  NoGradGuard no_grad;  // indices only: nothing to differentiate
  return extreme_along(x, axis, keepdim, Extreme::max, "argmax").indices;
}
Tensor argmin(const Tensor& x, int64_t axis, bool keepdim) {
  NoGradGuard no_grad;
  return extreme_along(x, axis, keepdim, Extreme::min, "argmin").indices;
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  NABLA_CHECK(lead >= 0, "sum_to: cannot sum shape ", x.shape(), " down to ", shape);
  Axes axes;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < lead) {
      axes.push_back(d);
    } else if (shape[d - lead] == 1 && x.shape()[d] != 1) {
      axes.push_back(d);
    } else {
      NABLA_CHECK(shape[d - lead] == x.shape()[d], "sum_to: cannot sum shape ", x.shape(),
                  " down to ", shape);
    }
  }
  Tensor s = axes.empty() ? x : sum(x, axes, true);
  return reshape(s, shape);
}

Tensor Tensor::sum() const { return nabla::sum(*this); }
Tensor Tensor::mean() const { return nabla::mean(*this); }

}  // namespace nabla
