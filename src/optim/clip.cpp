// Gradient clipping by joint norm and by value, as torch.nn.utils.clip_grad_norm_/_value_.
#include <cmath>
#include <limits>

#include "kernels/cpu/optim_kernels.hpp"
#include "nabla/optim.hpp"
#include "optim/update.hpp"

namespace nabla::optim {

namespace {
// Calls f(T{}, data, n) on each defined gradient, contiguous; a non-contiguous gradient is
// worked on as a copy that is written back. A row-sparse gradient is its stored rows (unique, so
// their norm is the gradient's norm, and scaling or clamping them is that of the whole).
template <class F>
void for_each_grad(const std::vector<Tensor>& params, const char* op, F f) {
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    Tensor work = contiguous_data(grad);
    dispatch_floating(grad.dtype(), op, [&](auto tag) {
      using T = decltype(tag);
      f(tag, static_cast<T*>(work.raw_data()), work.numel());
    });
    if (!work.is_same(grad)) grad.copy_(work);
  }
}
}  // namespace

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  NABLA_CHECK(norm_type > 0, "clip_grad_norm: norm_type must be positive or infinity, got ",
              norm_type);
  NABLA_CHECK(max_norm >= 0, "clip_grad_norm: max_norm must be >= 0, got ", max_norm);
  const bool is_max = std::isinf(norm_type);
  double accumulated = 0;
  for_each_grad(params, "clip_grad_norm", [&](auto, const auto* g, int64_t n) {
    const double part = kernels::cpu::abs_pow_sum(n, g, norm_type);
    accumulated = is_max ? std::max(accumulated, part) : accumulated + part;
  });
  const double total = is_max ? accumulated : std::pow(accumulated, 1.0 / norm_type);
  // PyTorch's coefficient, with its 1e-6 guard against division by zero.
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    for_each_grad(params, "clip_grad_norm",
                  [&](auto, auto* g, int64_t n) { kernels::cpu::scale(n, g, coef); });
  }
  return total;
}

void clip_grad_value(const std::vector<Tensor>& params, double clip_value) {
  NABLA_CHECK(clip_value >= 0, "clip_grad_value: clip_value must be >= 0, got ", clip_value);
  for_each_grad(params, "clip_grad_value",
                [&](auto, auto* g, int64_t n) { kernels::cpu::clamp_abs(n, g, clip_value); });
}

}  // namespace nabla::optim
