// matmul (torch.matmul semantics, broadcast batch axes) and linear: values and gradients against
// PyTorch, gradcheck in f64 for every form including non-contiguous operands, a naive-loop check of
// the f32 gemm path, linear_relu against relu after linear, the copies avoided, and error
// messages.
#include <gtest/gtest.h>

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

constexpr double kRtol = 1e-5, kAtol = 1e-5;  // f32 sums of a few products, in another order

const std::vector<OpTest> kMatmulTests = {
    {.name = "matmul",
     .fn = [](const OpCase& c) { return matmul(c.input("a"), c.input("b")); },
     .grad_inputs = {"a", "b"},
     .f32 = {kRtol, kAtol}},
    {.name = "linear",
     .fn = [](const OpCase& c) { return linear(c.input("x"), c.input("weight"), c.input("bias")); },
     .grad_inputs = {"x", "weight", "bias"},
     .f32 = {kRtol, kAtol}},
    {.name = "linear_relu",
     .fn =
         [](const OpCase& c) {
           return linear_relu(c.input("x"), c.input("weight"), c.input("bias"));
         },
     .grad_inputs = {"x", "weight", "bias"},
     .f32 = {kRtol, kAtol}},
};

// C = op(A) @ op(B) in double, reading the operands through at<float>.
std::vector<double> naive_matmul(const Tensor& a, const Tensor& b) {
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  std::vector<double> c(M * N, 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j)
      for (int64_t k = 0; k < K; ++k)
        c[i * N + j] += static_cast<double>(a.at<float>({i, k})) * b.at<float>({k, j});
  return c;
}

void expect_matches_naive(const Tensor& a, const Tensor& b) {
  const Tensor out = matmul(a, b);
  const std::vector<double> expected = naive_matmul(a, b);
  const std::vector<float> actual = out.to_vector<float>();
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-4) << i;
}

}  // namespace

TEST(Matmul, MatchesPyTorch) { nabla::testing::check_ops("matmul_loss", kMatmulTests); }

TEST(Matmul, F32AgreesWithNaiveLoopInEveryLayout) {
  Generator gen(7);
  const Tensor a = randn({64, 48}, DType::f32, &gen), b = randn({48, 32}, DType::f32, &gen);
  expect_matches_naive(a, b);
  // Transposed views reach gemm as transpose flags.
  const Tensor at = a.t().contiguous().t(), bt = b.t().contiguous().t();
  expect_matches_naive(at, b);
  expect_matches_naive(a, bt);
  expect_matches_naive(at, bt);
  // Row-strided slices are read in place (leading dimension > columns); every other column is not.
  const Tensor wide = randn({64, 96}, DType::f32, &gen);
  expect_matches_naive(wide.slice(1, 0, 48), b);
  expect_matches_naive(wide.slice(1, 0, 96, 2), b);
}

TEST(Matmul, ManySmallMatricesSpreadOverThreadsMatchPerMatrixProducts) {
  Generator gen(3);
  const Tensor a = randn({64, 16, 16}, DType::f32, &gen), b = randn({64, 16, 16}, DType::f32, &gen);
  const Tensor out = matmul(a, b);
  for (int64_t i : {0, 31, 63})
    EXPECT_ALL_CLOSE(out.select(0, i), matmul(a.select(0, i), b.select(0, i)), 1e-6, 1e-6);
}

TEST(Matmul, GradcheckEveryForm) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {4, 2}},       {{5}, {5}},
      {{4}, {4, 3}},          {{3, 4}, {4}},
      {{2, 3, 4}, {2, 4, 2}}, {{2, 1, 3, 4}, {3, 4, 2}},
      {{2, 3, 4}, {4, 2}},    {{3, 4}, {2, 4, 2}},
      {{2, 3, 4}, {4}},       {{4}, {2, 4, 3}},
      {{1, 3, 4}, {2, 4, 2}}};
  auto f = [](const Inputs& in) { return matmul(in[0], in[1]); };
  for (const auto& [sa, sb] : shapes) {
    SCOPED_TRACE(detail::str(sa, " @ ", sb));
    EXPECT_GRADCHECK(f, {leaf(sa, 1), leaf(sb, 2)});
    EXPECT_GRADCHECK(f, {noncontiguous_leaf(sa, 3), noncontiguous_leaf(sb, 4)});
  }
}

