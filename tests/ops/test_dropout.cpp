// Dropout and dropout2d (src/ops/dropout.cpp): identity outside training, the drop rate, the
// 1/(1-p) scale, whole channels for dropout2d, seeded repeatability, the gradient, and argument
// errors.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.hpp"
#include "ops/elementwise_gradcheck.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::expect_unary_gradcheck;

TEST(Dropout, IdentityWhenNotTrainingOrPZero) {
  const Tensor x = randn({4, 5});
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
}

TEST(Dropout, DropsAboutPAndScalesSurvivors) {
  constexpr int64_t kN = 200000;
  for (const double p : {0.1, 0.5, 0.8}) {
    SCOPED_TRACE(p);
    Generator gen(42);
    const Tensor y = dropout(ones({kN}), p, true, &gen);
    const float scale = static_cast<float>(1.0 / (1.0 - p));
    int64_t zeros_count = 0, other = 0;
    for (float v : y.to_vector<float>()) {
      if (v == 0.0f) {
        ++zeros_count;
      } else if (v != scale) {
        ++other;
      }
    }
    EXPECT_EQ(other, 0) << "survivors must be exactly 1/(1-p)";
    // Binomial: 6 standard deviations of the dropped fraction (at most 0.0012 here).
    const double bound = 6 * std::sqrt(p * (1 - p) / kN);
    EXPECT_NEAR(static_cast<double>(zeros_count) / kN, p, bound);
    // Inverted dropout keeps the expected value.
    EXPECT_NEAR(y.mean().item(), 1.0, 6 * std::sqrt(p / (1 - p) / kN));
  }
}

TEST(Dropout, SameSeedSameMask) {
  const Tensor x = randn({64, 33}, DType::f64);
  Generator a(7), b(7), c(8);
  const auto ya = dropout(x, 0.3, true, &a).to_vector<double>();
  EXPECT_EQ(ya, dropout(x, 0.3, true, &b).to_vector<double>());
  EXPECT_NE(ya, dropout(x, 0.3, true, &c).to_vector<double>());
  // The default generator, reseeded, repeats too; a second draw differs.
  manual_seed(11);
  const auto first = dropout(x, 0.3, true).to_vector<double>();
  const auto second = dropout(x, 0.3, true).to_vector<double>();
  manual_seed(11);
  EXPECT_EQ(dropout(x, 0.3, true).to_vector<double>(), first);
  EXPECT_NE(first, second);
}

TEST(Dropout, GradientIsTheScaledMask) {
  Generator gen(5);
  const Tensor x = (rand({10, 20}, DType::f64, &gen) + 1.0).detach().requires_grad_();
  const Tensor w = randn({10, 20}, DType::f64, &gen);
  const Tensor y = dropout(x, 0.25, true, &gen);
  (y * w).sum().backward();
  const auto xv = x.detach().to_vector<double>(), yv = y.detach().to_vector<double>();
  const auto wv = w.to_vector<double>(), gv = x.grad().to_vector<double>();
  for (size_t i = 0; i < xv.size(); ++i) {
    const double mask = yv[i] == 0 ? 0.0 : 1.0 / 0.75;  // x > 0, so a zero is a dropped element
    EXPECT_DOUBLE_EQ(yv[i], xv[i] * mask);
    EXPECT_DOUBLE_EQ(gv[i], wv[i] * mask);
  }
}

TEST(Dropout, Gradcheck) {
  // A generator seeded inside the function gives the same mask at every evaluation.
  expect_unary_gradcheck([](const Tensor& x) {
    Generator gen(3);
    return dropout(x, 0.4, true, &gen);
  });
}

TEST(Dropout, POneDropsEverything) {
  const Tensor x = randn({3, 4}).requires_grad_();
  const Tensor y = dropout(x, 1.0, true);
  EXPECT_EQ(y.to_vector<float>(), std::vector<float>(12, 0.0f));
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(12, 0.0f));
}

TEST(Dropout, ErrorMessages) {
  EXPECT_EQ(error_message([] { dropout(zeros({2}), 1.5, true); }),
            "dropout: probability p must be in [0, 1], got 1.5");
  EXPECT_EQ(error_message([] { dropout(zeros({2}), -0.1, false); }),
            "dropout: probability p must be in [0, 1], got -0.1");
  EXPECT_EQ(error_message([] { dropout(arange(4), 0.5, true); }),
            "dropout: expected a floating tensor (f32 or f64), got i64");
}

