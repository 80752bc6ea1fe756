#include <gtest/gtest.h>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"
#include "support/sequential_spec.hpp"

using nabla::testing::error_message;
using namespace nabla;
using nabla::testing::TempDir;

namespace {

std::shared_ptr<nn::Sequential> mlp(uint64_t seed) {
  manual_seed(seed);
  return sequential_from_spec(io::builtin_model_spec("mlp"), "mlp");
}

void expect_same_parameters(const nn::Module& a, const nn::Module& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].first, pb[i].first);
    EXPECT_EQ(pa[i].second.to_vector<float>(), pb[i].second.to_vector<float>()) << pa[i].first;
  }
}

}  // namespace

TEST(Checkpoint, SaveModelThenLoadWeights) {
  TempDir dir;
  auto trained = mlp(1);
  io::save_model(dir.file("mlp.safetensors"), *trained, {{"epoch", "5"}}, {28, 28});

  const io::SafeTensors file = io::load_safetensors(dir.file("mlp.safetensors"));
  EXPECT_EQ(file.metadata.at("epoch"), "5");
  EXPECT_EQ(file.metadata.at("format"), "pt");
  const io::ModelSpec spec = io::parse_model_spec(file.metadata.at(io::kModelSpecKey), "meta");
  EXPECT_EQ(spec.input_shape, (Shape{28, 28}));
  EXPECT_EQ(file.tensors.size(), 4u);
  EXPECT_EQ(file.tensors.at("2.weight").shape(), (Shape{128, 784}));  // PyTorch names and layout

  auto fresh = mlp(2);
  EXPECT_NE(fresh->named_parameters()[0].second.to_vector<float>(),
            trained->named_parameters()[0].second.to_vector<float>());
  io::load_weights(dir.file("mlp.safetensors"), *fresh);
  expect_same_parameters(*fresh, *trained);
}

TEST(Checkpoint, LoadModelRebuildsFromTheStoredSpec) {
  TempDir dir;
  auto trained = mlp(3);
  io::save_model(dir.file("m.safetensors"), *trained, {}, {28, 28});
  manual_seed(99);
  const double next_before = rand({1}).item();
  manual_seed(99);
  io::LoadedModel loaded = io::load_model(dir.file("m.safetensors"));
  EXPECT_EQ(rand({1}).item(), next_before);  // loading leaves the random stream alone
  EXPECT_EQ(loaded.spec.input_shape, (Shape{28, 28}));
  expect_same_parameters(*loaded.model, *trained);
  loaded.model->eval();
  trained->eval();
  const Tensor x = rand({3, 28, 28});
  EXPECT_EQ(loaded.model->forward(x).to_vector<float>(), trained->forward(x).to_vector<float>());
}

TEST(Checkpoint, Errors) {
  TempDir dir;
  const std::string path = dir.file("w.safetensors");
  io::save_safetensors(path, {{"0.weight", zeros({2, 3})}});
  EXPECT_EQ(error_message([&] { io::load_model(path); }),
            "load_model: " + path +
                " holds no model spec (metadata key nabla.model_spec); build "
                "the model in code and use load_weights");

  nn::Sequential lazy;
  lazy.add(std::make_shared<nn::Linear>(2));
  EXPECT_EQ(error_message([&] { io::load_weights(path, lazy); }),
            "load_weights: " + path +
                " holds 1 tensors but the model has no parameters yet (lazy "
                "layers create them at the first forward); call build(input_shape) first");

  auto model = mlp(4);
  const std::string message = error_message([&] { io::load_weights(path, *model); });
  EXPECT_EQ(message.rfind("load_weights: " + path + ": ", 0), 0u) << message;
}

// Issue 12, row 2: a checkpoint whose stored spec is nested 100,000 deep.
TEST(Checkpoint, DeeplyNestedSpecIsOneError) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  io::save_safetensors(path, {{"0.weight", zeros({2, 3})}},
                       {{io::kModelSpecKey, R"({"layers": )" + deep + "}"}});
  const std::string message = error_message([&] { io::load_model(path); });
  EXPECT_EQ(message.rfind("model spec " + path + ": layers[0][0]", 0), 0u)
      << message.substr(0, 200);
  EXPECT_NE(message.find("nested more than 128 levels deep"), std::string::npos);
}
