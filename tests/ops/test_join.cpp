// Joining and splitting: concat, stack, split, against PyTorch 1.13 through the op-test harness
// (tests/reference/gen_reduce_index.py).
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/op_test.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::leaf;
using nabla::testing::noncontiguous_leaf;
using nabla::testing::OpCase;
using nabla::testing::OpOutputs;
using nabla::testing::OpTest;
using Inputs = std::vector<Tensor>;

namespace {

// The tensors joined: the case's inputs a, b, c (those it has), in order.
std::vector<Tensor> joined(const OpCase& c) {
  std::vector<Tensor> tensors;
  for (const char* name : {"a", "b", "c"})
    if (c.has(name)) tensors.push_back(c.input(name));
  return tensors;
}

// split gives as many parts as the case has: part0, part1, part2 (an undefined one is absent).
constexpr size_t kMaxParts = 3;

const std::vector<OpTest> kJoinTests = {
    {.name = "concat",
     .fn = [](const OpCase& c) { return concat(joined(c), c.attr<int64_t>("axis")); },
     .grad_inputs = {"a", "b", "c"}},
    {.name = "stack",
     .fn = [](const OpCase& c) { return stack(joined(c), c.attr<int64_t>("axis")); },
     .grad_inputs = {"a", "b", "c"}},
    {.name = "split",
     .fn =
         [](const OpCase& c) {
           const Tensor x = c.input("x");
           const int64_t axis = c.attr<int64_t>("axis");
           std::vector<Tensor> parts = c.has("sizes")
                                           ? split(x, c.attr<std::vector<int64_t>>("sizes"), axis)
                                           : split(x, c.attr<int64_t>("split_size"), axis);
           for (const Tensor& part : parts) EXPECT_TRUE(part.shares_storage(x));  // views
           EXPECT_LE(parts.size(), kMaxParts);
           parts.resize(kMaxParts);
           OpOutputs out(Tensor{});
           out.tensors = std::move(parts);
           return out;
         },
     .grad_inputs = {"x"},
     .outputs = {{"part0", "grad_part0"}, {"part1", "grad_part1"}, {"part2", "grad_part2"}}},
};

}  // namespace

TEST(Join, MatchesPyTorch) { nabla::testing::check_ops("reduce_index", kJoinTests); }

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
