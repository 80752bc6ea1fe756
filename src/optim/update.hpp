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
  NABLA_CHECK(!grad.is_row_sparse(), optimizer, ": a parameter of shape ", param.shape(),
              " has a row-sparse gradient (an Embedding with sparse=true, or a sampled loss); ",
              optimizer, " takes dense gradients only: use SparseAdam, Adagrad or SGD without ",
              "momentum for it, or sparse=false");
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

// For a row-sparse gradient (Tensor::is_row_sparse): calls update(T{}, offset, param_row,
// grad_row, width) on each stored row, where offset is the row's first element in the parameter
// (and in state slots shaped like it). Rows the gradient does not hold are not read or written.
template <class Update>
void update_sparse_rows(const Tensor& param, const char* optimizer, Update update) {
  const Tensor grad = param.grad();
  NABLA_CHECK(param.is_contiguous() && param.dim() >= 1, optimizer,
              ": a row-sparse gradient needs a contiguous parameter, got shape ", param.shape());
  const Tensor values = grad.dtype() == param.dtype() && grad.is_contiguous()
                            ? grad
                            : contiguous_copy(grad, param.dtype());
  const int64_t rows = values.size(0),
                width = param.size(0) == 0 ? 0 : param.numel() / param.size(0);
  const int64_t* ids = grad.sparse_row_indices().template data<int64_t>();
  dispatch_floating(param.dtype(), optimizer, [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(param.raw_data());
    const T* g = static_cast<const T*>(values.raw_data());
    for (int64_t r = 0; r < rows; ++r)
      update(tag, ids[r] * width, p + ids[r] * width, g + r * width, width);
  });
}

}  // namespace nabla::optim::internal
