// RMSprop, plain or centered, with momentum and L2 weight decay (PyTorch's torch.optim.RMSprop).
#include "kernels/cpu/optim_kernels.hpp"
#include "nabla/optim.hpp"
#include "optim/update.hpp"

namespace nabla::optim {

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  internal::check_option("RMSprop", "learning rate", options.lr, options.lr >= 0, "lr >= 0");
  internal::check_option("RMSprop", "alpha", options.alpha, options.alpha >= 0, "alpha >= 0");
  internal::check_option("RMSprop", "eps", options.eps, options.eps >= 0, "eps >= 0");
  internal::check_option("RMSprop", "momentum", options.momentum, options.momentum >= 0,
                         "momentum >= 0");
  internal::check_option("RMSprop", "weight_decay", options.weight_decay, options.weight_decay >= 0,
                         "weight_decay >= 0");
}

void RMSprop::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].grad().defined()) continue;
    internal::advance_step(state_[i]);
    const kernels::cpu::RmspropStep h{.lr = lr_,
                                      .alpha = options_.alpha,
                                      .eps = options_.eps,
                                      .weight_decay = options_.weight_decay,
                                      .momentum = options_.momentum};
    Tensor& square_avg = slot(i, "square_avg");
    Tensor grad_avg = options_.centered ? slot(i, "grad_avg") : Tensor();
    Tensor buffer = options_.momentum > 0 ? slot(i, "momentum_buffer") : Tensor();
    internal::update_parameter(
        params_[i], "RMSprop", [&](auto tag, auto* param, const auto* grad, int64_t n) {
          using T = decltype(tag);
          kernels::cpu::rmsprop_update<T>(n, param, grad, square_avg.data<T>(),
                                          grad_avg.defined() ? grad_avg.data<T>() : nullptr,
                                          buffer.defined() ? buffer.data<T>() : nullptr, h);
        });
  }
  ++steps_;
}

}  // namespace nabla::optim
