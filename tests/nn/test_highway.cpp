// The highway layer: its formula on hand-set weights, the gate's negative starting bias, the
// gradients of input and weights against central differences, and its errors.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/layers.hpp"
#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/parameter_names.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::parameter_names;

TEST(Highway, BuildsLazilyWithTheGateBiasAtTransformBias) {
  nn::Highway highway;
  EXPECT_EQ(highway.in_features(), -1);
  EXPECT_EQ(highway.build({5}), Shape({1, 5}));
  EXPECT_EQ(highway.in_features(), 5);
  EXPECT_EQ(
      parameter_names(highway),
      (std::vector<std::string>{"transform.weight", "transform.bias", "gate.weight", "gate.bias"}));
  const Tensor gate_bias = highway.gate()->bias().contiguous();
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(gate_bias.data<float>()[i], -2.f);
  const Tensor transform_bias = highway.transform()->bias().contiguous();
  for (int64_t i = 0; i < 5; ++i) EXPECT_EQ(transform_bias.data<float>()[i], 0.f);
  EXPECT_EQ(highway.extra_repr(), "features=5, activation=relu, transform_bias=-2");
}

TEST(Highway, MixesTransformAndInputByTheGate) {
  nn::HighwayOptions options;
  options.in_features = 2;
  options.activation = "tanh";
  nn::Highway highway(options);
  {
    NoGradGuard no_grad;
    highway.transform()->weight().copy_(
        from_vector(std::vector<float>{0.5f, -1.f, 2.f, 0.25f}, {2, 2}));
    highway.transform()->bias().copy_(from_vector(std::vector<float>{0.1f, -0.2f}, {2}));
    highway.gate()->weight().copy_(from_vector(std::vector<float>{1.f, 0.f, -0.5f, 1.5f}, {2, 2}));
    highway.gate()->bias().copy_(from_vector(std::vector<float>{-1.f, 0.5f}, {2}));
  }
  const std::vector<float> x = {0.3f, -0.7f, 1.2f, 0.4f};
  const Tensor y = highway.forward(from_vector(x, {2, 2})).contiguous();
  const float wh[2][2] = {{0.5f, -1.f}, {2.f, 0.25f}}, bh[2] = {0.1f, -0.2f};
  const float wt[2][2] = {{1.f, 0.f}, {-0.5f, 1.5f}}, bt[2] = {-1.f, 0.5f};
  for (int n = 0; n < 2; ++n) {
    for (int j = 0; j < 2; ++j) {
      const double h = std::tanh(wh[j][0] * x[2 * n] + wh[j][1] * x[2 * n + 1] + bh[j]);
      const double t = 1 / (1 + std::exp(-(wt[j][0] * x[2 * n] + wt[j][1] * x[2 * n + 1] + bt[j])));
      EXPECT_NEAR(y.data<float>()[2 * n + j], h * t + x[2 * n + j] * (1 - t), 1e-6)
          << n << ", " << j;
    }
  }
}

TEST(Highway, AClosedGateCarriesTheInputThrough) {
  nn::HighwayOptions options;
  options.transform_bias = -40;  // sigmoid(-40) is 4e-18: the carry gate is fully open
  nn::Highway highway(options);
  Generator gen(3);
  const Tensor x = randn({4, 6}, DType::f32, &gen);
  const Tensor y = highway.forward(x).contiguous();
  const Tensor xc = x.contiguous();
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_FLOAT_EQ(y.data<float>()[i], xc.data<float>()[i]);
}

TEST(Highway, GradientsOfInputAndWeightsMatchCentralDifferences) {
  nn::HighwayOptions options;
  options.in_features = 4;
  options.activation = "tanh";
  options.transform_bias = -1;
  nn::Highway highway(options);
  highway.to(DType::f64);
  std::vector<Tensor> inputs = {nabla::testing::leaf({3, 4}, 7)};
  for (const Tensor& p : highway.parameters()) inputs.push_back(p);
  EXPECT_TRUE(nabla::testing::gradcheck(
      [&](const std::vector<Tensor>& in) { return highway.forward(in[0]); }, inputs));
  // On a [N, T, features] input too: the layer works on the last axis.
  inputs[0] = nabla::testing::noncontiguous_leaf({2, 4, 3}, 8);
  EXPECT_TRUE(nabla::testing::gradcheck(
      [&](const std::vector<Tensor>& in) { return highway.forward(in[0].transpose(1, 2)); },
      inputs));
}

TEST(Highway, ErrorsNameTheLayer) {
  nn::HighwayOptions options;
  options.activation = "swirl";
  EXPECT_EQ(
      error_message([&] { nn::Highway{options}; }).rfind("activation: unknown name 'swirl'", 0), 0u)
      << error_message([&] { nn::Highway{options}; });
  options = {};
  options.in_features = 3;
  nn::Highway highway(options);
  EXPECT_EQ(error_message([&] {
              highway.forward(zeros({2, 4}));
            }),
            "Highway: expected input with 3 features (last axis), got shape [2, 4]");
  options.transform_bias = NAN;
  EXPECT_EQ(error_message([&] { nn::Highway{options}; }),
            "Highway: transform_bias must be a finite number, got nan");
}

TEST(Highway, TrainsInAModel) {
  // 20 stacked highway layers on a small problem: the loss falls, as it would for a shallow net.
  std::vector<nn::ModulePtr> stack = {layers::Dense(8, "relu")};
  for (int i = 0; i < 20; ++i) stack.push_back(layers::Highway());
  stack.push_back(layers::Dense(2, "softmax"));
  manual_seed(0);
  train::Model model(stack, "deep_highway");
  Generator gen(1);
  const Tensor x = randn({64, 4}, DType::f32, &gen);
  Tensor y = zeros({64}, DType::i64);
  {
    const Tensor xc = x.contiguous();
    for (int64_t i = 0; i < 64; ++i)
      y.data<int64_t>()[i] = xc.data<float>()[4 * i] + xc.data<float>()[4 * i + 1] > 0;
  }
  model.compile(optim::make_optimizer("adam", 0.01), "sparse_categorical_crossentropy",
                {"accuracy"});
  const train::History history = model.fit(x, y, {.epochs = 40, .batch_size = 16, .verbose = 0});
  EXPECT_LT(history["loss"].back(), 0.5 * history["loss"].front());
}
