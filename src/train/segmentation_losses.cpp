// The segmentation losses by name: "dice" and "dice_crossentropy" (see DiceLoss in train.hpp).
#include "nabla/train.hpp"

namespace nabla::train {

namespace {
// Keras clips probabilities to [eps, 1 - eps] before taking logs (as losses.cpp does).
constexpr double kDiceProbabilityEpsilon = 1e-7;
}  // namespace

Tensor DiceLoss::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  return dice_loss(y_pred, y_true, smooth_);
}

Tensor DiceLoss::from_logits(const Tensor& logits, const Tensor& y_true) const {
  return dice_loss(softmax(logits, -1), y_true, smooth_);
}

// The cross-entropy is that of sparse_categorical_crossentropy (the mean over every pixel), the
// Dice term that of "dice"; they are added with weight 1 each.
Tensor DiceCrossentropy::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  const Tensor rows = y_pred.reshape({-1, y_pred.size(-1)});
  const Tensor log_probs = log(clamp(rows, kDiceProbabilityEpsilon, 1.0 - kDiceProbabilityEpsilon));
  return add(nll_loss(log_probs, y_true.reshape({-1})), dice_loss(y_pred, y_true, smooth()));
}

Tensor DiceCrossentropy::from_logits(const Tensor& logits, const Tensor& y_true) const {
  const Tensor rows = logits.reshape({-1, logits.size(-1)});
  return add(cross_entropy(rows, y_true.reshape({-1})),
             dice_loss(softmax(logits, -1), y_true, smooth()));
}

}  // namespace nabla::train
