// Elementwise arithmetic (src/ops/binary.cpp, src/ops/unary.cpp): values against PyTorch,
// gradients by gradcheck on contiguous, transposed and broadcast inputs, dtype promotion, NaN
// handling and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nabla/nabla.hpp"
#include "ops/elementwise_gradcheck.hpp"

using namespace nabla;
using nabla::testing::elementwise_op;
using nabla::testing::error_message;
using nabla::testing::expect_unary_gradcheck;
using nabla::testing::f64;
using nabla::testing::kNaN;
using nabla::testing::leaf;
using nabla::testing::noncontiguous_leaf;
using nabla::testing::positive;
using Inputs = std::vector<Tensor>;

namespace {

using BinaryOp = std::function<Tensor(const Tensor&, const Tensor&)>;

// gradcheck of a two-input op: same shapes, broadcasting both ways, and transposed inputs.
// `positive_a`/`positive_b` keep an input in the op's domain (log, division).
void expect_binary_gradcheck(const BinaryOp& op, bool positive_a = false, bool positive_b = false) {
  auto a = [&](Tensor t) { return positive_a ? positive(t) : t; };
  auto b = [&](Tensor t) { return positive_b ? positive(t) : t; };
  const nabla::testing::Function f = [&](const Inputs& in) { return op(in[0], in[1]); };
  EXPECT_GRADCHECK(f, {a(leaf({3, 4}, 1)), b(leaf({3, 4}, 2))});
  EXPECT_GRADCHECK(f, {a(leaf({2, 3, 4}, 3)), b(leaf({3, 1}, 4))});
  EXPECT_GRADCHECK(f, {a(leaf({4}, 5)), b(leaf({2, 1, 4}, 6))});
  EXPECT_GRADCHECK(f, {a(noncontiguous_leaf({3, 4}, 7)), b(noncontiguous_leaf({3, 4}, 8))});
  EXPECT_GRADCHECK(f, {a(noncontiguous_leaf({2, 3, 4}, 9)), b(leaf({4}, 10))});
}

}  // namespace

// ---- values against PyTorch (f32, outputs and gradients) ----

TEST(Unary, MatchesPyTorch) {
  // The clamps' inputs sit on their bounds, where PyTorch picks a one-sided slope.
  nabla::testing::check_ops(
      "elementwise",
      {elementwise_op("neg", [](const Inputs& in) { return neg(in[0]); }),
       elementwise_op("exp", [](const Inputs& in) { return exp(in[0]); }),
       elementwise_op("log", [](const Inputs& in) { return log(in[0]); }),
       elementwise_op("sqrt", [](const Inputs& in) { return sqrt(in[0]); }),
       elementwise_op("rsqrt", [](const Inputs& in) { return rsqrt(in[0]); }),
       elementwise_op("abs", [](const Inputs& in) { return abs(in[0]); }),
       elementwise_op("square", [](const Inputs& in) { return square(in[0]); }),
       elementwise_op(
           "clamp", [](const Inputs& in) { return clamp(in[0], -0.5, 0.5); }, false),
       elementwise_op(
           "clamp_min", [](const Inputs& in) { return clamp(in[0], 0.25, std::nullopt); }, false),
       elementwise_op(
           "clamp_max", [](const Inputs& in) { return clamp(in[0], std::nullopt, -0.25); },
           false)});
}

TEST(Binary, MatchesPyTorch) {
  // maximum and minimum are given ties on purpose (the gradient is split as in PyTorch).
  nabla::testing::check_ops(
      "elementwise",
      {elementwise_op("add", [](const Inputs& in) { return add(in[0], in[1]); }),
       elementwise_op("add_alpha", [](const Inputs& in) { return add(in[0], in[1], -2.5); }),
       elementwise_op("sub", [](const Inputs& in) { return sub(in[0], in[1]); }),
       elementwise_op("mul", [](const Inputs& in) { return mul(in[0], in[1]); }),
       elementwise_op("div", [](const Inputs& in) { return div(in[0], in[1]); }),
       elementwise_op("pow", [](const Inputs& in) { return pow(in[0], in[1]); }),
       elementwise_op("pow_scalar", [](const Inputs& in) { return pow(in[0], 2.5); }),
       elementwise_op("pow_scalar_int", [](const Inputs& in) { return pow(in[0], 3.0); }),
       elementwise_op(
           "maximum", [](const Inputs& in) { return maximum(in[0], in[1]); }, false),
       elementwise_op(
           "minimum", [](const Inputs& in) { return minimum(in[0], in[1]); }, false),
       elementwise_op("where", [](const Inputs& in) { return where(in[0], in[1], in[2]); })});
}

TEST(Binary, ComparisonsMatchPyTorch) {
  nabla::testing::check_ops(
      "elementwise", {elementwise_op("eq", [](const Inputs& in) { return eq(in[0], in[1]); }),
                      elementwise_op("ne", [](const Inputs& in) { return ne(in[0], in[1]); }),
                      elementwise_op("lt", [](const Inputs& in) { return lt(in[0], in[1]); }),
                      elementwise_op("le", [](const Inputs& in) { return le(in[0], in[1]); }),
                      elementwise_op("gt", [](const Inputs& in) { return gt(in[0], in[1]); }),
                      elementwise_op("ge", [](const Inputs& in) { return ge(in[0], in[1]); })});
}

