// Views: new shapes and strides over the same storage. Their backward maps the gradient back
// to the input's shape (reshape back, inverse permutation, sum over expanded axes, ...).
#include <algorithm>
#include <numeric>

#include "autograd/node.hpp"
#include "core/checked_size.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;

namespace {
// Resolves one -1 in a requested shape; Error when the element counts differ.
Shape infer_shape(const Shape& requested, int64_t numel, const char* op, const Shape& from) {
  Shape shape = requested;
  int64_t known = 1, unknown = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      NABLA_CHECK(unknown < 0, op, ": only one axis may be -1, got ", requested);
      unknown = static_cast<int64_t>(i);
    } else {
      NABLA_CHECK(shape[i] >= 0, op, ": invalid size ", shape[i], " in shape ", requested);
      known = core::checked_mul(known, shape[i], op, ": shape ", requested);
    }
  }
  if (unknown >= 0) {
    NABLA_CHECK(known != 0 && numel % known == 0, op, ": cannot reshape a tensor of shape ", from,
                " (", numel, " elements) to ", requested);
    shape[unknown] = numel / known;
  }
  NABLA_CHECK(shape_numel(shape) == numel, op, ": cannot reshape a tensor of shape ", from, " (",
              numel, " elements) to ", requested, " (", shape_numel(shape), " elements)");
  return shape;
}

// Strides for viewing `t` as `shape` without copying, when its layout allows (as
// at::detail::computeStride); empty when it does not.
std::optional<Shape> view_strides(const Tensor& t, const Shape& shape) {
  if (t.is_contiguous()) return contiguous_strides(shape);
  const Shape& old_shape = t.shape();
  const Shape& old_strides = t.strides();
  Shape strides(shape.size());
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 ||
        (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return strides;
}

// A view recorded for autograd with a backward `back(grad) -> grad of input`.
template <class Back>
Tensor recorded_view(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset,
                     const char* node, Back back) {
  Tensor out = make_view(x, shape, strides, offset);
  if (needs_grad({x})) {
    record(node, {x}, {out}, [back](auto& g) { return std::vector<Tensor>{back(g[0])}; });
  }
  return out;
}
}  // namespace

Tensor reshape(const Tensor& x, const Shape& requested) {
  const Shape shape = infer_shape(requested, x.numel(), "reshape", x.shape());
  if (auto strides = view_strides(x, shape)) {
    return recorded_view(x, shape, *strides, x.offset(), "ReshapeBackward",
                         [in = x.shape()](const Tensor& g) { return reshape(g, in); });
  }
  return reshape(x.contiguous(), shape);
}

Tensor Tensor::view(const Shape& requested) const {
  const Shape shape = infer_shape(requested, numel(), "view", this->shape());
  auto strides = view_strides(*this, shape);
  NABLA_CHECK(strides.has_value(), "view: a tensor of shape ", this->shape(), " and strides ",
              this->strides(), " cannot be viewed as ", requested,
              " without a copy; use reshape() or contiguous() first");
  return recorded_view(*this, shape, *strides, offset(), "ViewBackward",
                       [in = this->shape()](const Tensor& g) { return nabla::reshape(g, in); });
}

Tensor permute(const Tensor& x, const Shape& axes) {
  const int64_t d = x.dim();
  NABLA_CHECK(static_cast<int64_t>(axes.size()) == d, "permute: expected ", d,
              " axes for a tensor of shape ", x.shape(), ", got ", axes);
  Shape perm(d), shape(d), strides(d), inverse(d);
  std::vector<bool> seen(d, false);
  for (int64_t i = 0; i < d; ++i) {
    perm[i] = normalize_axis(axes[i], d, "permute", x.shape());
    NABLA_CHECK(!seen[perm[i]], "permute: axis ", axes[i], " repeated in ", axes);
    seen[perm[i]] = true;
    shape[i] = x.shape()[perm[i]];
    strides[i] = x.strides()[perm[i]];
    inverse[perm[i]] = i;
  }
  return recorded_view(x, shape, strides, x.offset(), "PermuteBackward",
                       [inverse](const Tensor& g) { return permute(g, inverse); });
}

Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1) {
  Shape axes(x.dim());
  std::iota(axes.begin(), axes.end(), 0);
  if (x.dim() == 0) return x;
  std::swap(axes[normalize_axis(axis0, x.dim(), "transpose", x.shape())],
            axes[normalize_axis(axis1, x.dim(), "transpose", x.shape())]);
  return permute(x, axes);
}

