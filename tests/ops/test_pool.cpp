// Pooling (src/ops/pool.cpp): max_pool2d, avg_pool2d and adaptive_avg_pool2d against PyTorch 1.13
// through the op-test harness (tests/reference/gen_pool.py: outputs and input gradients,
// ceil_mode, padding, ties), gradcheck in f64 (odd sizes, stride > 1, padding, ceil_mode,
// non-contiguous inputs), NaN and -inf handling, agreement of the threaded kernels with a plain
// loop, and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/op_test.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::gradcheck;
using nabla::testing::leaf;
using nabla::testing::noncontiguous_leaf;
using nabla::testing::OpCase;
using nabla::testing::OpTest;

namespace {

std::vector<int64_t> ints(const OpCase& c, const std::string& key) {
  return c.attr<std::vector<int64_t>>(key);
}

Tensor max_pool_case(const OpCase& c) {
  return max_pool2d(c.input("x"), ints(c, "kernel"), ints(c, "stride"), ints(c, "padding"),
                    c.attr<bool>("ceil_mode"));
}

// The cases of pool.json hold f32 values only: each is replayed in f64 too, against them, hence
// the f32 tolerance for f64.
const std::vector<OpTest> kPoolTests = {
    {.name = "max_pool2d",
     .fn = max_pool_case,
     .grad_inputs = {"x"},
     .f64 = {1e-5, 1e-6},
     .cases = {"max_pool2d/k2", "max_pool2d/k2_s2_p0_ceil", "max_pool2d/k3x2_s3x1_p1x1_ceil",
               "max_pool2d/k5_s2_p0_ceil"},
     .extra_dtypes = {DType::f64}},
    {.name = "max_pool2d (tied maxima)",
     .fn = max_pool_case,
     .grad_inputs = {"x"},
     .f64 = {1e-5, 1e-6},
     // A window of each of these cases holds its maximum twice (max_pool2d_ties/* on purpose,
     // the others by the rounding of their values to 0.01): the gradient goes to the first, as
     // in PyTorch, and central differences would straddle the tie. MaxPool2d.Gradcheck checks
     // the same kernels, strides and paddings on tie-free inputs.
     .cases = {"max_pool2d/k3_s2_p1", "max_pool2d/k2x3_s1x2_p1x0_ceil", "max_pool2d_ties"},
     .extra_dtypes = {DType::f64},
     .gradcheck = std::nullopt},
    {.name = "avg_pool2d",
     .fn =
         [](const OpCase& c) {
           return avg_pool2d(c.input("x"), ints(c, "kernel"), ints(c, "stride"), ints(c, "padding"),
                             c.attr<bool>("ceil_mode"), c.attr<bool>("count_include_pad"));
         },
     .grad_inputs = {"x"},
     .f64 = {1e-5, 1e-6},
     .extra_dtypes = {DType::f64}},
    {.name = "adaptive_avg_pool2d",
     .fn =
         [](const OpCase& c) { return adaptive_avg_pool2d(c.input("x"), ints(c, "output_size")); },
     .grad_inputs = {"x"},
     .f64 = {1e-5, 1e-6},
     .extra_dtypes = {DType::f64}},
};

// A plain loop over one plane, independent of the kernels: max (first of ties) or average with
// count_include_pad, floor mode.
double naive_pool(const std::vector<double>& plane, int64_t h, int64_t w, int64_t oh, int64_t ow,
                  int64_t k, int64_t s, int64_t p, bool max) {
  double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
  for (int64_t i = oh * s - p; i < oh * s - p + k; ++i) {
    for (int64_t j = ow * s - p; j < ow * s - p + k; ++j) {
      if (i < 0 || j < 0 || i >= h || j >= w) continue;
      const double v = plane[i * w + j];
      acc = max ? std::max(acc, v) : acc + v;
    }
  }
  return max ? acc : acc / static_cast<double>(k * k);
}

}  // namespace

TEST(Pool2d, MatchesPyTorch) { nabla::testing::check_ops("pool", kPoolTests); }

