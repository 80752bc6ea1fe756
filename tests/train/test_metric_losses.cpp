// The metric-learning losses (triplet with semi-hard or batch-all mining, contrastive) on a batch
// worked by hand, their gradients (gradcheck), their names, and the targets they take; and the
// UnitNormalization layer that ends an embedding network.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/sequential_spec.hpp"

using namespace nabla;
using nabla::testing::error_message;

namespace {

// Four one-dimensional embeddings: class 0 at 0 and 1, class 1 at 1.5 and 3.
Tensor metric_points() { return from_vector(std::vector<double>{0, 1, 1.5, 3}, {4, 1}); }
Tensor metric_labels() { return from_vector(std::vector<int64_t>{0, 0, 1, 1}, {4}); }

}  // namespace

TEST(MetricLosses, SemiHardMiningPicksTheNearestNegativeBeyondThePositive) {
  // Margin 1. Pairs (anchor, positive): (0, 1) d 1: negatives at 1.5 and 3, the nearest beyond
  // 1 is 1.5: 0.5. (1, 0) d 1: negatives at 0.5 and 2: 2: 0. (1.5, 3) d 1.5: negatives at 1.5
  // and 0.5, none beyond: the farthest, 1.5: 1. (3, 1.5) d 1.5: negatives at 3 and 2: 2: 0.5.
  const Tensor loss = train::TripletSemiHardLoss(1.0)(metric_points(), metric_labels());
  EXPECT_NEAR(loss.item<double>(), (0.5 + 0 + 1 + 0.5) / 4, 1e-5);
}

TEST(MetricLosses, BatchAllAveragesTheTripletsThatViolateTheMargin) {
  // Margin 1. Valid triplets and their losses: anchor 0: 0.5, 0; anchor 1: 1.5, 0; anchor 1.5:
  // 1, 2; anchor 3: 0, 0.5. Five are positive, summing to 5.5.
  const Tensor loss = train::TripletBatchAllLoss(1.0)(metric_points(), metric_labels());
  EXPECT_NEAR(loss.item<double>(), 5.5 / 5, 1e-12);
}

TEST(MetricLosses, ContrastiveAveragesSimilarAndDissimilarPairsApart) {
  // Similar pairs: d 1 and 1.5, mean d^2 1.625. Dissimilar: d 1.5, 3, 0.5, 2, mean of
  // max(1 - d, 0)^2 0.0625. The loss is their mean.
  const Tensor loss = train::ContrastiveLoss(1.0)(metric_points(), metric_labels());
  EXPECT_NEAR(loss.item<double>(), (1.625 + 0.0625) / 2, 1e-12);
}

TEST(MetricLosses, GradientsMatchCentralDifferences) {
  // Eight embeddings in three classes; the mined triplets do not change within the differences.
  const Tensor labels = from_vector(std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1}, {8});
  const train::TripletSemiHardLoss semi_hard(0.5);
  const train::TripletBatchAllLoss batch_all(0.5);
  const train::ContrastiveLoss contrastive(1.0);
  for (const train::Loss* loss :
       std::vector<const train::Loss*>{&semi_hard, &batch_all, &contrastive}) {
    SCOPED_TRACE(loss->name());
    EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return (*loss)(in[0], labels); },
                     {nabla::testing::leaf({8, 3}, 21)});
  }
}

TEST(MetricLosses, ABatchWithNothingToCompareGivesZeroAndNoNaN) {
  // One class only: no negatives; one sample per class: no positives.
  const Tensor x = from_vector(std::vector<float>{0, 1, 2, 3}, {2, 2}).requires_grad_();
  const Tensor one_class = from_vector(std::vector<int64_t>{4, 4}, {2});
  const Tensor two_classes = from_vector(std::vector<int64_t>{0, 1}, {2});
  for (const std::string name : {"triplet_semihard", "triplet_batch_all"}) {
    const train::LossPtr loss = train::make_loss(name);
    EXPECT_EQ((*loss)(x, one_class).item<float>(), 0) << name;
    Tensor value = (*loss)(x, two_classes);
    EXPECT_EQ(value.item<float>(), 0) << name;
    value.backward();
    EXPECT_EQ(x.grad().to_vector<float>(), std::vector<float>(4, 0)) << name;
  }
}

TEST(MetricLosses, NamesAndTargets) {
  EXPECT_EQ(train::make_loss("triplet_semihard")->name(), "triplet_semihard");
  EXPECT_EQ(train::make_loss("triplet_batch_all")->name(), "triplet_batch_all");
  EXPECT_EQ(train::make_loss("contrastive")->name(), "contrastive");
  const train::LossPtr loss = train::make_loss("triplet_semihard");
  const Tensor labels =
      loss->prepare_targets(from_vector(std::vector<float>{1, 2, 3}, {3, 1}), {0, 64}, "fit");
  EXPECT_EQ(labels.dtype(), DType::i64);
  EXPECT_EQ(labels.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(error_message([&] {
              loss->prepare_targets(zeros({3}), {0, 4, 4}, "fit");
            }),
            "fit: triplet_semihard expects a model giving embeddings [N, D], but its outputs are "
            "[N, 4, 4]");
  EXPECT_EQ(error_message([&] {
              loss->prepare_targets(zeros({3, 2}), {0, 4}, "fit");
            }),
            "fit: triplet_semihard expects class labels of shape [N], got targets of shape [3, 2]");
  EXPECT_EQ(error_message([&] {
              (*loss)(zeros({3, 2}), zeros({4}, DType::i64));
            }),
            "triplet_semihard: expected class labels [N] for embeddings [3, 2], got shape [4]");
}

TEST(UnitNormalizationLayer, GivesUnitVectorsAndRoundTripsThroughTheSpec) {
  const auto model = sequential_from_spec(
      R"({"name": "u", "input_shape": [2], "layers": [{"type": "UnitNormalization"}]})", "u");
  const Tensor y = model->forward(from_vector(std::vector<float>{3, 4, 0, 0, -1, 0}, {3, 2}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{0.6f, 0.8f, 0, 0, -1, 0}));
  const std::string text = io::model_to_spec(*model, "u", {2});
  EXPECT_NE(text.find("\"type\": \"UnitNormalization\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"axis\": -1"), std::string::npos) << text;
  EXPECT_EQ(error_message([] {
              sequential_from_spec(
                  R"({"name": "u", "layers": [{"type": "UnitNormalization", "axis": 0.5}]})", "u");
            }).find("expected an integer axis, got 0.5") != std::string::npos,
            true);
  EXPECT_EQ(error_message([] {
              nn::UnitNormalization(2).forward(zeros({2, 3}));
            }),
            "UnitNormalization: axis 2 is out of range for an input of shape [2, 3]");
}
