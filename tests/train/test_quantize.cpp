// Post-training int8 quantization (nabla/quantize.hpp) of trained models: which layers convert,
// predictions and accuracy close to fp32 but not equal to them (int8 really runs), fp32 again
// after dequantize or further training, s8 inputs where calibration saw negative values, and the
// errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"

namespace nabla::train {
namespace {

using nabla::testing::error_message;

// 12x12 one-channel images in [0, 1]: class c has a bright 6x6 quadrant c over noise.
struct Images {
  Tensor x, y;
};
Images quadrant_images(int64_t n, uint64_t seed) {
  Generator gen(seed);
  std::vector<float> x(n * 144);
  std::vector<int64_t> y(n);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t label = static_cast<int64_t>(gen.next_u64() % 4);
    y[i] = label;
    for (int64_t r = 0; r < 12; ++r)
      for (int64_t c = 0; c < 12; ++c) {
        const bool lit = (r / 6) * 2 + c / 6 == label;
        const double v = (lit ? 0.6 : 0.1) + 0.3 * gen.next_double();
        x[i * 144 + r * 12 + c] = static_cast<float>(v);
      }
  }
  return {from_vector(x, {n, 1, 12, 12}), from_vector(y, {n})};
}

Model trained_cnn(const Images& train) {
  manual_seed(3);
  Model model({layers::Conv2D(8, 3, "relu"), layers::MaxPooling2D(2),
               layers::Conv2D(16, 3, "relu", {.padding_mode = "same"}), layers::Flatten(),
               layers::Dense(32, "relu"), layers::Dense(4, "softmax")});
  model.build({1, 12, 12});
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  model.fit(train.x, train.y, {.epochs = 2, .batch_size = 32, .verbose = 0});
  return model;
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return max(abs(sub(a, b))).item<float>(); }

TEST(Quantize, CnnPredictsAsFp32Does) {
  const Images train = quadrant_images(600, 1), test = quadrant_images(300, 2);
  Model model = trained_cnn(train);
  const Tensor fp32 = model.predict(test.x, 64);
  const double fp32_accuracy = model.evaluate(test.x, test.y, 64, 0)["accuracy"];
  ASSERT_GT(fp32_accuracy, 0.9);

  const QuantizationReport report = model.quantize_int8(train.x, {.calibration_samples = 256});
  // The first convolution (one input channel: 9 multiply-adds per output) stays fp32.
  EXPECT_EQ(report.layers, (std::vector<std::string>{"2", "4", "5"}));
  EXPECT_EQ(report.kept_fp32, (std::vector<std::string>{"0"}));
  EXPECT_TRUE(report.not_calibrated.empty());
  EXPECT_EQ(report.calibration_samples, 256);
  EXPECT_EQ(int8_layers(model.module()), report.layers);

  const Tensor int8 = model.predict(test.x, 64);
  const double diff = max_abs_diff(int8, fp32);
  EXPECT_GT(diff, 0.0);  // the int8 kernels ran
  EXPECT_LT(diff, 0.05);
  // Batch size 1 runs the same kernels (a primitive per batch size): the same values.
  EXPECT_LT(max_abs_diff(model.predict(test.x.slice(0, 0, 5), 1), int8.slice(0, 0, 5)), 1e-6);
  EXPECT_NEAR(model.evaluate(test.x, test.y, 64, 0)["accuracy"], fp32_accuracy, 0.01);

  dequantize(model.module());
  EXPECT_TRUE(int8_layers(model.module()).empty());
  EXPECT_EQ(max_abs_diff(model.predict(test.x, 64), fp32), 0.0);
}

// Training after the conversion returns the layers to fp32: the int8 weights would be stale.
TEST(Quantize, TrainingReturnsTheLayersToFp32) {
  const Images train = quadrant_images(200, 3);
  Model model = trained_cnn(train);
  model.quantize_int8(train.x);
  model.fit(train.x, train.y, {.epochs = 1, .batch_size = 32, .verbose = 0});
  EXPECT_TRUE(int8_layers(model.module()).empty());
}

// Inputs with negative values (raw features, no relu before the layer) quantize to s8. (40
// features: products of fewer than kMinInt8Depth multiply-adds stay fp32.)
TEST(Quantize, SignedInputs) {
  manual_seed(5);
  const Tensor x = randn({512, 40});
  nn::Sequential net({layers::Dense(64, "tanh"), layers::Dense(8)});
  net.eval();
  Tensor fp32, int8;
  {
    NoGradGuard no_grad;
    fp32 = net.forward(x);
    const QuantizationReport report = quantize_int8(net, x, {.batch_size = 100});
    EXPECT_EQ(report.layers.size(), 2u);
    EXPECT_EQ(report.calibration_samples, 512);
    int8 = net.forward(x);
  }
  const double scale = max(abs(fp32)).item<float>();
  EXPECT_GT(max_abs_diff(int8, fp32), 0.0);
  EXPECT_LT(max_abs_diff(int8, fp32), 0.03 * scale);
  // With grad enabled (training code) the layers run fp32.
  EXPECT_EQ(max_abs_diff(net.forward(x).detach(), fp32), 0.0);
}

// A quantized Dense layer with a relu gives its logits without it (the fused softmax head's path)
// and its activations with it, whichever runs first.
TEST(Quantize, DenseLogitsAndActivationsKeepTheirRelu) {
  manual_seed(9);
  auto dense = std::make_shared<nn::Dense>(48, "relu");
  nn::Sequential net({dense});
  const Tensor x = randn({64, 40});
  net.build({40});
  NoGradGuard no_grad;
  net.eval();
  quantize_int8(net, x);
  const Tensor logits = dense->logits(x);
  const Tensor activations = dense->forward(x);
  EXPECT_LT(min(logits).item<float>(), 0.f);
  EXPECT_EQ(max(abs(sub(activations, relu(logits)))).item<float>(), 0.f);
}

// A layer no calibration batch reaches stays fp32 and is named.
TEST(Quantize, LayersNotReachedStayFp32) {
  nn::Sequential net({layers::Dense(4, "relu"), layers::Dense(2)});
  net.build({3});
  const QuantizationReport report = quantize_int8(net, [] {});
  EXPECT_TRUE(report.layers.empty());
  EXPECT_EQ(report.not_calibrated, (std::vector<std::string>{"0", "1"}));
  EXPECT_TRUE(int8_layers(net).empty());
}

TEST(Quantize, Errors) {
  nn::Sequential activations({layers::Activation("relu")});
  EXPECT_NE(error_message([&] {
              quantize_int8(activations, zeros({4, 3}));
            }).find("no Dense/Linear or Conv1d/Conv2d layer to quantize"),
            std::string::npos);

  nn::Sequential f64({layers::Dense(2)});
  f64.build({3});
  f64.to(DType::f64);
  EXPECT_NE(error_message([&] {
              quantize_int8(f64, zeros({4, 3}, DType::f64));
            }).find("layer '0' (Dense) has f64 parameters; int8 quantization takes f32 models"),
            std::string::npos);

  nn::Sequential net({layers::Dense(2)});
  EXPECT_NE(error_message([&] {
              quantize_int8(net, zeros({0, 3}));
            }).find("expected calibration data with at least one sample, got shape [0, 3]"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              quantize_int8(net, zeros({4, 3}), {.calibration_samples = 0});
            }).find("calibration_samples and batch_size must be positive, got 0 and 256"),
            std::string::npos);
  nn::Sequential broken({layers::Dense(2)});
  broken.build({3});
  {
    NoGradGuard no_grad;
    broken.parameters().front().fill_(std::nan(""));
  }
  EXPECT_NE(error_message([&] {
              quantize_int8(broken, zeros({4, 3}));
            }).find("layer '0' (Dense) has NaN or infinite weights, which int8 cannot hold"),
            std::string::npos);
  EXPECT_TRUE(int8_layers(broken).empty());
  // A failed calibration leaves the layers as they were.
  nn::Sequential three({layers::Dense(2)});
  three.build({3});
  EXPECT_THROW(quantize_int8(three, zeros({4, 5})), Error);  // 5 features, not 3
  EXPECT_TRUE(int8_layers(three).empty());
}

}  // namespace
}  // namespace nabla::train
