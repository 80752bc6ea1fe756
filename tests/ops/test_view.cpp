// Views: reshape/view, transpose, permute, squeeze/unsqueeze, expand, flatten, slice, select;
// values against PyTorch 1.13 through the op-test harness (tests/reference/gen_reduce_index.py).
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

using Ints = std::vector<int64_t>;

int64_t attr(const OpCase& c, const char* name) { return c.attr<int64_t>(name); }

const std::vector<OpTest> kViewTests = {
    {.name = "permute",
     .fn = [](const OpCase& c) { return permute(c.input("x"), c.attr<Shape>("dims")); },
     .grad_inputs = {"x"}},
    {.name = "transpose",
     .fn =
         [](const OpCase& c) {
           return transpose(c.input("x"), attr(c, "axis0"), attr(c, "axis1"));
         },
     .grad_inputs = {"x"}},
    {.name = "reshape",  // reshape/transposed_*: of x transposed first, which reshape copies
     .fn =
         [](const OpCase& c) {
           Tensor x = c.input("x");
           if (c.has("transpose")) {
             const Ints axes = c.attr<Ints>("transpose");
             x = x.transpose(axes.at(0), axes.at(1));
           }
           return reshape(x, c.attr<Shape>("shape"));
         },
     .grad_inputs = {"x"}},
    {.name = "flatten",
     .fn = [](const OpCase& c) { return flatten(c.input("x"), attr(c, "start"), attr(c, "end")); },
     .grad_inputs = {"x"}},
    {.name = "slice",
     .fn =
         [](const OpCase& c) {
           return slice(c.input("x"), attr(c, "axis"), attr(c, "start"), attr(c, "end"),
                        attr(c, "step"));
         },
     .grad_inputs = {"x"}},
    {.name = "select",
     .fn = [](const OpCase& c) { return c.input("x").select(attr(c, "axis"), attr(c, "index")); },
     .grad_inputs = {"x"}},
    {.name = "expand",  // of x sliced first ("slice": axis, start, end): a view of a view
     .fn =
         [](const OpCase& c) {
           const Ints s = c.attr<Ints>("slice");
           return expand(c.input("x").slice(s.at(0), s.at(1), s.at(2)), c.attr<Shape>("shape"));
         },
     .grad_inputs = {"x"}},
};

}  // namespace

TEST(View, MatchesPyTorch) { nabla::testing::check_ops("reduce_index", kViewTests); }

TEST(View, ReshapeIsAViewWhenStridesAllowElseACopy) {
  const Tensor x = arange(0, 24, 1, DType::f32).reshape({2, 3, 4});
  const Tensor v = x.reshape({6, -1});
  EXPECT_EQ(v.shape(), (Shape{6, 4}));
  EXPECT_TRUE(v.shares_storage(x));
  // Splitting an axis of a transposed tensor still views; merging non-adjacent axes copies.
  const Tensor t = x.transpose(0, 1);  // [3, 2, 4]
  EXPECT_TRUE(t.reshape({3, 2, 2, 2}).shares_storage(x));
  const Tensor copied = t.reshape({-1});
  EXPECT_FALSE(copied.shares_storage(x));
  EXPECT_EQ(copied.to_vector<float>()[4], 12.f);  // t[0, 1, 0] = x[1, 0, 0]
  EXPECT_EQ(copied.to_vector<float>(), t.contiguous().to_vector<float>());
  EXPECT_EQ(x.view({4, 6}).shape(), (Shape{4, 6}));
  EXPECT_EQ(reshape(scalar_tensor(3), {1, 1}).shape(), (Shape{1, 1}));
}

TEST(View, ImpossibleViewsAndReshapesAreErrors) {
  const Tensor t = zeros({2, 3}).t();
  EXPECT_EQ(error_message([&] { t.view({6}); }),
            "view: a tensor of shape [3, 2] and strides [1, 3] cannot be viewed as [6] without a "
            "copy; use reshape() or contiguous() first");
  EXPECT_EQ(error_message([&] {
              reshape(t, {4, -1});
            }),
            "reshape: cannot reshape a tensor of shape [3, 2] (6 elements) to [4, -1]");
  EXPECT_EQ(error_message([&] { reshape(t, {5}); }),
            "reshape: cannot reshape a tensor of shape [3, 2] (6 elements) to [5] (5 elements)");
  EXPECT_EQ(error_message([&] {
              reshape(t, {-1, -1});
            }),
            "reshape: only one axis may be -1, got [-1, -1]");
  EXPECT_EQ(error_message([&] { permute(t, {0, 0}); }), "permute: axis 0 repeated in [0, 0]");
  EXPECT_EQ(error_message([&] { t.select(0, 3); }),
            "select: index 3 out of range for axis 0 of size 3 (shape [3, 2])");
  EXPECT_EQ(error_message([&] {
              expand(t, {3, 4});
            }),
            "expand: cannot broadcast shape [3, 2] to [3, 4]");
}

