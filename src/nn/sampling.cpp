// The Sampling (reparameterization) layer of variational autoencoders.
#include "nabla/nn.hpp"
#include "nabla/ops.hpp"

namespace nabla::nn {

Tensor Sampling::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 1 && x.size(-1) % 2 == 0 && x.size(-1) > 0,
              "Sampling: expected an input whose last axis holds the mean and the log-variance ",
              "(an even size 2D), got shape ", x.shape());
  const int64_t latent = x.size(-1) / 2;
  return sample(slice(x, -1, 0, latent), slice(x, -1, latent, 2 * latent));
}

Tensor Sampling::forward_multi(const std::vector<Tensor>& inputs) {
  if (inputs.size() == 1) return forward(inputs[0]);
  NABLA_CHECK(inputs.size() == 2, "Sampling: expected one input [N, 2D] or two (mean, log_var), ",
              "got ", inputs.size());
  return sample(inputs[0], inputs[1]);
}

Tensor Sampling::sample(const Tensor& mean, const Tensor& log_var) {
  NABLA_CHECK(mean.shape() == log_var.shape(), "Sampling: expected mean and log_var of one ",
              "shape, got ", mean.shape(), " and ", log_var.shape());
  kl_ = gaussian_kl_divergence(mean, log_var);
  return reparameterize(mean, log_var, gen_);
}

}  // namespace nabla::nn
