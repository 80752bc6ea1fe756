// The segmentation losses by name ("dice", "dice_crossentropy"): values and gradients against
// plain torch (tests/reference/gen_sparse_losses.py), the fused path from logits equal to the one
// on probabilities, and a per-pixel classifier trained by fit with them.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "support/reference.hpp"

using namespace nabla;
using nabla::testing::load_reference;
using nabla::testing::tensor_from_json;

TEST(SegmentationLosses, DiceCrossentropyMatchesTorchFromLogits) {
  const auto ref = load_reference("sparse_losses");
  const auto& c = ref.at("dice_crossentropy/pixels");
  Tensor logits = tensor_from_json(c.at("logits")).requires_grad_();
  const Tensor labels = tensor_from_json(c.at("labels"));
  const train::LossPtr loss = train::make_loss("dice_crossentropy");
  EXPECT_EQ(loss->name(), "dice_crossentropy");
  EXPECT_EQ(loss->fused_activation(), "softmax");
  const Tensor out = loss->from_logits(logits, labels);
  EXPECT_ALL_CLOSE(out, tensor_from_json(c.at("out")), 1e-12, 1e-12);
  out.backward();
  EXPECT_ALL_CLOSE(logits.grad(), tensor_from_json(c.at("grad_logits")), 1e-10, 1e-12);
  // On probabilities (a network that keeps its softmax): the same value, up to Keras's clipping.
  EXPECT_NEAR((*loss)(softmax(logits.detach(), -1), labels).item(), out.item(), 1e-9);
}

TEST(SegmentationLosses, DiceByNameIsTheDiceOfTheProbabilities) {
  const auto ref = load_reference("sparse_losses");
  const auto& c = ref.at("dice/pixels");
  const Tensor probs = tensor_from_json(c.at("probs"));
  const Tensor labels = tensor_from_json(c.at("labels"));
  const train::LossPtr loss = train::make_loss("dice");
  EXPECT_NEAR((*loss)(probs, labels).item(), tensor_from_json(c.at("out")).item(), 1e-12);
  EXPECT_NEAR(loss->from_logits(log(probs), labels).item(), tensor_from_json(c.at("out")).item(),
              1e-12);
  // Labels are checked and converted as for sparse_categorical_crossentropy.
  const Tensor prepared = loss->prepare_targets(labels.to(DType::f32), probs.shape(), "test");
  EXPECT_EQ(prepared.dtype(), DType::i64);
}

TEST(SegmentationLosses, FitLowersDiceCrossentropyOnPixels) {
  // Each pixel's class is the larger of its two features: a per-pixel linear classifier learns it.
  manual_seed(3);
  const Tensor x = randn({64, 4, 4, 2});
  const Tensor y = argmax(x, -1);
  train::Model model({layers::Dense(2, "softmax")});
  model.build({4, 4, 2});
  model.compile(std::make_unique<optim::Adam>(optim::AdamOptions{.lr = 0.05}), "dice_crossentropy",
                {"accuracy"});
  const train::History history = model.fit(x, y, {.epochs = 10, .batch_size = 16, .verbose = 0});
  EXPECT_LT(history["loss"].back(), 0.5 * history["loss"].front());
  EXPECT_GT(history["accuracy"].back(), 0.9);
}
