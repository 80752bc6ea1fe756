#include <gtest/gtest.h>

#include <algorithm>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"

using nabla::testing::error_message;
using namespace nabla;

TEST(Transforms, ScaleBytesToUnitFloats) {
  Tensor bytes = from_vector(std::vector<uint8_t>{0, 51, 255}, {3});
  Tensor x = data::scale(bytes, 1.0 / 255);
  EXPECT_EQ(x.dtype(), DType::f32);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{0, 0.2f, 1}));
  EXPECT_EQ(data::scale(bytes, 2, DType::f64).to_vector<double>(),
            (std::vector<double>{0, 102, 510}));
  EXPECT_EQ(error_message([&] { data::scale(bytes, 2, DType::i64); }),
            "scale: expected a floating result dtype, got i64");
}

TEST(Transforms, NormalizeScalarAndPerChannel) {
  Tensor x = from_vector(std::vector<float>{1, 3, 5, 7}, {2, 2});
  EXPECT_EQ(data::normalize(x, 3, 2).to_vector<float>(), (std::vector<float>{-1, 0, 1, 2}));
  // [N=1, C=2, 2]: channel 0 holds {1, 3}, channel 1 {5, 7}.
  Tensor images = x.reshape({1, 2, 2});
  Tensor per_channel = data::normalize(images, {1, 5}, {1, 2}, 1);
  EXPECT_EQ(per_channel.shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(per_channel.to_vector<float>(), (std::vector<float>{0, 2, 0, 1}));
  EXPECT_EQ(error_message([&] { data::normalize(images, {1}, {1}, 1); }),
            "normalize: expected 2 means and stds (axis 1 of shape [1, 2, 2]), got 1 and 1");
  EXPECT_EQ(error_message([&] { data::normalize(x, 0, 0); }),
            "normalize: std must be positive, got 0");
}

TEST(Transforms, TrainValidationSplitShuffled) {
  Tensor inputs = arange(0, 20, 1, DType::f32).reshape({10, 2});
  Tensor targets = arange(10);
  data::Split split = data::train_validation_split(inputs, targets, 0.3, 42);
  EXPECT_EQ(split.train_inputs.shape(), (Shape{7, 2}));
  EXPECT_EQ(split.validation_inputs.shape(), (Shape{3, 2}));
  std::vector<int64_t> all = split.train_targets.to_vector<int64_t>();
  const auto held = split.validation_targets.to_vector<int64_t>();
  all.insert(all.end(), held.begin(), held.end());
  std::vector<int64_t> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, arange(10).to_vector<int64_t>());  // disjoint and complete
  EXPECT_NE(all, arange(10).to_vector<int64_t>());     // shuffled
  const auto rows = split.validation_inputs.to_vector<float>();
  for (size_t i = 0; i < held.size(); ++i) EXPECT_EQ(rows[2 * i], 2.0f * held[i]);
  data::Split again = data::train_validation_split(inputs, targets, 0.3, 42);
  EXPECT_EQ(again.validation_targets.to_vector<int64_t>(), held);
}

TEST(Transforms, TrainValidationSplitKerasStyleHoldsOutTheLastSamples) {
  Tensor inputs = arange(0, 8, 1, DType::f32).reshape({4, 2});
  data::Split split = data::train_validation_split(inputs, Tensor(), 0.25, 0, /*shuffle=*/false);
  EXPECT_EQ(split.validation_inputs.to_vector<float>(), (std::vector<float>{6, 7}));
  EXPECT_EQ(split.train_inputs.shape(), (Shape{3, 2}));
  EXPECT_FALSE(split.train_targets.defined());
  EXPECT_EQ(error_message([&] { data::train_validation_split(inputs, Tensor(), 1.0); }),
            "train_validation_split: fraction must be in [0, 1), got 1");
}
