// Indexing along an axis: index_select, gather, one_hot, against PyTorch 1.13 through the op-test
// harness (tests/reference/gen_reduce_index.py).
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
using nabla::testing::OpTest;
using Inputs = std::vector<Tensor>;

namespace {
const std::vector<OpTest> kIndexTests = {
    {.name = "index_select",
     .fn =
         [](const OpCase& c) {
           return index_select(c.input("x"), c.attr<int64_t>("axis"), c.input("index"));
         },
     .grad_inputs = {"x"}},
    {.name = "gather",
     .fn =
         [](const OpCase& c) {
           return gather(c.input("x"), c.attr<int64_t>("axis"), c.input("index"));
         },
     .grad_inputs = {"x"}},
    {.name = "one_hot",  // f32 by default, as the reference
     .fn =
         [](const OpCase& c) { return one_hot(c.input("labels"), c.attr<int64_t>("num_classes")); },
     .grad_inputs = {}},
};

Tensor i64(const std::vector<int64_t>& values, const Shape& shape = {}) {
  return from_vector(values, shape.empty() ? Shape{static_cast<int64_t>(values.size())} : shape);
}
}  // namespace

TEST(Index, MatchesPyTorch) { nabla::testing::check_ops("reduce_index", kIndexTests); }

TEST(Index, OneHotDtypesAndStridedLabels) {
  const Tensor as_i64 = one_hot(i64({2, 0}), 3, DType::i64);
  EXPECT_EQ(as_i64.shape(), (Shape{2, 3}));
  EXPECT_EQ(as_i64.to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1, 1, 0, 0}));
  // Strided labels are read in logical order.
  const Tensor strided = one_hot(i64({1, 0, 2, 1}, {2, 2}).t(), 3);
  EXPECT_EQ(strided.to_vector<float>(), (std::vector<float>{0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0}));
}

