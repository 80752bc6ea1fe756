// Convolutions: conv1d and conv2d (strided, padded -- explicitly or as Keras's "same"/"valid" --,
// dilated, grouped) and conv_transpose2d. Each becomes one ConvGeometry for the conv kernels: a
// 1-d convolution is a 2-d one of height 1, and a transposed convolution is the input gradient of
// the convolution it reverses, so the three kernels (forward, input and weight gradients) serve
// both directions.
#include "kernels/cpu/conv.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "core/tensor_impl.hpp"
#include "nabla/ops.hpp"
#include "ops/conv_geometry.hpp"
#include "ops/elementwise.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;
using kernels::cpu::ConvGeometry;

namespace {

// Strides, dilations and the zeros added before and after each spatial axis.
struct ConvAxes {
  Shape stride, dilation, pad_before, pad_after;
};

// A per-axis option: empty = `fallback` on every axis, one value = that value on every axis,
// else one value per spatial axis.
Shape per_axis(const std::vector<int64_t>& values, int64_t axes, int64_t fallback, const char* op,
               const char* name) {
  NABLA_CHECK(values.size() <= 1 || static_cast<int64_t>(values.size()) == axes, op, ": expected ",
              name, " to have one value or one per spatial axis (", axes, "), got ", Shape(values));
  if (values.empty()) return Shape(axes, fallback);
  if (values.size() == 1) return Shape(axes, values[0]);
  return Shape(values);
}

void check_at_least(const Shape& values, int64_t min, const char* op, const char* name) {
  for (int64_t v : values)
    NABLA_CHECK(v >= min, op, ": expected ", name, " values >= ", min, ", got ", values);
}

Shape spatial_sizes(const Shape& shape) { return Shape(shape.begin() + 2, shape.end()); }

const char* input_layout(int64_t spatial) { return spatial == 1 ? "[N, C, L]" : "[N, C, H, W]"; }

// x [N, C, *spatial] and weight [*, *, *kernel] of one floating dtype (with the bias, if any).
void check_operands(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t spatial,
                    const char* op, const char* weight_layout) {
  NABLA_CHECK(x.defined() && weight.defined(), op, ": the input or the weight is undefined");
  NABLA_CHECK(x.dim() == spatial + 2, op, ": expected input ", input_layout(spatial),
              ", got shape ", x.shape());
  NABLA_CHECK(std::all_of(x.shape().begin() + 1, x.shape().end(), [](int64_t s) { return s > 0; }),
              op, ": expected input ", input_layout(spatial),
              " with non-empty channel and spatial axes, got shape ", x.shape());
  NABLA_CHECK(weight.dim() == spatial + 2, op, ": expected weight ", weight_layout, ", got shape ",
              weight.shape());
  NABLA_CHECK(weight.numel() > 0, op, ": expected weight ", weight_layout,
              " with no empty axis, got shape ", weight.shape());
  NABLA_CHECK(is_floating(x.dtype()), op, ": expected a floating input (f32 or f64), got ",
              x.dtype());
  NABLA_CHECK(weight.dtype() == x.dtype(), op, ": expected the weight to have the input's dtype ",
              x.dtype(), ", got ", weight.dtype());
  if (bias.defined())
    NABLA_CHECK(bias.dtype() == x.dtype(), op, ": expected the bias to have the input's dtype ",
                x.dtype(), ", got ", bias.dtype());
}

void check_bias(const Tensor& bias, int64_t out_channels, const char* op) {
  if (!bias.defined()) return;
  NABLA_CHECK(bias.dim() == 1 && bias.shape()[0] == out_channels, op,
              ": expected a bias of shape [", out_channels,
              "] (one per output channel), got shape ", bias.shape());
}

void check_groups(int64_t groups, int64_t in_channels, int64_t out_channels, const char* op) {
  NABLA_CHECK(groups >= 1, op, ": expected groups >= 1, got ", groups);
  NABLA_CHECK(in_channels % groups == 0 && out_channels % groups == 0, op, ": groups = ", groups,
              " must divide both the input channels (", in_channels, ") and the output channels (",
              out_channels, ")");
}

// Keras/TensorFlow "same": the output has ceil(in / stride) positions and the padding that makes
// the last window fit is split evenly, the odd zero going after.
void same_padding(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t& before,
                  int64_t& after) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + dilation * (kernel - 1) + 1 - in, 0);
  before = total / 2;
  after = total - before;
}

