// The vae and gan tasks' checks of the model they are given (before any data is read): one error
// naming what the task needs. Their training and judging run end to end in tests/e2e.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "nabla/tasks.hpp"
#include "support/errors.hpp"

using namespace nabla;
using nabla::testing::error_message;

namespace {

std::string generative_load_error(const std::string& task, const std::string& json) {
  return error_message([&] {
    const io::ModelSpec spec = io::parse_model_spec(json, "spec.json");
    train::Model model(io::build_model(spec), spec.name);
    if (!spec.input_shape.empty()) model.build(spec.input_shape);
    tasks::make_task(task)->load(spec, model, "/nonexistent");
  });
}

}  // namespace

TEST(GenerativeTasks, VaeNeedsSamplingAndASigmoidDecoder) {
  EXPECT_EQ(generative_load_error("vae", R"({"name": "ae", "input_shape": [4], "layers": [
                {"type": "Dense", "units": 2}, {"type": "Dense", "units": 4}]})"),
            "the vae task needs a Sampling layer between the encoder (mean and log-variance, 2D "
            "values) and the decoder; the model has none");
  EXPECT_EQ(generative_load_error("vae", R"({"name": "v", "input_shape": [4], "layers": [
                {"type": "Dense", "units": 2}, {"type": "Sampling"}, {"type": "Dense",
                "units": 4, "activation": "sigmoid"}]})"),
            "the vae task needs a decoder that ends with a sigmoid Activation layer (a Bernoulli "
            "decoder's pixel probabilities)");
}

TEST(GenerativeTasks, GanNeedsAGraphWithAnImageLayerAndADiscriminatorAfterIt) {
  EXPECT_NE(generative_load_error("gan", R"({"name": "s", "input_shape": [4], "layers": [
                {"type": "Dense", "units": 1}]})")
                .find("the gan task needs a graph model"),
            std::string::npos);
  EXPECT_EQ(generative_load_error("gan", R"({"name": "g", "inputs": [{"name": "noise",
                "shape": [4]}], "layers": [{"name": "d", "type": "Dense", "units": 1,
                "activation": "sigmoid", "inputs": ["noise"]}], "outputs": ["d"]})"),
            "the gan task needs the generator's last layer named \"image\" (a Tanh or Sigmoid); "
            "the model has none");
  // The discriminator reads a layer of the generator other than the image.
  EXPECT_EQ(generative_load_error("gan", R"({"name": "g", "inputs": [{"name": "noise",
                "shape": [4]}], "layers": [
                {"name": "g_dense", "type": "Dense", "units": 16, "inputs": ["noise"]},
                {"name": "g_reshape", "type": "Reshape", "target_shape": [1, 4, 4],
                 "inputs": ["g_dense"]},
                {"name": "image", "type": "Tanh", "inputs": ["g_reshape"]},
                {"name": "d_flatten", "type": "Flatten", "inputs": ["image"]},
                {"name": "d_join", "type": "Concatenate", "inputs": ["d_flatten", "g_dense"]},
                {"name": "real", "type": "Dense", "units": 1, "activation": "sigmoid",
                 "inputs": ["d_join"]}], "outputs": ["real"]})"),
            "the gan task needs a discriminator that reads only the image: its layer \"d_join\" "
            "reads \"g_dense\" of the generator");
  // A well-formed GAN passes the model checks and fails on the missing data folder.
  const std::string message = generative_load_error("gan", R"({"name": "g", "inputs": [
                {"name": "noise", "shape": [4]}], "layers": [
                {"name": "g_dense", "type": "Dense", "units": 16, "inputs": ["noise"]},
                {"name": "g_reshape", "type": "Reshape", "target_shape": [1, 4, 4],
                 "inputs": ["g_dense"]},
                {"name": "image", "type": "Tanh", "inputs": ["g_reshape"]},
                {"name": "d_flatten", "type": "Flatten", "inputs": ["image"]},
                {"name": "real", "type": "Dense", "units": 1, "activation": "sigmoid",
                 "inputs": ["d_flatten"]}], "outputs": ["real"]})");
  EXPECT_NE(message.find("/nonexistent"), std::string::npos) << message;
}
