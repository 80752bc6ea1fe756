// The Hopfield network and the restricted Boltzmann machine (include/nabla/energy.hpp): the
// learning rules against their formulas, the energy that asynchronous updates never raise, the
// synchronous two-cycle, and the RBM's free energy, CD gradient and pseudo-likelihood against
// exact sums over every state of small machines.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nabla/energy.hpp"
#include "nabla/nabla.hpp"
#include "support/errors.hpp"

using namespace nabla;
using nabla::testing::error_message;

namespace {

// Random +-1 patterns [P, N].
Tensor energy_random_spins(int64_t count, int64_t units, Generator& gen) {
  return bernoulli({count, units}, 0.5, DType::f32, &gen) * 2.0 - 1.0;
}

nn::HopfieldOptions hopfield_options(const std::string& rule, int64_t units) {
  nn::HopfieldOptions options;
  options.rule = rule;
  options.units = units;
  return options;
}

double energy_at(const nn::Hopfield& net, const Tensor& state) {
  return net.energy(state.reshape({1, state.numel()})).item();
}

}  // namespace

TEST(Hopfield, HebbianWeightsAreTheMeanOuterProductWithoutDiagonal) {
  nn::Hopfield net(hopfield_options("hebbian", 4));
  net.store(from_vector(std::vector<float>{1.f, -1.f, 1.f, 1.f, -1.f, -1.f, 1.f, -1.f}, {2, 4}));
  EXPECT_EQ(net.stored(), 2);
  const float xi[2][4] = {{1, -1, 1, 1}, {-1, -1, 1, -1}};
  const Tensor w = net.weight().contiguous();
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 4; ++j) {
      const double expected = i == j ? 0 : (xi[0][i] * xi[0][j] + xi[1][i] * xi[1][j]) / 4.0;
      EXPECT_FLOAT_EQ(w.data<float>()[i * 4 + j], static_cast<float>(expected)) << i << "," << j;
    }
  }
}

TEST(Hopfield, StorkeyWeightsFollowTheRuleWithLocalFields) {
  const int64_t n = 7;
  Generator gen(4);
  const Tensor patterns = energy_random_spins(3, n, gen).contiguous();
  nn::Hopfield net(hopfield_options("storkey", n));
  net.store(patterns);
  // The rule as Storkey wrote it: h_ij = sum over k != i, j of w_ik xi_k, old weights.
  std::vector<double> w(n * n, 0.0);
  for (int64_t p = 0; p < 3; ++p) {
    const float* xi = patterns.data<float>() + p * n;
    std::vector<double> next = w;
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        if (i == j) continue;
        double h_ij = 0, h_ji = 0;
        for (int64_t k = 0; k < n; ++k) {
          if (k != i && k != j) h_ij += w[i * n + k] * xi[k];
          if (k != j && k != i) h_ji += w[j * n + k] * xi[k];
        }
        next[i * n + j] += (xi[i] * xi[j] - xi[i] * h_ji - h_ij * xi[j]) / static_cast<double>(n);
      }
    }
    w = next;
  }
  const Tensor got = net.weight().contiguous();
  for (int64_t i = 0; i < n * n; ++i) EXPECT_NEAR(got.data<float>()[i], w[i], 1e-6) << i;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      EXPECT_EQ(got.data<float>()[i * n + j], got.data<float>()[j * n + i]);
    }
  }
}