TEST(MaxPool2d, Gradcheck) {
  using V = std::vector<Tensor>;
  EXPECT_GRADCHECK([](const V& v) { return max_pool2d(v[0], {3}, {2}, {1}, true); },
                   {leaf({2, 2, 5, 7})});
  EXPECT_GRADCHECK(
      [](const V& v) {
        return max_pool2d(v[0], {2, 3}, {1, 2}, {1, 0});
      },
      {noncontiguous_leaf({1, 3, 6, 5}, 2)});
  EXPECT_GRADCHECK([](const V& v) { return max_pool2d(v[0], {2}); },  // the 2x2 fast path
                   {noncontiguous_leaf({2, 2, 6, 8}, 3)});
  EXPECT_GRADCHECK([](const V& v) { return max_pool2d(v[0], {2}, {2}, {}, true); },
                   {leaf({1, 2, 5, 7}, 4)});
}

TEST(AvgPool2d, Gradcheck) {
  using V = std::vector<Tensor>;
  for (const bool include : {true, false}) {
    SCOPED_TRACE(include);
    EXPECT_GRADCHECK(
        [include](const V& v) { return avg_pool2d(v[0], {3}, {2}, {1}, true, include); },
        {leaf({2, 2, 6, 7})});
    EXPECT_GRADCHECK(
        [include](const V& v) {
          return avg_pool2d(v[0], {3, 2}, {2, 3}, {1, 1}, false, include);
        },
        {noncontiguous_leaf({1, 2, 7, 8}, 5)});
  }
  EXPECT_GRADCHECK([](const V& v) { return avg_pool2d(v[0], {2}); }, {leaf({2, 3, 4, 6}, 6)});
  // 2x2 on odd sizes: the last row and column are in no window and get zero gradient.
  EXPECT_GRADCHECK([](const V& v) { return avg_pool2d(v[0], {2}); },
                   {noncontiguous_leaf({1, 2, 5, 7}, 8)});
}

TEST(AdaptiveAvgPool2d, Gradcheck) {
  using V = std::vector<Tensor>;
  for (const Shape& size : {Shape{3, 4}, Shape{1, 1}, Shape{8, 10}, Shape{2}}) {
    SCOPED_TRACE(::testing::PrintToString(size));
    EXPECT_GRADCHECK([size](const V& v) { return adaptive_avg_pool2d(v[0], size); },
                     {noncontiguous_leaf({2, 2, 7, 5}, 7)});
  }
}

TEST(MaxPool2d, NaNPropagatesAndInfinityIsAValue) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  // Plane [[1, nan, 5, 2], [3, 4, -inf, -inf]]: the NaN wins its window, wherever it sits.
  Tensor x = from_vector(std::vector<double>{1, nan, 5, 2, 3, 4, -inf, -inf}, {1, 1, 2, 4});
  x.requires_grad_();
  const Tensor y = max_pool2d(x, {2});
  const auto v = y.to_vector<double>();
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 5);
  // A window of -inf only: the output is -inf and its gradient goes to the first element.
  const Tensor z = from_vector(std::vector<double>{-inf, -inf, -inf, -inf}, {1, 1, 2, 2});
  Tensor zl = z.detach().requires_grad_();
  const Tensor m = max_pool2d(zl, {2}, {1}, {1});  // padding: windows are partly -inf padding
  EXPECT_EQ(m.to_vector<double>(), std::vector<double>(9, -inf));
  m.sum().backward();
  EXPECT_EQ(zl.grad().to_vector<double>(), (std::vector<double>{4, 2, 2, 1}));
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 1, 1, 0, 0, 0, 0, 0}));
}

TEST(MaxPool2d, TiesGiveTheGradientToTheFirstMaximum) {
  Tensor x = full({1, 1, 3, 3}, 2.0, DType::f64).requires_grad_();
  max_pool2d(x, {2}, {1}).sum().backward();
  // Each of the four windows picks its top-left element.
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1, 0, 1, 1, 0, 0, 0, 0}));
}

