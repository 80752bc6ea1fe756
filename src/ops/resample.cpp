// Padding and resizing, as torch.nn.functional.pad / interpolate in PyTorch 1.13. Each works one
// axis at a time: every output position of the axis reads one input position (padding of any
// mode, nearest) or blends two (linear), so an n-d pad or a 2-d resize is a chain of one-axis
// passes, each recorded with its own backward. The source positions are computed in the
// precision PyTorch computes them in (float for nearest, the tensor's dtype for linear), so that
// the chosen pixels and weights match.
#include <algorithm>
#include <cmath>
#include <optional>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "kernels/cpu/pool.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;

namespace {

enum class Sampling { constant, reflect, replicate, nearest, linear };

// How one axis is resampled: input length, output length, and what the mode needs.
struct AxisResample {
  Sampling sampling = Sampling::nearest;
  int64_t in_len = 0, out_len = 0;
  int64_t pad_before = 0;              // padding: output o reads input o - pad_before
  bool align_corners = false;          // linear
  std::optional<double> scale_factor;  // resizing by a factor: sample with 1 / factor
};

// The input position output `o` copies, or -1 for the constant fill.
int64_t padded_source(const AxisResample& r, int64_t o) {
  const int64_t i = o - r.pad_before, last = r.in_len - 1;
  switch (r.sampling) {
    case Sampling::constant:
      return i >= 0 && i <= last ? i : -1;
    case Sampling::reflect:  // mirrored about the edge elements, which are not repeated
      return i < 0 ? -i : (i > last ? 2 * last - i : i);
    default:  // replicate
      return std::clamp<int64_t>(i, 0, last);
  }
}

// PyTorch's nearest_idx: float arithmetic, floor(o * scale), scale = in / out or 1 / factor.
int64_t nearest_source(const AxisResample& r, int64_t o) {
  if (r.out_len == r.in_len) return o;
  if (r.out_len == 2 * r.in_len) return o >> 1;
  const float scale = r.scale_factor ? static_cast<float>(1.0 / *r.scale_factor)
                                     : static_cast<float>(r.in_len) / static_cast<float>(r.out_len);
  const auto i = static_cast<int64_t>(std::floor(static_cast<float>(o) * scale));
  return std::min(i, r.in_len - 1);
}

std::vector<int64_t> copy_sources(const AxisResample& r) {
  std::vector<int64_t> index(r.out_len);
  for (int64_t o = 0; o < r.out_len; ++o)
    index[o] = r.sampling == Sampling::nearest ? nearest_source(r, o) : padded_source(r, o);
  return index;
}

// The two taps of linear interpolation, computed in T as PyTorch's
// compute_source_index_and_lambda (area_pixel_compute_scale / _source_index).
template <class T>
struct LerpTable {
  std::vector<int64_t> index0, index1;
  std::vector<T> weight0, weight1;
  kernels::cpu::LerpTaps<T> taps() const {
    return {index0.data(), index1.data(), weight0.data(), weight1.data()};
  }
};

template <class T>
LerpTable<T> lerp_table(const AxisResample& r) {
  T scale;
  if (r.align_corners) {
    scale = r.out_len > 1 ? static_cast<T>(r.in_len - 1) / static_cast<T>(r.out_len - 1) : T(0);
  } else {
    scale = r.scale_factor ? static_cast<T>(1.0 / *r.scale_factor)
                           : static_cast<T>(r.in_len) / static_cast<T>(r.out_len);
  }
  LerpTable<T> t;
  t.index0.resize(r.out_len);
  t.index1.resize(r.out_len);
  t.weight0.resize(r.out_len);
  t.weight1.resize(r.out_len);
  for (int64_t o = 0; o < r.out_len; ++o) {
    T source =
        r.align_corners ? scale * static_cast<T>(o) : scale * (static_cast<T>(o) + T(0.5)) - T(0.5);
    if (source < 0) source = 0;
    const auto i0 = static_cast<int64_t>(source);
    const T lambda1 = std::clamp(source - static_cast<T>(i0), T(0), T(1));
    t.index0[o] = i0;
    t.index1[o] = i0 < r.in_len - 1 ? i0 + 1 : i0;
    t.weight0[o] = T(1) - lambda1;
    t.weight1[o] = lambda1;
  }
  return t;
}

// x's shape as [outer, axis, inner].
struct AxisView {
  int64_t outer = 1, inner = 1;
};
AxisView axis_view(const Shape& shape, int64_t axis) {
  AxisView v;
  for (int64_t d = 0; d < axis; ++d) v.outer *= shape[d];
  for (int64_t d = axis + 1; d < static_cast<int64_t>(shape.size()); ++d) v.inner *= shape[d];
  return v;
}

// Backward of one pass: grad_y [.., out_len, ..] -> grad_x [.., in_len, ..].
Tensor resample_axis_backward(const Tensor& grad_y, const Shape& in_shape, int64_t axis,
                              const AxisResample& r) {
  const Tensor gy = contiguous_data(grad_y);
  Tensor gx = make_tensor(in_shape, gy.dtype());
  const AxisView v = axis_view(in_shape, axis);
  dispatch_floating(gy.dtype(), "resample backward", [&](auto tag) {
    using T = decltype(tag);
    if (r.sampling == Sampling::linear) {
      const LerpTable<T> table = lerp_table<T>(r);
      kernels::cpu::lerp_axis_backward(table.taps(), v.outer, r.in_len, r.out_len, v.inner,
                                       gy.data<T>(), gx.data<T>());
    } else {
      const std::vector<int64_t> index = copy_sources(r);
      kernels::cpu::gather_axis_backward(index.data(), v.outer, r.in_len, r.out_len, v.inner,
                                         gy.data<T>(), gx.data<T>());
    }
  });
  return gx;
}

// One pass over `axis`, recorded under `node` when x needs a gradient.
Tensor resample_axis(const Tensor& x, int64_t axis, const AxisResample& r, double fill,
                     const char* op, const char* node) {
  const Tensor xc = contiguous_data(x);  // not recorded
  Shape out_shape = x.shape();
  out_shape[axis] = r.out_len;
  Tensor out = make_tensor(out_shape, x.dtype());
  const AxisView v = axis_view(x.shape(), axis);
  if (r.sampling == Sampling::linear) {
    dispatch_floating(x.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      const LerpTable<T> table = lerp_table<T>(r);
      kernels::cpu::lerp_axis(table.taps(), v.outer, r.in_len, r.out_len, v.inner, xc.data<T>(),
                              out.data<T>());
    });
  } else {
    const std::vector<int64_t> index = copy_sources(r);
    dispatch_all(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::gather_axis(index.data(), v.outer, r.in_len, r.out_len, v.inner,
                                static_cast<T>(fill), static_cast<const T*>(xc.raw_data()),
                                static_cast<T*>(out.raw_data()));
    });
  }
  if (needs_grad({x})) {
    record(node, {x}, {out}, [in_shape = x.shape(), axis, r](auto& grads) {
      return std::vector<Tensor>{resample_axis_backward(grads[0], in_shape, axis, r)};
    });
  }
  return out;
}

