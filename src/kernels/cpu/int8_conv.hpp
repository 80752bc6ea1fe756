// Int8 inference of a convolution, and of a dense layer as the 1x1 convolution of a 1x1 image
// (post-training quantization, nabla/quantize.hpp), on oneDNN's int8 convolution kernels (VNNI's
// u8 x s8 dot products where the CPU has them).
//
// Weights are quantized once, symmetrically per output channel (q = round(w / s_c), s_c =
// max |w_c| / L, L = int8_weight_levels()); the input per call with the scale calibrated for it: u8
// (s = max / 255) when calibration saw no negative value (after a relu, images in [0, 1]), s8 (s =
// max |x| / 127) otherwise, rounding to nearest even and saturating. Products accumulate in s32 and
// come back as f32 scaled by s_in * s_c, plus the f32 bias, then relu when fused; outputs are f32,
// NCHW.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/cpu/conv.hpp"

namespace nabla::kernels::cpu {

// How an input is quantized: its scale, and whether it takes u8 (no negative values) or s8.
struct Int8InputScale {
  float scale = 1.f;
  bool is_unsigned = true;
};

// The scale for inputs whose calibration range is [min, max]: u8 when min >= 0, else s8 over
// max(|min|, |max|); an all-zero range gets scale 1 (every value quantizes to 0 either way).
Int8InputScale int8_input_scale(float min, float max);

// L above: 127, or 63 on CPUs without VNNI. Their int8 kernels add pairs of u8 x s8 products in
// s16 (vpmaddubsw), where 2 x 255 x 127 saturates; with 7-bit weights 2 x 255 x 63 fits (oneDNN's
// advice for such CPUs). Measured on an AVX2 EPYC (Zen 3): 8-bit weights put outputs off by up
// to 2.6 for values of at most 23.
int int8_weight_levels();

class Int8Conv {
 public:
  // `g` fixes everything but the batch, which each call gives; weight is [C_out, C_in / groups,
  // kH, kW] and bias [C_out] (or null), both f32 and read only here.
  Int8Conv(const ConvGeometry& g, const float* weight, const float* bias, Int8InputScale input,
           bool relu);
  // y (NCHW, f32) = the quantized convolution of x (NCHW, f32) for `batch` images.
  void forward(int64_t batch, const float* x, float* y) const;
  // oneDNN's name for the kernel it runs at this batch size ("jit_int8:avx512_core_vnni", ...).
  std::string implementation(int64_t batch) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace nabla::kernels::cpu