// f32 2x2 pooling runs its own (vectorized, where AVX-512 is) code: it must pick the same values
// and positions as the f64 scalar code, for row lengths under, at and over a vector of outputs,
// with ties (small integers) and NaNs among the values.
TEST(MaxPool2d, F32TwoByTwoMatchesTheF64Path) {
  Generator gen(4);
  for (const Shape& shape : {Shape{2, 3, 6, 5}, Shape{1, 2, 26, 26}, Shape{1, 1, 5, 33},
                             Shape{1, 1, 4, 64}, Shape{1, 1, 3, 70}}) {
    SCOPED_TRACE(::testing::PrintToString(shape));
    std::vector<double> values = randn(shape, DType::f64, &gen).to_vector<double>();
    for (double& v : values) v = std::floor(2 * v);  // few distinct values: many ties
    for (size_t i = 0; i < values.size(); i += 7) values[i] = std::nan("");
    Tensor xs[2] = {from_vector(values, shape).to(DType::f32).requires_grad_(),
                    from_vector(values, shape).requires_grad_()};
    Tensor ys[2];
    for (int k = 0; k < 2; ++k) {
      ys[k] = max_pool2d(xs[k], {2});
      mul(ys[k], arange(1, ys[k].numel() + 1, 1, ys[k].dtype()).reshape(ys[k].shape()))
          .sum()
          .backward();
    }
    const auto y32 = ys[0].to(DType::f64).to_vector<double>(), y64 = ys[1].to_vector<double>();
    ASSERT_EQ(y32.size(), y64.size());
    for (size_t i = 0; i < y32.size(); ++i) {
      if (std::isnan(y64[i])) {
        EXPECT_TRUE(std::isnan(y32[i])) << i;
      } else {
        EXPECT_EQ(y32[i], y64[i]) << i;
      }
    }
    EXPECT_EQ(xs[0].grad().to(DType::f64).to_vector<double>(), xs[1].grad().to_vector<double>());
  }
}

TEST(Pool2d, ThreadedKernelsMatchAPlainLoop) {
  // Large enough to run over the thread pool; odd planes exercise the partial windows.
  Generator gen(9);
  for (const Shape& shape : {Shape{8, 32, 26, 26}, Shape{8, 16, 11, 11}}) {
    const Tensor x = randn(shape, DType::f64, &gen);
    const int64_t h = shape[2], w = shape[3];
    for (const bool max : {true, false}) {
      for (const auto& [k, s, p] : {std::tuple{2, 2, 0}, std::tuple{3, 2, 1}}) {
        const Tensor y = max ? max_pool2d(x, {k}, {s}, {p}) : avg_pool2d(x, {k}, {s}, {p});
        const int64_t oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
        ASSERT_EQ(y.shape(), (Shape{shape[0], shape[1], oh, ow}));
        const auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
        int64_t bad = 0;
        for (int64_t plane = 0; plane < shape[0] * shape[1]; ++plane) {
          const std::vector<double> in(xv.begin() + plane * h * w,
                                       xv.begin() + (plane + 1) * h * w);
          for (int64_t i = 0; i < oh; ++i)
            for (int64_t j = 0; j < ow; ++j)
              bad += std::abs(yv[(plane * oh + i) * ow + j] -
                              naive_pool(in, h, w, i, j, k, s, p, max)) > 1e-12;
        }
        EXPECT_EQ(bad, 0) << "max " << max << " kernel " << k;
      }
    }
  }
}

TEST(Pool2d, SameResultAtAnyThreadCount) {
  const Tensor x = randn({16, 32, 26, 26});
  auto run = [&] {
    Tensor xl = x.detach().requires_grad_();
    const Tensor y = max_pool2d(xl, {2}) + avg_pool2d(xl, {3}, {2}, {1});
    (y * y).sum().backward();
    return std::pair{y.to_vector<float>(), xl.grad().to_vector<float>()};
  };
  const int threads = get_num_threads();
  set_num_threads(1);
  const auto one = run();
  set_num_threads(2);
  const auto two = run();
  set_num_threads(threads);
  EXPECT_EQ(one.first, two.first);
  EXPECT_EQ(one.second, two.second);
}

