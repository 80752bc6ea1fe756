// The Bernoulli-Bernoulli restricted Boltzmann machine: conditionals, Gibbs sampling, free
// energy, contrastive divergence (CD-k and persistent CD) and the pseudo-log-likelihood. All of it
// runs without autograd: the CD gradient is written into each parameter's grad directly.
#include <cmath>

#include "nabla/energy.hpp"
#include "nabla/ops.hpp"

namespace nabla::nn {
namespace {

// Bernoulli draws with the given probabilities: 1 where u < p.
Tensor rbm_sample(const Tensor& probabilities, Generator* gen) {
  const Tensor p = probabilities.contiguous();
  Tensor out = rand(p.shape(), DType::f32, gen);
  float* u = out.data<float>();
  const float* q = p.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) u[i] = u[i] < q[i] ? 1.f : 0.f;
  return out;
}

}  // namespace

RBM::RBM(RBMOptions options) : options_(options) {
  NABLA_CHECK(options_.units >= 1, "RBM: units (hidden units) must be >= 1, got ", options_.units);
  NABLA_CHECK(options_.cd_steps >= 1, "RBM: cd_steps must be >= 1, got ", options_.cd_steps);
  NABLA_CHECK(options_.in_features == -1 || options_.in_features >= 1,
              "RBM: in_features must be >= 1 (or -1 to infer it at the first forward), got ",
              options_.in_features);
  if (options_.in_features > 0) build(options_.in_features);
}

void RBM::build(int64_t in_features) {
  Tensor weight = empty({options_.units, in_features});
  init::normal_(weight, 0, 0.01);  // Hinton's "practical guide": small random weights
  weight_ = register_parameter("weight", weight);
  visible_bias_ = register_parameter("visible_bias", zeros({in_features}));
  hidden_bias_ = register_parameter("hidden_bias", zeros({options_.units}));
  options_.in_features = in_features;
}

Tensor RBM::hidden_probabilities(const Tensor& v) const {
  NABLA_CHECK(weight_.defined(), "RBM: used before it was built (call it on a batch first)");
  NABLA_CHECK(v.dim() == 2 && v.size(1) == options_.in_features, "RBM: expected visible units [B, ",
              options_.in_features, "], got shape ", v.shape());
  return sigmoid(linear(v.to(DType::f32), weight_, hidden_bias_));
}

Tensor RBM::visible_probabilities(const Tensor& h) const {
  NABLA_CHECK(weight_.defined(), "RBM: used before it was built (call it on a batch first)");
  NABLA_CHECK(h.dim() == 2 && h.size(1) == options_.units, "RBM: expected hidden units [B, ",
              options_.units, "], got shape ", h.shape());
  return sigmoid(add(matmul(h, weight_), visible_bias_));
}

Tensor RBM::forward(const Tensor& v) {
  if (!weight_.defined()) {
    NABLA_CHECK(v.dim() == 2, "RBM: expected visible units [B, D], got shape ", v.shape());
    build(v.size(1));
  }
  return visible_probabilities(hidden_probabilities(v));
}

Tensor RBM::free_energy(const Tensor& v) const {
  NoGradGuard no_grad;
  const Tensor visible = v.to(DType::f32);
  const Tensor activations = linear(visible, weight_, hidden_bias_);
  const Tensor bias_term = matmul(visible, unsqueeze(visible_bias_, 1)).reshape({v.size(0)});
  return neg(add(bias_term, sum(softplus(activations), {1}))).to(DType::f64);
}

Tensor RBM::gibbs(const Tensor& v, int64_t steps, Generator* gen) const {
  NoGradGuard no_grad;
  Tensor visible = v.to(DType::f32);
  for (int64_t step = 0; step < steps; ++step) {
    const Tensor hidden = rbm_sample(hidden_probabilities(visible), gen);
    visible = rbm_sample(visible_probabilities(hidden), gen);
  }
  return visible;
}