// The strides, dilations and paddings of a convolution of x by a kernel of spatial size `kernel`,
// checked: the dilated kernel must fit in the padded input.
ConvAxes conv_axes(const ConvOptions& options, const Shape& x_shape, const Shape& kernel,
                   const char* op) {
  const Shape in = spatial_sizes(x_shape);
  const int64_t axes = static_cast<int64_t>(in.size());
  ConvAxes a;
  a.stride = per_axis(options.stride, axes, 1, op, "stride");
  a.dilation = per_axis(options.dilation, axes, 1, op, "dilation");
  check_at_least(a.stride, 1, op, "stride");
  check_at_least(a.dilation, 1, op, "dilation");
  const std::string& mode = options.padding_mode;
  NABLA_CHECK(mode.empty() || mode == "valid" || mode == "same", op, ": unknown padding_mode '",
              mode, "' (expected '' to use padding, 'valid' or 'same')");
  NABLA_CHECK(mode.empty() || options.padding.empty(), op, ": padding_mode '", mode,
              "' sets the padding itself; expected no explicit padding, got ",
              Shape(options.padding));
  a.pad_before = per_axis(options.padding, axes, 0, op, "padding");
  check_at_least(a.pad_before, 0, op, "padding");
  a.pad_after = a.pad_before;
  if (mode == "same") {
    for (int64_t i = 0; i < axes; ++i)
      same_padding(in[i], kernel[i], a.stride[i], a.dilation[i], a.pad_before[i], a.pad_after[i]);
  }
  for (int64_t i = 0; i < axes; ++i) {
    const int64_t span = a.dilation[i] * (kernel[i] - 1) + 1;
    NABLA_CHECK(in[i] + a.pad_before[i] + a.pad_after[i] >= span, op, ": the kernel ", kernel,
                " with dilation ", a.dilation, " is larger than the padded input: input shape ",
                x_shape, " with padding ", a.pad_before, " has ", in[i] + 2 * a.pad_before[i],
                " positions along spatial axis ", i, ", the dilated kernel spans ", span);
  }
  return a;
}

// The geometry the kernels run: the last spatial axis is the width; a 1-d convolution has height 1.
ConvGeometry make_geometry(int64_t batch, int64_t in_channels, int64_t out_channels, int64_t groups,
                           const Shape& in, const Shape& out, const Shape& kernel,
                           const ConvAxes& a) {
  ConvGeometry g;
  g.batch = batch;
  g.in_channels = in_channels;
  g.out_channels = out_channels;
  g.groups = groups;
  const size_t w = in.size() - 1;
  g.in_w = in[w];
  g.out_w = out[w];
  g.kernel_w = kernel[w];
  g.stride_w = a.stride[w];
  g.dilation_w = a.dilation[w];
  g.pad_left = a.pad_before[w];
  g.pad_right = a.pad_after[w];
  if (w == 1) {
    g.in_h = in[0];
    g.out_h = out[0];
    g.kernel_h = kernel[0];
    g.stride_h = a.stride[0];
    g.dilation_h = a.dilation[0];
    g.pad_top = a.pad_before[0];
    g.pad_bottom = a.pad_after[0];
  }
  return g;
}

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// What a convolution's backward needs: the geometry, the saved operands it reads (the input for
// the weight gradient, the weight for the input gradient) and which gradients are wanted.
struct ConvSaved {
  ConvGeometry geometry;
  Tensor x, weight;  // contiguous; undefined when not needed
  Shape x_shape, weight_shape;
  DType dtype;
  bool grad_x, grad_weight, grad_bias;
};