Sampling pad_sampling(const std::string& mode) {
  if (mode == "constant") return Sampling::constant;
  if (mode == "reflect") return Sampling::reflect;
  NABLA_CHECK(mode == "replicate", "pad: unknown mode \"", mode,
              "\" (expected \"constant\", \"reflect\" or \"replicate\")");
  return Sampling::replicate;
}

// The pass of pad over one axis, checked as PyTorch checks it.
AxisResample pad_axis(const Tensor& x, int64_t axis, int64_t before, int64_t after,
                      Sampling sampling) {
  AxisResample r;
  r.sampling = sampling;
  r.in_len = x.size(axis);
  r.out_len = r.in_len + before + after;
  r.pad_before = before;
  NABLA_CHECK(r.out_len >= 0, "pad: padding (", before, ", ", after, ") of axis ", axis,
              " makes its size ", r.in_len, " negative (", r.out_len, ") for input shape ",
              x.shape());
  if (sampling == Sampling::reflect && (before != 0 || after != 0)) {
    NABLA_CHECK(before < r.in_len && after < r.in_len, "pad: reflect padding (", before, ", ",
                after, ") of axis ", axis, " must be less than its size ", r.in_len,
                " (input shape ", x.shape(), ")");
  }
  if (sampling == Sampling::replicate) {
    NABLA_CHECK(r.in_len > 0 || r.out_len == 0, "pad: replicate padding of axis ", axis,
                " needs a non-empty axis, got input shape ", x.shape());
  }
  return r;
}

