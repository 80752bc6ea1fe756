#include "nn/int8_layer.hpp"

#include <algorithm>
#include <optional>

#include "core/tensor_impl.hpp"

namespace nabla::nn {

bool int8_runs(Int8Quantizable& layer, bool training, const Tensor& x, const Tensor& weight) {
  Int8State* state = layer.int8_state().get();
  if (state == nullptr) return false;
  if (state->phase == Int8State::Phase::calibrating) {
    if (x.numel() > 0) {
      NoGradGuard no_grad;
      state->min = std::min(state->min, min(x).item<float>());
      state->max = std::max(state->max, max(x).item<float>());
    }
    return false;
  }
  if (training) {
    layer.set_int8_state(nullptr);
    return false;
  }
  return !is_grad_enabled() && x.dtype() == DType::f32 && weight.dtype() == DType::f32;
}

Tensor int8_forward(Int8State& state, const kernels::cpu::ConvGeometry& g, const Tensor& x,
                    const Tensor& weight, const Tensor& bias, bool relu, const Shape& out_shape) {
  kernels::cpu::ConvGeometry one = g;
  one.batch = 1;
  const std::pair key{one, relu};
  std::optional<kernels::cpu::Int8Conv> conv;
  {
    std::lock_guard<std::mutex> lock(state.mutex);
    auto it = state.kernels.find(key);
    if (it == state.kernels.end()) {
      const Tensor w = weight.contiguous();
      const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
      it = state.kernels
               .emplace(key, kernels::cpu::Int8Conv(one, w.data<float>(),
                                                    b.defined() ? b.data<float>() : nullptr,
                                                    state.input, relu))
               .first;
    }
    conv = it->second;
  }
  const Tensor xc = x.contiguous();
  Tensor y = make_tensor(out_shape, DType::f32);
  if (g.batch > 0) conv->forward(g.batch, xc.data<float>(), y.data<float>());
  return y;
}

}  // namespace nabla::nn