double RBM::contrastive_divergence(const Tensor& v, Generator* gen) {
  NoGradGuard no_grad;
  if (!weight_.defined()) build(v.size(1));
  const Tensor data = v.to(DType::f32).contiguous();
  const auto batch = static_cast<double>(data.size(0));
  // Positive phase: exact, since p(h | v) factorizes.
  const Tensor hidden_data = hidden_probabilities(data);
  const Tensor hidden_sample = rbm_sample(hidden_data, gen);
  // Negative phase: k Gibbs steps from the data (CD) or from the chains of the last batch (PCD).
  Tensor hidden = hidden_sample;
  if (options_.persistent) {
    if (!chains_.defined() || chains_.size(0) != data.size(0)) chains_ = data.clone();
    hidden = rbm_sample(hidden_probabilities(chains_), gen);
  }
  Tensor visible_model, hidden_model;
  for (int64_t step = 0; step < options_.cd_steps; ++step) {
    visible_model = rbm_sample(visible_probabilities(hidden), gen);
    hidden_model = hidden_probabilities(visible_model);
    if (step + 1 < options_.cd_steps) hidden = rbm_sample(hidden_model, gen);
  }
  if (options_.persistent) chains_ = visible_model;
  // d(-log p(v))/dW = -(<h v^T>_data - <h v^T>_model): the mean over the batch.
  const double scale = -1.0 / batch;
  weight_.set_grad(
      (sub(matmul(hidden_data.t(), data), matmul(hidden_model.t(), visible_model)) * scale)
          .contiguous());
  visible_bias_.set_grad(sub(sum(data, {0}), sum(visible_model, {0})) * scale);
  hidden_bias_.set_grad(sub(sum(hidden_data, {0}), sum(hidden_model, {0})) * scale);
  // The reconstruction error of the batch: the data against p(v | h sampled from the data).
  return mean(square(sub(visible_probabilities(hidden_sample), data))).item();
}

// log p(v_i | v_-i) = log sigmoid(F(v with v_i flipped) - F(v)) = -softplus(F(v) - F(flipped)).
// Flipping v_i moves the hidden activations by (1 - 2 v_i) W_:i and the visible term by
// (1 - 2 v_i) b_i, so each unit costs one [B, H] softplus, not a full free energy.
double RBM::pseudo_log_likelihood(const Tensor& v) const {
  NoGradGuard no_grad;
  NABLA_CHECK(weight_.defined(), "RBM: used before it was built (call it on a batch first)");
  NABLA_CHECK(v.dim() == 2 && v.size(1) == options_.in_features && v.size(0) >= 1,
              "RBM: expected visible units [B, ", options_.in_features, "], got shape ", v.shape());
  const Tensor visible = v.to(DType::f32).contiguous();
  const Tensor activations = linear(visible, weight_, hidden_bias_);
  const Tensor energy = free_energy(visible).to(DType::f32);
  const Tensor bias_term = matmul(visible, unsqueeze(visible_bias_, 1)).reshape({v.size(0)});
  const Tensor weight_t = weight_.t().contiguous();  // [D, H]: column i of W as a row
  const float* bias = visible_bias_.data<float>();
  double total = 0;
  for (int64_t i = 0; i < options_.in_features; ++i) {
    const Tensor direction = 1.0 - visible.select(1, i) * 2.0;  // [B]: +1 where v_i = 0, else -1
    const Tensor moved = add(activations, mul(unsqueeze(direction, 1), weight_t.select(0, i)));
    const Tensor flipped_energy = neg(
        add(add(bias_term, direction * static_cast<double>(bias[i])), sum(softplus(moved), {1})));
    total -= sum(softplus(sub(energy, flipped_energy))).item();
  }
  return total / static_cast<double>(v.size(0));
}

std::string RBM::extra_repr() const {
  return detail::str(
      "in_features=", options_.in_features > 0 ? std::to_string(options_.in_features) : "None",
      ", units=", options_.units, ", cd_steps=", options_.cd_steps,
      ", persistent=", options_.persistent ? "True" : "False");
}

}  // namespace nabla::nn
