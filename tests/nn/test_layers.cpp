#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.hpp"
#include "nabla/nn.hpp"
#include "support/errors.hpp"
#include "support/reference.hpp"

using nabla::testing::error_message;
using namespace nabla;

TEST(Linear, LazyBuildAtFirstForward) {
  nn::Linear layer(4);
  EXPECT_FALSE(layer.weight().defined());
  EXPECT_EQ(layer.in_features(), -1);
  Tensor y = layer(ones({2, 7, 3}));
  EXPECT_EQ(y.shape(), (Shape{2, 7, 4}));
  EXPECT_EQ(layer.in_features(), 3);
  EXPECT_EQ(layer.weight().shape(), (Shape{4, 3}));
  EXPECT_EQ(layer.bias().shape(), (Shape{4}));
  EXPECT_EQ(layer.bias().to_vector<float>(), std::vector<float>(4, 0.f));  // "zeros"
  EXPECT_EQ(error_message([&] {
              layer(ones({2, 5}));
            }),
            "Linear: expected input with 3 features (last axis), got shape [2, 5]");
}

TEST(Linear, ComputesAffineMapWithGradients) {
  nn::Linear layer(2, nn::LinearOptions{.in_features = 3});
  Tensor w = layer.weight(), b = layer.bias();
  {
    NoGradGuard no_grad;
    w.copy_(from_vector(std::vector<float>{1, 2, 3, -1, 0, 1}, {2, 3}));
    b.copy_(from_vector(std::vector<float>{0.5f, -0.5f}));
  }
  Tensor x = from_vector(std::vector<float>{1, 1, 1, 2, 0, -1}, {2, 3});
  Tensor y = layer(x);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{6.5f, -0.5f, -0.5f, -3.5f}));
  y.sum().backward();
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{2, 2}));
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{3, 1, 0, 3, 1, 0}));
}

TEST(Linear, GlorotUniformDefaultAndOtherInitializers) {
  manual_seed(3);
  nn::Linear layer(300, nn::LinearOptions{.in_features = 200});
  const double bound = std::sqrt(6.0 / (200 + 300));
  Tensor w = layer.weight();
  EXPECT_LE(max(abs(w)).item(), bound);
  EXPECT_GT(max(abs(w)).item(), 0.99 * bound);
  nn::Linear ones_init(
      2, nn::LinearOptions{.in_features = 2, .bias = false, .kernel_initializer = "ones"});
  EXPECT_EQ(ones_init.weight().to_vector<float>(), std::vector<float>(4, 1.f));
  EXPECT_FALSE(ones_init.bias().defined());
  EXPECT_EQ(ones_init.parameters().size(), 1u);
  EXPECT_EQ(error_message([] { nn::Linear(0); }), "Linear: out_features must be >= 1, got 0");
}

TEST(Dense, AppliesItsActivation) {
  nn::Dense dense(3, "relu");
  EXPECT_EQ(dense.type_name(), "Dense");
  EXPECT_EQ(dense.activation(), "relu");
  Tensor x = randn({5, 4});
  Tensor y = dense(x);
  Tensor expected = relu(linear(x, dense.weight(), dense.bias()));
  EXPECT_EQ(y.to_vector<float>(), expected.to_vector<float>());
  EXPECT_EQ(dense.extra_repr(), "in_features=4, out_features=3, bias=True, activation=relu");
}

TEST(Activation, ByNameWithPyTorchTypeNames) {
  EXPECT_EQ(nn::ReLU()->type_name(), "ReLU");
  EXPECT_EQ(nn::Sigmoid()->type_name(), "Sigmoid");
  EXPECT_EQ(nn::Tanh()->type_name(), "Tanh");
  EXPECT_EQ(nn::Softmax()->type_name(), "Softmax");
  EXPECT_EQ(nn::Activation("gelu").type_name(), "GELU");
  Tensor x = from_vector(std::vector<float>{-1, 0, 2});
  EXPECT_EQ((*nn::ReLU())(x).to_vector<float>(), (std::vector<float>{0, 0, 2}));
  EXPECT_EQ(nn::Tanh()->forward(x).to_vector<float>(), tanh(x).to_vector<float>());
  EXPECT_THROW(nn::Activation("swishy"), Error);  // unknown names fail at construction
}