ConvSaved save_for_backward(const ConvGeometry& g, const Tensor& x, const Tensor& xc,
                            const Tensor& weight, const Tensor& wc, const Tensor& bias) {
  ConvSaved s{g,
              Tensor(),
              Tensor(),
              x.shape(),
              weight.shape(),
              x.dtype(),
              x.requires_grad(),
              weight.requires_grad(),
              bias.defined() && bias.requires_grad()};
  if (s.grad_weight) s.x = xc;
  if (s.grad_x) s.weight = wc;
  return s;
}

// Gradients of conv(x, weight) + bias -- or of relu(conv(x, weight) + bias), with the saved
// output relu_out -- for grad_y of the output's shape.
std::vector<Tensor> conv_backward(const ConvSaved& s, const Tensor& grad_y,
                                  Tensor relu_out = Tensor()) {
  Tensor gy = contiguous_data(grad_y);
  if (relu_out.defined() && (s.grad_x || !s.grad_weight)) {
    // Several passes read the masked gradient (or no kernel takes the mask): mask it once.
    gy = relu_grad(gy, relu_out);
    relu_out = Tensor();
  }
  const ConvGeometry& g = s.geometry;
  Tensor gx, gw, gb;
  dispatch_floating(s.dtype, "conv backward", [&](auto tag) {
    using T = decltype(tag);
    if (s.grad_x) {
      gx = make_tensor(s.x_shape, s.dtype);
      kernels::cpu::conv2d_backward_data<T>(g, gy.data<T>(), s.weight.data<T>(), gx.data<T>());
    }
    if (s.grad_bias) gb = make_tensor({g.out_channels}, s.dtype);
    if (s.grad_weight) {
      gw = make_tensor(s.weight_shape, s.dtype);
      kernels::cpu::conv2d_backward_weights<T>(
          g, s.x.data<T>(), gy.data<T>(), gw.data<T>(), gb.defined() ? gb.data<T>() : nullptr,
          kernels::cpu::ConvAlgorithm::automatic, data_or_null<T>(relu_out));
    } else if (s.grad_bias) {
      kernels::cpu::conv_bias_grad<T>(gy.data<T>(), g.batch, g.out_channels, g.out_h * g.out_w,
                                      gb.data<T>());
    }
  });
  return {gx, gw, gb};
}

// The max pooling fused into a convolution whose output has shape `conv_shape`: whole windows of
// ConvOptions::fused_max_pool with stride = window and no padding.
kernels::cpu::Pool2dShape fused_pool_shape(const std::vector<int64_t>& window,
                                           const Shape& conv_shape, int64_t spatial,
                                           const char* op) {
  NABLA_CHECK(spatial == 2, op, ": fused_max_pool needs two spatial axes (conv2d), got ", spatial);
  NABLA_CHECK(window.size() == 1 || window.size() == 2, op,
              ": fused_max_pool takes one value for both axes or two ({rows, cols}), got ",
              Shape(window));
  const int64_t kh = window[0], kw = window.back();
  const int64_t h = conv_shape[2], w = conv_shape[3];
  NABLA_CHECK(kh >= 1 && kw >= 1, op, ": fused_max_pool must be positive, got ", Shape(window));
  NABLA_CHECK(h >= kh && w >= kw, op, ": fused_max_pool window ", Shape{kh, kw},
              " is larger than the convolution's output ", Shape{h, w});
  NABLA_CHECK(h * w <= std::numeric_limits<int32_t>::max(), op, ": output planes of ", Shape{h, w},
              " exceed the 2^31 positions a 32-bit argmax can address");
  kernels::cpu::Pool2dShape pool;
  pool.planes = conv_shape[0] * conv_shape[1];
  pool.in_h = h;
  pool.in_w = w;
  pool.out_h = h / kh;
  pool.out_w = w / kw;
  pool.kernel_h = pool.stride_h = kh;
  pool.kernel_w = pool.stride_w = kw;
  return pool;
}

