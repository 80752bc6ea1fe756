// Padding and resizing (src/ops/resample.cpp): pad, interpolate and upsample against PyTorch 1.13
// through the op-test harness (tests/reference/gen_pool.py: outputs and input gradients for every
// mode, negative pads, align_corners both ways, scale factors), gradcheck in f64 with
// non-contiguous inputs, integer dtypes, and argument errors.
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

namespace {

// The cases of pool.json hold f32 values only: each is replayed in f64 too, against them, hence
// the f32 tolerance for f64.
const std::vector<OpTest> kResampleTests = {
    {.name = "pad",
     .fn =
         [](const OpCase& c) {
           return pad(c.input("x"), c.attr<std::vector<int64_t>>("pads"),
                      c.attr<std::string>("mode"), c.attr<double>("value"));
         },
     .grad_inputs = {"x"},
     .f64 = {1e-5, 1e-6},
     .extra_dtypes = {DType::f64}},
    {.name = "interpolate",
     .fn =
         [](const OpCase& c) {
           return interpolate(c.input("x"), c.attr<std::vector<int64_t>>("size"),
                              c.attr<std::string>("mode"), c.attr<bool>("align_corners"));
         },
     .grad_inputs = {"x"},
     .f64 = {1e-5, 1e-6},
     .extra_dtypes = {DType::f64}},
    {.name = "upsample",
     .fn =
         [](const OpCase& c) {
           return upsample(c.input("x"), c.attr<double>("scale_factor"),
                           c.attr<std::string>("mode"), c.attr<bool>("align_corners"));
         },
     .grad_inputs = {"x"},
     .f64 = {1e-5, 1e-6},
     .extra_dtypes = {DType::f64}},
};

}  // namespace

TEST(Resample, MatchesPyTorch) { nabla::testing::check_ops("pool", kResampleTests); }

TEST(Pad, Gradcheck) {
  using V = std::vector<Tensor>;
  const Tensor x = noncontiguous_leaf({2, 2, 4, 5});
  for (const std::string mode : {"constant", "reflect", "replicate"}) {
    SCOPED_TRACE(mode);
    EXPECT_GRADCHECK([mode](const V& v) { return pad(v[0], {2, 1, 3, 2}, mode); }, {x});
    EXPECT_GRADCHECK([mode](const V& v) { return pad(v[0], {-1, 3, 1, -2}, mode); }, {x});
  }
  EXPECT_GRADCHECK([](const V& v) { return pad(v[0], {1, 0, 0, 2, 1, 1}, "constant", 2.5); }, {x});
}

TEST(Interpolate, Gradcheck) {
  using V = std::vector<Tensor>;
  const Tensor x2 = noncontiguous_leaf({2, 2, 5, 4}, 3);
  const Tensor x1 = leaf({2, 2, 5}, 4);
  for (const Shape& size : {Shape{7, 9}, Shape{3, 2}, Shape{10, 8}, Shape{1, 3}}) {
    SCOPED_TRACE(::testing::PrintToString(size));
    EXPECT_GRADCHECK([size](const V& v) { return interpolate(v[0], size); }, {x2});
    for (const bool align : {false, true}) {
      EXPECT_GRADCHECK(
          [size, align](const V& v) { return interpolate(v[0], size, "bilinear", align); }, {x2});
      EXPECT_GRADCHECK(
          [size, align](const V& v) { return interpolate(v[0], {size[0]}, "linear", align); },
          {x1});
    }
  }
  for (const double factor : {1.5, 0.7, 2.0}) {
    SCOPED_TRACE(factor);
    EXPECT_GRADCHECK([factor](const V& v) { return upsample(v[0], factor); }, {x2});
    EXPECT_GRADCHECK([factor](const V& v) { return upsample(v[0], factor, "bilinear"); }, {x2});
    EXPECT_GRADCHECK([factor](const V& v) { return upsample(v[0], factor, "linear", true); }, {x1});
  }
}

