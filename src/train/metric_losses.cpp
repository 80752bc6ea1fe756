// The losses of metric learning (triplet with semi-hard or batch-all mining, contrastive): they
// see a batch of embeddings and its class labels, as TensorFlow Addons' TripletSemiHardLoss does,
// so that Model::fit trains an embedding network as it trains a classifier. Mining runs on a
// no-grad copy of the batch's distance matrix in doubles; the loss itself is differentiable ops
// (cdist, triplet_margin_loss), whose gradients flow into the embeddings.
#include <cmath>
#include <limits>
#include <vector>

#include "nabla/train.hpp"
#include "train/format.hpp"

namespace nabla::train {
namespace {

// The batch's labels as integers; y_pred must be embeddings [N, D] with y_true [N].
std::vector<int64_t> metric_labels(const Tensor& y_pred, const Tensor& y_true, const char* loss) {
  NABLA_CHECK(y_pred.dim() == 2, loss, ": expected embeddings [N, D], got shape ", y_pred.shape());
  NABLA_CHECK(y_true.dim() == 1 && y_true.size(0) == y_pred.size(0), loss,
              ": expected class labels [N] for embeddings ", y_pred.shape(), ", got shape ",
              y_true.shape());
  return y_true.to(DType::i64).contiguous().to_vector<int64_t>();
}

// The batch's Euclidean distances [N, N] as doubles, row-major, outside the graph.
std::vector<double> metric_distances(const Tensor& y_pred) {
  const NoGradGuard no_grad;
  return cdist(y_pred.detach(), y_pred.detach()).to(DType::f64).contiguous().to_vector<double>();
}

// A zero that keeps the embeddings in the graph, for a batch with nothing to learn from (one
// class only, or no two samples of a class).
Tensor metric_zero(const Tensor& y_pred) { return mul(sum(y_pred), full({}, 0.0, y_pred.dtype())); }

// [N, N] masks (1 where true) in the embeddings' dtype: same class and distinct samples, and
// different classes.
struct PairMasks {
  Tensor same, different;
  double same_count = 0, different_count = 0;
};

PairMasks pair_masks(const std::vector<int64_t>& labels, DType dtype) {
  const auto n = static_cast<int64_t>(labels.size());
  std::vector<double> same(static_cast<size_t>(n * n), 0), different(same.size(), 0);
  PairMasks masks;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const bool one_class = labels[i] == labels[j];
      same[i * n + j] = one_class && i != j ? 1 : 0;
      different[i * n + j] = one_class ? 0 : 1;
      masks.same_count += same[i * n + j];
      masks.different_count += different[i * n + j];
    }
  }
  masks.same = from_vector(same, {n, n}).to(dtype);
  masks.different = from_vector(different, {n, n}).to(dtype);
  return masks;
}

}  // namespace

Tensor TripletSemiHardLoss::prepare_targets(const Tensor& y_true, const Shape& output_shape,
                                            const std::string& where) const {
  NABLA_CHECK(output_shape.size() == 2, where, ": ", name(),
              " expects a model giving embeddings [N, D], ", "but its outputs are ",
              shape_with_batch(output_shape, "N"));
  Tensor labels = y_true;
  if (labels.dim() == 2 && labels.size(1) == 1) labels = labels.flatten();
  NABLA_CHECK(labels.dim() == 1, where, ": ", name(), " expects class labels of shape [N], got ",
              "targets of shape ", y_true.shape());
  return labels.to(DType::i64);
}

Tensor TripletSemiHardLoss::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  const std::vector<int64_t> labels = metric_labels(y_pred, y_true, "triplet_semihard");
  const std::vector<double> d = metric_distances(y_pred);
  const auto n = static_cast<int64_t>(labels.size());
  std::vector<int64_t> anchors, positives, negatives;
  for (int64_t a = 0; a < n; ++a) {
    for (int64_t p = 0; p < n; ++p) {
      if (p == a || labels[p] != labels[a]) continue;
      const double to_positive = d[a * n + p];
      // The nearest negative beyond the positive (semi-hard), else the farthest one.
      int64_t nearest_beyond = -1, farthest = -1;
      for (int64_t k = 0; k < n; ++k) {
        if (labels[k] == labels[a]) continue;
        const double to_negative = d[a * n + k];
        if (to_negative > to_positive &&
            (nearest_beyond < 0 || to_negative < d[a * n + nearest_beyond])) {
          nearest_beyond = k;
        }
        if (farthest < 0 || to_negative > d[a * n + farthest]) farthest = k;
      }
      if (farthest < 0) continue;  // no negative in the batch
      anchors.push_back(a);
      positives.push_back(p);
      negatives.push_back(nearest_beyond >= 0 ? nearest_beyond : farthest);
    }
  }
  if (anchors.empty()) return metric_zero(y_pred);
  const auto rows = [&](const std::vector<int64_t>& index) {
    return index_select(y_pred, 0, from_vector(index));
  };
  return triplet_margin_loss(rows(anchors), rows(positives), rows(negatives), margin());
}

Tensor TripletBatchAllLoss::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  const std::vector<int64_t> labels = metric_labels(y_pred, y_true, "triplet_batch_all");
  const auto n = static_cast<int64_t>(labels.size());
  const PairMasks masks = pair_masks(labels, y_pred.dtype());
  if (masks.same_count == 0 || masks.different_count == 0) return metric_zero(y_pred);
  const Tensor distances = cdist(y_pred, y_pred);
  // losses[a, p, k] = d(a, p) - d(a, k) + margin over the valid triplets: p of a's class, k not.
  const Tensor valid = mul(masks.same.reshape({n, n, 1}), masks.different.reshape({n, 1, n}));
  const Tensor losses =
      mul(clamp(add(sub(distances.reshape({n, n, 1}), distances.reshape({n, 1, n})),
                    full({}, margin(), y_pred.dtype())),
                0.0, std::nullopt),
          valid);
  // Averaged over the triplets still violating the margin (the others teach nothing).
  double active = 0;
  {
    const NoGradGuard no_grad;
    const Tensor positive = gt(losses.detach(), full({}, 1e-16, y_pred.dtype()));
    active = sum(positive.to(DType::f64)).item<double>();
  }
  return div(sum(losses), full({}, std::max(active, 1.0), y_pred.dtype()));
}

Tensor ContrastiveLoss::operator()(const Tensor& y_pred, const Tensor& y_true) const {
  const std::vector<int64_t> labels = metric_labels(y_pred, y_true, "contrastive");
  const PairMasks masks = pair_masks(labels, y_pred.dtype());
  if (masks.same_count == 0 && masks.different_count == 0) return metric_zero(y_pred);
  const Tensor distances = cdist(y_pred, y_pred);
  const DType dtype = y_pred.dtype();
  Tensor total = full({}, 0.0, dtype);
  double parts = 0;
  if (masks.same_count > 0) {
    total =
        add(total, div(sum(mul(square(distances), masks.same)), full({}, masks.same_count, dtype)));
    parts += 1;
  }
  if (masks.different_count > 0) {
    const Tensor short_of_margin =
        clamp(sub(full({}, margin(), dtype), distances), 0.0, std::nullopt);
    total = add(total, div(sum(mul(square(short_of_margin), masks.different)),
                           full({}, masks.different_count, dtype)));
    parts += 1;
  }
  return div(total, full({}, parts, dtype));
}

}  // namespace nabla::train
