// Losses by Keras name. The cross-entropies take probabilities (clipped as Keras does) or, through
// from_logits(), pre-activation values for the fused and numerically stable ops.
#include <algorithm>
#include <functional>

#include "nabla/train.hpp"
#include "train/format.hpp"
#include "train/internal.hpp"

namespace nabla::train {
namespace {

// Keras clips probabilities to [eps, 1 - eps] before taking logs.
constexpr double kProbabilityEpsilon = 1e-7;

Tensor clipped_log(const Tensor& p) {
  return log(clamp(p, kProbabilityEpsilon, 1.0 - kProbabilityEpsilon));
}

// Targets as floats shaped like the outputs: [N] targets for [N, 1] outputs gain the last axis.
Tensor float_targets_like_outputs(const Tensor& y_true, const Shape& output_shape,
                                  const std::string& where, const std::string& loss_name) {
  Tensor y = is_floating(y_true.dtype()) ? y_true : y_true.to(DType::f32);
  const int64_t out_dim = static_cast<int64_t>(output_shape.size());
  if (y.dim() == out_dim - 1 && output_shape.back() == 1) y = y.unsqueeze(-1);
  NABLA_CHECK(y.dim() == out_dim &&
                  std::equal(y.shape().begin() + 1, y.shape().end(), output_shape.begin() + 1),
              where, ": ", loss_name, " expects targets of shape ",
              shape_with_batch(output_shape, "N"), " for a model with outputs ",
              shape_with_batch(output_shape, "N"), ", got ", y.shape());
  return y;
}

}  // namespace

Tensor Loss::from_logits(const Tensor& /*logits*/, const Tensor& /*y_true*/) const {
  NABLA_CHECK(false, name(), ": this loss cannot take logits");
  return Tensor();
}

Tensor Loss::prepare_targets(const Tensor& y_true, const Shape& output_shape,
                             const std::string& where) const {
  return float_targets_like_outputs(y_true, output_shape, where, name());
}

// ---- sparse categorical cross-entropy ----
namespace {
// Keras puts the classes on the last axis ([N, T, C] scores for [N, T] labels, e.g. a language
// model's next-token logits); the ops take [rows, C] with [rows] labels.
Tensor class_rows(const Tensor& scores) {
  return scores.dim() > 2 ? scores.reshape({-1, scores.size(-1)}) : scores;
}
Tensor label_rows(const Tensor& scores, const Tensor& labels) {
  return scores.dim() > 2 ? labels.reshape({-1}) : labels;
}
}  // namespace

Tensor SparseCategoricalCrossentropy::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  if (from_logits_) return from_logits(y_pred, y_true);
  return nll_loss(clipped_log(class_rows(y_pred)), label_rows(y_pred, y_true));
}

Tensor SparseCategoricalCrossentropy::from_logits(const Tensor& logits,
                                                  const Tensor& y_true) const {
  return cross_entropy(class_rows(logits), label_rows(logits, y_true));
}

Tensor SparseCategoricalCrossentropy::prepare_targets(const Tensor& y_true,
                                                      const Shape& output_shape,
                                                      const std::string& where) const {
  NABLA_CHECK(output_shape.size() >= 2, where, ": ", name(),
              " expects a model with class scores [N, C], but its outputs are ",
              shape_with_batch(output_shape, "N"));
  Tensor labels = y_true;
  // Keras accepts labels shaped [N, 1] as well as [N].
  if (labels.dim() == static_cast<int64_t>(output_shape.size()) && labels.size(-1) == 1 &&
      output_shape.size() == 2) {
    labels = labels.flatten();
  }
  NABLA_CHECK(labels.dim() == static_cast<int64_t>(output_shape.size()) - 1, where, ": ", name(),
              " expects integer labels of shape [N] for outputs ",
              shape_with_batch(output_shape, "N"), ", got targets of shape ", y_true.shape(),
              labels.dim() == static_cast<int64_t>(output_shape.size())
                  ? " (one-hot targets need categorical_crossentropy)"
                  : "");
  if (labels.dtype() != DType::i64) {
    if (is_floating(labels.dtype())) {
      const Tensor rounded = labels.to(DType::i64);
      const std::vector<double> values = labels.to(DType::f64).to_vector<double>();
      const std::vector<int64_t> ints = rounded.to_vector<int64_t>();
      for (size_t i = 0; i < values.size(); ++i) {
        NABLA_CHECK(values[i] == static_cast<double>(ints[i]), where, ": ", name(),
                    " expects integer class labels, got ", values[i], " at sample ", i);
      }
      labels = rounded;
    } else {
      labels = labels.to(DType::i64);
    }
  }
  labels = labels.contiguous();
  const int64_t classes = output_shape.back();  // classes on the last axis, as Keras
  const int64_t* data = labels.data<int64_t>();
  const int64_t n = labels.numel();
  for (int64_t i = 0; i < n; ++i) {
    NABLA_CHECK(data[i] >= 0 && data[i] < classes, where, ": label ", data[i], " (sample ", i,
                ") is out of range for a model with ", classes, " outputs: ", name(),
                " expects labels in [0, ", classes, ")");
  }
  return labels;
}

