// dice_loss: values and gradients against the plain-torch formula (tests/reference/
// gen_sparse_losses.py), gradcheck through a softmax, the perfect prediction, and errors.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/reference.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::leaf;
using nabla::testing::load_reference;
using nabla::testing::tensor_from_json;

TEST(DiceLoss, MatchesTheTorchFormulaAndItsGradient) {
  const auto ref = load_reference("sparse_losses");
  for (const char* name : {"dice/pixels", "dice/rows", "dice/smooth0"}) {
    SCOPED_TRACE(name);
    const auto& c = ref.at(name);
    Tensor probs = tensor_from_json(c.at("probs")).requires_grad_();
    const Tensor labels = tensor_from_json(c.at("labels"));
    const Tensor out = dice_loss(probs, labels, c.at("smooth").get<double>());
    EXPECT_ALL_CLOSE(out, tensor_from_json(c.at("out")), 1e-12, 1e-12);
    out.backward();
    EXPECT_ALL_CLOSE(probs.grad(), tensor_from_json(c.at("grad_probs")), 1e-10, 1e-12);
  }
}

TEST(DiceLoss, GradcheckThroughASoftmax) {
  const Tensor labels = from_vector(std::vector<int64_t>{0, 2, 2, 1, 0, 3, 3, 1}, {2, 2, 2});
  EXPECT_GRADCHECK(
      [&](const std::vector<Tensor>& in) { return dice_loss(softmax(in[0], -1), labels, 1.0); },
      {leaf({2, 2, 2, 4}, 7)});
}

TEST(DiceLoss, IsZeroForThePerfectPredictionAndSmoothKeepsAbsentClassesAtOne) {
  const Tensor labels = from_vector(std::vector<int64_t>{0, 1, 1, 0}, {4});
  // Class 2 is neither predicted nor present: with smooth 1 its Dice is 1, so the loss is 0.
  const Tensor probs = one_hot(labels, 3, DType::f64);
  EXPECT_NEAR(dice_loss(probs, labels).item(), 0.0, 1e-15);
  // All pixels predicted as class 0: D_0 = (2*2 + 1)/(4 + 2 + 1), D_1 = 1/(0 + 2 + 1), D_2 = 1.
  const Tensor wrong = one_hot(from_vector(std::vector<int64_t>{0, 0, 0, 0}, {4}), 3, DType::f64);
  EXPECT_NEAR(dice_loss(wrong, labels).item(), 1 - (5.0 / 7 + 1.0 / 3 + 1) / 3, 1e-15);
}

TEST(DiceLoss, ErrorsNameTheShapes) {
  const Tensor probs = zeros({2, 3, 4});
  EXPECT_NE(error_message([&] {
              dice_loss(probs, zeros({2, 4}, DType::i64));
            })
                .find("dice_loss: expected labels of shape [2, 3] for probabilities of shape "
                      "[2, 3, 4], got [2, 4]"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              dice_loss(probs, zeros({2, 3}, DType::i64), -1);
            }).find("smooth must be >= 0"),
            std::string::npos);
}
