// Fine-tuning: frozen layers keep their weights and batch-norm statistics, the optimizer sees
// only what is trainable, a head can be replaced, and layers are found by their summary names.
#include <gtest/gtest.h>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"
#include "support/class_samples.hpp"

using namespace nabla;
using nabla::testing::error_message;

namespace {

using Blobs = nabla::testing::ClassSamples;
Blobs blobs() { return nabla::testing::class_samples(64, 4, 2, 5); }

train::Model model() {
  manual_seed(1);
  train::Model m(
      {layers::Dense(8, "relu"), layers::BatchNormalization(), layers::Dense(2, "softmax")});
  m.build({4});
  return m;
}

std::vector<float> values(const Tensor& t) { return t.to(DType::f32).to_vector<float>(); }

}  // namespace

TEST(FineTune, FrozenLayersKeepWeightsAndStatistics) {
  const Blobs data = blobs();
  train::Model m = model();
  EXPECT_EQ(m.set_trainable("dense", false), 1);  // the first Dense only ("dense_1" is the head)
  EXPECT_EQ(m.set_trainable("batch_*", false), 1);
  m.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  // The optimizer holds the head's weight and bias only.
  EXPECT_EQ(m.optimizer().parameters().size(), 2u);
  const nn::StateDict before = m.module().state_dict();
  std::map<std::string, std::vector<float>> saved;
  for (const auto& [name, tensor] : before) saved[name] = values(tensor.clone());
  m.fit(data.x, data.y, {.epochs = 2, .batch_size = 16, .verbose = 0});
  for (const auto& [name, tensor] : m.module().state_dict()) {
    if (name.starts_with("2.")) {
      EXPECT_NE(values(tensor), saved[name]) << name << " (the head) did not train";
    } else {
      EXPECT_EQ(values(tensor), saved[name]) << name << " moved though frozen";
    }
  }
  // A frozen batch norm normalizes with its running statistics in training mode too.
  m.module().train(true);
  const Tensor trained_mode = m.module().forward(data.x);
  m.module().eval();
  EXPECT_EQ(values(trained_mode), values(m.module().forward(data.x)));
  // Frozen: the first Dense (40) and the batch norm's scale, shift and running statistics (32).
  EXPECT_NE(m.summary().find("Trainable params: 18\nNon-trainable params: 72"), std::string::npos)
      << m.summary();
}

TEST(FineTune, UnfreezingTrainsAgainAfterCompile) {
  const Blobs data = blobs();
  train::Model m = model();
  m.set_trainable("*", false);
  m.set_trainable("dense*", true);
  m.compile("sgd", "sparse_categorical_crossentropy");
  EXPECT_EQ(m.optimizer().parameters().size(), 4u);
  const std::vector<float> first = values(m.module().state_dict().at("0.weight"));
  m.fit(data.x, data.y, {.epochs = 1, .verbose = 0});
  EXPECT_NE(values(m.module().state_dict().at("0.weight")), first);
}

TEST(FineTune, APatternWithoutMatchListsTheLayers) {
  train::Model m = model();
  EXPECT_EQ(error_message([&] { m.set_trainable("conv*", false); }),
            "set_trainable: no layer of 'sequential' matches 'conv*'; its layers are dense, "
            "batch_normalization, dense_1");
}

TEST(FineTune, ANewHeadReplacesTheLastLayer) {
  const Blobs data = blobs();
  train::Model m = model();
  auto& sequential = dynamic_cast<nn::Sequential&>(m.module());
  const nn::ModulePtr old_head = sequential.pop();
  EXPECT_EQ(old_head->type_name(), "Dense");
  EXPECT_EQ(m.module().state_dict().count("2.weight"), 0u);
  sequential.add(layers::Dense(3, "softmax"));
  m.build({4});
  EXPECT_EQ(m.output_shape(), (Shape{1, 3}));
  EXPECT_EQ(m.module().state_dict().at("2.weight").shape(), (Shape{3, 8}));
  m.compile("adam", "sparse_categorical_crossentropy");
  m.fit(data.x, data.y, {.epochs = 1, .verbose = 0});
  EXPECT_NE(error_message([] { nn::Sequential().pop(); }).find("no layer to remove"),
            std::string::npos);
}

TEST(FineTune, ALazyLayerFrozenBeforeItsBuildCreatesFrozenWeights) {
  auto dense = layers::Dense(3);
  dense->set_trainable(false);
  train::Model m({dense});
  m.build({5});
  for (const Tensor& p : m.module().parameters()) EXPECT_FALSE(p.requires_grad());
}