TEST(Pool2d, NoGradientNoRecord) {
  const Tensor x = randn({1, 2, 4, 4}).requires_grad_();
  NoGradGuard no_grad;
  const Tensor y = max_pool2d(x, {2});
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.shape(), (Shape{1, 2, 2, 2}));
}

TEST(Pool2d, ErrorMessages) {
  const Tensor x = zeros({1, 1, 4, 4});
  EXPECT_EQ(error_message([] {
              max_pool2d(zeros({4, 4}), {2});
            }),
            "max_pool2d: expected input [N, C, H, W], got shape [4, 4]");
  EXPECT_EQ(error_message([] {
              avg_pool2d(zeros({2, 4, 4}), {2});
            }),
            "avg_pool2d: expected input [N, C, H, W], got shape [2, 4, 4]");
  EXPECT_EQ(error_message([&] { max_pool2d(x, {5}); }),
            "max_pool2d: kernel [5, 5] is larger than the padded input [4, 4] (input shape "
            "[1, 1, 4, 4], padding [0, 0]); the output would be [0, 0]");
  EXPECT_EQ(error_message([&] {
              avg_pool2d(x, {2, 7}, {1}, {0, 1});
            }),
            "avg_pool2d: kernel [2, 7] is larger than the padded input [4, 6] (input shape "
            "[1, 1, 4, 4], padding [0, 1]); the output would be [3, 0]");
  EXPECT_EQ(error_message([&] { max_pool2d(x, {3}, {1}, {2}); }),
            "max_pool2d: padding [2, 2] must be at most half the kernel [3, 3] (padding <= "
            "kernel / 2)");
  EXPECT_EQ(error_message([&] {
              max_pool2d(x, {2, 2, 2});
            }),
            "max_pool2d: kernel takes one value for both axes or two ({rows, cols}), got 3 "
            "values [2, 2, 2]");
  EXPECT_EQ(error_message([&] { max_pool2d(x, {}); }),
            "max_pool2d: kernel must have one value or two ({rows, cols}), got none");
  EXPECT_EQ(error_message([&] { max_pool2d(x, {0}); }),
            "max_pool2d: kernel must be positive, got [0, 0]");
  EXPECT_EQ(error_message([&] {
              avg_pool2d(x, {2}, {1, 0});
            }),
            "avg_pool2d: stride must be positive, got [1, 0]");
  EXPECT_EQ(error_message([&] { avg_pool2d(x, {2}, {}, {-1}); }),
            "avg_pool2d: padding must be non-negative, got [-1, -1]");
  EXPECT_EQ(error_message([] {
              max_pool2d(zeros({1, 1, 4, 4}, DType::i64), {2});
            }),
            "max_pool2d: expected a floating tensor (f32 or f64), got i64");
  EXPECT_EQ(error_message([] {
              adaptive_avg_pool2d(zeros({3, 4, 4}), {2});
            }),
            "adaptive_avg_pool2d: expected input [N, C, H, W], got shape [3, 4, 4]");
  EXPECT_EQ(error_message([&] {
              adaptive_avg_pool2d(x, {0, 2});
            }),
            "adaptive_avg_pool2d: output_size must be positive, got [0, 2] for input shape "
            "[1, 1, 4, 4]");
  EXPECT_EQ(error_message([&] {
              adaptive_avg_pool2d(x, {1, 2, 3});
            }),
            "adaptive_avg_pool2d: output_size takes one value for both axes or two ({rows, "
            "cols}), got 3 values [1, 2, 3]");
  EXPECT_EQ(error_message([&] { adaptive_avg_pool2d(x, {}); }),
            "adaptive_avg_pool2d: output_size must have one value or two ({rows, cols}), got "
            "none");
}