// Over many random networks (both rules, sizes, loads) and random starting states, every single
// asynchronous update leaves the energy where it was or lowers it, and recall ends in a fixed
// point: each unit agrees with the sign of its field.
TEST(Hopfield, AsynchronousUpdatesNeverRaiseTheEnergy) {
  Generator gen(11);
  int64_t decreases = 0;
  for (int run = 0; run < 120; ++run) {
    const int64_t n = 8 + static_cast<int64_t>(gen.next_u64() % 57);
    const int64_t count = 1 + static_cast<int64_t>(gen.next_u64() % static_cast<uint64_t>(n / 2));
    nn::Hopfield net(hopfield_options(run % 2 == 0 ? "hebbian" : "storkey", n));
    net.store(energy_random_spins(count, n, gen));
    Tensor state = energy_random_spins(1, n, gen).reshape({n}).contiguous();
    double energy = energy_at(net, state);
    for (int sweep = 0; sweep < 50; ++sweep) {
      int64_t flips = 0;
      const Tensor order = randperm(n, &gen);
      for (int64_t k = 0; k < n; ++k) {
        flips += net.asynchronous_sweep(state, {order.data<int64_t>()[k]});
        const double next = energy_at(net, state);
        ASSERT_LE(next, energy + 1e-9) << "run " << run << ", sweep " << sweep;
        decreases += next < energy - 1e-12;
        energy = next;
      }
      if (flips == 0) break;
    }
    const Tensor w = net.weight().contiguous();
    for (int64_t i = 0; i < n; ++i) {
      double h = 0;  // in double, as the updates sum it
      for (int64_t j = 0; j < n; ++j)
        h += double{w.data<float>()[i * n + j]} * state.data<float>()[j];
      EXPECT_TRUE(h == 0 || (h > 0) == (state.data<float>()[i] > 0)) << "run " << run << ": " << h;
    }
  }
  EXPECT_GT(decreases, 100);  // the updates did move
}

TEST(Hopfield, RecallsStoredPatternsFromCorruptedCopies) {
  Generator gen(5);
  const Tensor patterns = energy_random_spins(4, 200, gen).contiguous();
  for (const char* rule : {"hebbian", "storkey"}) {
    for (const char* update : {"asynchronous", "synchronous"}) {
      nn::HopfieldOptions options = hopfield_options(rule, 200);
      options.update = update;
      nn::Hopfield net(options);
      net.store(patterns);
      Tensor corrupted = patterns.clone();
      for (int64_t p = 0; p < 4; ++p) {
        for (int64_t i = 0; i < 20; ++i) corrupted.data<float>()[p * 200 + 7 * i + p] *= -1;
      }
      const Tensor recalled = net.forward(corrupted).contiguous();
      for (int64_t i = 0; i < patterns.numel(); ++i) {
        ASSERT_EQ(recalled.data<float>()[i], patterns.data<float>()[i]) << rule << " " << update;
      }
      // One state alone is recalled as in a batch.
      const Tensor alone = net.forward(corrupted.slice(0, 2, 3)).contiguous();
      for (int64_t i = 0; i < 200; ++i) {
        EXPECT_EQ(alone.data<float>()[i], recalled.data<float>()[400 + i]);
      }
    }
  }
}

TEST(Hopfield, SynchronousUpdatesCanCycleWhereAsynchronousOnesSettle) {
  // One pattern (1, -1): w_01 = -1/2. From (1, 1) both units flip together, back and forth.
  nn::HopfieldOptions options = hopfield_options("hebbian", 2);
  options.update = "synchronous";
  options.max_sweeps = 5;
  nn::Hopfield sync(options);
  sync.store(from_vector(std::vector<float>{1.f, -1.f}, {1, 2}));
  const Tensor start = from_vector(std::vector<float>{1.f, 1.f}, {1, 2});
  EXPECT_EQ(sync.synchronous_step(start).to_vector<float>(), (std::vector<float>{-1, -1}));
  EXPECT_EQ(sync.forward(start).to_vector<float>(), (std::vector<float>{-1, -1}));  // 5 steps
  options.update = "asynchronous";
  nn::Hopfield async(options);
  async.store(from_vector(std::vector<float>{1.f, -1.f}, {1, 2}));
  const std::vector<float> settled = async.forward(start).to_vector<float>();
  EXPECT_NE(settled[0], settled[1]);  // a stored pattern or its mirror image: a fixed point
}

TEST(Hopfield, ErrorsSayWhatWasExpected) {
  nn::Hopfield net(hopfield_options("hebbian", 4));
  net.store(from_vector(std::vector<float>{1.f, 1.f, -1.f, 1.f}, {1, 4}));
  const std::string message = error_message([&] { net.store(ones({4, 4})); });
  EXPECT_EQ(message.rfind("Hopfield: cannot store 4 patterns in 4 units holding 1 already: a "
                          "Hopfield network holds at most as many patterns as units",
                          0),
            0u)
      << message;
  EXPECT_EQ(error_message([&] {
              net.store(ones({1, 5}));
            }),
            "Hopfield: expected patterns of 4 units (the network's size), got shape [1, 5]");
  EXPECT_EQ(error_message([] { nn::Hopfield{hopfield_options("oja", 4)}; }),
            "Hopfield: unknown rule \"oja\" (expected \"hebbian\", \"storkey\")");
}

