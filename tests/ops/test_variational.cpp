// The variational autoencoder's ops: gaussian_kl_divergence against PyTorch's
// torch.distributions.kl_divergence (values and gradients, every reduction), gradcheck, the
// reparameterized draw (its values from the generator, its gradients, seeded reproducibility),
// and error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/op_test.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::leaf;
using nabla::testing::noncontiguous_leaf;
using nabla::testing::OpCase;
using nabla::testing::OpTest;
using Inputs = std::vector<Tensor>;

namespace {

const std::vector<OpTest> kVariationalTests = {
    {.name = "gaussian_kl_divergence",
     .fn =
         [](const OpCase& c) {
           return gaussian_kl_divergence(c.input("mean"), c.input("log_var"),
                                         c.attr<std::string>("reduction", "none"));
         },
     .grad_inputs = {"mean", "log_var"},
     .cases = {"kl/*"}},
};

}  // namespace

TEST(Variational, KlDivergenceMatchesPyTorch) {
  EXPECT_EQ(nabla::testing::check_ops("variational", kVariationalTests), 5);
}

TEST(Variational, KlDivergenceByHand) {
  // mean 1, log_var 0: 0.5 * (1 + 1 - 1 - 0) = 0.5 per dimension; N(0, 1) itself: 0.
  const Tensor kl = gaussian_kl_divergence(from_vector(std::vector<double>{1, 1, 0, 0}, {2, 2}),
                                           zeros({2, 2}, DType::f64));
  ASSERT_EQ(kl.shape(), Shape({2}));
  EXPECT_DOUBLE_EQ(kl.data<double>()[0], 1.0);
  EXPECT_DOUBLE_EQ(kl.data<double>()[1], 0.0);
  // log_var = log 4 (sigma 2), mean 0: 0.5 * (4 - 1 - log 4).
  const Tensor wide = gaussian_kl_divergence(zeros({1, 1}, DType::f64),
                                             full({1, 1}, std::log(4.0), DType::f64), "sum");
  EXPECT_NEAR(wide.item<double>(), 0.5 * (3 - std::log(4.0)), 1e-12);
}

TEST(Variational, GradcheckKlDivergence) {
  for (const std::string reduction : {"none", "mean", "sum"}) {
    SCOPED_TRACE(reduction);
    EXPECT_GRADCHECK(
        [&](const Inputs& in) { return gaussian_kl_divergence(in[0], in[1], reduction); },
        {leaf({3, 4}, 1), noncontiguous_leaf({3, 4}, 2)});
  }
}

TEST(Variational, ReparameterizeDrawsFromTheGenerator) {
  const Tensor mean = from_vector(std::vector<float>{0.5f, -1, 2, 0, 3, -2}, {2, 3});
  const Tensor log_var = from_vector(std::vector<float>{0, 1, -1, 2, -2, 0.5f}, {2, 3});
  Generator gen(7), same(7);
  const Tensor z = reparameterize(mean, log_var, &gen);
  const Tensor eps = randn({2, 3}, DType::f32, &same);
  ASSERT_EQ(z.shape(), Shape({2, 3}));
  for (int64_t i = 0; i < 6; ++i) {
    const float expected =
        mean.data<float>()[i] + std::exp(0.5f * log_var.data<float>()[i]) * eps.data<float>()[i];
    EXPECT_NEAR(z.data<float>()[i], expected, 1e-6f) << i;
  }
  // The same seed gives the same draw; the next draw of a generator differs.
  Generator again(7);
  EXPECT_TRUE(nabla::testing::all_close(reparameterize(mean, log_var, &again), z));
  EXPECT_FALSE(nabla::testing::all_close(reparameterize(mean, log_var, &again), z));
}

TEST(Variational, GradcheckReparameterize) {
  // A fresh generator per call: every evaluation of the central differences sees the same eps.
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        Generator gen(3);
        return reparameterize(in[0], in[1], &gen);
      },
      {leaf({4, 3}, 3), noncontiguous_leaf({4, 3}, 4)});
}

TEST(Variational, ErrorsNameTheShapes) {
  EXPECT_EQ(error_message([] {
              gaussian_kl_divergence(zeros({2, 3}), zeros({2, 4}));
            }),
            "gaussian_kl_divergence: expected mean and log_var of one shape, got [2, 3] and "
            "[2, 4]");
  EXPECT_EQ(error_message([] { gaussian_kl_divergence(zeros({2}), zeros({2}), "avg"); }),
            "gaussian_kl_divergence: reduction must be \"none\", \"mean\" or \"sum\", got \"avg\"");
  EXPECT_EQ(error_message([] {
              reparameterize(zeros({2, 3}), zeros({3, 2}));
            }),
            "reparameterize: expected mean and log_var of one shape, got [2, 3] and [3, 2]");
}