TEST(Pad, SizesAndIntegerDtypes) {
  const Tensor x = arange(6).reshape({2, 3});
  const Tensor y = pad(x, {1, 2}, "constant", 7);
  EXPECT_EQ(y.dtype(), DType::i64);
  EXPECT_EQ(y.to_vector<int64_t>(), (std::vector<int64_t>{7, 0, 1, 2, 7, 7, 7, 3, 4, 5, 7, 7}));
  EXPECT_EQ(pad(x, {0, 0, 1, 0}, "reflect").to_vector<int64_t>(),
            (std::vector<int64_t>{3, 4, 5, 0, 1, 2, 3, 4, 5}));
  const Tensor bytes = from_vector(std::vector<uint8_t>{1, 2, 3});
  EXPECT_EQ(pad(bytes, {2, 1}, "replicate").to_vector<uint8_t>(),
            (std::vector<uint8_t>{1, 1, 1, 2, 3, 3}));
  // Cropping an axis away entirely leaves an empty tensor; zero pads copy the values.
  EXPECT_EQ(pad(x, {-2, -1}).shape(), (Shape{2, 0}));
  EXPECT_EQ(pad(x, {0, 0}).to_vector<int64_t>(), x.to_vector<int64_t>());
  // Nearest resizing copies elements, so bytes resize too (images).
  const Tensor image = from_vector(std::vector<uint8_t>{1, 2, 3, 4}, {1, 1, 2, 2});
  EXPECT_EQ(interpolate(image, {4}).to_vector<uint8_t>(),
            (std::vector<uint8_t>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

TEST(Pad, ErrorMessages) {
  const Tensor x = zeros({1, 1, 4, 4});
  EXPECT_EQ(error_message([&] {
              pad(x, {1, 1, 1});
            }),
            "pad: expected pairs of pad values (before, after per axis), got 3 values [1, 1, 1]");
  EXPECT_EQ(error_message([&] {
              pad(zeros({4}), {1, 1, 1, 1});
            }),
            "pad: 4 pad values pad 2 axes, but the input of shape [4] has 1");
  EXPECT_EQ(error_message([&] {
              pad(x, {1, 1}, "circular");
            }),
            "pad: unknown mode \"circular\" (expected \"constant\", \"reflect\" or "
            "\"replicate\")");
  EXPECT_EQ(error_message([&] {
              pad(x, {4, 0}, "reflect");
            }),
            "pad: reflect padding (4, 0) of axis 3 must be less than its size 4 (input shape "
            "[1, 1, 4, 4])");
  EXPECT_EQ(error_message([&] {
              pad(x, {0, 0, 1, 5}, "reflect");
            }),
            "pad: reflect padding (1, 5) of axis 2 must be less than its size 4 (input shape "
            "[1, 1, 4, 4])");
  EXPECT_EQ(error_message([&] {
              pad(x, {-3, -2}, "replicate");
            }),
            "pad: padding (-3, -2) of axis 3 makes its size 4 negative (-1) for input shape "
            "[1, 1, 4, 4]");
  EXPECT_EQ(error_message([&] {
              pad(x, {1, 1}, "reflect", 1.5);
            }),
            "pad: mode \"reflect\" takes no fill value, got 1.5");
  EXPECT_EQ(error_message([] {
              pad(zeros({2, 0}), {1, 1}, "replicate");
            }),
            "pad: replicate padding of axis 1 needs a non-empty axis, got input shape [2, 0]");
}

TEST(Interpolate, ErrorMessages) {
  const Tensor x = zeros({1, 1, 4, 4});
  EXPECT_EQ(error_message([&] {
              interpolate(x, {2, 2, 2});
            }),
            "interpolate: expected 2 output size(s), one per spatial axis of input shape "
            "[1, 1, 4, 4] (or one for all), got 3 [2, 2, 2]");
  EXPECT_EQ(error_message([] {
              interpolate(zeros({1, 1, 4}), {2, 2});
            }),
            "interpolate: expected 1 output size(s), one per spatial axis of input shape "
            "[1, 1, 4] (or one for all), got 2 [2, 2]");
  EXPECT_EQ(error_message([&] { interpolate(x, {}); }),
            "interpolate: expected 2 output size(s), one per spatial axis of input shape "
            "[1, 1, 4, 4] (or one for all), got 0 []");
  EXPECT_EQ(error_message([&] {
              interpolate(x, {0, 2});
            }),
            "interpolate: input and output sizes must be positive, got input shape [1, 1, 4, 4] "
            "and output size [0, 2]");
  EXPECT_EQ(error_message([&] {
              interpolate(x, {2, 2}, "bicubic");
            }),
            "interpolate: unknown mode \"bicubic\" (expected \"nearest\", \"linear\" or "
            "\"bilinear\")");
  EXPECT_EQ(error_message([&] {
              interpolate(x, {2, 2}, "linear");
            }),
            "interpolate: mode \"linear\" needs a 3-d input [N, C, L], got shape [1, 1, 4, 4] "
            "(use \"bilinear\" for [N, C, H, W])");
  EXPECT_EQ(error_message([] {
              interpolate(zeros({1, 1, 4}), {2}, "bilinear");
            }),
            "interpolate: mode \"bilinear\" needs a 4-d input [N, C, H, W], got shape [1, 1, 4] "
            "(use \"linear\" for [N, C, L])");
  EXPECT_EQ(error_message([&] {
              interpolate(x, {2, 2}, "nearest", true);
            }),
            "interpolate: align_corners applies to the \"linear\" and \"bilinear\" modes only, "
            "not \"nearest\"");
  EXPECT_EQ(error_message([] {
              interpolate(zeros({4, 4}), {2});
            }),
            "interpolate: expected input [N, C, L] or [N, C, H, W], got shape [4, 4]");
  EXPECT_EQ(error_message([] {
              interpolate(zeros({1, 1, 2, 2}, DType::i64), {3}, "bilinear");
            }),
            "interpolate: expected a floating tensor (f32 or f64), got i64");
  EXPECT_EQ(error_message([&] { upsample(x, 0.1); }),
            "upsample: input and output sizes must be positive, got input shape [1, 1, 4, 4] "
            "and output size [0, 0]");
  EXPECT_EQ(error_message([&] { upsample(x, -2); }),
            "upsample: scale_factor must be positive and finite, got -2");
}