TEST(Index, IndexSelectGradcheck) {
  const Tensor repeated = i64({2, 0, 2, 1, 2});
  for (int64_t axis : {0, 1, -1}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    auto f = [=](const Inputs& in) { return index_select(in[0], axis, repeated); };
    EXPECT_GRADCHECK(f, {leaf({3, 3, 4}, 1)});
    EXPECT_GRADCHECK(f, {noncontiguous_leaf({3, 4, 3}, 2)});
  }
  // A strided index (every other element) selects the same rows as its contiguous copy.
  const Tensor strided = i64({1, 9, 0, 9, 1, 9}).slice(0, 0, 6, 2);
  const Tensor x = arange(0, 12, 1, DType::f64).reshape({3, 4});
  EXPECT_EQ(index_select(x, 0, strided).to_vector<double>(),
            (std::vector<double>{4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_GRADCHECK([=](const Inputs& in) { return index_select(in[0], 1, strided); },
                   {noncontiguous_leaf({2, 3}, 3)});
}

TEST(Index, GatherGradcheck) {
  // Index smaller than the input on the other axes, with repeats along the gathered axis.
  const Tensor idx0 = i64({2, 0, 1, 2, 2, 2, 0, 0}, {2, 4});
  const Tensor idx1 = i64({3, 3, 0, 1, 2, 1}, {3, 2});
  EXPECT_GRADCHECK([=](const Inputs& in) { return gather(in[0], 0, idx0); }, {leaf({3, 4}, 4)});
  EXPECT_GRADCHECK([=](const Inputs& in) { return gather(in[0], -1, idx1); },
                   {noncontiguous_leaf({3, 4}, 5)});
  // A transposed index tensor.
  EXPECT_GRADCHECK([=](const Inputs& in) { return gather(in[0], 1, idx0.t()); },
                   {noncontiguous_leaf({4, 3}, 6)});
  const Tensor idx3 = i64({1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1}, {3, 2, 2});
  EXPECT_GRADCHECK([=](const Inputs& in) { return gather(in[0], 1, idx3); }, {leaf({3, 2, 5}, 7)});
}

TEST(Index, GatherPicksTheIndexedElements) {
  const Tensor x = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  const Tensor out = gather(x, 1, i64({0, 0, 1, 0}, {2, 2}));
  EXPECT_EQ(out.to_vector<float>(), (std::vector<float>{1, 1, 4, 3}));
  const Tensor ints = gather(i64({5, 6, 7}), 0, i64({2, 2, 0}));
  EXPECT_EQ(ints.to_vector<int64_t>(), (std::vector<int64_t>{7, 7, 5}));
}

TEST(Index, LargeIndexSelectIsAnEmbeddingLookup) {
  Generator gen(5);
  const Tensor table = randn({1000, 64}, DType::f32, &gen);
  const Tensor ids = randint(0, 1000, {700}, &gen);
  const Tensor rows = index_select(table, 0, ids);
  ASSERT_EQ(rows.shape(), (Shape{700, 64}));
  const std::vector<int64_t> id = ids.to_vector<int64_t>();
  int64_t mismatches = 0;
  for (int64_t r = 0; r < 700; r += 37)
    for (int64_t k = 0; k < 64; ++k)
      mismatches += rows.at<float>({r, k}) != table.at<float>({id[r], k});
  EXPECT_EQ(mismatches, 0);
  // The backward counts each row once per time it was selected.
  Tensor w = table.detach().requires_grad_();
  index_select(w, 0, ids).sum().backward();
  std::vector<float> counts(1000, 0);
  for (int64_t i : id) counts[i] += 1;
  EXPECT_EQ(w.grad().slice(1, 0, 1).contiguous().to_vector<float>(), counts);
}

TEST(Index, IndexOutOfRangeIsAnError) {
  const Tensor x = zeros({2, 3});
  EXPECT_EQ(error_message([&] {
              index_select(x, 1, i64({0, 3}));
            }),
            "index_select: index 3 is out of range for axis 1 of size 3 (input shape [2, 3]; "
            "expected 0 <= index < 3)");
  EXPECT_EQ(error_message([&] { index_select(x, -2, i64({-1})); }),
            "index_select: index -1 is out of range for axis -2 of size 2 (input shape [2, 3]; "
            "expected 0 <= index < 2)");
  EXPECT_EQ(error_message([&] {
              gather(x, 0, i64({0, 1, 2}, {1, 3}));
            }),
            "gather: index 2 is out of range for axis 0 of size 2 (input shape [2, 3]; expected "
            "0 <= index < 2)");
}

TEST(Index, InvalidArgumentsAreErrors) {
  const Tensor x = zeros({2, 3});
  EXPECT_EQ(error_message([&] { index_select(x, 0, zeros({1})); }),
            "index_select: expected an i64 index tensor, got dtype f32 (convert it with "
            ".to(DType::i64))");
  EXPECT_EQ(error_message([&] {
              index_select(x, 0, i64({0, 1}, {1, 2}));
            }),
            "index_select: expected a 1-d index, got shape [1, 2]");
  EXPECT_EQ(error_message([&] {
              gather(x, 0, i64({0, 1}));
            }),
            "gather: index of shape [2] must have as many axes as the input of shape [2, 3]");
  EXPECT_EQ(error_message([&] {
              gather(x, 0, i64({0, 0, 0, 0}, {1, 4}));
            }),
            "gather: index of shape [1, 4] is larger than the input of shape [2, 3] on axis 1 "
            "(expected index size <= input size on every axis but 0)");
  EXPECT_EQ(error_message([&] {
              gather(x, 2, i64({0}, {1, 1}));
            }),
            "gather: axis 2 is out of range for a tensor of shape [2, 3] (expected -2 <= axis < "
            "2)");
}

TEST(Index, OneHotLabelOutOfRangeIsAnError) {
  EXPECT_EQ(error_message([] {
              one_hot(i64({0, 4, 1}), 4);
            }),
            "one_hot: label 4 is out of range for num_classes 4 (expected 0 <= label < 4)");
  EXPECT_EQ(error_message([] { one_hot(i64({-2}), 4); }),
            "one_hot: label -2 is out of range for num_classes 4 (expected 0 <= label < 4)");
  EXPECT_EQ(error_message([] { one_hot(zeros({2}), 4); }),
            "one_hot: expected i64 labels, got dtype f32 (convert them with .to(DType::i64))");
  EXPECT_EQ(error_message([] { one_hot(i64({0}), 0); }),
            "one_hot: num_classes must be positive, got 0");
}
