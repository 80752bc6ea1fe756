// Activations (src/ops/activation.cpp) and the softmax kernels under them
// (src/kernels/cpu/softmax.cpp): values and gradients against PyTorch, gradcheck on contiguous,
// transposed and broadcast inputs, numerical stability, activation-by-name and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>

#include "core/tensor_impl.hpp"
#include "nabla/nabla.hpp"
#include "ops/elementwise_gradcheck.hpp"

using namespace nabla;
using nabla::testing::elementwise_op;
using nabla::testing::error_message;
using nabla::testing::expect_unary_gradcheck;
using nabla::testing::f64;
using nabla::testing::kInf;
using nabla::testing::leaf;
using nabla::testing::noncontiguous_leaf;
using Inputs = std::vector<Tensor>;

// ---- values and gradients against PyTorch (f32) ----

TEST(Activation, MatchesPyTorch) {
  // relu, leaky_relu and elu(alpha 0.5) are given an input of 0, their kink, on purpose.
  nabla::testing::check_ops(
      "elementwise",
      {elementwise_op(
           "relu", [](const Inputs& in) { return relu(in[0]); }, false),
       elementwise_op(
           "leaky_relu", [](const Inputs& in) { return leaky_relu(in[0]); }, false),
       elementwise_op(
           "leaky_relu_0.2", [](const Inputs& in) { return leaky_relu(in[0], 0.2); }, false),
       elementwise_op("elu", [](const Inputs& in) { return elu(in[0]); }),
       elementwise_op(
           "elu_0.5", [](const Inputs& in) { return elu(in[0], 0.5); }, false),
       elementwise_op("gelu", [](const Inputs& in) { return gelu(in[0]); }),
       elementwise_op("gelu_tanh", [](const Inputs& in) { return gelu(in[0], true); }),
       elementwise_op("sigmoid", [](const Inputs& in) { return sigmoid(in[0]); }),
       elementwise_op("tanh", [](const Inputs& in) { return tanh(in[0]); }),
       elementwise_op("softplus", [](const Inputs& in) { return softplus(in[0]); }),
       elementwise_op("softplus_beta2_threshold5",
                      [](const Inputs& in) { return softplus(in[0], 2.0, 5.0); })});
}

TEST(Activation, SoftmaxMatchesPyTorch) {
  std::vector<nabla::testing::OpTest> ops;
  for (const bool log : {false, true}) {
    const std::string name = log ? "log_softmax" : "softmax";
    auto along = [log](int64_t axis) {
      return [log, axis](const Inputs& in) {
        return log ? log_softmax(in[0], axis) : softmax(in[0], axis);
      };
    };
    ops.push_back(elementwise_op(name + "_axis0", along(0)));
    ops.push_back(elementwise_op(name + "_axis-1", along(-1)));
    ops.push_back(elementwise_op(name + "_wide", along(-1)));  // rows of 37 around +-1000
    ops.push_back(elementwise_op(name + "_axis1_3d", along(1)));
  }
  nabla::testing::check_ops("elementwise", ops);
}

// ---- gradients (f64 central differences) ----

TEST(Activation, Gradcheck) {
  expect_unary_gradcheck([](const Tensor& x) { return relu(x); });
  expect_unary_gradcheck([](const Tensor& x) { return leaky_relu(x, 0.1); });
  expect_unary_gradcheck([](const Tensor& x) { return elu(x, 0.7); });
  expect_unary_gradcheck([](const Tensor& x) { return gelu(x); });
  expect_unary_gradcheck([](const Tensor& x) { return gelu(x, true); });
  expect_unary_gradcheck([](const Tensor& x) { return sigmoid(x); });
  expect_unary_gradcheck([](const Tensor& x) { return tanh(x); });
  expect_unary_gradcheck([](const Tensor& x) { return softplus(x); });
  // A low threshold puts elements on both sides of it.
  expect_unary_gradcheck([](const Tensor& x) { return softplus(x, 2.0, 1.0); });
}

TEST(Activation, SoftmaxGradcheck) {
  for (const bool log : {false, true}) {
    SCOPED_TRACE(log ? "log_softmax" : "softmax");
    for (const int64_t axis : {0, 1, -1}) {
      SCOPED_TRACE(axis);
      auto op = [log, axis](const Tensor& x) {
        return log ? log_softmax(x, axis) : softmax(x, axis);
      };
      expect_unary_gradcheck([&](const Tensor& x) { return op(x); });  // [3, 4], incl. broadcast
      const nabla::testing::Function f = [&](const Inputs& in) { return op(in[0]); };
      EXPECT_GRADCHECK(f, {leaf({2, 3, 5}, 4)});
      EXPECT_GRADCHECK(f, {noncontiguous_leaf({2, 3, 5}, 5)});
      // Broadcast along the normalized axis itself: a constant row.
      const nabla::testing::Function g = [&](const Inputs& in) {
        return op(expand(in[0], {2, 3, 5}) * in[1]);
      };
      EXPECT_GRADCHECK(g, {leaf({2, 1, 5}, 6), leaf({3, 1}, 7)});
    }
  }
}

