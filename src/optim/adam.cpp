// Adam (with L2 weight decay and AMSGrad) and AdamW (decoupled weight decay), as PyTorch 1.13's
// torch.optim.Adam and torch.optim.AdamW.
#include <cmath>

#include "kernels/cpu/optim_kernels.hpp"
#include "nabla/optim.hpp"
#include "optim/update.hpp"

namespace nabla::optim {

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Adam(std::move(params), options, false) {}

Adam::Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled_weight_decay)
    : Optimizer(std::move(params), options.lr),
      options_(options),
      decoupled_(decoupled_weight_decay) {
  const std::string name = decoupled_ ? "AdamW" : "Adam";
  internal::check_option(name, "learning rate", options.lr, options.lr >= 0, "lr >= 0");
  internal::check_option(name, "beta1", options.beta1, options.beta1 >= 0 && options.beta1 < 1,
                         "0 <= beta1 < 1");
  internal::check_option(name, "beta2", options.beta2, options.beta2 >= 0 && options.beta2 < 1,
                         "0 <= beta2 < 1");
  internal::check_option(name, "eps", options.eps, options.eps >= 0, "eps >= 0");
  internal::check_option(name, "weight_decay", options.weight_decay, options.weight_decay >= 0,
                         "weight_decay >= 0");
}

AdamW::AdamW(std::vector<Tensor> params, AdamOptions options)
    : Adam(std::move(params), options, true) {}

void Adam::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].grad().defined()) continue;
    const double t = internal::advance_step(state_[i]);
    kernels::cpu::AdamStep h{.beta1 = options_.beta1, .beta2 = options_.beta2, .eps = options_.eps};
    if (decoupled_) {
      h.param_scale = 1 - lr_ * options_.weight_decay;
    } else {
      h.weight_decay = options_.weight_decay;
    }
    h.step_size = lr_ / (1 - std::pow(options_.beta1, t));
    h.bias_correction2_sqrt = std::sqrt(1 - std::pow(options_.beta2, t));
    Tensor& exp_avg = slot(i, "exp_avg");
    Tensor& exp_avg_sq = slot(i, "exp_avg_sq");
    Tensor max_exp_avg_sq = options_.amsgrad ? slot(i, "max_exp_avg_sq") : Tensor();
    internal::update_parameter(
        params_[i], name().c_str(), [&](auto tag, auto* param, const auto* grad, int64_t n) {
          using T = decltype(tag);
          kernels::cpu::adam_update<T>(n, param, grad, exp_avg.data<T>(), exp_avg_sq.data<T>(),
                                       options_.amsgrad ? max_exp_avg_sq.data<T>() : nullptr, h);
        });
  }
  ++steps_;
}

}  // namespace nabla::optim
