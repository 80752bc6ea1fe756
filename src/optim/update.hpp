// What every optimizer's step shares: argument checks, the per-parameter step counter, and the
// hand-off of a parameter and its gradient to a fused kernel as contiguous arrays of one dtype.
#pragma once

#include <map>
#include <string>

#include "core/dispatch.hpp"
#include "core/tensor_impl.hpp"

namespace nabla::optim::internal {

// Throws "<optimizer>: invalid <option> <value> (expected <expected>)" unless ok.
inline void check_option(const std::string& optimizer, const char* option, double value, bool ok,
                         const char* expected) {
  NABLA_CHECK(ok, optimizer, ": invalid ", option, " ", value, " (expected ", expected, ")");
}

// The parameter's step count (PyTorch's state["step"]): a 0-d f64 tensor, advanced by one.
// Returns the new count.
inline double advance_step(std::map<std::string, Tensor>& state) {
  Tensor& step = state["step"];
  if (!step.defined()) step = zeros({}, DType::f64);
  double* value = step.data<double>();
  *value += 1;
  return *value;
}

// Calls update(T{}, param_data, grad_data, n) with the parameter and its gradient as contiguous
// arrays of the parameter's dtype. Gradients of another dtype or layout, and non-contiguous
// parameters, go through copies (the parameter's is written back); the usual case copies nothing.
template <class Update>
void update_parameter(const Tensor& param, const char* optimizer, Update update) {
  Tensor grad = param.grad();
  if (grad.dtype() != param.dtype() || !grad.is_contiguous())
    grad = contiguous_copy(grad, param.dtype());
  Tensor target = contiguous_data(param);
  dispatch_floating(param.dtype(), optimizer, [&](auto tag) {
    using T = decltype(tag);
    update(tag, static_cast<T*>(target.raw_data()), static_cast<const T*>(grad.raw_data()),
           param.numel());
  });
  if (!target.is_same(param)) Tensor(param).copy_(target);
}

}  // namespace nabla::optim::internal