// ---- softmax numerics ----

TEST(Activation, SoftmaxIsStableAndHandlesMaskedEntries) {
  const Tensor x = f64({1000, 1001, 999, -kInf}, {1, 4});
  const Tensor y = softmax(x);
  const auto v = y.to_vector<double>();
  const double e1 = std::exp(-1.0), e2 = std::exp(-2.0), s = 1 + e1 + e2;
  EXPECT_NEAR(v[0], e1 / s, 1e-15);
  EXPECT_NEAR(v[1], 1 / s, 1e-15);
  EXPECT_EQ(v[3], 0.0);  // a masked (-inf) entry gets exactly zero probability
  const auto lv = log_softmax(x).to_vector<double>();
  EXPECT_NEAR(lv[1], -std::log(s), 1e-12);
  EXPECT_EQ(lv[3], -kInf);
  // The same in f32, through the vectorized exp.
  const auto v32 = softmax(x.to(DType::f32)).to_vector<float>();
  EXPECT_NEAR(v32[1], 1 / s, 1e-7);
  EXPECT_EQ(v32[3], 0.0f);
  // A NaN poisons its row only, as in PyTorch.
  const auto n = softmax(f64({0, std::nan(""), 1, 2, 3, 4}, {2, 3})).to_vector<double>();
  EXPECT_TRUE(std::isnan(n[0]) && std::isnan(n[1]) && std::isnan(n[2]));
  EXPECT_FALSE(std::isnan(n[3]));
}

TEST(Activation, SoftmaxOfScalarAndEmpty) {
  EXPECT_EQ(softmax(scalar_tensor(3.5)).item(), 1.0);
  EXPECT_EQ(log_softmax(scalar_tensor(3.5), 0).item(), 0.0);
  EXPECT_EQ(softmax(zeros({0, 3})).shape(), (Shape{0, 3}));
  EXPECT_EQ(softmax(zeros({3, 0}), 0).shape(), (Shape{3, 0}));
}

// The f32 kernels (vectorized exp, packs with tails, blocks of columns, threads) against the f64
// ones (std::exp, same code shape) on the same numbers, for every axis and a size past the
// parallel threshold.
TEST(Activation, SoftmaxF32KernelsAgreeWithF64OnLargeTensors) {
  Generator gen(3);
  const Tensor x32 = randn({6, 300, 37}, DType::f32, &gen) * 4.0;
  const Tensor x64 = x32.to(DType::f64);
  const Tensor g32 = randn({6, 300, 37}, DType::f32, &gen);
  const Tensor g64 = g32.to(DType::f64);
  for (const bool log : {false, true}) {
    for (const int64_t axis : {0, 1, 2}) {
      SCOPED_TRACE(std::string(log ? "log_softmax" : "softmax") + " axis " + std::to_string(axis));
      auto run = [&](const Tensor& x, const Tensor& g) {
        Tensor leaf_x = x.detach().requires_grad_();
        Tensor y = log ? log_softmax(leaf_x, axis) : softmax(leaf_x, axis);
        (y * g).sum().backward();
        return std::pair{y, leaf_x.grad()};
      };
      const auto [y32, gx32] = run(x32, g32);
      const auto [y64, gx64] = run(x64, g64);
      // f32 rounding of sums over up to 300 terms of size ~1: a few 1e-7 absolute.
      EXPECT_ALL_CLOSE(y32, y64, 2e-5, 1e-6);
      EXPECT_ALL_CLOSE(gx32, gx64, 2e-5, 5e-6);
    }
  }
  // Rows sum to one.
  EXPECT_ALL_CLOSE(sum(softmax(x32, 1), {1}), ones({6, 37}), 1e-5);
}

// Rows narrower than a vector (a 10-class output's) take their own kernel: blocks of rows through
// one flat exponential. Each row still sums left to right, as the kernel along a column axis does
// (its sums run over the axis one slice at a time), so the two give the same bits: the rows of x
// against the columns of x transposed, over several blocks of rows, on 1 and 2 threads, with an
// all -inf-but-one row and rows near +-1000.
TEST(Activation, SoftmaxOfNarrowRowsIsTheColumnKernelBitForBit) {
  Generator gen(11);
  const int threads_before = get_num_threads();
  for (const int64_t cols : {1, 3, 10, 15}) {
    Tensor x = randn({700, cols}, DType::f32, &gen) * 4.0;
    auto* v = x.data<float>();
    for (int64_t c = 1; c < cols; ++c) v[5 * cols + c] = -kInf;
    for (int64_t c = 0; c < cols; ++c) v[9 * cols + c] += (c % 2 ? 1000.f : -1000.f);
    for (const int threads : {1, 2}) {
      set_num_threads(threads);
      for (const bool log : {false, true}) {
        SCOPED_TRACE(std::string(log ? "log_softmax" : "softmax") + ", " + std::to_string(cols) +
                     " columns, " + std::to_string(threads) + " threads");
        const Tensor rows = log ? log_softmax(x, 1) : softmax(x, 1);
        const Tensor columns =
            log ? log_softmax(x.t().contiguous(), 0) : softmax(x.t().contiguous(), 0);
        EXPECT_ALL_CLOSE(rows, columns.t(), 0, 0);
      }
    }
  }
  set_num_threads(threads_before);
}