// Checks x [N, C, L] or [N, C, H, W] against the mode; `op` names the caller in messages.
void check_resize_input(const Tensor& x, const std::string& mode, bool align_corners,
                        const char* op) {
  NABLA_CHECK(x.dim() == 3 || x.dim() == 4, op,
              ": expected input [N, C, L] or [N, C, H, W], got shape ", x.shape());
  NABLA_CHECK(mode == "nearest" || mode == "linear" || mode == "bilinear", op, ": unknown mode \"",
              mode, "\" (expected \"nearest\", \"linear\" or \"bilinear\")");
  NABLA_CHECK(mode != "linear" || x.dim() == 3, op,
              ": mode \"linear\" needs a 3-d input [N, C, L], got shape ", x.shape(),
              " (use \"bilinear\" for [N, C, H, W])");
  NABLA_CHECK(mode != "bilinear" || x.dim() == 4, op,
              ": mode \"bilinear\" needs a 4-d input [N, C, H, W], got shape ", x.shape(),
              " (use \"linear\" for [N, C, L])");
  NABLA_CHECK(!align_corners || mode != "nearest", op,
              ": align_corners applies to the \"linear\" and \"bilinear\" modes only, not "
              "\"nearest\"");
}

// Resizes the spatial axes to `size`: the last axis first, then the one before (PyTorch's order
// of the additions). Axes whose size does not change are left as they are.
Tensor resize(const Tensor& x, const Shape& size, const std::string& mode, bool align_corners,
              std::optional<double> scale_factor, const char* op) {
  const int64_t spatial = x.dim() - 2;
  for (int64_t d = 0; d < spatial; ++d) {
    NABLA_CHECK(x.size(2 + d) > 0 && size[d] > 0, op,
                ": input and output sizes must be positive, got input shape ", x.shape(),
                " and output size ", size);
  }
  const bool linear = mode != "nearest";
  const char* node = linear ? "UpsampleLinearBackward" : "UpsampleNearestBackward";
  Tensor out = x;
  for (int64_t d = spatial - 1; d >= 0; --d) {
    const int64_t axis = 2 + d;
    if (size[d] == x.size(axis)) continue;
    AxisResample r;
    r.sampling = linear ? Sampling::linear : Sampling::nearest;
    r.in_len = x.size(axis);
    r.out_len = size[d];
    r.align_corners = align_corners;
    r.scale_factor = scale_factor;
    out = resample_axis(out, axis, r, 0, op, node);
  }
  return out;
}

}  // namespace

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode,
           double value) {
  const Sampling sampling = pad_sampling(mode);
  NABLA_CHECK(pads.size() % 2 == 0, "pad: expected pairs of pad values (before, after per axis), ",
              "got ", pads.size(), " values ", Shape(pads));
  const int64_t axes = static_cast<int64_t>(pads.size()) / 2;
  NABLA_CHECK(axes <= x.dim(), "pad: ", pads.size(), " pad values pad ", axes,
              " axes, but the input of shape ", x.shape(), " has ", x.dim());
  NABLA_CHECK(sampling == Sampling::constant || value == 0, "pad: mode \"", mode,
              "\" takes no fill value, got ", value);
  // Check every axis before computing any.
  std::vector<AxisResample> passes;
  for (int64_t k = 0; k < axes; ++k) {
    const int64_t axis = x.dim() - 1 - k;
    passes.push_back(pad_axis(x, axis, pads[2 * k], pads[2 * k + 1], sampling));
  }
  Tensor out = x;
  for (int64_t k = 0; k < axes; ++k) {
    if (pads[2 * k] == 0 && pads[2 * k + 1] == 0) continue;
    out = resample_axis(out, x.dim() - 1 - k, passes[k], value, "pad", "PadBackward");
  }
  return out;
}

Tensor interpolate(const Tensor& x, const std::vector<int64_t>& size, const std::string& mode,
                   bool align_corners) {
  check_resize_input(x, mode, align_corners, "interpolate");
  const int64_t spatial = x.dim() - 2;
  const auto count = static_cast<int64_t>(size.size());
  NABLA_CHECK(count == spatial || count == 1, "interpolate: expected ", spatial,
              " output size(s), one per spatial axis of input shape ", x.shape(), " (or one for ",
              "all), got ", count, " ", Shape(size));
  const Shape out_size = count == 1 ? Shape(spatial, size[0]) : Shape(size);
  return resize(x, out_size, mode, align_corners, std::nullopt, "interpolate");
}

Tensor upsample(const Tensor& x, double scale_factor, const std::string& mode, bool align_corners) {
  check_resize_input(x, mode, align_corners, "upsample");
  NABLA_CHECK(std::isfinite(scale_factor) && scale_factor > 0,
              "upsample: scale_factor must be positive and finite, got ", scale_factor);
  Shape out_size;
  for (int64_t d = 2; d < x.dim(); ++d)
    out_size.push_back(
        static_cast<int64_t>(std::floor(static_cast<double>(x.size(d)) * scale_factor)));
  return resize(x, out_size, mode, align_corners, scale_factor, "upsample");
}

}  // namespace nabla
