// The geometry that conv1d and conv2d run, with their checks, for code that runs a convolution on
// other kernels than the op's (int8 inference of Conv layers, src/nn/int8_layer.cpp).
#pragma once

#include "kernels/cpu/conv.hpp"
#include "nabla/ops.hpp"

namespace nabla {

// x [N, C_in, (H,) W], weight [C_out, C_in / groups, (kH,) kW], bias [C_out] or undefined;
// spatial is 1 (conv1d) or 2 (conv2d). Errors name `op` and the shapes as conv1d/conv2d do.
// `out_shape` (when not null) receives the output's shape.
kernels::cpu::ConvGeometry conv_geometry(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                         const ConvOptions& options, int64_t spatial,
                                         const char* op, Shape* out_shape = nullptr);

}  // namespace nabla