TEST(Activation, SoftmaxOfNonContiguousInput) {
  const Tensor x = noncontiguous_leaf({4, 6}, 9).detach();
  ASSERT_FALSE(x.is_contiguous());
  EXPECT_ALL_CLOSE(softmax(x, -1), softmax(x.contiguous(), -1), 0, 0);
  EXPECT_ALL_CLOSE(log_softmax(x, 0), log_softmax(x.contiguous(), 0), 0, 0);
}

// ---- semantics ----

TEST(Activation, EdgeValues) {
  const Tensor x = f64({-1000, -0.0, 0, 1000, std::nan("")}).requires_grad_();
  const auto s = sigmoid(x).to_vector<double>();
  EXPECT_EQ(s[0], 0.0);
  EXPECT_EQ(s[3], 1.0);
  EXPECT_TRUE(std::isnan(s[4]));
  const auto r = relu(x).to_vector<double>();
  EXPECT_EQ(r[0], 0.0);
  EXPECT_EQ(r[3], 1000.0);
  EXPECT_TRUE(std::isnan(r[4]));                // NaN is kept, as torch.relu
  EXPECT_EQ(softplus(f64({30})).item(), 30.0);  // above the threshold: x itself
  EXPECT_NEAR(softplus(f64({-30})).item(), std::exp(-30.0), 1e-25);
  EXPECT_EQ(elu(f64({-1000})).item(), -1.0);
  // Gradient of relu at 0 is 0; of leaky_relu at 0 the slope, as PyTorch.
  Tensor z = f64({0}).requires_grad_();
  relu(z).sum().backward();
  EXPECT_EQ(z.grad().item(), 0.0);
  z.zero_grad();
  leaky_relu(z, 0.3).sum().backward();
  EXPECT_EQ(z.grad().item(), 0.3);
}

TEST(Activation, ByName) {
  const Tensor x = leaf({2, 5}, 11).detach();
  EXPECT_ALL_CLOSE(activation(x, "relu"), relu(x), 0, 0);
  EXPECT_ALL_CLOSE(activation(x, "sigmoid"), sigmoid(x), 0, 0);
  EXPECT_ALL_CLOSE(activation(x, "tanh"), tanh(x), 0, 0);
  EXPECT_ALL_CLOSE(activation(x, "softmax"), softmax(x, -1), 0, 0);
  EXPECT_ALL_CLOSE(activation(x, "log_softmax"), log_softmax(x, -1), 0, 0);
  EXPECT_ALL_CLOSE(activation(x, "gelu"), gelu(x), 0, 0);
  EXPECT_ALL_CLOSE(activation(x, "elu"), elu(x), 0, 0);
  EXPECT_ALL_CLOSE(activation(x, "leaky_relu"), leaky_relu(x, 0.01), 0, 0);
  EXPECT_ALL_CLOSE(activation(x, "softplus"), softplus(x), 0, 0);
  EXPECT_TRUE(activation(x, "linear").is_same(x));
  EXPECT_TRUE(activation(x, "").is_same(x));
}

// An op saving its own output must hold it detached, or output and node keep each other alive.
TEST(Activation, SavedOutputsDoNotLeakTheGraph) {
  const Tensor x = leaf({3, 4}, 12);
  for (const char* name : {"relu", "sigmoid", "tanh", "softmax", "log_softmax"}) {
    std::weak_ptr<TensorImpl> output;
    {
      const Tensor y = activation(x, name);
      ASSERT_TRUE(y.requires_grad());
      output = y.impl_ptr();
    }
    EXPECT_TRUE(output.expired()) << name;
  }
}

// ---- errors ----

TEST(Activation, ErrorMessages) {
  EXPECT_EQ(error_message([] {
              softmax(zeros({2, 3}), 2);
            }),
            "softmax: axis 2 is out of range for a tensor of shape [2, 3] (expected -2 <= "
            "axis < 2)");
  EXPECT_EQ(error_message([] {
              log_softmax(zeros({2, 3}), -3);
            }),
            "log_softmax: axis -3 is out of range for a tensor of shape [2, 3] (expected -2 <= "
            "axis < 2)");
  EXPECT_EQ(error_message([] { softmax(arange(3)); }),
            "softmax: expected a floating tensor (f32 or f64), got i64");
  EXPECT_EQ(error_message([] { relu(arange(3)); }),
            "relu: expected a floating tensor (f32 or f64), got i64");
  EXPECT_EQ(error_message([] { activation(zeros({2}), "swish"); }),
            "activation: unknown name 'swish' (expected one of: relu, sigmoid, tanh, softmax, "
            "log_softmax, gelu, elu, leaky_relu, softplus, linear, or \"\" for none)");
}