// The gradients of a convolution with a fused max pooling (and relu: relu_pooled, the pooled
// output) from the pooled output's gradient.
std::vector<Tensor> conv_max_pool_backward(const ConvSaved& s,
                                           const kernels::cpu::Pool2dShape& pool,
                                           const kernels::cpu::ConvMaxPoolState& state,
                                           const Tensor& argmax, const Tensor& relu_pooled,
                                           const Tensor& grad_pooled) {
  const Tensor gp = contiguous_data(grad_pooled);
  const ConvGeometry& g = s.geometry;
  Tensor gx = s.grad_x ? make_tensor(s.x_shape, s.dtype) : Tensor();
  Tensor gw = s.grad_weight ? make_tensor(s.weight_shape, s.dtype) : Tensor();
  Tensor gb = s.grad_bias ? make_tensor({g.out_channels}, s.dtype) : Tensor();
  dispatch_floating(s.dtype, "conv2d max pool backward", [&](auto tag) {
    using T = decltype(tag);
    const auto out = [](Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
    kernels::cpu::conv2d_backward_max_pool<T>(
        g, pool, state, data_or_null<T>(s.x), data_or_null<T>(s.weight), gp.data<T>(),
        reinterpret_cast<const int32_t*>(argmax.data<uint8_t>()), data_or_null<T>(relu_pooled),
        out(gx), out(gw), out(gb));
  });
  return {gx, gw, gb};
}

// conv2d with ConvOptions::fused_max_pool: only the pooled output is written, with the argmax of
// each window for the backward.
Tensor conv_max_pool(const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const ConvOptions& options, const ConvGeometry& g, const Shape& conv_shape,
                     int64_t spatial, const char* op) {
  const kernels::cpu::Pool2dShape pool =
      fused_pool_shape(options.fused_max_pool, conv_shape, spatial, op);
  const Tensor xc = contiguous_data(x), wc = contiguous_data(weight), bc = contiguous_data(bias);
  Tensor y = make_tensor({g.batch, g.out_channels, pool.out_h, pool.out_w}, x.dtype());
  const bool grad = needs_grad({x, weight, bias});
  // 32-bit positions in a byte tensor, as max_pool2d keeps them; written only for a backward.
  Tensor argmax = grad ? make_tensor({y.numel() * 4}, DType::u8) : Tensor();
  auto* at = grad ? reinterpret_cast<int32_t*>(argmax.data<uint8_t>()) : nullptr;
  // The blocked input oneDNN's forward read, kept for the weight gradient.
  kernels::cpu::ConvMaxPoolState state;
  const bool keep_input = grad && weight.requires_grad();
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::conv2d_forward_max_pool<T>(g, pool, xc.data<T>(), wc.data<T>(),
                                             data_or_null<T>(bc), y.data<T>(), at,
                                             options.fused_relu, keep_input ? &state : nullptr);
  });
  if (grad) {
    record(options.fused_relu ? "Conv2dReluMaxPoolBackward" : "Conv2dMaxPoolBackward",
           {x, weight, bias}, {y},
           [s = save_for_backward(g, x, xc, weight, wc, bias), pool, state, argmax,
            relu_pooled = options.fused_relu ? y.detach() : Tensor()](auto& grads) {
             return conv_max_pool_backward(s, pool, state, argmax, relu_pooled, grads[0]);
           });
  }
  return y;
}

// The weight layout conv1d (spatial = 1) or conv2d (spatial = 2) expects, as errors name it.
const char* weight_layout(int64_t spatial) {
  return spatial == 1 ? "[C_out, C_in / groups, kL]" : "[C_out, C_in / groups, kH, kW]";
}

