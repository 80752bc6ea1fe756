// FTRL-Proximal (McMahan et al. 2013, Algorithm 1; nabla/optim.hpp): the per-coordinate update is
// a plain loop here, the state (z, n) in the slots "z" and "n" of each parameter.
#include <cmath>

#include "nabla/optim.hpp"
#include "optim/update.hpp"

namespace nabla::optim {
namespace {

template <class T>
void ftrl_update(int64_t size, T* w, const T* g, T* z, T* n, const FtrlOptions& o) {
  for (int64_t i = 0; i < size; ++i) {
    const double grad = g[i];
    const double n_old = n[i], n_new = n_old + grad * grad;
    const double sigma = (std::sqrt(n_new) - std::sqrt(n_old)) / o.lr;
    const double z_new = z[i] + grad - sigma * static_cast<double>(w[i]);
    z[i] = static_cast<T>(z_new);
    n[i] = static_cast<T>(n_new);
    if (std::abs(z_new) <= o.l1) {
      w[i] = 0;
    } else {
      const double sign = z_new < 0 ? -1.0 : 1.0;
      w[i] = static_cast<T>(-(z_new - sign * o.l1) / ((o.beta + std::sqrt(n_new)) / o.lr + o.l2));
    }
  }
}

}  // namespace

Ftrl::Ftrl(std::vector<Tensor> params, FtrlOptions options)
    : Optimizer(std::move(params), options.lr), options_(options) {
  internal::check_option("Ftrl", "learning rate", options.lr, options.lr > 0, "lr > 0");
  internal::check_option("Ftrl", "beta", options.beta, options.beta >= 0, "beta >= 0");
  internal::check_option("Ftrl", "l1", options.l1, options.l1 >= 0, "l1 >= 0");
  internal::check_option("Ftrl", "l2", options.l2, options.l2 >= 0, "l2 >= 0");
  internal::check_option("Ftrl", "initial_accumulator_value", options.initial_accumulator_value,
                         options.initial_accumulator_value >= 0, "initial_accumulator_value >= 0");
}

void Ftrl::step() {
  FtrlOptions o = options_;
  o.lr = lr_;  // set_lr and schedulers change the rate
  for (size_t i = 0; i < params_.size(); ++i) {
    if (!params_[i].grad().defined()) continue;
    internal::advance_step(state_[i]);
    const bool fresh = state_[i].count("n") == 0;
    Tensor& z = slot(i, "z");
    Tensor& n = slot(i, "n");
    if (fresh) n.fill_(o.initial_accumulator_value);
    internal::update_parameter(params_[i], "Ftrl",
                               [&](auto tag, auto* param, const auto* grad, int64_t size) {
                                 using T = decltype(tag);
                                 ftrl_update<T>(size, param, grad, z.data<T>(), n.data<T>(), o);
                               });
  }
  ++steps_;
}

}  // namespace nabla::optim
