// Adagrad with learning-rate decay, L2 weight decay and an initial accumulator value (PyTorch's
// torch.optim.Adagrad).
#include "kernels/cpu/optim_kernels.hpp"
#include "nabla/optim.hpp"
#include "optim/update.hpp"

namespace nabla::optim {

Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  internal::check_option("Adagrad", "learning rate", options.lr, options.lr >= 0, "lr >= 0");
  internal::check_option("Adagrad", "lr_decay", options.lr_decay, options.lr_decay >= 0,
                         "lr_decay >= 0");
  internal::check_option("Adagrad", "weight_decay", options.weight_decay, options.weight_decay >= 0,
                         "weight_decay >= 0");
  internal::check_option("Adagrad", "initial_accumulator_value", options.initial_accumulator_value,
                         options.initial_accumulator_value >= 0, "initial_accumulator_value >= 0");
  internal::check_option("Adagrad", "eps", options.eps, options.eps >= 0, "eps >= 0");
}

void Adagrad::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].grad().defined()) continue;
    // Checked before the step count moves. PyTorch refuses weight decay with sparse gradients too.
    NABLA_CHECK(!params_[i].grad().is_row_sparse() || options_.weight_decay == 0,
                "Adagrad: parameter ", i, " of shape ", params_[i].shape(),
                " has a row-sparse gradient (an Embedding with sparse=true, or a sampled loss), "
                "which Adagrad applies without weight decay only (got weight_decay=",
                options_.weight_decay, "): use sparse=false");
    const double t = internal::advance_step(state_[i]);
    const bool fresh = state_[i].count("sum") == 0;
    Tensor& sum = slot(i, "sum");
    if (fresh) sum.fill_(options_.initial_accumulator_value);
    const kernels::cpu::AdagradStep h{.lr = lr_ / (1 + (t - 1) * options_.lr_decay),
                                      .weight_decay = options_.weight_decay,
                                      .eps = options_.eps};
    if (params_[i].grad().is_row_sparse()) {
      // An untouched row's update is zero without weight decay (its sum does not grow and its
      // step is 0 / (sqrt(sum) + eps)), so the gradient's rows are all that change, by the dense
      // kernel's arithmetic.
      internal::update_sparse_rows(
          params_[i], "Adagrad",
          [&](auto tag, int64_t offset, auto* param, const auto* grad, int64_t n) {
            using T = decltype(tag);
            kernels::cpu::adagrad_update<T>(n, param, grad, sum.data<T>() + offset, h);
          });
      continue;
    }
    internal::update_parameter(params_[i], "Adagrad",
                               [&](auto tag, auto* param, const auto* grad, int64_t n) {
                                 using T = decltype(tag);
                                 kernels::cpu::adagrad_update<T>(n, param, grad, sum.data<T>(), h);
                               });
  }
  ++steps_;
}

}  // namespace nabla::optim