// ---- gradients (f64 central differences) ----

TEST(Unary, Gradcheck) {
  expect_unary_gradcheck([](const Tensor& x) { return neg(x); });
  expect_unary_gradcheck([](const Tensor& x) { return exp(x); });
  expect_unary_gradcheck([](const Tensor& x) { return log(x); }, true);
  expect_unary_gradcheck([](const Tensor& x) { return sqrt(x); }, true);
  expect_unary_gradcheck([](const Tensor& x) { return rsqrt(x); }, true);
  expect_unary_gradcheck([](const Tensor& x) { return abs(x); });
  expect_unary_gradcheck([](const Tensor& x) { return square(x); });
  expect_unary_gradcheck([](const Tensor& x) { return clamp(x, -0.5, 0.7); });
  expect_unary_gradcheck([](const Tensor& x) { return clamp(x, -0.3, std::nullopt); });
  expect_unary_gradcheck([](const Tensor& x) { return pow(x, 2.5); }, true);
  expect_unary_gradcheck([](const Tensor& x) { return pow(x, 3.0); });
}

TEST(Binary, Gradcheck) {
  expect_binary_gradcheck([](const Tensor& a, const Tensor& b) { return add(a, b); });
  expect_binary_gradcheck([](const Tensor& a, const Tensor& b) { return add(a, b, 0.5); });
  expect_binary_gradcheck([](const Tensor& a, const Tensor& b) { return sub(a, b); });
  expect_binary_gradcheck([](const Tensor& a, const Tensor& b) { return mul(a, b); });
  expect_binary_gradcheck([](const Tensor& a, const Tensor& b) { return div(a, b); }, false, true);
  expect_binary_gradcheck([](const Tensor& a, const Tensor& b) { return pow(a, b); }, true);
  expect_binary_gradcheck([](const Tensor& a, const Tensor& b) { return maximum(a, b); });
  expect_binary_gradcheck([](const Tensor& a, const Tensor& b) { return minimum(a, b); });
}

TEST(Binary, WhereGradcheck) {
  const Tensor cond = gt(leaf({3, 4}, 20).detach(), zeros({1}, DType::f64));
  const nabla::testing::Function f = [&](const Inputs& in) { return where(cond, in[0], in[1]); };
  EXPECT_GRADCHECK(f, {leaf({3, 4}, 1), leaf({4}, 2)});
  EXPECT_GRADCHECK(f, {noncontiguous_leaf({3, 4}, 3), leaf({3, 1}, 4)});
  // The condition broadcasts too: [3, 1] against [4].
  const Tensor column = from_vector(std::vector<bool>{true, false, true}, {3, 1});
  const nabla::testing::Function g = [&](const Inputs& in) { return where(column, in[0], in[1]); };
  EXPECT_GRADCHECK(g, {leaf({4}, 5), leaf({1}, 6)});
}

// ---- semantics ----

TEST(Binary, BroadcastingShapesAndValues) {
  const Tensor a = f64({1, 2, 3}, {3, 1});
  const Tensor b = f64({10, 20}, {2});
  const Tensor s = a + b;
  EXPECT_EQ(s.shape(), (Shape{3, 2}));
  EXPECT_EQ(s.to_vector<double>(), (std::vector<double>{11, 21, 12, 22, 13, 23}));
  EXPECT_EQ((b - a).to_vector<double>(), (std::vector<double>{9, 19, 8, 18, 7, 17}));
  // A 0-d operand broadcasts against anything.
  EXPECT_EQ(mul(scalar_tensor(2, DType::f64), a).to_vector<double>(),
            (std::vector<double>{2, 4, 6}));
}

TEST(Binary, DtypePromotion) {
  const Tensor i = from_vector(std::vector<int64_t>{1, 2, 3});
  const Tensor f = from_vector(std::vector<float>{0.5f, 0.5f, 0.5f});
  EXPECT_EQ((i + i).dtype(), DType::i64);
  EXPECT_EQ((i * i).to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 9}));
  EXPECT_EQ((i + f).dtype(), DType::f32);
  EXPECT_EQ((i + f).to_vector<float>(), (std::vector<float>{1.5f, 2.5f, 3.5f}));
  EXPECT_EQ((f + f64({1, 1, 1})).dtype(), DType::f64);
  EXPECT_EQ(maximum(i, from_vector(std::vector<int64_t>{2, 2, 2})).to_vector<int64_t>(),
            (std::vector<int64_t>{2, 2, 3}));
  // A fractional scalar meeting an integer tensor computes in f32, as PyTorch.
  EXPECT_EQ((i * 0.5).dtype(), DType::f32);
  EXPECT_EQ(lt(i, f64({2, 2, 2})).to_vector<bool>(), (std::vector<bool>{true, false, false}));
}