// ---- categorical cross-entropy ----
Tensor CategoricalCrossentropy::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  if (from_logits_) return from_logits(y_pred, y_true);
  return neg(mean(sum(mul(y_true, clipped_log(y_pred)), {-1})));
}

Tensor CategoricalCrossentropy::from_logits(const Tensor& logits, const Tensor& y_true) const {
  return neg(mean(sum(mul(y_true, log_softmax(logits, -1)), {-1})));
}

// ---- binary cross-entropy ----
Tensor BinaryCrossentropy::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  if (from_logits_) return from_logits(y_pred, y_true);
  // -(y log p + (1 - y) log(1 - p)), averaged over every element as Keras does.
  const Tensor positive = mul(y_true, clipped_log(y_pred));
  const Tensor negative = mul(1.0 - y_true, clipped_log(1.0 - y_pred));
  return neg(mean(add(positive, negative)));
}

Tensor BinaryCrossentropy::from_logits(const Tensor& logits, const Tensor& y_true) const {
  return binary_cross_entropy_with_logits(logits, y_true);
}

// ---- regression ----
Tensor MeanSquaredError::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  return mse_loss(y_pred, y_true);
}

Tensor MeanAbsoluteError::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  return l1_loss(y_pred, y_true);
}

Tensor Huber::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  return huber_loss(y_pred, y_true, delta_);
}

namespace {

using LossTable = std::vector<std::pair<std::string, std::function<LossPtr()>>>;

const LossTable& loss_table() {
  static const LossTable kLosses = {
      {"sparse_categorical_crossentropy",
       [] { return std::make_shared<SparseCategoricalCrossentropy>(); }},
      {"categorical_crossentropy", [] { return std::make_shared<CategoricalCrossentropy>(); }},
      {"binary_crossentropy", [] { return std::make_shared<BinaryCrossentropy>(); }},
      {"mse", [] { return std::make_shared<MeanSquaredError>(); }},
      {"mean_squared_error", [] { return std::make_shared<MeanSquaredError>(); }},
      {"mae", [] { return std::make_shared<MeanAbsoluteError>(); }},
      {"mean_absolute_error", [] { return std::make_shared<MeanAbsoluteError>(); }},
      {"huber", [] { return std::make_shared<Huber>(); }},
      {"huber_loss", [] { return std::make_shared<Huber>(); }},
      {"triplet_semihard", [] { return std::make_shared<TripletSemiHardLoss>(); }},
      {"triplet_batch_all", [] { return std::make_shared<TripletBatchAllLoss>(); }},
      {"contrastive", [] { return std::make_shared<ContrastiveLoss>(); }},
      {"dice", [] { return std::make_shared<DiceLoss>(); }},
      {"dice_crossentropy", [] { return std::make_shared<DiceCrossentropy>(); }},
  };
  return kLosses;
}

}  // namespace

bool internal::is_known_loss(const std::string& name) {
  for (const auto& entry : loss_table()) {
    if (entry.first == name) return true;
  }
  return false;
}

LossPtr make_loss(const std::string& name) {
  std::string known;
  for (const auto& [key, make] : loss_table()) {
    if (key == name) return make();
    known += (known.empty() ? "" : ", ") + key;
  }
  NABLA_CHECK(false, "unknown loss '", name, "'; known losses: ", known);
  return nullptr;
}

}  // namespace nabla::train