TEST(Linear, GradcheckWithAndWithoutBias) {
  auto with_bias = [](const Inputs& in) { return linear(in[0], in[1], in[2]); };
  auto without_bias = [](const Inputs& in) { return linear(in[0], in[1]); };
  EXPECT_GRADCHECK(with_bias, {leaf({4, 3}, 1), leaf({5, 3}, 2), leaf({5}, 3)});
  EXPECT_GRADCHECK(with_bias, {leaf({2, 3, 3}, 1), leaf({2, 3}, 2), leaf({2}, 3)});
  EXPECT_GRADCHECK(with_bias, {leaf({3}, 1), leaf({4, 3}, 2), leaf({4}, 3)});
  EXPECT_GRADCHECK(without_bias, {leaf({4, 3}, 1), leaf({5, 3}, 2)});
  EXPECT_GRADCHECK(with_bias,
                   {noncontiguous_leaf({4, 3}, 1), noncontiguous_leaf({5, 3}, 2), leaf({5}, 3)});
  EXPECT_GRADCHECK(without_bias, {noncontiguous_leaf({2, 4, 3}, 1), leaf({5, 3}, 2)});
}

TEST(Linear, EqualsMatmulWithTransposedWeightPlusBias) {
  Generator gen(5);
  const Tensor x = randn({2, 7, 6}, DType::f32, &gen), w = randn({4, 6}, DType::f32, &gen);
  const Tensor b = randn({4}, DType::f32, &gen);
  EXPECT_ALL_CLOSE(linear(x, w, b), matmul(x, w.t()) + b, 1e-5, 1e-5);
}

// linear_relu against relu after linear, bit for bit, through each of the f32 product's paths
// (oneDNN's matmul primitive with the bias and relu in its output pass, the same with C^T
// computed when the rows are at most half the outputs, sgemm with the bias first and relu after)
// and in f64; with and without a bias, with and without the input's gradient.
TEST(Linear, FusedReluMatchesReluAfter) {
  struct Case {
    int64_t rows, out, in;
  };
  for (const Case& c : {Case{64, 40, 300}, Case{16, 64, 300}, Case{8, 6, 20}}) {
    for (const DType dtype : {DType::f32, DType::f64}) {
      for (const bool with_bias : {true, false}) {
        for (const bool input_grad : {true, false}) {
          SCOPED_TRACE(::testing::Message()
                       << c.rows << " x " << c.out << " x " << c.in << " " << dtype
                       << (with_bias ? " bias" : " no bias") << (input_grad ? " input grad" : ""));
          Generator gen(13);
          const Tensor x0 = randn({c.rows, c.in}, dtype, &gen);
          const Tensor w0 = randn({c.out, c.in}, dtype, &gen);
          const Tensor b0 = randn({c.out}, dtype, &gen);
          Tensor outs[2];
          std::vector<Tensor> grads[2];
          for (int fused = 0; fused < 2; ++fused) {
            const Tensor x = x0.detach().requires_grad_(input_grad);
            const Tensor w = w0.detach().requires_grad_();
            const Tensor b = with_bias ? b0.detach().requires_grad_() : Tensor();
            outs[fused] = fused ? linear_relu(x, w, b) : relu(linear(x, w, b));
            // A gradient that differs per element, so that a wrong mask shows.
            (outs[fused] * arange(0, outs[fused].numel(), 1, dtype).reshape(outs[fused].shape()))
                .sum()
                .backward();
            for (const Tensor& t : {x, w, b}) grads[fused].push_back(t.defined() ? t.grad() : t);
          }
          EXPECT_GT(sum(eq(outs[1], zeros_like(outs[1]))).item(), 0);  // the relu did clip
          EXPECT_GT(sum(gt(outs[1], zeros_like(outs[1]))).item(), 0);
          EXPECT_ALL_CLOSE(outs[1], outs[0], 0, 0);
          // Against the product without an epilogue, the bias added and relu applied as ops.
          const Tensor product = matmul(x0, w0.t());
          EXPECT_ALL_CLOSE(outs[1], relu(with_bias ? product + b0 : product), 1e-5, 1e-5);
          EXPECT_EQ(grads[1][0].defined(), input_grad);
          for (size_t i = input_grad ? 0 : 1; i < (with_bias ? 3u : 2u); ++i)
            EXPECT_ALL_CLOSE(grads[1][i], grads[0][i], 0, 0) << "gradient " << i;
        }
      }
    }
  }
  EXPECT_GRADCHECK([](const Inputs& in) { return linear_relu(in[0], in[1], in[2]); },
                   {leaf({4, 3}, 31), leaf({5, 3}, 32), leaf({5}, 33)});
}