namespace {

// Exact sums over every state of a small RBM, in double.
struct ExactRBM {
  int64_t d, h;
  std::vector<double> w, b, c;  // w[j * d + i]

  explicit ExactRBM(const nn::RBM& rbm)
      : d(rbm.in_features()),
        h(rbm.options().units),
        w(to_doubles(rbm.weight())),
        b(to_doubles(rbm.visible_bias())),
        c(to_doubles(rbm.hidden_bias())) {}
  static std::vector<double> to_doubles(const Tensor& t) {
    const std::vector<float> v = t.contiguous().to_vector<float>();
    return {v.begin(), v.end()};
  }
  static double bit(int64_t state, int64_t i) { return static_cast<double>((state >> i) & 1); }
  // -log sum_h exp(-E(v, h)) by enumerating h.
  double free_energy(int64_t v) const {
    double total = 0;
    for (int64_t hs = 0; hs < (int64_t{1} << h); ++hs) {
      double minus_energy = 0;
      for (int64_t i = 0; i < d; ++i) minus_energy += b[i] * bit(v, i);
      for (int64_t j = 0; j < h; ++j) {
        double a = c[j];
        for (int64_t i = 0; i < d; ++i) a += w[j * d + i] * bit(v, i);
        minus_energy += a * bit(hs, j);
      }
      total += std::exp(minus_energy);
    }
    return -std::log(total);
  }
  double hidden_probability(int64_t v, int64_t j) const {
    double a = c[j];
    for (int64_t i = 0; i < d; ++i) a += w[j * d + i] * bit(v, i);
    return 1 / (1 + std::exp(-a));
  }
};

Tensor rbm_state(int64_t state, int64_t d, int64_t copies = 1) {
  std::vector<float> v;
  for (int64_t k = 0; k < copies; ++k) {
    for (int64_t i = 0; i < d; ++i) v.push_back(static_cast<float>((state >> i) & 1));
  }
  return from_vector(v, {copies, d});
}

std::shared_ptr<nn::RBM> small_rbm(int64_t d, int64_t h, bool persistent, int64_t steps) {
  auto rbm = std::make_shared<nn::RBM>(
      nn::RBMOptions{.units = h, .cd_steps = steps, .persistent = persistent, .in_features = d});
  NoGradGuard no_grad;
  Generator gen(9);
  rbm->weight().copy_(randn({h, d}, DType::f32, &gen));
  rbm->visible_bias().copy_(randn({d}, DType::f32, &gen) * 0.5);
  rbm->hidden_bias().copy_(randn({h}, DType::f32, &gen) * 0.5);
  return rbm;
}

}  // namespace

TEST(RBM, FreeEnergyAndPseudoLikelihoodMatchExactSums) {
  const auto rbm_pointer = small_rbm(4, 3, false, 1);
  const nn::RBM& rbm = *rbm_pointer;
  const ExactRBM exact(rbm);
  for (int64_t v = 0; v < 16; ++v) {
    EXPECT_NEAR(rbm.free_energy(rbm_state(v, 4)).item(), exact.free_energy(v), 1e-4) << v;
    // log p(v_i | v_-i) from the two free energies, summed over the units.
    double pseudo = 0;
    for (int64_t i = 0; i < 4; ++i) {
      const double own = exact.free_energy(v), flipped = exact.free_energy(v ^ (int64_t{1} << i));
      pseudo += -std::log1p(std::exp(own - flipped));
    }
    EXPECT_NEAR(rbm.pseudo_log_likelihood(rbm_state(v, 4)), pseudo, 1e-4) << v;
  }
}

