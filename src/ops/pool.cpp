// 2-d pooling over x [N, C, H, W]: max, average and adaptive average, as PyTorch 1.13 (output
// sizes, ceil_mode, padding rules and error conditions). The kernels pool each [H, W] plane; max
// pooling keeps the argmax of every output for its backward, which scatters the gradient there.
#include "kernels/cpu/pool.hpp"

#include <limits>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;
using kernels::cpu::Pool2dShape;

namespace {

void check_nchw(const Tensor& x, const char* op) {
  NABLA_CHECK(x.dim() == 4, op, ": expected input [N, C, H, W], got shape ", x.shape());
}

// A per-axis setting given as one value for both axes or {rows, cols}; empty = `fallback`.
Shape pair_arg(const std::vector<int64_t>& values, const Shape& fallback, const char* op,
               const char* what) {
  if (values.empty()) return fallback;
  NABLA_CHECK(values.size() <= 2, op, ": ", what,
              " takes one value for both axes or two ({rows, cols}), got ", values.size(),
              " values ", Shape(values));
  return values.size() == 1 ? Shape{values[0], values[0]} : Shape(values);
}

// PyTorch's pooling_output_shape: floor (or ceil) of (in + 2 * pad - kernel) / stride + 1, where
// in ceil_mode the last window must start inside the input or its left padding.
int64_t pooled_size(int64_t in, int64_t kernel, int64_t pad, int64_t stride, bool ceil_mode) {
  const int64_t span = in + 2 * pad - kernel + (ceil_mode ? stride - 1 : 0);
  // Floor division, also of a negative span (a kernel larger than the padded input).
  int64_t out = (span >= 0 ? span / stride : -((-span + stride - 1) / stride)) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

// Checks the arguments of a windowed pooling and returns its geometry.
Pool2dShape pool_shape(const Tensor& x, const std::vector<int64_t>& kernel_arg,
                       const std::vector<int64_t>& stride_arg,
                       const std::vector<int64_t>& padding_arg, bool ceil_mode, const char* op) {
  check_nchw(x, op);
  NABLA_CHECK(!kernel_arg.empty(), op,
              ": kernel must have one value or two ({rows, cols}), got none");
  const Shape kernel = pair_arg(kernel_arg, {}, op, "kernel");
  const Shape stride = pair_arg(stride_arg, kernel, op, "stride");
  const Shape padding = pair_arg(padding_arg, {0, 0}, op, "padding");
  NABLA_CHECK(kernel[0] > 0 && kernel[1] > 0, op, ": kernel must be positive, got ", kernel);
  NABLA_CHECK(stride[0] > 0 && stride[1] > 0, op, ": stride must be positive, got ", stride);
  NABLA_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": padding must be non-negative, got ",
              padding);
  NABLA_CHECK(padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op, ": padding ", padding,
              " must be at most half the kernel ", kernel, " (padding <= kernel / 2)");
  Pool2dShape s;
  s.planes = x.size(0) * x.size(1);
  s.in_h = x.size(2);
  s.in_w = x.size(3);
  s.kernel_h = kernel[0];
  s.kernel_w = kernel[1];
  s.stride_h = stride[0];
  s.stride_w = stride[1];
  s.pad_h = padding[0];
  s.pad_w = padding[1];
  s.out_h = pooled_size(s.in_h, s.kernel_h, s.pad_h, s.stride_h, ceil_mode);
  s.out_w = pooled_size(s.in_w, s.kernel_w, s.pad_w, s.stride_w, ceil_mode);
  NABLA_CHECK(s.out_h >= 1 && s.out_w >= 1, op, ": kernel ", kernel,
              " is larger than the padded input ",
              Shape{s.in_h + 2 * s.pad_h, s.in_w + 2 * s.pad_w}, " (input shape ", x.shape(),
              ", padding ", padding, "); the output would be ", Shape{s.out_h, s.out_w});
  return s;
}

Shape pooled_shape(const Tensor& x, const Pool2dShape& s) {
  return {x.size(0), x.size(1), s.out_h, s.out_w};
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const std::vector<int64_t>& kernel,
                  const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                  bool ceil_mode) {
  const Pool2dShape s = pool_shape(x, kernel, stride, padding, ceil_mode, "max_pool2d");
  NABLA_CHECK(s.in_h * s.in_w <= std::numeric_limits<int32_t>::max(), "max_pool2d: planes of ",
              Shape{s.in_h, s.in_w}, " exceed the 2^31 positions a 32-bit argmax can address");
  const Tensor xc = contiguous_data(x);
  Tensor out = make_tensor(pooled_shape(x, s), x.dtype());
  const bool grad = needs_grad({x});
  // nabla has no 32-bit integer dtype: the argmax lives in a byte tensor from the allocator, half
  // the size of i64 indices, written only when a backward will read it.
  Tensor argmax = grad ? make_tensor({out.numel() * 4}, DType::u8) : Tensor();
  auto* at = grad ? reinterpret_cast<int32_t*>(argmax.data<uint8_t>()) : nullptr;
  dispatch_floating(x.dtype(), "max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::max_pool2d_forward(s, xc.data<T>(), out.data<T>(), at);
  });
  if (grad) {
    record("MaxPool2dBackward", {x}, {out}, [s, argmax, shape = x.shape()](auto& grads) {
      const Tensor gy = contiguous_data(grads[0]);
      Tensor gx = make_tensor(shape, gy.dtype());
      const auto* at = reinterpret_cast<const int32_t*>(argmax.data<uint8_t>());
      dispatch_floating(gy.dtype(), "max_pool2d backward", [&](auto tag) {
        using T = decltype(tag);
        kernels::cpu::max_pool2d_backward(s, gy.data<T>(), at, gx.data<T>());
      });
      return std::vector<Tensor>{gx};
    });
  }
  return out;
}

