// 2-d convolution on contiguous NCHW data with OIHW weights (PyTorch's layouts; a 1-d convolution
// is the case in_h = kernel_h = out_h = 1): forward, the gradient with respect to the input
// (which is also the forward of a transposed convolution) and the gradient with respect to the
// weights and bias. Weights of a grouped convolution are [C_out, C_in / groups, kH, kW], the
// groups' blocks one after another.
//
// f32 runs, per pass and shape, on oneDNN convolution primitives (created once per configuration
// and cached) or on im2col + sgemm, whichever measured faster; inside an Autocast scope for bf16
// (nabla/autocast.hpp) every pass with 16 or more channels on both sides, and every depthwise
// one, runs oneDNN's bf16 kernels on its inputs rounded to bf16, writing f32. f64 (gradient
// checks) runs im2col + gemm.
#pragma once

#include <compare>
#include <cstdint>

#include "kernels/cpu/pool.hpp"
#include "nabla/tensor.hpp"

namespace nabla::kernels::cpu {

// Everything that fixes a convolution's computation. Output positions o read input positions
// o * stride - pad_before + k * dilation (k < kernel); pads may differ before and after (Keras's
// "same") and pad_after may be negative (a transposed convolution's output_padding beyond its
// stride), in which case trailing input positions are never read.
struct ConvGeometry {
  int64_t batch = 1, in_channels = 1, out_channels = 1, groups = 1;
  int64_t in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;

  auto operator<=>(const ConvGeometry&) const = default;

  int64_t input_numel() const { return batch * in_channels * in_h * in_w; }
  int64_t output_numel() const { return batch * out_channels * out_h * out_w; }
  int64_t weight_numel() const {
    return out_channels * (in_channels / groups) * kernel_h * kernel_w;
  }
  // Multiply-adds of the forward (the same for each gradient).
  int64_t macs() const { return output_numel() * (in_channels / groups) * kernel_h * kernel_w; }
};

// The output size of one axis: floor((in + pads - dilation * (kernel - 1) - 1) / stride) + 1.
int64_t conv_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                         int64_t pad_before, int64_t pad_after);

// Which implementation runs. `automatic` is what the ops use: the measured fastest per pass and
// shape (see choose() in conv.cpp); f64 always runs im2col. The others exist so that tests and
// benchmarks can compare: oneDNN primitives on nabla's plain layouts (buffers used in place),
// oneDNN primitives on the layouts they prefer (format_tag::any: blocked, with reorders in and
// out; Winograd where conv2d_winograd says so), and im2col + gemm.
enum class ConvAlgorithm { automatic, onednn, onednn_blocked, im2col };

enum class ConvPass { forward, backward_data, backward_weights };

// Whether a pass that runs on oneDNN's blocked layouts in f32 computes with Winograd F(4x4, 3x3)
// (2.25x fewer multiplies, results within rounding of the direct kernels' and as reproducible):
// 3x3 unit-stride convolutions with many channels on CPUs with oneDNN's AVX-512 Winograd
// kernels, where it measured faster (conv.cpp). bf16 passes stay direct.
bool conv2d_winograd(const ConvGeometry& g, ConvPass pass);

// y = conv(x, weight) + bias, then relu(y) if `relu`; bias may be null.
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* weight, const T* bias, T* y,
                    ConvAlgorithm algorithm = ConvAlgorithm::automatic, bool relu = false);

// grad_x = the gradient of conv(x, weight) with respect to x for grad_y (overwritten).
template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* grad_y, const T* weight, T* grad_x,
                          ConvAlgorithm algorithm = ConvAlgorithm::automatic);

// grad_weight (and grad_bias = the sum of grad_y over batch and space, unless null), overwritten.
// With `relu_out` (the output of a convolution with a fused relu), grad_y is first masked where
// relu_out is not positive: per image in cache on the im2col path, as a masked copy otherwise.
template <class T>
void conv2d_backward_weights(const ConvGeometry& g, const T* x, const T* grad_y, T* grad_weight,
                             T* grad_bias, ConvAlgorithm algorithm = ConvAlgorithm::automatic,
                             const T* relu_out = nullptr);

// A convolution with a fused max pooling (what Conv2D(relu) then MaxPooling2D compute): `pool`
// pools the convolution's output planes (planes = batch * out_channels, in_* = out_*) over whole
// windows with stride = window and no padding. Both passes are bit-identical to the convolution
// then max_pool2d (and relu's and the pooling's backward, then the convolution's), except where
// the direct kernels of conv_pool_direct.hpp take a first layer (f32): they sum in another order.
//
// What the forward keeps for the backward on oneDNN's blocked path: the input as the forward's
// primitive read it, so that the weight gradient does not reorder it again. Empty elsewhere.
struct ConvMaxPoolState {
  Tensor blocked_input;
  int64_t input_block = 0;  // its channel block (nChw16c: 16)
  bool input_bf16 = false;  // its values rounded to bf16, two per f32 element (Autocast)
};

// pooled = max_pool2d(relu?(conv(x) + bias)) and its argmax (null: not written). On the im2col
// path each image's output is pooled while in cache and never written; on oneDNN's blocked path
// the pooling reads the primitive's blocked output (no reorder to NCHW); elsewhere the output
// goes through a temporary. `state` (may be null) receives what the backward can reuse.
template <class T>
void conv2d_forward_max_pool(const ConvGeometry& g, const Pool2dShape& pool, const T* x,
                             const T* weight, const T* bias, T* pooled, int32_t* argmax, bool relu,
                             ConvMaxPoolState* state = nullptr);

// The gradients of conv2d_forward_max_pool from the pooled output's, each of grad_x, grad_weight
// and grad_bias null when not wanted. The output gradient is rebuilt from the pooled one (zero,
// grad_pooled at the argmax, 0 where relu_pooled -- the pooled output, with a fused relu -- is
// not positive): per image in cache when only the weights need it on the im2col path, straight
// into the blocked layout that oneDNN's gradient passes read (both from one buffer), else once
// in NCHW for the passes.
template <class T>
void conv2d_backward_max_pool(const ConvGeometry& g, const Pool2dShape& pool,
                              const ConvMaxPoolState& state, const T* x, const T* weight,
                              const T* grad_pooled, const int32_t* argmax, const T* relu_pooled,
                              T* grad_x, T* grad_weight, T* grad_bias);

// grad_bias[c] = sum over n and p of grad_y[n, c, p] (grad_y is [batch, channels, spatial]).
template <class T>
void conv_bias_grad(const T* grad_y, int64_t batch, int64_t channels, int64_t spatial,
                    T* grad_bias);

// y[n, c, p] += bias[c] for y of [batch, channels, spatial].
template <class T>
void add_channel_bias(T* y, const T* bias, int64_t batch, int64_t channels, int64_t spatial);

}  // namespace nabla::kernels::cpu
