// Soft Dice loss for segmentation (Milletari et al. 2016, V-Net; the per-class, batch-global form
// of common U-Net training code): composed of differentiable ops, so its backward is theirs.
#include <cmath>

#include "nabla/ops.hpp"

namespace nabla {

Tensor dice_loss(const Tensor& probs, const Tensor& labels, double smooth) {
  NABLA_CHECK(probs.defined() && labels.defined(), "dice_loss: probs or labels is undefined");
  NABLA_CHECK(is_floating(probs.dtype()), "dice_loss: expected floating probabilities, got dtype ",
              probs.dtype());
  NABLA_CHECK(probs.dim() >= 2, "dice_loss: expected probabilities [..., C] with the classes on ",
              "the last axis, got shape ", probs.shape());
  Shape label_shape(probs.shape().begin(), probs.shape().end() - 1);
  NABLA_CHECK(labels.shape() == label_shape, "dice_loss: expected labels of shape ", label_shape,
              " for probabilities of shape ", probs.shape(), ", got ", labels.shape());
  NABLA_CHECK(smooth >= 0 && std::isfinite(smooth), "dice_loss: smooth must be >= 0, got ", smooth);
  const int64_t classes = probs.size(-1);
  // Every position of the batch on one axis; the classes stay last.
  const Tensor p = probs.reshape({-1, classes});
  const Tensor y = one_hot(labels.reshape({-1}), classes, probs.dtype());
  const Tensor intersection = sum(mul(p, y), {0});     // [C]
  const Tensor total = add(sum(p, {0}), sum(y, {0}));  // [C]
  const Tensor dice = (intersection * 2.0 + smooth) / (total + smooth);
  return 1.0 - mean(dice);
}

}  // namespace nabla
