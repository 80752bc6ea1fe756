// Energy-based models: the Hopfield network and the restricted Boltzmann machine. Both are layers
// of a model spec (so a run saves them in its checkpoint and a spec describes them), but neither
// learns by backpropagation: a Hopfield network stores patterns with a learning rule (Hebbian or
// Storkey) and recalls one by lowering its energy unit by unit; an RBM learns by contrastive
// divergence, its gradient's positive phase computed exactly and its negative phase sampled with
// a short Gibbs chain. Their tasks ("hopfield", "rbm"; src/tasks/) train them and judge them.
#pragma once

#include <cstdint>
#include <string>

#include "nabla/nn.hpp"

namespace nabla::nn {

// ---- Hopfield network (src/nn/hopfield.cpp) ----
// N binary units s_i = +-1, symmetric weights W with a zero diagonal, energy
// E(s) = -1/2 s^T W s. Storing patterns sets W (rule "hebbian": W += xi xi^T / N; "storkey":
// Storkey's 1997 rule, which subtracts the local fields so that stored patterns interfere
// less and more of them fit). Recall starts from a state and updates units until none changes:
// "asynchronous" updates one unit at a time (s_i = sign(sum_j W_ij s_j), a zero field keeping
// s_i), in a random order per sweep drawn from `seed`; each update lowers E or leaves it, so the
// state settles in a minimum. "synchronous" updates all units at once, which can also end in a
// cycle of two states (recall then stops after max_sweeps).
struct HopfieldOptions {
  std::string rule = "hebbian";         // or "storkey"
  std::string update = "asynchronous";  // or "synchronous"
  int64_t max_sweeps = 100;             // recall stops here if no fixed point came before
  uint64_t seed = 0;                    // the order of the asynchronous updates
  int64_t units = -1;                   // -1: the input size at the first forward
  int64_t patterns = 10;                // how many training images the "hopfield" task stores
};

class Hopfield : public Module {
 public:
  explicit Hopfield(HopfieldOptions options = {});
  // Recall: the states [B, N] (+-1, f32) reached from inputs [B, N] (their signs; >= 0 is +1).
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Hopfield"; }
  std::string extra_repr() const override;
  const HopfieldOptions& options() const { return options_; }
  int64_t units() const { return options_.units; }

  // Adds patterns [P, N] (+-1; >= 0 counts as +1) to those stored, with the layer's rule. More
  // patterns in all than units is an Error: no rule can store them (Hebbian recall holds about
  // 0.138 N).
  void store(const Tensor& patterns);
  void clear();            // no patterns: W = 0
  int64_t stored() const;  // patterns stored since the last clear
  Tensor weight() const;   // W [N, N], f32
  // E(s) for states [B, N] (+-1), as f64 [B].
  Tensor energy(const Tensor& states) const;
  // One asynchronous sweep over `state` [N] (+-1 f32, contiguous, updated in place), in the order
  // `order` (a permutation of 0..N-1); returns the number of units that flipped.
  int64_t asynchronous_sweep(Tensor& state, const std::vector<int64_t>& order) const;
  // One synchronous step for states [B, N]: sign(W s), a zero field keeping the unit.
  Tensor synchronous_step(const Tensor& states) const;

 private:
  void build(int64_t units);
  void store_hebbian(const float* pattern);
  void store_storkey(const float* pattern);
  // The fields W s of a state [N] (in double), and updates in `order` that keep them current.
  std::vector<double> fields(const float* state) const;
  int64_t update_units(float* state, std::vector<double>& fields,
                       const std::vector<int64_t>& order) const;
  HopfieldOptions options_;
  Tensor weight_;  // buffer "weight" [N, N]
  Tensor stored_;  // buffer "stored" [1], i64
};

// ---- restricted Boltzmann machine (src/nn/rbm.cpp) ----
// Bernoulli visible units v (D of them) and Bernoulli hidden units h (`units`), energy
// E(v, h) = -b^T v - c^T h - h^T W v. No visible-visible or hidden-hidden weights, so
// p(h_j = 1 | v) = sigmoid(c_j + W_j v) and p(v_i = 1 | h) = sigmoid(b_i + W_:i^T h) factorize.
// Parameters "weight" [H, D] (N(0, 0.01^2) at start, as Hinton's guide), "visible_bias" [D]
// (zeros), "hidden_bias" [H] (zeros). forward(v) is the mean-field reconstruction
// p(v | h = p(h | v)), so a test loss against the images is the reconstruction error.
// contrastive_divergence() fills each parameter's grad with the CD-k estimate of the gradient of
// the negative log-likelihood, for any optimizer to apply.
struct RBMOptions {
  int64_t units = 256;       // hidden units
  int64_t cd_steps = 1;      // k of CD-k: Gibbs steps of the negative phase
  bool persistent = false;   // persistent CD (Tieleman 2008): chains carried across batches
  int64_t in_features = -1;  // -1: the input size at the first forward
};

class RBM : public Module {
 public:
  explicit RBM(RBMOptions options = {});
  Tensor forward(const Tensor& v) override;
  std::string type_name() const override { return "RBM"; }
  std::string extra_repr() const override;
  const RBMOptions& options() const { return options_; }
  int64_t in_features() const { return options_.in_features; }

  Tensor hidden_probabilities(const Tensor& v) const;   // p(h = 1 | v) [B, H]
  Tensor visible_probabilities(const Tensor& h) const;  // p(v = 1 | h) [B, D]
  // Free energy F(v) = -b^T v - sum_j softplus(c_j + W_j v), f64 [B]: p(v) = exp(-F(v)) / Z.
  Tensor free_energy(const Tensor& v) const;
  // `steps` Gibbs steps from visible states v [B, D] (v -> h -> v, sampled), returning the last v.
  Tensor gibbs(const Tensor& v, int64_t steps, Generator* gen = nullptr) const;
  // Sets the grads of weight, visible_bias and hidden_bias to the CD-k (or PCD-k) estimate for
  // the batch v [B, D] in {0, 1}: -(<v h>_data - <v h>_model) / B and the like. Returns the
  // batch's mean squared reconstruction error (v against p(v | h sampled from v)).
  double contrastive_divergence(const Tensor& v, Generator* gen = nullptr);
  // Pseudo-log-likelihood per image, sum_i log p(v_i | v_-i), exactly over every unit i (D free
  // energies per image), averaged over the batch v [B, D] in {0, 1}.
  double pseudo_log_likelihood(const Tensor& v) const;
  // Forgets the persistent chains (a new run of persistent CD starts them from its first batch).
  void reset_chains() { chains_ = Tensor(); }

  Tensor weight() const { return weight_; }
  Tensor visible_bias() const { return visible_bias_; }
  Tensor hidden_bias() const { return hidden_bias_; }

 private:
  void build(int64_t in_features);
  RBMOptions options_;
  Tensor weight_, visible_bias_, hidden_bias_;
  Tensor chains_;  // persistent CD's visible states [B, D]
};

}  // namespace nabla::nn
