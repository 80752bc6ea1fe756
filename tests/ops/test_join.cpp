// Joining and splitting: concat, stack, split.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "ops/reduce_index_reference.hpp"
#include "support/gradcheck.hpp"
#include "support/reference.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::leaf;
using nabla::testing::noncontiguous_leaf;
using nabla::testing::reduce_index_reference;
using nabla::testing::tensor_from_json;
using Inputs = std::vector<Tensor>;

namespace {
std::vector<Tensor> tensors_from_json(const nlohmann::json& list) {
  std::vector<Tensor> out;
  for (const auto& t : list) out.push_back(tensor_from_json(t));
  return out;
}
}  // namespace

TEST(Join, ConcatAndStackMatchPyTorch) {
  for (const char* family : {"concat", "stack"}) {
    for (const auto& c : reduce_index_reference().at(family)) {
      const int64_t axis = c.at("axis");
      SCOPED_TRACE(std::string(family) + " axis " + std::to_string(axis));
      const std::vector<Tensor> tensors = tensors_from_json(c.at("tensors"));
      const Tensor out =
          std::string(family) == "concat" ? concat(tensors, axis) : stack(tensors, axis);
      EXPECT_ALL_CLOSE(out, tensor_from_json(c.at("out")));
    }
  }
}

TEST(Join, SplitMatchesPyTorchAndReturnsViews) {
  for (const auto& c : reduce_index_reference().at("split")) {
    const Tensor x = tensor_from_json(c.at("x"));
    const int64_t axis = c.at("axis");
    const std::vector<Tensor> parts =
        c.contains("sizes") ? split(x, c.at("sizes").get<std::vector<int64_t>>(), axis)
                            : split(x, c.at("split_size").get<int64_t>(), axis);
    const std::vector<Tensor> expected = tensors_from_json(c.at("parts"));
    ASSERT_EQ(parts.size(), expected.size());
    for (size_t i = 0; i < parts.size(); ++i) {
      EXPECT_ALL_CLOSE(parts[i], expected[i]);
      EXPECT_TRUE(parts[i].shares_storage(x));
    }
  }
}

TEST(Join, ConcatGradcheck) {
  for (int64_t axis : {0, 1, -1}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    Shape a{2, 3}, b{2, 3}, c{2, 3};
    const int64_t d = axis == 0 ? 0 : 1;
    a[d] = 1;
    c[d] = 4;
    EXPECT_GRADCHECK([=](const Inputs& in) { return concat(in, axis); },
                     {leaf(a, 1), noncontiguous_leaf(b, 2), noncontiguous_leaf(c, 3)});
  }
  // Only some inputs need a gradient; the others get none.
  Tensor constant = ones({2, 2}, DType::f64);
  Tensor x = leaf({2, 3}, 4);
  (concat({constant, x}, 1) * 2.0).sum().backward();
  EXPECT_FALSE(constant.grad().defined());
  EXPECT_EQ(x.grad().to_vector<double>(), std::vector<double>(6, 2.0));
}

TEST(Join, StackGradcheck) {
  for (int64_t axis : {0, 1, 2, -1}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    EXPECT_GRADCHECK([=](const Inputs& in) { return stack(in, axis); },
                     {leaf({2, 3}, 5), noncontiguous_leaf({2, 3}, 6)});
  }
}

TEST(Join, SplitGradcheck) {
  // Weight the parts differently so that each one's gradient is checked.
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        const std::vector<Tensor> parts = split(in[0], 2, -1);
        return concat({parts[0] * 2.0, parts[2] * -3.0, parts[1]}, 1);
      },
      {noncontiguous_leaf({3, 5}, 7)});
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        const std::vector<Tensor> parts = split(in[0], {1, 0, 2}, 0);
        return concat({parts[2], parts[0] * 5.0, parts[1]}, 0);
      },
      {leaf({3, 2}, 8)});
}

TEST(Join, ConcatPromotesDtypes) {
  const Tensor out = concat({ones({1, 2}), full({1, 2}, 0.5, DType::f64)}, 0);
  EXPECT_EQ(out.dtype(), DType::f64);
  EXPECT_EQ(out.to_vector<double>(), (std::vector<double>{1, 1, 0.5, 0.5}));
  const Tensor ints = concat({arange(2), arange(3)});
  EXPECT_EQ(ints.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 0, 1, 2}));
}

TEST(Join, ShapeMismatchIsAnError) {
  EXPECT_EQ(error_message([] {
              concat({zeros({2, 3}), zeros({2, 1}), zeros({3, 2})}, 1);
            }),
            "concat: tensor 2 has shape [3, 2], but tensor 0 has shape [2, 3] (expected the same "
            "sizes on every axis but 1)");
  EXPECT_EQ(error_message([] {
              concat({zeros({2, 3}), zeros({2, 3, 1})}, 0);
            }),
            "concat: tensor 1 has shape [2, 3, 1], but tensor 0 has shape [2, 3] (expected the "
            "same sizes on every axis but 0)");
  EXPECT_EQ(error_message([] {
              stack({zeros({2, 3}), zeros({2, 3}), zeros({3, 2})}, 0);
            }),
            "stack: tensor 2 has shape [3, 2], but tensor 0 has shape [2, 3] (expected all "
            "shapes equal)");
  EXPECT_EQ(error_message([] {
              concat({zeros({2}), zeros({2})}, 1);
            }),
            "concat: axis 1 is out of range for a tensor of shape [2] (expected -1 <= axis < 1)");
  EXPECT_EQ(error_message([] { concat({}); }), "concat: expected at least one tensor, got none");
  EXPECT_EQ(error_message([] { concat({scalar_tensor(1)}); }),
            "concat: tensor 0 is a scalar (shape []); expected tensors with at least one axis "
            "(use stack)");
}

TEST(Join, SplitSizesMustCoverTheAxis) {
  const Tensor x = zeros({2, 4});
  EXPECT_EQ(error_message([&] {
              split(x, {1, 2}, 1);
            }),
            "split: sizes [1, 2] sum to 3, but axis 1 of shape [2, 4] has size 4 (expected them "
            "to sum to 4)");
  EXPECT_EQ(error_message([&] { split(x, 0, 1); }), "split: split_size must be positive, got 0");
  EXPECT_EQ(split(x, 3, 1).back().shape(), (Shape{2, 1}));
  EXPECT_EQ(split(x, 5, 0).size(), 1u);
}