Tensor avg_pool2d(const Tensor& x, const std::vector<int64_t>& kernel,
                  const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                  bool ceil_mode, bool count_include_pad) {
  const Pool2dShape s = pool_shape(x, kernel, stride, padding, ceil_mode, "avg_pool2d");
  const Tensor xc = contiguous_data(x);
  Tensor out = make_tensor(pooled_shape(x, s), x.dtype());
  dispatch_floating(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::avg_pool2d_forward(s, count_include_pad, xc.data<T>(), out.data<T>());
  });
  if (needs_grad({x})) {
    record("AvgPool2dBackward", {x}, {out}, [s, count_include_pad, shape = x.shape()](auto& grads) {
      const Tensor gy = contiguous_data(grads[0]);
      Tensor gx = make_tensor(shape, gy.dtype());
      dispatch_floating(gy.dtype(), "avg_pool2d backward", [&](auto tag) {
        using T = decltype(tag);
        kernels::cpu::avg_pool2d_backward(s, count_include_pad, gy.data<T>(), gx.data<T>());
      });
      return std::vector<Tensor>{gx};
    });
  }
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& x, const std::vector<int64_t>& output_size) {
  check_nchw(x, "adaptive_avg_pool2d");
  NABLA_CHECK(!output_size.empty(), "adaptive_avg_pool2d: output_size must have one value or two ",
              "({rows, cols}), got none");
  const Shape size = pair_arg(output_size, {}, "adaptive_avg_pool2d", "output_size");
  NABLA_CHECK(size[0] > 0 && size[1] > 0, "adaptive_avg_pool2d: output_size must be positive, got ",
              size, " for input shape ", x.shape());
  NABLA_CHECK(x.size(2) > 0 && x.size(3) > 0, "adaptive_avg_pool2d: expected non-empty planes, ",
              "got input shape ", x.shape());
  Pool2dShape s;
  s.planes = x.size(0) * x.size(1);
  s.in_h = x.size(2);
  s.in_w = x.size(3);
  s.out_h = size[0];
  s.out_w = size[1];
  const Tensor xc = contiguous_data(x);
  Tensor out = make_tensor(pooled_shape(x, s), x.dtype());
  dispatch_floating(x.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::adaptive_avg_pool2d_forward(s, xc.data<T>(), out.data<T>());
  });
  if (needs_grad({x})) {
    record("AdaptiveAvgPool2dBackward", {x}, {out}, [s, shape = x.shape()](auto& grads) {
      const Tensor gy = contiguous_data(grads[0]);
      Tensor gx = make_tensor(shape, gy.dtype());
      dispatch_floating(gy.dtype(), "adaptive_avg_pool2d backward", [&](auto tag) {
        using T = decltype(tag);
        kernels::cpu::adaptive_avg_pool2d_backward(s, gy.data<T>(), gx.data<T>());
      });
      return std::vector<Tensor>{gx};
    });
  }
  return out;
}

}  // namespace nabla
