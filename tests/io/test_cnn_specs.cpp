// Model specs of convolutional networks: Keras and PyTorch names, the CNN presets, round trips
// through model_to_spec, augmentation steps and their errors.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/parameter_names.hpp"
#include "support/sequential_spec.hpp"

using nabla::testing::error_message;
using namespace nabla;
using nabla::testing::state_names;

namespace {
std::string cnn_spec_error(const std::string& layer, const std::string& training = "") {
  return error_message([&] {
    io::parse_model_spec(R"({"input_shape": [1, 8, 8], "layers": [)" + layer + "]" +
                             (training.empty() ? "" : R"(, "training": )" + training) + "}",
                         "cnn.json");
  });
}

}  // namespace

TEST(CnnSpec, KerasAndPyTorchNamesBuildTheSameNetwork) {
  auto keras = sequential_from_spec(R"({"input_shape": [1, 8, 8], "layers": [
      {"type": "Conv2D", "filters": 4, "kernel_size": 3, "strides": 1, "padding": "same",
       "use_bias": false},
      {"type": "BatchNormalization"}, {"type": "MaxPooling2D", "pool_size": 2},
      {"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 3}]})",
                                    "keras.json");
  auto torch = sequential_from_spec(R"({"input_shape": [1, 8, 8], "layers": [
      {"type": "Conv2d", "out_channels": 4, "kernel_size": [3, 3], "stride": 1, "padding": 1,
       "bias": false},
      {"type": "BatchNorm2d"}, {"type": "MaxPool2d", "kernel_size": 2},
      {"type": "AdaptiveAvgPool2d", "output_size": 1}, {"type": "Flatten"},
      {"type": "Linear", "out_features": 3}]})",
                                    "torch.json");
  EXPECT_EQ(keras->num_parameters(), torch->num_parameters());
  EXPECT_EQ(keras->build({1, 8, 8}), (Shape{1, 3}));
  EXPECT_EQ(torch->build({1, 8, 8}), (Shape{1, 3}));
  // Keras's BatchNormalization keeps Keras's momentum and epsilon.
  const auto* bn = dynamic_cast<const nn::BatchNorm*>(keras->layers()[1].get());
  ASSERT_NE(bn, nullptr);
  EXPECT_NEAR(bn->options().momentum, 0.01, 1e-12);
  EXPECT_DOUBLE_EQ(bn->options().eps, 1e-3);
}

TEST(CnnSpec, EveryPresetRoundTripsThroughModelToSpec) {
  for (const std::string name : {"lenet", "cnn", "resnet", "mobilenet", "densenet"}) {
    const io::ModelSpec spec = io::parse_model_spec(io::builtin_model_spec(name), name);
    EXPECT_EQ(spec.input_shape, (Shape{1, 28, 28})) << name;
    manual_seed(0);
    auto model = build_sequential(spec);
    EXPECT_EQ(model->build(spec.input_shape), (Shape{1, 10})) << name;
    const std::string text = io::model_to_spec(*model, name, spec.input_shape, &spec.training);
    auto rebuilt = sequential_from_spec(text, name);
    EXPECT_EQ(rebuilt->num_parameters(), model->num_parameters()) << name << "\n" << text;
    EXPECT_EQ(state_names(*rebuilt), state_names(*model)) << name;
    EXPECT_EQ(io::parse_model_spec(text, name).training.augmentation_json,
              spec.training.augmentation_json)
        << name;
  }
}