TEST(Permute, MovesTheAxesAfterTheBatchAxisAsKeras) {
  const Tensor x = arange(0, 24, 1, DType::f32).reshape({1, 2, 3, 4});
  const Tensor y = layers::Permute({2, 3, 1})->forward(x);  // [N, C, H, W] -> [N, H, W, C]
  ASSERT_EQ(y.shape(), (Shape{1, 3, 4, 2}));
  // y[0, h, w, c] = x[0, c, h, w]
  EXPECT_EQ(y.at<float>({0, 1, 2, 1}), x.at<float>({0, 1, 1, 2}));
  EXPECT_EQ(y.at<float>({0, 2, 3, 0}), x.at<float>({0, 0, 2, 3}));
  EXPECT_EQ(nn::Permute({2, 3, 1}).extra_repr(), "dims=[2, 3, 1]");
  EXPECT_THROW(nn::Permute({1, 1}), Error);     // not a permutation
  EXPECT_THROW(nn::Permute({0, 1}), Error);     // numbered from 1: 0 is the batch axis
  EXPECT_THROW(nn::Permute({2, 1})(x), Error);  // three axes after the batch axis, not two
}

TEST(Activation, LeakyReLUTakesItsNegativeSlope) {
  const Tensor x = from_vector(std::vector<float>{-2, -0.5f, 0, 3});
  const nn::Activation leaky("leaky_relu", 0.2);
  EXPECT_EQ(leaky.type_name(), "LeakyReLU");
  EXPECT_EQ(leaky.extra_repr(), "negative_slope=0.2");
  EXPECT_EQ(nn::Activation("leaky_relu").negative_slope(), 0.01);  // PyTorch's default
  // -2 * 0.2 and -0.5 * 0.2 in f32, as torch.nn.LeakyReLU(0.2) gives them.
  EXPECT_EQ(layers::LeakyReLU(0.2)->forward(x).to_vector<float>(),
            (std::vector<float>{-0.4f, -0.1f, 0, 3}));
  EXPECT_THROW(nn::Activation("relu", 0.2), Error);  // only leaky_relu has a slope
  EXPECT_THROW(nn::Activation("leaky_relu", std::nan("")), Error);
}

TEST(Flatten, KeepsTheBatchAxis) {
  nn::Flatten flatten;
  EXPECT_EQ(flatten(zeros({2, 3, 4, 5})).shape(), (Shape{2, 60}));
  EXPECT_EQ(flatten(zeros({2, 3})).shape(), (Shape{2, 3}));
  EXPECT_EQ(flatten(zeros({4})).shape(), (Shape{4, 1}));
  Tensor x = arange(0, 6, 1, DType::f32).reshape({1, 2, 3});
  EXPECT_EQ(flatten(x).to_vector<float>(), x.to_vector<float>());
}

TEST(Dropout, ScalesInTrainingAndIsIdentityInEval) {
  nn::Dropout drop(0.25);
  EXPECT_EQ(drop.extra_repr(), "p=0.25");
  Tensor x = ones({100, 100});
  Tensor y = drop(x);
  int64_t zeros_count = 0;
  for (float v : y.to_vector<float>()) {
    if (v == 0) {
      ++zeros_count;
    } else {
      EXPECT_FLOAT_EQ(v, 1 / 0.75f);
    }
  }
  EXPECT_NEAR(zeros_count / 10000.0, 0.25, 0.03);
  drop.eval();
  EXPECT_EQ(drop(x).to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(error_message([] { nn::Dropout(1.5); }), "Dropout: p must be in [0, 1], got 1.5");
}

TEST(Rescaling, ScalesBytesIntoFloatsInsideTheModel) {
  nn::Rescaling rescale(1.0 / 255);
  const Tensor pixels = from_vector(std::vector<uint8_t>{0, 51, 255}, {1, 3});
  const Tensor out = rescale(pixels);
  EXPECT_EQ(out.dtype(), DType::f32);
  EXPECT_TRUE(nabla::testing::all_close(out, from_vector(std::vector<float>{0, 0.2f, 1}, {1, 3})));
  nn::Rescaling shift(2.0, -1.0);  // [0, 1] -> [-1, 1]
  EXPECT_EQ(shift(from_vector(std::vector<float>{0, 0.5f, 1})).to_vector<float>(),
            (std::vector<float>{-1, 0, 1}));
  EXPECT_EQ(error_message([] { nn::Rescaling bad(std::nan("")); }),
            "Rescaling: scale and offset must be finite, got scale=nan, offset=0");
}

TEST(Rescaling, PassesTheScaledGradient) {
  nn::Rescaling rescale(3.0, 1.0);
  Tensor x = from_vector(std::vector<double>{1, 2}).requires_grad_();
  rescale(x).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 3}));
}
