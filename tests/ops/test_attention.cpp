// scaled_dot_product_attention: PyTorch reference values (no mask, bool mask, float mask, causal,
// broadcast leading axes with a custom scale) in f64 and f32, gradchecks of q, k, v and the
// additive mask, dropout (seeded, and its backward), fully masked rows (zeros, no NaN), the
// threaded fused pass against the same math written with other ops, and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

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

// The same math with separate ops (masks: bool true = allowed, or additive).
Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask,
                          bool causal, double scale) {
  Tensor scores = matmul(q, transpose(k, -2, -1)) * scale;
  const int64_t l = q.size(-2), s = k.size(-2);
  const double inf = std::numeric_limits<double>::infinity();
  if (causal) {
    const Tensor rows = arange(l).reshape({l, 1}), cols = arange(s).reshape({1, s});
    scores = where(le(cols, rows), scores, scalar_tensor(-inf, q.dtype()));
  }
  if (mask.defined()) {
    scores = mask.dtype() == DType::boolean ? where(mask, scores, scalar_tensor(-inf, q.dtype()))
                                            : scores + mask;
  }
  return matmul(softmax(scores, -1), v);
}

// PyTorch's values are computed in f64 from the f32 inputs: checked in f32 and, tightly, in f64.
const std::vector<OpTest> kAttentionTests = {
    {.name = "sdpa",
     .fn =
         [](const OpCase& c) {
           return scaled_dot_product_attention(
               c.input("q"), c.input("k"), c.input("v"), c.input("mask"), c.attr<bool>("is_causal"),
               0, false, nullptr,
               c.has("scale") ? std::optional(c.attr<double>("scale")) : std::nullopt);
         },
     .grad_inputs = {"q", "k", "v"},
     .f32 = {1e-5, 1e-5},
     .f64 = {1e-10, 1e-12},
     .extra_dtypes = {DType::f64}},
};

Tensor attention(const Inputs& in, const Tensor& mask = Tensor(), bool causal = false) {
  return scaled_dot_product_attention(in[0], in[1], in[2], mask, causal);
}

bool all_finite(const Tensor& t) {
  for (double v : t.to(DType::f64).to_vector<double>())
    if (!std::isfinite(v)) return false;
  return true;
}

}  // namespace

TEST(Attention, MatchesPyTorchReferenceMath) {
  nabla::testing::check_ops("attention", kAttentionTests);
}

TEST(Attention, GradcheckPlainAndStrided) {
  EXPECT_GRADCHECK([](const Inputs& in) { return attention(in); },
                   {leaf({2, 3, 4}, 1), leaf({2, 5, 4}, 2), leaf({2, 5, 3}, 3)});
  EXPECT_GRADCHECK([](const Inputs& in) { return attention(in); },
                   {noncontiguous_leaf({2, 3, 4}, 4), noncontiguous_leaf({2, 5, 4}, 5),
                    noncontiguous_leaf({2, 5, 3}, 6)});
}

TEST(Attention, GradcheckMasksCausalAndBroadcasting) {
  const Tensor bool_mask =
      from_vector(std::vector<bool>{true, false, true, true, false, true, true, false, false, true,
                                    false, true, false, true, true},
                  {3, 5});
  EXPECT_GRADCHECK([&](const Inputs& in) { return attention(in, bool_mask); },
                   {leaf({2, 3, 4}, 7), leaf({2, 5, 4}, 8), leaf({2, 5, 3}, 9)});
  EXPECT_GRADCHECK([](const Inputs& in) { return attention(in, Tensor(), true); },
                   {leaf({2, 4, 3}, 10), leaf({2, 4, 3}, 11), leaf({2, 4, 2}, 12)});
  // Causal with more keys than queries, combined with a mask.
  EXPECT_GRADCHECK([&](const Inputs& in) { return attention(in, bool_mask, true); },
                   {leaf({3, 4}, 13), leaf({5, 4}, 14), leaf({5, 2}, 15)});
  // Leading axes broadcast: one k, v shared by 2 x 2 query batches.
  EXPECT_GRADCHECK([](const Inputs& in) { return attention(in); },
                   {leaf({2, 2, 3, 4}, 16), leaf({1, 5, 4}, 17), leaf({5, 3}, 18)});
}

