// The distance ops of metric learning against PyTorch 1.13 (F.pairwise_distance,
// F.cosine_similarity, F.normalize, torch.cdist, F.triplet_margin_loss: values and gradients),
// gradcheck with broadcasting and strided inputs, the zero-distance cases, and error messages.
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
using DistanceInputs = std::vector<Tensor>;

namespace {

const std::vector<OpTest> kDistanceTests = {
    {.name = "pairwise_distance",
     .fn =
         [](const OpCase& c) {
           return pairwise_distance(c.input("x1"), c.input("x2"), c.attr<double>("p"), 1e-6,
                                    c.attr<bool>("keepdim"));
         },
     .grad_inputs = {"x1", "x2"}},
    {.name = "cosine_similarity",
     .fn =
         [](const OpCase& c) {
           return cosine_similarity(c.input("x1"), c.input("x2"), c.attr<int64_t>("axis"));
         },
     .grad_inputs = {"x1", "x2"}},
    {.name = "normalize",
     .fn =
         [](const OpCase& c) {
           return normalize(c.input("x"), c.attr<double>("p"), c.attr<int64_t>("axis"));
         },
     .grad_inputs = {"x"}},
    // The matrix-product form rounds differently from PyTorch's direct differences on these
    // small shapes (PyTorch takes that form above 25 rows): a few ulps of the squared norms.
    {.name = "cdist",
     .fn = [](const OpCase& c) { return cdist(c.input("x1"), c.input("x2")); },
     .grad_inputs = {"x1", "x2"},
     .f32 = {1e-4, 1e-5},
     .f64 = {1e-4, 1e-5}},
    {.name = "triplet_margin_loss",
     .fn =
         [](const OpCase& c) {
           return triplet_margin_loss(c.input("anchor"), c.input("positive"), c.input("negative"),
                                      c.attr<double>("margin"), c.attr<double>("p"), 1e-6,
                                      c.attr<bool>("swap"), c.attr<std::string>("reduction"));
         },
     .grad_inputs = {"anchor", "positive", "negative"}},
};

}  // namespace

TEST(Distance, MatchesPyTorch) {
  EXPECT_EQ(nabla::testing::check_ops("distance", kDistanceTests), 18);
}

TEST(Distance, GradcheckWithBroadcastingAndStrides) {
  EXPECT_GRADCHECK([](const DistanceInputs& in) { return pairwise_distance(in[0], in[1]); },
                   {noncontiguous_leaf({4, 3}, 1), leaf({1, 3}, 2)});
  EXPECT_GRADCHECK([](const DistanceInputs& in) { return pairwise_distance(in[0], in[1], 1.5); },
                   {leaf({4, 3}, 3), leaf({4, 3}, 4)});
  EXPECT_GRADCHECK([](const DistanceInputs& in) { return cosine_similarity(in[0], in[1], -1); },
                   {noncontiguous_leaf({3, 1, 4}, 5), leaf({2, 4}, 6)});
  EXPECT_GRADCHECK([](const DistanceInputs& in) { return normalize(in[0], 2, 0); },
                   {noncontiguous_leaf({4, 3}, 7)});
  EXPECT_GRADCHECK([](const DistanceInputs& in) { return normalize(in[0], 3, -1); },
                   {leaf({2, 5}, 8)});
  EXPECT_GRADCHECK([](const DistanceInputs& in) { return cdist(in[0], in[1]); },
                   {noncontiguous_leaf({5, 3}, 9), leaf({4, 3}, 10)});
  EXPECT_GRADCHECK([](const DistanceInputs& in) { return cdist(in[0], in[1]); },
                   {leaf({2, 3, 4}, 11), leaf({2, 5, 4}, 12)});
  for (const bool swap : {false, true}) {
    EXPECT_GRADCHECK(
        [swap](const DistanceInputs& in) {
          return triplet_margin_loss(in[0], in[1], in[2], 3.0, 2, 1e-6, swap, "none");
        },
        {leaf({5, 3}, 13), noncontiguous_leaf({5, 3}, 14), leaf({5, 3}, 15)});
  }
}