TEST(CnnSpec, PresetSizes) {
  // LeNet-5: 156 + 2416 + 48120 + 10164 + 850 parameters.
  auto lenet = sequential_from_spec(io::builtin_model_spec("lenet"), "lenet");
  EXPECT_EQ(lenet->num_parameters(), 61706);
  train::Model model(sequential_from_spec(io::builtin_model_spec("cnn"), "cnn"), "cnn");
  model.build({1, 28, 28});
  const std::string summary = model.summary();
  EXPECT_NE(summary.find("(None, 32, 28, 28)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("(None, 64, 7, 7)"), std::string::npos) << summary;
}

TEST(CnnSpec, LayerErrorsNameThePath) {
  EXPECT_EQ(cnn_spec_error(R"({"type": "Conv2D", "filters": 4})"),
            "model spec cnn.json: layers[0]: missing \"kernel_size\": the size of the kernel");
  EXPECT_EQ(
      cnn_spec_error(R"({"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "full"})"),
      "model spec cnn.json: layers[0].padding: expected \"same\", \"valid\" or padding "
      "sizes, got \"full\"");
  EXPECT_EQ(
      cnn_spec_error(R"({"type": "Conv2d", "out_channels": 6, "kernel_size": 3, "groups": 4})"),
      "model spec cnn.json: layers[0]: Conv2d: out_channels (6) must be divisible by groups "
      "(4)");
  EXPECT_EQ(cnn_spec_error(R"({"type": "Conv2d", "out_channels": 6, "kernel_size": [3, 0]})"),
            "model spec cnn.json: layers[0].kernel_size: expected an integer >= 1 or a list of "
            "them, got [3,0]");
  EXPECT_EQ(cnn_spec_error(R"({"type": "MaxPool2d"})"),
            "model spec cnn.json: layers[0]: missing \"kernel_size\" (or \"pool_size\"): the "
            "window size");
  EXPECT_EQ(cnn_spec_error(R"({"type": "UpSampling2D", "interpolation": "cubic"})"),
            "model spec cnn.json: layers[0].interpolation: expected one of nearest, bilinear, got "
            "\"cubic\"");
}

TEST(CnnSpec, InputTheLayersRejectIsAnErrorAtBuild) {
  const std::string message = error_message([] {
    sequential_from_spec(R"({"name": "m", "input_shape": [28, 28], "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3}]})",
                         "m.json");
  });
  EXPECT_EQ(message,
            "model spec m: the layers do not accept input_shape [28, 28]: Conv2D: expected input "
            "[N, C, H, W] (4 axes), got shape [1, 28, 28]");
  const std::string kernel = error_message([] {
    sequential_from_spec(R"({"name": "m", "input_shape": [1, 4, 4], "layers": [
        {"type": "Conv2D", "filters": 4, "kernel_size": 5}]})",
                         "m.json");
  });
  EXPECT_EQ(
      kernel.rfind("model spec m: the layers do not accept input_shape [1, 4, 4]: conv2d: ", 0), 0u)
      << kernel;
}

TEST(CnnSpec, AugmentationSteps) {
  const io::ModelSpec spec = io::parse_model_spec(io::builtin_model_spec("resnet"), "resnet");
  ASSERT_NE(spec.training.augmentation, nullptr);
  EXPECT_NE(spec.training.augmentation->to_string().find("RandomCrop"), std::string::npos);
  const std::string flatten = R"({"type": "Flatten"})";
  EXPECT_EQ(cnn_spec_error(flatten, R"({"augmentation": [{"type": "RandomRotate"}]})"),
            "model spec cnn.json: training.augmentation[0].type: unknown augmentation "
            "\"RandomRotate\"; known: GaussianNoise, Normalize, RandomCrop, RandomErasing, "
            "RandomFlip, RandomTranslation");
  EXPECT_EQ(cnn_spec_error(flatten, R"({"augmentation": [{"type": "RandomCrop", "pad": 2}]})"),
            "model spec cnn.json: training.augmentation[0].pad: unknown key for a RandomCrop "
            "step; known keys: type, padding, fill");
  EXPECT_EQ(cnn_spec_error(flatten, R"({"augmentation": [{"type": "RandomCrop"}]})"),
            "model spec cnn.json: training.augmentation[0]: missing \"padding\": pixels added per "
            "side");
  const std::string erasing =
      cnn_spec_error(flatten, R"({"augmentation": [{"type": "RandomErasing", "p": 2}]})");
  EXPECT_EQ(erasing.rfind("model spec cnn.json: training.augmentation[0]: ", 0), 0u) << erasing;
}