// With long chains (k = 40) and many copies of one data vector, CD's negative phase is the
// model's expectation, so the estimate is the exact gradient of -log p(v): persistent or not.
TEST(RBM, ContrastiveDivergenceWithLongChainsIsTheExactGradient) {
  const int64_t d = 3, h = 2, data = 5;
  for (const bool persistent : {false, true}) {
    const auto rbm_pointer = small_rbm(d, h, persistent, 40);
    nn::RBM& rbm = *rbm_pointer;
    const ExactRBM exact(rbm);
    // Model expectations of v_i h_j, v_i and h_j over the 8 visible states.
    double z = 0;
    std::vector<double> vh(h * d, 0), vs(d, 0), hs(h, 0);
    for (int64_t v = 0; v < 8; ++v) {
      const double p = std::exp(-exact.free_energy(v));
      z += p;
      for (int64_t j = 0; j < h; ++j) {
        hs[j] += p * exact.hidden_probability(v, j);
        for (int64_t i = 0; i < d; ++i)
          vh[j * d + i] += p * exact.hidden_probability(v, j) * ExactRBM::bit(v, i);
      }
      for (int64_t i = 0; i < d; ++i) vs[i] += p * ExactRBM::bit(v, i);
    }
    Generator gen(2);
    rbm.contrastive_divergence(rbm_state(data, d, 20000), &gen);
    const std::vector<float> grad_w = rbm.weight().grad().contiguous().to_vector<float>();
    const std::vector<float> grad_b = rbm.visible_bias().grad().to_vector<float>();
    const std::vector<float> grad_c = rbm.hidden_bias().grad().to_vector<float>();
    for (int64_t j = 0; j < h; ++j) {
      const double pj = exact.hidden_probability(data, j);
      EXPECT_NEAR(grad_c[j], -(pj - hs[j] / z), 0.02) << persistent;
      for (int64_t i = 0; i < d; ++i) {
        EXPECT_NEAR(grad_w[j * d + i], -(pj * ExactRBM::bit(data, i) - vh[j * d + i] / z), 0.02)
            << persistent << " " << j << "," << i;
      }
    }
    for (int64_t i = 0; i < d; ++i) {
      EXPECT_NEAR(grad_b[i], -(ExactRBM::bit(data, i) - vs[i] / z), 0.02) << persistent;
    }
  }
}

TEST(RBM, TrainingLowersTheReconstructionErrorAndRaisesThePseudoLikelihood) {
  // Two prototypes of 16 pixels and noisy copies of them.
  Generator gen(6);
  Tensor data = zeros({256, 16});
  for (int64_t r = 0; r < 256; ++r) {
    for (int64_t i = 0; i < 16; ++i) {
      const bool on = (r % 2 == 0) == (i < 8);
      data.data<float>()[r * 16 + i] = (gen.next_double() < 0.05) != on ? 1.f : 0.f;
    }
  }
  for (const bool persistent : {false, true}) {
    manual_seed(1);
    nn::RBM rbm({.units = 8, .cd_steps = 1, .persistent = persistent, .in_features = 16});
    optim::SGD sgd(rbm.parameters(), {.lr = 0.1});
    const double before = rbm.pseudo_log_likelihood(data);
    double first = 0, last = 0;
    for (int epoch = 0; epoch < 30; ++epoch) {
      double error = 0;
      for (int64_t start = 0; start < 256; start += 32) {
        sgd.zero_grad();
        error += rbm.contrastive_divergence(data.slice(0, start, start + 32), &gen) / 8;
        sgd.step();
      }
      if (epoch == 0) first = error;
      last = error;
    }
    EXPECT_LT(last, 0.5 * first) << persistent;
    EXPECT_GT(rbm.pseudo_log_likelihood(data), before + 3) << persistent;
    // The reconstruction (forward) is close to the data.
    const Tensor reconstruction = rbm.forward(data);
    EXPECT_LT(mean(square(sub(reconstruction, data))).item(), 0.1) << persistent;
  }
}

TEST(RBM, ErrorsSayWhatWasExpected) {
  EXPECT_EQ(error_message([] { nn::RBM rbm({.units = 0}); }),
            "RBM: units (hidden units) must be >= 1, got 0");
  nn::RBM rbm({.units = 3, .in_features = 5});
  EXPECT_EQ(error_message([&] {
              rbm.hidden_probabilities(zeros({2, 4}));
            }),
            "RBM: expected visible units [B, 5], got shape [2, 4]");
}
