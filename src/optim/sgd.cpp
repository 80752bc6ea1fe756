// SGD with momentum, dampening, Nesterov momentum and L2 weight decay (PyTorch's torch.optim.SGD).
#include "kernels/cpu/optim_kernels.hpp"
#include "nabla/optim.hpp"
#include "optim/update.hpp"

namespace nabla::optim {

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  internal::check_option("SGD", "learning rate", options.lr, options.lr >= 0, "lr >= 0");
  internal::check_option("SGD", "momentum", options.momentum, options.momentum >= 0,
                         "momentum >= 0");
  internal::check_option("SGD", "dampening", options.dampening, options.dampening >= 0,
                         "dampening >= 0");
  internal::check_option("SGD", "weight_decay", options.weight_decay, options.weight_decay >= 0,
                         "weight_decay >= 0");
  NABLA_CHECK(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
              "SGD: Nesterov momentum requires momentum > 0 and dampening == 0, got momentum=",
              options.momentum, ", dampening=", options.dampening);
}

void SGD::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].grad().defined()) continue;
    if (params_[i].grad().is_row_sparse()) {
      step_sparse(i);
      continue;
    }
    kernels::cpu::SgdStep h{.lr = lr_,
                            .momentum = options_.momentum,
                            .dampening = options_.dampening,
                            .weight_decay = options_.weight_decay,
                            .nesterov = options_.nesterov};
    Tensor buffer;
    if (options_.momentum != 0) {
      h.first_step = state_[i].count("momentum_buffer") == 0;
      buffer = slot(i, "momentum_buffer");
    }
    internal::update_parameter(
        params_[i], "SGD", [&](auto tag, auto* param, const auto* grad, int64_t n) {
          using T = decltype(tag);
          kernels::cpu::sgd_update<T>(n, param, grad, buffer.defined() ? buffer.data<T>() : nullptr,
                                      h);
        });
  }
  ++steps_;
}

// Without momentum and weight decay an untouched row's update is zero: only the gradient's rows
// move, by the dense kernel's arithmetic. Momentum would move every row whose buffer is non-zero
// (PyTorch 1.13 keeps a sparse buffer that grows; lazy momentum would be another algorithm) and
// weight decay every row, so both are refused.
void SGD::step_sparse(size_t i) {
  NABLA_CHECK(options_.momentum == 0 && options_.weight_decay == 0, "SGD: parameter ", i,
              " of shape ", params_[i].shape(),
              " has a row-sparse gradient (an Embedding with sparse=true, or a sampled loss), "
              "which SGD applies without momentum and weight decay only (got momentum=",
              options_.momentum, ", weight_decay=", options_.weight_decay,
              "): use Adagrad or SparseAdam, or sparse=false");
  const kernels::cpu::SgdStep h{.lr = lr_};
  internal::update_sparse_rows(params_[i], "SGD",
                               [&](auto tag, int64_t, auto* param, const auto* grad, int64_t n) {
                                 using T = decltype(tag);
                                 kernels::cpu::sgd_update<T>(n, param, grad, nullptr, h);
                               });
}

}  // namespace nabla::optim
