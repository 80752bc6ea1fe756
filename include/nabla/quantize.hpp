// Post-training int8 quantization for inference, as PyTorch's static quantization (prepare,
// calibrate, convert; per-channel weights, MinMaxObserver) and TFLite's full-integer
// post-training quantization: Dense/Linear and Conv1d/Conv2d layers then run on oneDNN's int8
// kernels (VNNI's u8 x s8 dot products where the CPU has them) whenever the model infers -- eval
// mode, no grad: Model::predict and Model::evaluate, `nabla evaluate --int8`.
//
// quantize_int8 records the range of every such layer's input over calibration batches (min and
// max), then converts the layers: weights to s8, symmetric per output channel; inputs to u8 at
// each call when calibration never saw a negative one (after a relu, images in [0, 1]), else to
// s8; products accumulate in s32 and come back f32, with the f32 bias and a fused relu. Everything
// between the layers (pooling, normalization, other activations, the loss) stays f32, and so do
// the layers' outputs. Training mode or enabled grad runs the layers in fp32 as before; a layer
// that trains after its conversion goes back to fp32 for good (its int8 weights would be stale):
// quantize again after training.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nabla/tensor.hpp"

namespace nabla {

namespace nn {
class Module;
}

// Measured on the AVX-512 EPYC (VNNI), batch 256: the CNN's first convolution (1 -> 32 channels,
// 3x3: 9 multiply-adds per output) took 2.7 ms in int8 against 1.0 ms in fp32 (the int8 kernel
// gains nothing at that depth and its f32 output is reordered from NHWC), while its second
// (32 -> 64, 288 per output) took 2.0 ms against 4.2.
constexpr int64_t kMinInt8Depth = 32;

struct QuantizeOptions {
  int64_t calibration_samples = 2048;  // the first ones of the calibration data
  int64_t batch_size = 256;
};

struct QuantizationReport {
  // The converted layers by their path in the module ("0", "encoder.conv1"), in module order.
  std::vector<std::string> layers;
  // Layers that no calibration batch reached (another branch, an unused output): they stay fp32.
  std::vector<std::string> not_calibrated;
  // Layers whose products are too shallow for int8 to gain: fewer than kMinInt8Depth
  // multiply-adds per output (C_in / groups * kH * kW: a first convolution over one channel, a
  // depthwise one). They stay fp32.
  std::vector<std::string> kept_fp32;
  int64_t calibration_samples = 0;  // 0 when a callback calibrated
};

// Calibrates on the first options.calibration_samples rows of `calibration` (the model's input,
// f32 or what its first layer takes), running module.forward in eval mode without grad, and
// converts. Error when the module has no layer to quantize or one has f64 weights.
QuantizationReport quantize_int8(nn::Module& module, const Tensor& calibration,
                                 const QuantizeOptions& options = {});
// The same with calibration run by `calibrate` (any forwards of the module: several inputs,
// masks, a data pipeline).
QuantizationReport quantize_int8(nn::Module& module, const std::function<void()>& calibrate);

// Every layer back to fp32.
void dequantize(nn::Module& module);

// The paths of the layers that run int8 now.
std::vector<std::string> int8_layers(const nn::Module& module);

}  // namespace nabla
