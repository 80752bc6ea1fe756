// Anomaly detection in training (the done-when: the log of a negative number inside a
// model is named, with its layer and shapes), no false alarms and no change to the results, and
// the GradientWatch callback's warnings of exploding and vanishing gradients.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "nabla/train.hpp"
#include "support/errors.hpp"
#include "support/weights.hpp"

namespace nabla::train {
namespace {

using nabla::testing::error_message;
using nabla::testing::weights_of;

// log(x - 100): a Lambda-like layer whose input is mostly below 100, so its log is NaN.
class LogShift : public nn::Module {
 public:
  Tensor forward(const Tensor& x) override { return log(x - 100.0); }
  std::string type_name() const override { return "LogShift"; }
};

// Multiplies by a constant: 1e-12 starves the layers before it of gradient.
class Scale : public nn::Module {
 public:
  explicit Scale(double factor) : factor_(factor) {}
  Tensor forward(const Tensor& x) override { return x * factor_; }
  std::string type_name() const override { return "Scale"; }

 private:
  double factor_;
};

struct LabelledSamples {
  Tensor x;
  Tensor y;
};
LabelledSamples make_samples(int64_t n, double scale = 1) {
  Generator gen(11);
  const Tensor x = randn({n, 4}, DType::f32, &gen) * scale;
  return {x, randint(0, 3, {n}, &gen)};
}

Model compiled(std::vector<nn::ModulePtr> layers, double lr = 0.01) {
  manual_seed(5);
  Model model(std::move(layers));
  model.build({4});
  model.compile(std::make_unique<optim::SGD>(optim::SGDOptions{.lr = lr}),
                "sparse_categorical_crossentropy");
  return model;
}

TEST(Anomaly, NamesTheLogOfANegativeNumberInsideAModel) {
  Model model = compiled(
      {layers::Dense(10, "relu"), std::make_shared<LogShift>(), layers::Dense(3, "softmax")});
  const LabelledSamples data = make_samples(64);
  const DetectAnomalyGuard anomaly;
  EXPECT_EQ(error_message([&] { model.fit(data.x, data.y, {.epochs = 1, .verbose = 0}); }),
            "anomaly: the forward of log in layer \"log_shift\" produced NaN (first at index "
            "[0, 0]) from an input of shape [32, 10]; output shape [32, 10]");
}

TEST(Anomaly, WithTheModeOffTheSameModelFailsOnlyAtItsLoss) {
  Model model = compiled(
      {layers::Dense(10, "relu"), std::make_shared<LogShift>(), layers::Dense(3, "softmax")});
  const LabelledSamples data = make_samples(64);
  // A hand-written step runs through, NaN and all: nothing is checked.
  const Tensor loss = cross_entropy(model.module().forward(data.x), data.y);
  EXPECT_NO_THROW(loss.backward());
  EXPECT_TRUE(std::isnan(loss.item()));
  const std::string message =
      error_message([&] { model.fit(data.x, data.y, {.epochs = 1, .verbose = 0}); });
  EXPECT_EQ(message.rfind("fit: the loss became ", 0), 0u) << message;  // nan or -nan
}

TEST(Anomaly, AHealthyRunTrainsBitForBitAsWithTheModeOff) {
  const LabelledSamples data = make_samples(96);
  const auto train = [&](bool anomaly) {
    Model model = compiled({layers::Dense(8, "relu"), layers::Dense(3, "softmax")});
    const DetectAnomalyGuard guard(anomaly);
    const History history = model.fit(data.x, data.y, {.epochs = 2, .verbose = 0, .seed = 1});
    return std::make_pair(weights_of(model), history["loss"]);
  };
  EXPECT_EQ(train(true), train(false));
}

TEST(GradientWatch, WarnsOfExplodingGradientsOncePerParameterPerEpoch) {
  // Inputs scaled by 1e5 give the first layer's weights a gradient far above 1e3.
  Model model = compiled({layers::Dense(8, "relu"), layers::Dense(3, "softmax")}, 1e-12);
  const LabelledSamples data = make_samples(64, 1e5);
  std::ostringstream out;
  auto watch = std::make_shared<GradientWatch>(GradientWatchOptions{.out = &out});
  model.fit(data.x, data.y, {.epochs = 2, .batch_size = 16, .verbose = 0, .callbacks = {watch}});
  const std::string text = out.str();
  EXPECT_EQ(text.rfind("nabla: warning: step 1: the gradient of dense.weight has norm ", 0), 0u)
      << text;
  EXPECT_NE(text.find(" (above 1e+03): exploding gradients\n"), std::string::npos) << text;
  // Four steps an epoch: the second epoch's first step warns again, no other step does.
  EXPECT_NE(text.find("nabla: warning: step 5: the gradient of dense.weight"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("step 2:"), std::string::npos) << text;
  EXPECT_EQ(watch->warnings() % 2, 0);
}

TEST(GradientWatch, WarnsOfALayerWhoseEveryGradientVanishes) {
  Model model =
      compiled({layers::Dense(8), std::make_shared<Scale>(1e-12), layers::Dense(3, "softmax")});
  const LabelledSamples data = make_samples(64);
  std::ostringstream out;
  auto watch = std::make_shared<GradientWatch>(GradientWatchOptions{.every_steps = 2, .out = &out});
  model.fit(data.x, data.y, {.epochs = 1, .batch_size = 16, .verbose = 0, .callbacks = {watch}});
  const std::string text = out.str();
  // Checked every second step; the last layer's bias still learns, so only "dense" vanishes.
  EXPECT_EQ(text.rfind("nabla: warning: step 2: every gradient of layer dense has norm below "
                       "1e-08 (largest ",
                       0),
            0u)
      << text;
  EXPECT_NE(text.find("): vanishing gradients\n"), std::string::npos) << text;
  EXPECT_EQ(watch->warnings(), 1);
}

TEST(GradientWatch, StaysQuietOnAHealthyRun) {
  Model model = compiled({layers::Dense(8, "relu"), layers::Dense(3, "softmax")});
  const LabelledSamples data = make_samples(64);
  std::ostringstream out;
  auto watch = std::make_shared<GradientWatch>(GradientWatchOptions{.out = &out});
  model.fit(data.x, data.y, {.epochs = 2, .batch_size = 16, .verbose = 0, .callbacks = {watch}});
  EXPECT_EQ(out.str(), "");
  EXPECT_THROW(GradientWatch({.every_steps = 0}), Error);
}

}  // namespace
}  // namespace nabla::train