// The checked geometry of conv1d (spatial = 1) or conv2d (spatial = 2) and its output shape.
ConvGeometry checked_geometry(const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const ConvOptions& options, int64_t spatial, const char* op,
                              Shape* out_shape_out) {
  check_operands(x, weight, bias, spatial, op, weight_layout(spatial));
  const int64_t batch = x.shape()[0], in_channels = x.shape()[1];
  const int64_t out_channels = weight.shape()[0], groups = options.groups;
  check_groups(groups, in_channels, out_channels, op);
  NABLA_CHECK(in_channels == weight.shape()[1] * groups, op, ": input of shape ", x.shape(),
              " has ", in_channels, " channels, but weight of shape ", weight.shape(),
              " with groups = ", groups, " expects ", weight.shape()[1] * groups,
              " (weight.shape[1] * groups)");
  check_bias(bias, out_channels, op);
  const Shape in = spatial_sizes(x.shape()), kernel = spatial_sizes(weight.shape());
  const ConvAxes a = conv_axes(options, x.shape(), kernel, op);
  Shape out_shape{batch, out_channels}, out;
  for (int64_t i = 0; i < spatial; ++i)
    out.push_back(kernels::cpu::conv_output_size(in[i], kernel[i], a.stride[i], a.dilation[i],
                                                 a.pad_before[i], a.pad_after[i]));
  out_shape.insert(out_shape.end(), out.begin(), out.end());
  if (out_shape_out != nullptr) *out_shape_out = out_shape;
  return make_geometry(batch, in_channels, out_channels, groups, in, out, kernel, a);
}

// conv1d (spatial = 1) and conv2d (spatial = 2).
Tensor conv_nd(const Tensor& x, const Tensor& weight, const Tensor& bias,
               const ConvOptions& options, int64_t spatial, const char* op) {
  Shape out_shape;
  const ConvGeometry g = checked_geometry(x, weight, bias, options, spatial, op, &out_shape);
  if (!options.fused_max_pool.empty())
    return conv_max_pool(x, weight, bias, options, g, out_shape, spatial, op);
  const Tensor xc = contiguous_data(x), wc = contiguous_data(weight), bc = contiguous_data(bias);
  Tensor y = make_tensor(out_shape, x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::conv2d_forward<T>(g, xc.data<T>(), wc.data<T>(), data_or_null<T>(bc), y.data<T>(),
                                    kernels::cpu::ConvAlgorithm::automatic, options.fused_relu);
  });
  if (needs_grad({x, weight, bias})) {
    const char* node = options.fused_relu
                           ? (spatial == 1 ? "Conv1dReluBackward" : "Conv2dReluBackward")
                           : (spatial == 1 ? "Conv1dBackward" : "Conv2dBackward");
    // With a fused relu, the output (detached: no cycle through its own node) masks the gradient
    // as relu's backward does, before the convolution's.
    record(node, {x, weight, bias}, {y},
           [s = save_for_backward(g, x, xc, weight, wc, bias),
            relu_out = options.fused_relu ? y.detach() : Tensor()](auto& grads) {
             return conv_backward(s, grads[0], relu_out);
           });
  }
  return y;
}