Tensor squeeze(const Tensor& x, std::optional<int64_t> axis) {
  Shape shape, strides;
  std::optional<int64_t> only;
  if (axis) only = normalize_axis(*axis, x.dim(), "squeeze", x.shape());
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool drop = x.shape()[d] == 1 && (!only || *only == d);
    if (!drop) {
      shape.push_back(x.shape()[d]);
      strides.push_back(x.strides()[d]);
    }
  }
  return recorded_view(x, shape, strides, x.offset(), "SqueezeBackward",
                       [in = x.shape()](const Tensor& g) { return reshape(g, in); });
}

Tensor unsqueeze(const Tensor& x, int64_t axis) {
  const int64_t a = normalize_axis(axis, x.dim() + 1, "unsqueeze", x.shape());
  Shape shape = x.shape(), strides = x.strides();
  const int64_t stride = a < x.dim() ? x.strides()[a] * x.shape()[a] : 1;
  shape.insert(shape.begin() + a, 1);
  strides.insert(strides.begin() + a, stride);
  return recorded_view(x, shape, strides, x.offset(), "UnsqueezeBackward",
                       [in = x.shape()](const Tensor& g) { return reshape(g, in); });
}

Tensor expand(const Tensor& x, const Shape& requested) {
  NABLA_CHECK(static_cast<int64_t>(requested.size()) >= x.dim(), "expand: cannot expand shape ",
              x.shape(), " to ", requested, " (fewer axes)");
  Shape shape = requested;
  const int64_t lead = static_cast<int64_t>(requested.size()) - x.dim();
  for (int64_t i = 0; i < x.dim(); ++i)
    if (shape[lead + i] == -1) shape[lead + i] = x.shape()[i];
  const Shape strides = broadcast_strides_to(x, shape, "expand");
  return recorded_view(x, shape, strides, x.offset(), "ExpandBackward",
                       [in = x.shape()](const Tensor& g) { return sum_to(g, in); });
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) { return expand(x, shape); }

Tensor flatten(const Tensor& x, int64_t start_axis, int64_t end_axis) {
  if (x.dim() == 0) return reshape(x, {1});
  const int64_t s = normalize_axis(start_axis, x.dim(), "flatten", x.shape());
  const int64_t e = normalize_axis(end_axis, x.dim(), "flatten", x.shape());
  NABLA_CHECK(s <= e, "flatten: start axis ", start_axis, " comes after end axis ", end_axis);
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= x.shape()[d];
  shape.push_back(n);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end, int64_t step) {
  const int64_t a = normalize_axis(axis, x.dim(), "slice", x.shape());
  NABLA_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = x.shape()[a];
  auto clip = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  const int64_t b = clip(start), e = std::max(clip(end), clip(start));
  Shape shape = x.shape(), strides = x.strides();
  shape[a] = (e - b + step - 1) / step;
  strides[a] *= step;
  const int64_t offset = x.offset() + b * x.strides()[a];
  return recorded_view(x, shape, strides, offset, "SliceBackward",
                       [in = x.shape(), dtype = x.dtype(), a, b, step](const Tensor& g) {
                         Tensor grad = zeros(in, dtype);
                         Shape strides = grad.strides();
                         strides[a] *= step;
                         make_view(grad, g.shape(), strides, b * grad.strides()[a]).copy_(g);
                         return grad;
                       });
}

// ---- Tensor methods ----
Tensor Tensor::reshape(const Shape& shape) const { return nabla::reshape(*this, shape); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return nabla::flatten(*this, s, e); }
Tensor Tensor::transpose(int64_t a0, int64_t a1) const { return nabla::transpose(*this, a0, a1); }
Tensor Tensor::t() const {
  NABLA_CHECK(dim() <= 2, "t: expects a tensor with at most 2 axes, got shape ", shape());
  return nabla::transpose(*this, 0, dim() == 2 ? 1 : 0);
}
Tensor Tensor::permute(const Shape& axes) const { return nabla::permute(*this, axes); }
Tensor Tensor::slice(int64_t axis, int64_t start, int64_t end, int64_t step) const {
  return nabla::slice(*this, axis, start, end, step);
}
Tensor Tensor::select(int64_t axis, int64_t index) const {
  const int64_t a = normalize_axis(axis, dim(), "select", shape());
  const int64_t n = shape()[a];
  NABLA_CHECK(index >= -n && index < n, "select: index ", index, " out of range for axis ", axis,
              " of size ", n, " (shape ", shape(), ")");
  const int64_t i = index < 0 ? index + n : index;
  return nabla::squeeze(nabla::slice(*this, a, i, i + 1), a);
}
Tensor Tensor::squeeze() const { return nabla::squeeze(*this); }
Tensor Tensor::squeeze(int64_t axis) const { return nabla::squeeze(*this, axis); }
Tensor Tensor::unsqueeze(int64_t axis) const { return nabla::unsqueeze(*this, axis); }
Tensor Tensor::expand(const Shape& shape) const { return nabla::expand(*this, shape); }

}  // namespace nabla