TEST(View, SqueezeUnsqueezeAndExpandShapes) {
  const Tensor x = zeros({1, 3, 1, 2});
  EXPECT_EQ(squeeze(x).shape(), (Shape{3, 2}));
  EXPECT_EQ(squeeze(x, -2).shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(squeeze(x, 1).shape(), (Shape{1, 3, 1, 2}));  // not size 1: unchanged, as PyTorch
  EXPECT_EQ(unsqueeze(x, -1).shape(), (Shape{1, 3, 1, 2, 1}));
  EXPECT_EQ(unsqueeze(x, 0).shape(), (Shape{1, 1, 3, 1, 2}));
  const Tensor e = expand(x, {4, -1, 3, 5, 2});
  EXPECT_EQ(e.shape(), (Shape{4, 1, 3, 5, 2}));
  EXPECT_EQ(e.strides()[0], 0);
  EXPECT_TRUE(e.shares_storage(x));
  EXPECT_EQ(flatten(scalar_tensor(1)).shape(), (Shape{1}));
  EXPECT_EQ(x.flatten(0, -2).shape(), (Shape{3, 2}));
}

TEST(View, SliceWithStepWritesThroughToTheBase) {
  Tensor x = arange(0, 10, 1, DType::f32);
  Tensor s = x.slice(0, 1, 8, 3);  // 1, 4, 7
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{1, 4, 7}));
  EXPECT_EQ(x.slice(0, -3, 100).to_vector<float>(), (std::vector<float>{7, 8, 9}));
  EXPECT_EQ(x.slice(0, 5, 2).numel(), 0);
  s.fill_(-1);
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{0, -1, 2, 3, -1, 5, 6, -1, 8, 9}));
}

TEST(View, ReshapeAndViewGradcheck) {
  EXPECT_GRADCHECK([](const Inputs& in) { return reshape(in[0], {4, -1}); }, {leaf({2, 3, 4})});
  // Not viewable: reshape copies, and the gradient still flows back through the copy.
  EXPECT_GRADCHECK([](const Inputs& in) { return reshape(in[0], {-1}) * 3.0; },
                   {noncontiguous_leaf({3, 4})});
  EXPECT_GRADCHECK([](const Inputs& in) { return in[0].view({2, 12}); }, {leaf({2, 3, 4})});
  EXPECT_GRADCHECK([](const Inputs& in) { return flatten(in[0], 0, 1); },
                   {noncontiguous_leaf({2, 3, 4})});
}

TEST(View, PermuteTransposeGradcheck) {
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return permute(in[0], {2, 0, 1}) * 2.0;
      },
      {noncontiguous_leaf({2, 3, 4})});
  EXPECT_GRADCHECK([](const Inputs& in) { return transpose(in[0], -1, 0); }, {leaf({2, 3, 4})});
  EXPECT_GRADCHECK([](const Inputs& in) { return in[0].t(); }, {noncontiguous_leaf({3, 4})});
}

TEST(View, SqueezeUnsqueezeExpandGradcheck) {
  EXPECT_GRADCHECK([](const Inputs& in) { return squeeze(in[0]); }, {leaf({1, 3, 1, 2})});
  EXPECT_GRADCHECK([](const Inputs& in) { return squeeze(in[0], 0); }, {leaf({1, 3, 2})});
  EXPECT_GRADCHECK([](const Inputs& in) { return unsqueeze(in[0], -2); },
                   {noncontiguous_leaf({3, 4})});
  // Expanded axes sum their gradients.
  EXPECT_GRADCHECK([](const Inputs& in) { return expand(in[0], {2, 3, 4}); }, {leaf({3, 1})});
  EXPECT_GRADCHECK(
      [](const Inputs& in) {
        return broadcast_to(in[0], {5, 4, 3});
      },
      {noncontiguous_leaf({4, 3})});
}

TEST(View, SliceAndSelectGradcheck) {
  EXPECT_GRADCHECK([](const Inputs& in) { return slice(in[0], 1, 1, 5, 2); }, {leaf({3, 6})});
  EXPECT_GRADCHECK([](const Inputs& in) { return slice(in[0], -2, -3, 4, 3); },
                   {noncontiguous_leaf({2, 5, 3})});
  EXPECT_GRADCHECK([](const Inputs& in) { return in[0].select(-1, 2); },
                   {noncontiguous_leaf({3, 4})});
  EXPECT_GRADCHECK([](const Inputs& in) { return in[0].select(0, -1) * in[0].select(0, 0); },
                   {leaf({3, 4})});
}
