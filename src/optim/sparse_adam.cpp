// SparseAdam: Adam made lazy for row-sparse gradients, as PyTorch 1.13's torch.optim.SparseAdam
// (the moments and the parameter change on the gradient's rows only).
#include <cmath>

#include "nabla/optim.hpp"
#include "optim/update.hpp"

namespace nabla::optim {

SparseAdam::SparseAdam(std::vector<Tensor> params, SparseAdamOptions options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  internal::check_option("SparseAdam", "learning rate", options.lr, options.lr >= 0, "lr >= 0");
  internal::check_option("SparseAdam", "beta1", options.beta1,
                         options.beta1 >= 0 && options.beta1 < 1, "0 <= beta1 < 1");
  internal::check_option("SparseAdam", "beta2", options.beta2,
                         options.beta2 >= 0 && options.beta2 < 1, "0 <= beta2 < 1");
  internal::check_option("SparseAdam", "eps", options.eps, options.eps > 0, "eps > 0");
}

void SparseAdam::step() {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor grad = params_[i].grad();
    if (!grad.defined()) continue;
    NABLA_CHECK(grad.is_row_sparse(), "SparseAdam: parameter ", i, " of shape ", params_[i].shape(),
                " has a dense gradient; SparseAdam takes the row-sparse gradients of Embedding "
                "with sparse=true and of sampled losses (use Adam for the other parameters)");
    const double t = internal::advance_step(state_[i]);
    Tensor& exp_avg = slot(i, "exp_avg");
    Tensor& exp_avg_sq = slot(i, "exp_avg_sq");
    const double beta1 = options_.beta1, beta2 = options_.beta2, eps = options_.eps;
    const double step_size = lr_ * std::sqrt(1 - std::pow(beta2, t)) / (1 - std::pow(beta1, t));
    internal::update_sparse_rows(
        params_[i], "SparseAdam",
        [&](auto tag, int64_t offset, auto* param, const auto* g, int64_t n) {
          using T = decltype(tag);
          T* m = exp_avg.data<T>() + offset;
          T* v = exp_avg_sq.data<T>() + offset;
          // PyTorch's order of operations: the moments move by (1 - beta) (new - old), and the
          // step uses old + that move.
          for (int64_t j = 0; j < n; ++j) {
            const T old_m = m[j], old_v = v[j];
            const T move_m = (g[j] - old_m) * static_cast<T>(1 - beta1);
            const T move_v = (g[j] * g[j] - old_v) * static_cast<T>(1 - beta2);
            m[j] = old_m + move_m;
            v[j] = old_v + move_v;
            const T numer = move_m + old_m;
            const T denom = std::sqrt(move_v + old_v) + static_cast<T>(eps);
            param[j] += -static_cast<T>(step_size) * (numer / denom);
          }
        });
  }
  ++steps_;
}

}  // namespace nabla::optim