// Gradients of conv_transpose2d, computed with the reversed convolution g: the transposed output's
// gradient is that convolution's input, and the transposed input plays its output gradient.
std::vector<Tensor> conv_transpose_backward(const ConvSaved& s, const Tensor& grad_y) {
  const Tensor gy = contiguous_data(grad_y);
  const ConvGeometry& g = s.geometry;
  Tensor gx, gw, gb;
  dispatch_floating(s.dtype, "conv_transpose2d backward", [&](auto tag) {
    using T = decltype(tag);
    if (s.grad_x) {
      gx = make_tensor(s.x_shape, s.dtype);
      kernels::cpu::conv2d_forward<T>(g, gy.data<T>(), s.weight.data<T>(), nullptr, gx.data<T>());
    }
    if (s.grad_weight) {
      gw = make_tensor(s.weight_shape, s.dtype);
      kernels::cpu::conv2d_backward_weights<T>(g, gy.data<T>(), s.x.data<T>(), gw.data<T>(),
                                               nullptr);
    }
    if (s.grad_bias) {
      gb = make_tensor({g.in_channels}, s.dtype);
      kernels::cpu::conv_bias_grad<T>(gy.data<T>(), g.batch, g.in_channels, g.in_h * g.in_w,
                                      gb.data<T>());
    }
  });
  return {gx, gw, gb};
}

}  // namespace

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const ConvOptions& options) {
  return conv_nd(x, weight, bias, options, 1, "conv1d");
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const ConvOptions& options) {
  return conv_nd(x, weight, bias, options, 2, "conv2d");
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                        const ConvTransposeOptions& options) {
  const char* op = "conv_transpose2d";
  check_operands(x, weight, bias, 2, op, "[C_in, C_out / groups, kH, kW]");
  const int64_t batch = x.shape()[0], in_channels = x.shape()[1], groups = options.groups;
  NABLA_CHECK(in_channels == weight.shape()[0], op, ": input of shape ", x.shape(), " has ",
              in_channels, " channels, but weight of shape ", weight.shape(),
              " with groups = ", groups, " expects ", weight.shape()[0], " (weight.shape[0])");
  const int64_t out_channels = weight.shape()[1] * groups;
  check_groups(groups, in_channels, out_channels, op);
  check_bias(bias, out_channels, op);

  const Shape in = spatial_sizes(x.shape()), kernel = spatial_sizes(weight.shape());
  ConvAxes a;
  a.stride = per_axis(options.stride, 2, 1, op, "stride");
  a.dilation = per_axis(options.dilation, 2, 1, op, "dilation");
  const Shape padding = per_axis(options.padding, 2, 0, op, "padding");
  const Shape output_padding = per_axis(options.output_padding, 2, 0, op, "output_padding");
  check_at_least(a.stride, 1, op, "stride");
  check_at_least(a.dilation, 1, op, "dilation");
  check_at_least(padding, 0, op, "padding");
  check_at_least(output_padding, 0, op, "output_padding");
  Shape out_shape{batch, out_channels}, out;
  for (int64_t i = 0; i < 2; ++i) {
    NABLA_CHECK(output_padding[i] < a.stride[i] || output_padding[i] < a.dilation[i], op,
                ": expected output_padding smaller than the stride or the dilation in each axis, "
                "got output_padding ",
                output_padding, " with stride ", a.stride, " and dilation ", a.dilation);
    const int64_t size = (in[i] - 1) * a.stride[i] - 2 * padding[i] +
                         a.dilation[i] * (kernel[i] - 1) + output_padding[i] + 1;
    NABLA_CHECK(size >= 1, op, ": input of shape ", x.shape(), " with kernel ", kernel, ", stride ",
                a.stride, ", padding ", padding, ", dilation ", a.dilation, " and output_padding ",
                output_padding, " gives an empty output (size ", size, " along spatial axis ", i,
                ")");
    out.push_back(size);
    // The reversed convolution reads rows [0, size) of its input with `padding` zeros before; the
    // padding after is what makes its output exactly `in` rows: output_padding rows are not read
    // when output_padding < stride (floor division drops them), else they are cut off.
    a.pad_before.push_back(padding[i]);
    a.pad_after.push_back(padding[i] - std::max<int64_t>(0, output_padding[i] - a.stride[i] + 1));
  }
  out_shape.insert(out_shape.end(), out.begin(), out.end());
  const ConvGeometry g =
      make_geometry(batch, out_channels, in_channels, groups, out, in, kernel, a);

  const Tensor xc = contiguous_data(x), wc = contiguous_data(weight), bc = contiguous_data(bias);
  Tensor y = make_tensor(out_shape, x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::conv2d_backward_data<T>(g, xc.data<T>(), wc.data<T>(), y.data<T>());
    if (bc.defined())
      kernels::cpu::add_channel_bias<T>(y.data<T>(), bc.data<T>(), batch, out_channels,
                                        out[0] * out[1]);
  });
  if (needs_grad({x, weight, bias})) {
    record("ConvTranspose2dBackward", {x, weight, bias}, {y},
           [s = save_for_backward(g, x, xc, weight, wc, bias)](auto& grads) {
             return conv_transpose_backward(s, grads[0]);
           });
  }
  return y;
}

ConvGeometry conv_geometry(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           const ConvOptions& options, int64_t spatial, const char* op,
                           Shape* out_shape) {
  return checked_geometry(x, weight, bias, options, spatial, op, out_shape);
}

}  // namespace nabla