// ---- dropout2d: one draw per (sample, channel) ----

TEST(Dropout2d, ZeroesWholeChannelsAndScalesTheRest) {
  Generator gen(21);
  const Tensor y = dropout2d(ones({6, 10, 3, 4}), 0.4, true, &gen);
  const auto v = y.to_vector<float>();
  const float scale = static_cast<float>(1.0 / 0.6);
  int64_t dropped = 0;
  for (int64_t channel = 0; channel < 60; ++channel) {
    const float first = v[channel * 12];
    EXPECT_TRUE(first == 0.0f || first == scale) << first;
    for (int64_t i = 1; i < 12; ++i) EXPECT_EQ(v[channel * 12 + i], first) << "channel " << channel;
    dropped += first == 0.0f;
  }
  EXPECT_GT(dropped, 0);
  EXPECT_LT(dropped, 60);
}

TEST(Dropout2d, DropsAboutPOfTheChannels) {
  constexpr int64_t kChannels = 100000;
  for (const double p : {0.2, 0.5}) {
    SCOPED_TRACE(p);
    Generator gen(3);
    const Tensor y = dropout2d(ones({1000, 100, 2}), p, true, &gen);  // [N, C, L] also works
    const auto v = y.to_vector<float>();
    int64_t dropped = 0;
    for (int64_t c = 0; c < kChannels; ++c) dropped += v[2 * c] == 0.0f;
    EXPECT_NEAR(static_cast<double>(dropped) / kChannels, p,
                6 * std::sqrt(p * (1 - p) / kChannels));
  }
}

TEST(Dropout2d, IdentityWhenNotTrainingOrPZero) {
  const Tensor x = randn({2, 3, 4, 4});
  EXPECT_TRUE(dropout2d(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout2d(x, 0.0, true).is_same(x));
  Generator gen(1);
  EXPECT_EQ(dropout2d(x, 1.0, true, &gen).to_vector<float>(), std::vector<float>(96, 0.0f));
}

TEST(Dropout2d, GradientIsTheChannelMask) {
  Generator gen(8);
  const Tensor x = (rand({4, 5, 3, 2}, DType::f64, &gen) + 1.0).detach().requires_grad_();
  const Tensor w = randn({4, 5, 3, 2}, DType::f64, &gen);
  const Tensor y = dropout2d(x, 0.5, true, &gen);
  (y * w).sum().backward();
  const auto xv = x.detach().to_vector<double>(), yv = y.detach().to_vector<double>();
  const auto wv = w.to_vector<double>(), gv = x.grad().to_vector<double>();
  for (size_t i = 0; i < xv.size(); ++i) {
    const double mask = yv[(i / 6) * 6] == 0 ? 0.0 : 2.0;  // x > 0: a zero is a dropped channel
    EXPECT_DOUBLE_EQ(yv[i], xv[i] * mask);
    EXPECT_DOUBLE_EQ(gv[i], wv[i] * mask);
  }
  EXPECT_GRADCHECK(
      [](const std::vector<Tensor>& v) {
        Generator g(4);
        return dropout2d(v[0], 0.3, true, &g);
      },
      {nabla::testing::noncontiguous_leaf({3, 4, 2, 3})});
}

TEST(Dropout2d, ErrorMessages) {
  EXPECT_EQ(error_message([] {
              dropout2d(zeros({2, 3, 4}), 1.5, true);
            }),
            "dropout2d: probability p must be in [0, 1], got 1.5");
  EXPECT_EQ(error_message([] {
              dropout2d(zeros({2, 3, 4}), -0.5, false);
            }),
            "dropout2d: probability p must be in [0, 1], got -0.5");
  EXPECT_EQ(error_message([] {
              dropout2d(zeros({4, 5}), 0.5, true);
            }),
            "dropout2d: expected input [N, C, *spatial] with at least 3 axes, got shape [4, 5]");
  EXPECT_EQ(error_message([] {
              dropout2d(zeros({2, 3, 4}, DType::i64), 0.5, true);
            }),
            "dropout2d: expected a floating tensor (f32 or f64), got i64");
}
