// Post-training int8 quantization (nabla/quantize.hpp): finds the layers, calibrates, converts.
#include "nabla/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "nabla/nn.hpp"
#include "nn/int8_layer.hpp"

namespace nabla {

namespace {

struct Layer {
  std::string path;
  nn::Module* module;
  nn::Int8Quantizable* quantizable;
};

void collect(nn::Module& module, const std::string& path, std::vector<Layer>& layers) {
  if (auto* q = dynamic_cast<nn::Int8Quantizable*>(&module)) layers.push_back({path, &module, q});
  for (const auto& [name, child] : module.named_children())
    collect(*child, path.empty() ? name : path + "." + name, layers);
}

std::vector<Layer> quantizable_layers(nn::Module& module) {
  std::vector<Layer> layers;
  collect(module, "", layers);
  return layers;
}

// Restores the module's training mode however calibration ends.
struct EvalMode {
  nn::Module& module;
  bool was_training;
  explicit EvalMode(nn::Module& m) : module(m), was_training(m.is_training()) { m.eval(); }
  ~EvalMode() { module.train(was_training); }
};

}  // namespace

QuantizationReport quantize_int8(nn::Module& module, const std::function<void()>& calibrate) {
  const std::vector<Layer> layers = quantizable_layers(module);
  NABLA_CHECK(!layers.empty(),
              "quantize_int8: the model has no Dense/Linear or Conv1d/Conv2d "
              "layer to quantize");
  for (const Layer& layer : layers) {
    for (const Tensor& p : layer.module->parameters(false)) {
      NABLA_CHECK(p.dtype() == DType::f32, "quantize_int8: layer '", layer.path, "' (",
                  layer.module->type_name(), ") has ", dtype_name(p.dtype()),
                  " parameters; int8 quantization takes f32 models");
    }
  }
  for (const Layer& layer : layers)
    layer.quantizable->set_int8_state(std::make_shared<nn::Int8State>());
  try {
    calibrate();
  } catch (...) {
    for (const Layer& layer : layers) layer.quantizable->set_int8_state(nullptr);
    throw;
  }
  for (const Layer& layer : layers) {
    const Tensor weight = layer.quantizable->int8_weight();
    if (!weight.defined() || weight.numel() == 0) continue;
    NoGradGuard no_grad;
    if (!std::isfinite(max(abs(weight)).item<float>())) {  // NaN propagates through max
      for (const Layer& each : layers) each.quantizable->set_int8_state(nullptr);
      detail::throw_error(detail::str("quantize_int8: layer '", layer.path, "' (",
                                      layer.module->type_name(),
                                      ") has NaN or infinite weights, which int8 cannot hold"));
    }
  }
  QuantizationReport report;
  for (const Layer& layer : layers) {
    nn::Int8State& state = *layer.quantizable->int8_state();
    if (!(state.min <= state.max)) {
      layer.quantizable->set_int8_state(nullptr);
      report.not_calibrated.push_back(layer.path);
      continue;
    }
    const Tensor weight = layer.quantizable->int8_weight();
    if (weight.numel() / weight.size(0) < kMinInt8Depth) {
      layer.quantizable->set_int8_state(nullptr);
      report.kept_fp32.push_back(layer.path);
      continue;
    }
    state.input = kernels::cpu::int8_input_scale(state.min, state.max);
    state.phase = nn::Int8State::Phase::converted;
    report.layers.push_back(layer.path);
  }
  return report;
}

QuantizationReport quantize_int8(nn::Module& module, const Tensor& calibration,
                                 const QuantizeOptions& options) {
  const int64_t n = nn::calibration_samples(calibration, options);
  QuantizationReport report = quantize_int8(module, [&] {
    EvalMode eval(module);
    NoGradGuard no_grad;
    for (int64_t start = 0; start < n; start += options.batch_size)
      module.forward(calibration.slice(0, start, std::min(n, start + options.batch_size)));
  });
  report.calibration_samples = n;
  return report;
}

void dequantize(nn::Module& module) {
  for (const Layer& layer : quantizable_layers(module)) layer.quantizable->set_int8_state(nullptr);
}

std::vector<std::string> int8_layers(const nn::Module& module) {
  std::vector<std::string> paths;
  for (const Layer& layer : quantizable_layers(const_cast<nn::Module&>(module))) {
    const auto& state = layer.quantizable->int8_state();
    if (state && state->phase == nn::Int8State::Phase::converted) paths.push_back(layer.path);
  }
  return paths;
}

namespace nn {

int64_t calibration_samples(const Tensor& calibration, const QuantizeOptions& options) {
  NABLA_CHECK(calibration.defined() && calibration.dim() >= 1 && calibration.size(0) > 0,
              "quantize_int8: expected calibration data with at least one sample, got shape ",
              calibration.defined() ? calibration.shape() : Shape{});
  NABLA_CHECK(options.calibration_samples > 0 && options.batch_size > 0,
              "quantize_int8: calibration_samples and batch_size must be positive, got ",
              options.calibration_samples, " and ", options.batch_size);
  return std::min(calibration.size(0), options.calibration_samples);
}

}  // namespace nn

}  // namespace nabla