TEST(Matmul, EmptyOperands) {
  EXPECT_EQ(matmul(ones({0, 3}), ones({3, 4})).shape(), (Shape{0, 4}));
  // An empty inner dimension gives zeros, as a sum over nothing.
  EXPECT_EQ(matmul(ones({2, 0}), ones({0, 3})).to_vector<float>(), std::vector<float>(6, 0.f));
  EXPECT_EQ(linear(ones({2, 0}), ones({3, 0}), ones({3})).to_vector<float>(),
            std::vector<float>(6, 1.f));
}

TEST(Matmul, TransposedOperandsAndLinearAllocateOnlyTheirOutput) {
  Generator gen(9);
  const Tensor x = randn({32, 64}, DType::f32, &gen), w = randn({16, 64}, DType::f32, &gen);
  const Tensor b = randn({16}, DType::f32, &gen);
  const Tensor wt = w.t();                          // [64, 16], strides [1, 64]
  const Tensor w_columns = w.t().contiguous().t();  // [16, 64], strides [1, 16]
  NoGradGuard no_grad;
  auto allocations = [](const std::function<void()>& f) {
    const uint64_t before = allocator_stats().allocations;
    f();
    return allocator_stats().allocations - before;
  };
  EXPECT_EQ(allocations([&] { matmul(x, wt); }), 1u);
  EXPECT_EQ(allocations([&] { matmul(x.t(), x); }), 1u);
  EXPECT_EQ(allocations([&] { linear(x, w, b); }), 1u);
  EXPECT_EQ(allocations([&] { linear(x, w_columns, b); }), 1u);
}

TEST(Matmul, ErrorMessages) {
  EXPECT_EQ(error_message([] {
              matmul(ones({2, 3}), ones({4, 5}));
            }),
            "matmul: shapes [2, 3] and [4, 5] cannot be multiplied (3 != 4)");
  EXPECT_EQ(error_message([] { matmul(ones({3}), ones({4})); }),
            "matmul: shapes [3] and [4] cannot be multiplied (3 != 4)");
  EXPECT_EQ(error_message([] {
              matmul(ones({2, 2, 3}), ones({3, 3, 4}));
            }),
            "matmul: shapes [2, 2, 3] and [3, 3, 4] cannot be multiplied (batch dimensions [2] "
            "and [3] cannot be broadcast together)");
  EXPECT_EQ(error_message([] {
              matmul(ones({2, 3}), ones({3, 2}, DType::f64));
            }),
            "matmul: expected operands of the same dtype, got f32 and f64");
  EXPECT_EQ(error_message([] {
              matmul(ones({2, 3}, DType::i64), ones({3, 2}, DType::i64));
            }),
            "matmul: expected floating tensors (f32 or f64), got i64");
  EXPECT_EQ(error_message([] { matmul(scalar_tensor(2), ones({3})); }),
            "matmul: both operands need at least one axis, got shapes [] and [3]");
}

TEST(Linear, ErrorMessages) {
  EXPECT_EQ(error_message([] {
              linear(ones({4, 5}), ones({3, 6}));
            }),
            "linear: input of shape [4, 5] and weight of shape [3, 6] do not match (5 input "
            "features != in_features 6)");
  EXPECT_EQ(error_message([] {
              linear(ones({4, 6}), ones({3, 6}), ones({4}));
            }),
            "linear: expected a bias of shape [3] for a weight of shape [3, 6], got shape [4]");
  EXPECT_EQ(error_message([] {
              linear(ones({4, 6}), ones({6}));
            }),
            "linear: expected a weight of shape [out_features, in_features], got shape [6]");
  EXPECT_EQ(error_message([] {
              linear(ones({4, 6}), ones({3, 6}, DType::f64));
            }),
            "linear: expected input and weight of the same dtype, got f32 and f64");
}