TEST(Attention, GradcheckFloatMaskIncludingTheMaskItself) {
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return attention({in[0], in[1], in[2]}, in[3]);
      },
      {leaf({2, 3, 4}, 19), leaf({2, 5, 4}, 20), leaf({2, 5, 3}, 21), leaf({3, 5}, 22)});
  // Custom scale.
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), false, 0, false, nullptr,
                                            0.7);
      },
      {leaf({3, 2}, 23), leaf({4, 2}, 24), leaf({4, 2}, 25)});
}

TEST(Attention, CausalEqualsLowerTriangularBoolMask) {
  Generator gen(1);
  const Tensor q = randn({2, 3, 4}, DType::f64, &gen), k = randn({2, 5, 4}, DType::f64, &gen);
  const Tensor v = randn({2, 5, 3}, DType::f64, &gen);
  const Tensor tril = le(arange(5).reshape({1, 5}), arange(3).reshape({3, 1}));
  EXPECT_ALL_CLOSE(scaled_dot_product_attention(q, k, v, Tensor(), true),
                   scaled_dot_product_attention(q, k, v, tril), 1e-14, 1e-14);
}

TEST(Attention, FullyMaskedRowsGiveZerosAndNoNaNGradients) {
  // Row 1 of the bool mask allows nothing; in the float mask row 0 is all -inf.
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor bool_mask = from_vector(
      std::vector<bool>{true, true, false, false, false, false, false, true, true}, {3, 3});
  const Tensor float_mask =
      from_vector(std::vector<double>{-inf, -inf, -inf, 0, 0.5, -inf, 1, 0, 0}, {3, 3});
  for (const Tensor& mask : {bool_mask, float_mask}) {
    const int64_t empty_row = mask.dtype() == DType::boolean ? 1 : 0;
    Tensor q = leaf({3, 2}, 1), k = leaf({3, 2}, 2), v = leaf({3, 4}, 3);
    const Tensor out = scaled_dot_product_attention(q, k, v, mask);
    EXPECT_EQ(out.select(0, empty_row).to_vector<double>(), std::vector<double>(4, 0.0));
    EXPECT_TRUE(all_finite(out));
    out.sum().backward();
    EXPECT_TRUE(all_finite(q.grad()) && all_finite(k.grad()) && all_finite(v.grad()));
    EXPECT_EQ(q.grad().select(0, empty_row).to_vector<double>(), std::vector<double>(2, 0.0));
    // The other rows are ordinary attention.
    const int64_t other = 2;
    EXPECT_ALL_CLOSE(out.select(0, other),
                     composed_attention(q, k, v, mask, false, 1 / std::sqrt(2.0)).select(0, other),
                     1e-12, 1e-12);
  }
  EXPECT_GRADCHECK([&](const Inputs& in) { return attention(in, bool_mask); },
                   {leaf({3, 2}, 4), leaf({3, 2}, 5), leaf({3, 4}, 6)});
}

TEST(Attention, DropoutIsSeededScaledAndDifferentiable) {
  // With v = identity the output is the attention weights themselves.
  const Tensor q = randn({2, 4, 3}, DType::f64), k = randn({2, 6, 3}, DType::f64);
  Tensor eye = zeros({6, 6}, DType::f64);
  for (int64_t i = 0; i < 6; ++i) eye.select(0, i).select(0, i).fill_(1);
  const Tensor plain = scaled_dot_product_attention(q, k, eye);
  Generator g1(5), g2(5);
  const Tensor dropped = scaled_dot_product_attention(q, k, eye, Tensor(), false, 0.5, true, &g1);
  const Tensor again = scaled_dot_product_attention(q, k, eye, Tensor(), false, 0.5, true, &g2);
  EXPECT_EQ(dropped.to_vector<double>(), again.to_vector<double>());
  const auto p = plain.to_vector<double>(), d = dropped.to_vector<double>();
  int zeros_seen = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (d[i] == 0) {
      ++zeros_seen;
    } else {
      EXPECT_NEAR(d[i], 2 * p[i], 1e-14);
    }
  }
  EXPECT_GT(zeros_seen, 8);
  EXPECT_LT(zeros_seen, 40);
  // Not training: no dropout.
  EXPECT_EQ(
      scaled_dot_product_attention(q, k, eye, Tensor(), false, 0.5, false).to_vector<double>(), p);
  // The backward goes through the same dropped weights (a fresh generator per evaluation).
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        Generator gen(9);
        return scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), true, 0.3, true, &gen);
      },
      {leaf({2, 3, 4}, 26), leaf({2, 5, 4}, 27), leaf({2, 5, 3}, 28)});
}