TEST(Binary, MaximumMinimumPropagateNaN) {
  const Tensor a = f64({kNaN, 1, 2});
  const Tensor b = f64({0, kNaN, 3});
  for (const Tensor& t : {maximum(a, b), minimum(a, b), maximum(b, a), minimum(b, a)}) {
    const auto v = t.to_vector<double>();
    EXPECT_TRUE(std::isnan(v[0]) && std::isnan(v[1])) << t;
  }
  EXPECT_EQ(maximum(a, b).to_vector<double>()[2], 3);
  EXPECT_EQ(minimum(a, b).to_vector<double>()[2], 2);
}

TEST(Binary, MaximumSplitsTiedGradient) {
  const Tensor a = f64({1, 2, 3}).requires_grad_();
  const Tensor b = f64({1, 5, 0}).requires_grad_();
  maximum(a, b).sum().backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.5, 0, 1}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{0.5, 1, 0}));
}

TEST(Binary, PowEdgeCases) {
  // d/dx x^0 is 0 (not 0 * x^-1 = NaN at 0); d/dy x^y at x = 0 is taken as 0.
  const Tensor x = f64({0, 2}).requires_grad_();
  const Tensor y = f64({0, 3}).requires_grad_();
  pow(x, y).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 12}));
  EXPECT_NEAR(y.grad().to_vector<double>()[1], 8 * std::log(2.0), 1e-12);
  EXPECT_EQ(y.grad().to_vector<double>()[0], 0);
  EXPECT_EQ(pow(from_vector(std::vector<int64_t>{2, 3}), 2.0).dtype(), DType::f32);
}

TEST(Unary, WhereSelectsWithoutMixingInfinities) {
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor cond = from_vector(std::vector<bool>{true, false, true});
  const Tensor out = where(cond, f64({1, inf, 3}), f64({inf, 5, kNaN}));
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{1, 5, 3}));
  // Boolean operands give a boolean result.
  const Tensor picked = where(cond, from_vector(std::vector<bool>{true, true, true}),
                              from_vector(std::vector<bool>{false, false, false}));
  EXPECT_EQ(picked.dtype(), DType::boolean);
  EXPECT_EQ(picked.to_vector<bool>(), (std::vector<bool>{true, false, true}));
}

TEST(Unary, ClampKeepsNaNAndPassesGradientAtBounds) {
  const Tensor x = f64({-1, -0.5, 0, 0.5, 1, kNaN}).requires_grad_();
  const Tensor y = clamp(x, -0.5, 0.5);
  const auto v = y.to_vector<double>();
  EXPECT_EQ(std::vector<double>(v.begin(), v.end() - 1),
            (std::vector<double>{-0.5, -0.5, 0, 0.5, 0.5}));
  EXPECT_TRUE(std::isnan(v.back()));
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 1, 1, 1, 0, 0}));
}

TEST(Unary, AbsHasZeroGradientAtZero) {
  const Tensor x = f64({-2, 0, 3}).requires_grad_();
  abs(x).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{-1, 0, 1}));
}

TEST(Unary, LargeNonContiguousInputTakesTheParallelPath) {
  // Above the parallel threshold, strided: every element must still be visited once.
  const Tensor x = arange(0, 300 * 200, 1, DType::f32).reshape({300, 200}).t();
  const Tensor y = sqrt(square(x));
  EXPECT_EQ(y.shape(), (Shape{200, 300}));
  EXPECT_EQ(y.to_vector<float>(), x.contiguous().to_vector<float>());
  const Tensor z = x + x.t().t();
  EXPECT_EQ(z.at<float>({199, 299}), 2.0f * (299 * 200 + 199));
}

// ---- errors ----

TEST(Binary, BroadcastMismatchNamesOpAndShapes) {
  EXPECT_EQ(error_message([] {
              add(zeros({2, 3}), zeros({4}));
            }),
            "add: shapes [2, 3] and [4] cannot be broadcast together (axis -1 has sizes 3 and 4; "
            "expected equal sizes or 1)");
  EXPECT_EQ(error_message([] {
              mul(zeros({2, 3, 5}), zeros({4, 1}));
            }),
            "mul: shapes [2, 3, 5] and [4, 1] cannot be broadcast together (axis -2 has sizes 3 "
            "and 4; expected equal sizes or 1)");
}

TEST(Binary, ErrorMessages) {
  EXPECT_EQ(error_message([] { div(arange(3), arange(3)); }),
            "div: expected a floating tensor (f32 or f64), got i64");
  EXPECT_EQ(error_message([] { where(zeros({2}), zeros({2}), zeros({2})); }),
            "where: condition must have dtype bool, got f32");
  EXPECT_EQ(error_message([] { clamp(zeros({2}), 1.0, 0.0); }),
            "clamp: min 1 is greater than max 0");
  EXPECT_EQ(error_message([] { exp(arange(3)); }),
            "exp: expected a floating tensor (f32 or f64), got i64");
}
