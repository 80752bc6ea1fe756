// The two pieces of a variational autoencoder's objective that are not plain losses: the KL
// divergence of a diagonal Gaussian from N(0, I), and the reparameterized draw z = mean +
// sigma * eps. Both are compositions of differentiable ops, so their gradients come from those.
#include "nabla/ops.hpp"

namespace nabla {

Tensor gaussian_kl_divergence(const Tensor& mean, const Tensor& log_var,
                              const std::string& reduction) {
  NABLA_CHECK(mean.defined() && log_var.defined() && mean.shape() == log_var.shape(),
              "gaussian_kl_divergence: expected mean and log_var of one shape, got ",
              mean.defined() ? mean.shape() : Shape{}, " and ",
              log_var.defined() ? log_var.shape() : Shape{});
  NABLA_CHECK(mean.dim() >= 1, "gaussian_kl_divergence: expected at least one axis (the latent ",
              "dimensions, last), got a 0-d tensor");
  NABLA_CHECK(is_floating(mean.dtype()) && is_floating(log_var.dtype()),
              "gaussian_kl_divergence: expected floating tensors, got ", dtype_name(mean.dtype()),
              " and ", dtype_name(log_var.dtype()));
  NABLA_CHECK(reduction == "none" || reduction == "mean" || reduction == "sum",
              "gaussian_kl_divergence: reduction must be \"none\", \"mean\" or \"sum\", got \"",
              reduction, "\"");
  // 0.5 * (exp(lv) + m^2 - 1 - lv), summed over the last axis.
  const Tensor terms =
      sub(add(exp(log_var), square(mean)), add(log_var, full({}, 1.0, log_var.dtype())));
  Tensor kl = mul(sum(terms, {-1}), full({}, 0.5, terms.dtype()));
  if (reduction == "mean") return kl.dim() == 0 ? kl : nabla::mean(kl);
  if (reduction == "sum") return kl.dim() == 0 ? kl : sum(kl);
  return kl;
}

Tensor reparameterize(const Tensor& mean, const Tensor& log_var, Generator* gen) {
  NABLA_CHECK(mean.defined() && log_var.defined() && mean.shape() == log_var.shape(),
              "reparameterize: expected mean and log_var of one shape, got ",
              mean.defined() ? mean.shape() : Shape{}, " and ",
              log_var.defined() ? log_var.shape() : Shape{});
  NABLA_CHECK(is_floating(mean.dtype()) && is_floating(log_var.dtype()),
              "reparameterize: expected floating tensors, got ", dtype_name(mean.dtype()), " and ",
              dtype_name(log_var.dtype()));
  const Tensor eps = randn(mean.shape(), mean.dtype(), gen);
  return add(mean, mul(exp(mul(log_var, full({}, 0.5, log_var.dtype()))), eps));
}

}  // namespace nabla
