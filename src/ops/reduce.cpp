// Reductions over any axes with keepdim. sum is the primitive; its backward broadcasts the
// gradient back over the reduced axes.
#include <algorithm>
#include <numeric>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "kernels/cpu/reduce.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;

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
    x = x_in.is_contiguous() ? x_in : contiguous_copy(x_in, x_in.dtype());
  }
  int64_t reduced = 1;
  for (int64_t a : axes) reduced *= x_in.shape()[a];
  const int64_t kept = reduced == 0 ? shape_numel(kept_shape) : x.numel() / std::max<int64_t>(reduced, 1);
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
  if (!keepdim) out = make_view(out, reduced_shape(x.shape(), axes, false),
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
