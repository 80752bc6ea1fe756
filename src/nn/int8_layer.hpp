// Int8 inference inside Linear/Dense and Conv1d/Conv2d (post-training quantization,
// nabla/quantize.hpp): the state quantize_int8 gives a layer, and what the layer's forward calls.
#pragma once

#include <limits>
#include <map>
#include <mutex>
#include <utility>

#include "kernels/cpu/conv.hpp"
#include "kernels/cpu/int8_conv.hpp"
#include "nabla/nn.hpp"
#include "nabla/quantize.hpp"

namespace nabla::nn {

struct Int8State {
  enum class Phase { calibrating, converted };
  Phase phase = Phase::calibrating;
  // The range of the layer's inputs over the calibration batches (PyTorch's MinMaxObserver).
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  kernels::cpu::Int8InputScale input;  // set at the conversion
  // The quantized kernels by geometry (batch 1) and fused relu: a layer may see several input
  // sizes (a fully convolutional model), and a Dense layer runs with its relu (forward) and
  // without (Linear::logits); each kernel is built at its first use from the layer's weights.
  std::mutex mutex;
  std::map<std::pair<kernels::cpu::ConvGeometry, bool>, kernels::cpu::Int8Conv> kernels;
};

// Called first by the layers' forward with their input: while calibrating, records its range
// (and the layer runs fp32); once converted, true when this call runs int8: eval mode, no grad,
// f32 input and weights. A converted layer that trains goes back to fp32 for good (its int8
// weights would no longer be its weights): quantize again after training.
bool int8_runs(Int8Quantizable& layer, bool training, const Tensor& x, const Tensor& weight);

// The layer's convolution of x (f32, contiguous or not) in int8, for the geometry `g` of this call
// (a dense layer: the 1x1 convolution of [M, K] as M images of K channels), bias and fused relu
// as the layer has them; the output has out_shape.
Tensor int8_forward(Int8State& state, const kernels::cpu::ConvGeometry& g, const Tensor& x,
                    const Tensor& weight, const Tensor& bias, bool relu, const Shape& out_shape);

// How many of `calibration`'s samples quantize_int8 calibrates on: Error when there are none or
// the options are not positive (both forms of quantize_int8 and Model::quantize_int8 check so).
int64_t calibration_samples(const Tensor& calibration, const QuantizeOptions& options);

}  // namespace nabla::nn
