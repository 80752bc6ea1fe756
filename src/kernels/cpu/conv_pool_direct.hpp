// A convolution with a fused 2x2 max pooling computed directly, for layers with 9 taps per output
// (one input channel, 3x3: the first layer of an MNIST CNN) and a multiple of 16 output channels
// (8 on AVX2), f32 on AVX-512 or AVX2. im2col + gemm runs such a layer as products with an inner
// dimension of 9, which gemm kernels cannot fill, writes the whole output before pooling it, and
// the backward rebuilds the whole output gradient. Here the output channels are the vector lanes
// (the 9 taps' weights of 32 channels stay in registers), the four positions of a pooling window
// are computed together, relu'd and pooled in registers, and the conv output is never stored; the
// weight gradient visits each window's four positions with the pooled gradient at the lanes whose
// argmax they are. One image per call; conv.cpp splits the batch over threads.
#pragma once

#include <cstdint>

#include "kernels/cpu/conv.hpp"

namespace nabla::kernels::cpu {

// Whether the direct kernels take this convolution and pooling (false without AVX-512 or AVX2).
bool direct_conv_pool_applies(const ConvGeometry& g, const Pool2dShape& pool);

// One image: x [1, in_h, in_w]; pooled and argmax (may be null) its [C_out, out_h / 2, out_w / 2]
// planes, as conv2d_forward_max_pool's.
void direct_conv_pool_forward(const ConvGeometry& g, const Pool2dShape& pool, const float* x,
                              const float* weight, const float* bias, bool relu, float* pooled,
                              int32_t* argmax);

// One image's weight and bias gradient, added into partial [10, C_out] (tap-major, the last row
// the bias: the im2col path's per-chunk layout) from its pooled gradient, argmax and, with a
// fused relu, its pooled output (relu_pooled, else null).
void direct_conv_pool_weight_grad(const ConvGeometry& g, const Pool2dShape& pool, const float* x,
                                  const float* grad_pooled, const int32_t* argmax,
                                  const float* relu_pooled, float* partial);

}  // namespace nabla::kernels::cpu
