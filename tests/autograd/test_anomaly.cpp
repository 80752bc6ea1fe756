// Anomaly detection: the forward and backward checks, their messages, the layer names that
// Sequential and graph models give, the guard, and no checks with the mode off.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"

using nabla::testing::error_message;
using namespace nabla;

namespace {

// log(x - 100): NaN for the small activations of a fresh layer.
class LogShift : public nn::Module {
 public:
  Tensor forward(const Tensor& x) override { return log(x - 100.0); }
  std::string type_name() const override { return "LogShift"; }
};

// The message of the Error that running `f` with anomaly detection on throws.
template <class F>
std::string anomaly_message(F&& f) {
  const DetectAnomalyGuard anomaly;
  return error_message(std::forward<F>(f));
}

}  // namespace

TEST(Anomaly, ForwardNamesTheOpTheValueItsIndexAndTheShapes) {
  const Tensor x = from_vector(std::vector<double>{1, 2, -1, 4, 5, 6}, {2, 3}).requires_grad_();
  EXPECT_EQ(anomaly_message([&] { log(x); }),
            "anomaly: the forward of log, outside any layer, produced NaN (first at index [0, 2]) "
            "from an input of shape [2, 3]; output shape [2, 3]");
  const Tensor zero = zeros({2}).requires_grad_();
  EXPECT_EQ(anomaly_message([&] {
              ones({3, 2}) / zero;
            }),
            "anomaly: the forward of div, outside any layer, produced Inf (first at index [0, 0]) "
            "from inputs of shapes [3, 2] and [2]; output shape [3, 2]");
}

TEST(Anomaly, BackwardNamesTheBackwardAndTheInput) {
  // sqrt(0) = 0 is finite; its gradient 1 / (2 sqrt(0)) is not.
  const Tensor x = from_vector(std::vector<float>{4, 0, 9}).requires_grad_();
  const Tensor w = from_vector(std::vector<float>{1, 1, 1}).requires_grad_();
  EXPECT_EQ(anomaly_message([&] { (sqrt(x) * w).sum().backward(); }),
            "anomaly: the backward of sqrt (SqrtBackward), outside any layer, produced Inf in the "
            "gradient for its 1st input (shape [3], first at index [1]); its forward took an input "
            "of shape [3]");
}

TEST(Anomaly, NothingIsCheckedWithTheModeOff) {
  ASSERT_FALSE(is_anomaly_enabled());
  const Tensor x = from_vector(std::vector<float>{-1, 0}).requires_grad_();
  const Tensor y = sqrt(x);  // NaN, then Inf and NaN gradients: no error
  y.sum().backward();
  EXPECT_TRUE(std::isnan(y.to_vector<float>()[0]));
  EXPECT_TRUE(std::isinf(x.grad().to_vector<float>()[1]));
}

TEST(Anomaly, OpsThatRecordNothingAreNotChecked) {
  const DetectAnomalyGuard anomaly;
  EXPECT_NO_THROW(log(from_vector(std::vector<float>{-1})));  // no input needs a gradient
  const Tensor x = from_vector(std::vector<float>{-1}).requires_grad_();
  const NoGradGuard no_grad;
  EXPECT_NO_THROW(log(x));
}

TEST(Anomaly, GuardRestoresTheSettingAndTheFlagIsSharedByThreads) {
  ASSERT_FALSE(is_anomaly_enabled());
  {
    const DetectAnomalyGuard anomaly;
    EXPECT_TRUE(is_anomaly_enabled());
    bool seen = false;
    std::thread([&] { seen = is_anomaly_enabled(); }).join();
    EXPECT_TRUE(seen);
    {
      const DetectAnomalyGuard off(false);
      EXPECT_FALSE(is_anomaly_enabled());
    }
    EXPECT_TRUE(is_anomaly_enabled());
  }
  EXPECT_FALSE(is_anomaly_enabled());
  set_detect_anomaly(true);
  EXPECT_TRUE(is_anomaly_enabled());
  set_detect_anomaly(false);
}

TEST(Anomaly, NestedSequentialsNameTheLayerPath) {
  manual_seed(1);
  auto inner = std::make_shared<nn::Sequential>(
      std::vector<nn::ModulePtr>{std::make_shared<nn::Dense>(4), std::make_shared<LogShift>()});
  nn::Sequential model({std::make_shared<nn::Dense>(5, "relu"), inner});
  const Tensor x = randn({8, 3});
  EXPECT_EQ(anomaly_message([&] { model.forward(x); }),
            "anomaly: the forward of log in layer \"sequential/log_shift\" produced NaN (first at "
            "index [0, 0]) from an input of shape [8, 4]; output shape [8, 4]");
  EXPECT_EQ(model.layer_name(0), "dense");
  EXPECT_EQ(inner->layer_name(1), "log_shift");
}

TEST(Anomaly, GraphModelsNameTheNode) {
  manual_seed(2);
  auto x = nn::Input({3}, "x");
  auto h = layers::Dense(4).named("hidden")(x);
  auto y = layers::Layer(std::make_shared<LogShift>()).named("shifted_log")(h);
  train::Model model({x}, {y});
  const std::string message = anomaly_message([&] { model.module().forward(randn({2, 3})); });
  EXPECT_NE(message.find("the forward of log in layer \"shifted_log\" produced NaN"),
            std::string::npos)
      << message;
}

TEST(Anomaly, BackwardNamesTheLayerOfTheForward) {
  // sqrt(relu(x)): relu leaves zeros, whose sqrt has an infinite gradient.
  class SqrtLayer : public nn::Module {
   public:
    Tensor forward(const Tensor& x) override { return sqrt(relu(x)); }
    std::string type_name() const override { return "SqrtLayer"; }
  };
  manual_seed(3);
  nn::Sequential model({std::make_shared<nn::Dense>(6), std::make_shared<SqrtLayer>()});
  const Tensor x = randn({4, 3});
  const std::string message = anomaly_message([&] { model.forward(x).sum().backward(); });
  EXPECT_NE(message.find("anomaly: the backward of sqrt (SqrtBackward) in layer \"sqrt_layer\" "
                         "produced Inf in the gradient for its 1st input (shape [4, 6]"),
            std::string::npos)
      << message;
}
