// view_as_input_shape: samples as a model's inputs (a view when the values per sample agree), and
// the error that names both shapes when they do not.
#include <gtest/gtest.h>

#include <string>

#include "nabla/train.hpp"

namespace nabla::train {
namespace {

TEST(InputShape, AddsTheChannelAxisAsAViewOfTheSameValues) {
  const Tensor images = arange(3 * 4 * 5, DType::i64).view({3, 4, 5});
  const Tensor inputs = view_as_input_shape(images, {1, 4, 5}, "test");
  EXPECT_EQ(inputs.shape(), (Shape{3, 1, 4, 5}));
  EXPECT_TRUE(inputs.shares_storage(images));
  EXPECT_EQ(inputs.to_vector<int64_t>(), images.to_vector<int64_t>());
  EXPECT_EQ(inputs.at<int64_t>({2, 0, 3, 1}), 2 * 20 + 3 * 5 + 1);
}

TEST(InputShape, FlattensAndKeepsTheSampleAxisOfASlice) {
  // Rows 2..3 of a contiguous stack: still one view, offset into the same storage.
  const Tensor images = arange(4 * 6, DType::i64).view({4, 2, 3});
  const Tensor inputs = view_as_input_shape(images.slice(0, 2, 4), {6}, "test");
  EXPECT_EQ(inputs.shape(), (Shape{2, 6}));
  EXPECT_TRUE(inputs.shares_storage(images));
  EXPECT_EQ(inputs.at<int64_t>({1, 5}), 23);
}

TEST(InputShape, LeavesMatchingOrUnknownShapesAsTheyAre) {
  const Tensor images = zeros({2, 28, 28});
  EXPECT_TRUE(view_as_input_shape(images, {28, 28}, "test").is_same(images));
  EXPECT_TRUE(view_as_input_shape(images, {}, "test").is_same(images));
}

TEST(InputShape, CopiesNonContiguousSamplesInRowMajorOrder) {
  // [2, 3] transposed to [3, 2]: three samples of two values each.
  const Tensor samples = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}).t();
  const Tensor inputs = view_as_input_shape(samples, {1, 2}, "test");
  EXPECT_EQ(inputs.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(inputs.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST(InputShape, ErrorNamesWhereAndBothShapes) {
  try {
    (void)view_as_input_shape(zeros({3, 28, 27}), {1, 28, 28}, "--image shoe.idx");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("--image shoe.idx: "), std::string::npos) << message;
    EXPECT_NE(message.find("[N, 1, 28, 28] (784 values per sample)"), std::string::npos) << message;
    EXPECT_NE(message.find("[3, 28, 27] (756 values per sample)"), std::string::npos) << message;
  }
  EXPECT_THROW((void)view_as_input_shape(zeros({}), {1}, "test"), Error);
  EXPECT_THROW((void)view_as_input_shape(Tensor(), {1}, "test"), Error);
}

}  // namespace
}  // namespace nabla::train