TEST(Distance, ValuesByHand) {
  const Tensor a = from_vector(std::vector<double>{0, 0, 3, 4}, {2, 2});
  const Tensor b = from_vector(std::vector<double>{0, 0, 0, 0}, {2, 2});
  // Distances 0 and 5, each with PyTorch's eps added to every coordinate first.
  const Tensor d = pairwise_distance(a, b, 2, 0);
  EXPECT_DOUBLE_EQ(d.data<double>()[0], 0);
  EXPECT_DOUBLE_EQ(d.data<double>()[1], 5);
  const Tensor m = cdist(a, a);
  EXPECT_NEAR(m.data<double>()[1], 5, 1e-12);
  EXPECT_NEAR(m.data<double>()[2], 5, 1e-12);
  EXPECT_DOUBLE_EQ(m.data<double>()[0], 0);
  const Tensor unit = normalize(a);
  EXPECT_DOUBLE_EQ(unit.data<double>()[2], 0.6);
  EXPECT_DOUBLE_EQ(unit.data<double>()[3], 0.8);
  EXPECT_DOUBLE_EQ(unit.data<double>()[0], 0);  // a zero row stays zero
  const Tensor cos = cosine_similarity(a, from_vector(std::vector<double>{1, 0, 6, 8}, {2, 2}));
  EXPECT_DOUBLE_EQ(cos.data<double>()[0], 0);
  EXPECT_NEAR(cos.data<double>()[1], 1, 1e-15);
  // d(a, p) = 0, d(a, n) = 5: margin 1 leaves no loss, margin 6 leaves 1.
  const Tensor anchor = a.slice(0, 0, 1), negative = a.slice(0, 1, 2);
  EXPECT_DOUBLE_EQ(triplet_margin_loss(anchor, anchor, negative, 1, 2, 0).item<double>(), 0);
  EXPECT_NEAR(triplet_margin_loss(anchor, anchor, negative, 6, 2, 0).item<double>(), 1, 1e-12);
}

TEST(Distance, ZeroDistancesAndZeroVectorsHaveFiniteGradients) {
  // cdist(x, x): the diagonal is 0, where the gradient is taken as 0 (as PyTorch); off it, the
  // gradient of sum(d) w.r.t. x_i is sum_j (x_i - x_j) / d_ij, counted twice (x is both inputs).
  const Tensor x = from_vector(std::vector<double>{0, 0, 3, 4, 0, 4}, {3, 2}).requires_grad_();
  sum(cdist(x, x)).backward();
  const double* g = x.grad().data<double>();
  // x_0 = (0, 0): (x0 - x1)/5 + (x0 - x2)/4 = (-0.6, -0.8) + (0, -1).
  EXPECT_NEAR(g[0], 2 * -0.6, 1e-12);
  EXPECT_NEAR(g[1], 2 * -1.8, 1e-12);
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(std::isfinite(g[i])) << i;
  // normalize of a zero row: PyTorch's gradient 1 / eps through the division, none through the
  // clamped norm.
  const Tensor z = zeros({1, 2}, DType::f64).requires_grad_();
  sum(normalize(z)).backward();
  EXPECT_DOUBLE_EQ(z.grad().data<double>()[0], 1e12);
}

TEST(Distance, ErrorsNameTheShapes) {
  EXPECT_EQ(error_message([] {
              pairwise_distance(zeros({2, 3}), zeros({2, 4}));
            }),
            "pairwise_distance: expected inputs with the same last axis (the vectors' size), got "
            "shapes [2, 3] and [2, 4]");
  EXPECT_EQ(error_message([] {
              cdist(zeros({2, 3}), zeros({3}));
            }),
            "cdist: expected x1 [..., P, M] and x2 [..., R, M] with the same number of axes and "
            "the same M, got shapes [2, 3] and [3]");
  EXPECT_EQ(error_message([] {
              cdist(zeros({2, 3}), zeros({2, 3}), 1);
            }),
            "cdist: only the Euclidean distance (p = 2) is supported, got p = 1");
  EXPECT_EQ(error_message([] {
              normalize(zeros({2, 3}), 2, 2);
            }),
            "normalize: axis 2 is out of range for shape [2, 3]");
  EXPECT_EQ(error_message([] {
              normalize(zeros({2, 3}), 0);
            }),
            "normalize: expected a finite norm degree p > 0, got 0");
  EXPECT_EQ(error_message([] {
              triplet_margin_loss(zeros({2, 3}), zeros({3}), zeros({2, 3}));
            }),
            "triplet_margin_loss: expected anchor, positive and negative with the same number of "
            "axes, got shapes [2, 3], [3] and [2, 3]");
  EXPECT_EQ(
      error_message([] {
        triplet_margin_loss(zeros({2, 3}), zeros({2, 3}), zeros({2, 3}), 1, 2, 1e-6, false, "avg");
      }),
      "triplet_margin_loss: unknown reduction 'avg' (expected 'mean', 'sum' or 'none')");
  EXPECT_EQ(error_message([] { pairwise_distance(zeros({2}, DType::i64), zeros({2})); }),
            "pairwise_distance: expected floating inputs (f32 or f64), got i64");
}