TEST(Attention, LargeThreadedPassMatchesComposedOps) {
  // Enough rows for the blocked, threaded fused pass; a key padding mask broadcast over heads.
  Generator gen(2);
  const Tensor q0 = randn({4, 4, 64, 16}, DType::f32, &gen);
  const Tensor k0 = randn({4, 4, 72, 16}, DType::f32, &gen);
  const Tensor v0 = randn({4, 4, 72, 8}, DType::f32, &gen);
  const Tensor keys = lt(arange(72).reshape({1, 1, 1, 72}),
                         from_vector(std::vector<int64_t>{72, 50, 10, 1}).reshape({4, 1, 1, 1}));
  const Tensor grad_out = randn({4, 4, 64, 8}, DType::f32, &gen);
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "padding mask");
    Tensor q = q0.clone().requires_grad_(), k = k0.clone().requires_grad_();
    Tensor v = v0.clone().requires_grad_();
    Tensor q2 = q0.clone().requires_grad_(), k2 = k0.clone().requires_grad_();
    Tensor v2 = v0.clone().requires_grad_();
    const Tensor out = scaled_dot_product_attention(q, k, v, keys, causal);
    const Tensor expected = composed_attention(q2, k2, v2, keys, causal, 0.25);
    EXPECT_ALL_CLOSE(out, expected, 1e-5, 1e-5);
    out.backward(grad_out);
    expected.backward(grad_out);
    EXPECT_ALL_CLOSE(q.grad(), q2.grad(), 1e-4, 1e-5);
    EXPECT_ALL_CLOSE(k.grad(), k2.grad(), 1e-4, 1e-5);
    EXPECT_ALL_CLOSE(v.grad(), v2.grad(), 1e-4, 1e-5);
  }
}

TEST(Attention, ErrorsNameShapesAndExpectations) {
  const Tensor q = zeros({2, 3, 4}), k = zeros({2, 5, 4}), v = zeros({2, 5, 6});
  EXPECT_EQ(error_message([&] {
              scaled_dot_product_attention(q, zeros({2, 5, 3}), v);
            }),
            "scaled_dot_product_attention: q of shape [2, 3, 4] has E = 4 but k of shape "
            "[2, 5, 3] has E = 3 (the last axes must match)");
  EXPECT_EQ(error_message([&] {
              scaled_dot_product_attention(q, k, zeros({2, 6, 6}));
            }),
            "scaled_dot_product_attention: k of shape [2, 5, 4] has S = 5 keys but v of shape "
            "[2, 6, 6] has 6 values (axis -2 must match)");
  EXPECT_EQ(error_message([&] {
              scaled_dot_product_attention(q, k, v, zeros({3, 4}, DType::boolean));
            }),
            "scaled_dot_product_attention: attn_mask of shape [3, 4] does not broadcast to the "
            "attention weights' shape [2, 3, 5] ([..., L, S])");
  EXPECT_EQ(error_message([&] {
              scaled_dot_product_attention(q, k, v, zeros({3, 5}, DType::i64));
            }),
            "scaled_dot_product_attention: attn_mask must be bool (true = may attend) or floating "
            "(added to the scores), got dtype i64");
  EXPECT_EQ(error_message([&] {
              scaled_dot_product_attention(q, zeros({3, 5, 4}), v);
            }),
            "scaled_dot_product_attention: the leading axes of q [2, 3, 4], k [3, 5, 4] and v "
            "[2, 5, 6] do not broadcast together");
  EXPECT_EQ(error_message([&] { scaled_dot_product_attention(zeros({4}), k, v); }),
            "scaled_dot_product_attention: expected q [..., L, E], k [..., S, E] and v [..., S, "
            "Ev] with at least 2 axes each, got shapes [4], [2, 5, 4] and [2, 5, 6]");
  EXPECT_EQ(error_message([&] {
              scaled_dot_product_attention(q, k, zeros({2, 5, 6}, DType::f64));
            }),
            "scaled_dot_product_attention: expected q, k and v of one floating dtype (f32 or "
            "f64), got f32, f32 and f64");
}
