// Reductions: sum, mean, var, max/min (along an axis and over all elements), argmax/argmin,
// against PyTorch 1.13 through the op-test harness (tests/reference/gen_reduce_index.py).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/op_test.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::kNaN;
using nabla::testing::leaf;
using nabla::testing::noncontiguous_leaf;
using nabla::testing::OpCase;
using nabla::testing::OpOutputs;
using nabla::testing::OpTest;
using Inputs = std::vector<Tensor>;

namespace {

Axes axes(const OpCase& c) { return c.attr<Axes>("axes"); }

// max/min along an axis: values and indices.
OpOutputs along(ValuesIndices (*op)(const Tensor&, int64_t, bool), const OpCase& c) {
  const ValuesIndices r = op(c.input("x"), c.attr<int64_t>("axis"), c.attr<bool>("keepdim"));
  return {r.values, r.indices};
}

// The max and min cases have ties everywhere on purpose (small integers): along an axis the whole
// gradient goes to the first index, over all elements it is split evenly among the ties, as in
// PyTorch; central differences would straddle the ties. MaxMinAlongAxisGradcheck and
// MaxMinOverAllElementsGradcheck check tie-free inputs.
const std::vector<OpTest> kReduceTests = {
    {.name = "sum",
     .fn = [](const OpCase& c) { return sum(c.input("x"), axes(c), c.attr<bool>("keepdim")); },
     .grad_inputs = {"x"}},
    {.name = "mean",
     .fn = [](const OpCase& c) { return mean(c.input("x"), axes(c), c.attr<bool>("keepdim")); },
     .grad_inputs = {"x"}},
    {.name = "var",  // var/f32_* and var/f64_* (inputs and PyTorch's values in f64)
     .fn =
         [](const OpCase& c) {
           return var(c.input("x"), axes(c), c.attr<int64_t>("correction"),
                      c.attr<bool>("keepdim"));
         },
     .grad_inputs = {"x"}},
    {.name = "max",
     .fn = [](const OpCase& c) { return along(max, c); },
     .grad_inputs = {"x"},
     .outputs = {{"values", "grad_values"}, {"indices", "grad_indices"}},
     .gradcheck = std::nullopt},
    {.name = "min",
     .fn = [](const OpCase& c) { return along(min, c); },
     .grad_inputs = {"x"},
     .outputs = {{"values", "grad_values"}, {"indices", "grad_indices"}},
     .gradcheck = std::nullopt},
    {.name = "argmax",
     .fn =
         [](const OpCase& c) {
           return argmax(c.input("x"), c.attr<int64_t>("axis"), c.attr<bool>("keepdim"));
         },
     .grad_inputs = {},  // not differentiable
     .cases = {"max"},
     .outputs = {{"arg", "grad_arg"}}},
    {.name = "argmin",
     .fn =
         [](const OpCase& c) {
           return argmin(c.input("x"), c.attr<int64_t>("axis"), c.attr<bool>("keepdim"));
         },
     .grad_inputs = {},
     .cases = {"min"},
     .outputs = {{"arg", "grad_arg"}}},
    {.name = "max_all",
     .fn = [](const OpCase& c) { return max(c.input("x")); },
     .grad_inputs = {"x"},
     .gradcheck = std::nullopt},
    {.name = "min_all",
     .fn = [](const OpCase& c) { return min(c.input("x")); },
     .grad_inputs = {"x"},
     .gradcheck = std::nullopt},
};
}  // namespace

TEST(Reduce, MatchesPyTorch) { nabla::testing::check_ops("reduce_index", kReduceTests); }

TEST(Reduce, VarOfNonContiguousInputAndEdgeCases) {
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 5, 7}, {2, 3}).t();  // [3, 2]
  EXPECT_ALL_CLOSE(var(x, {0}), from_vector(std::vector<double>{1, 7.0 / 3}), 1e-12);
  EXPECT_ALL_CLOSE(var(x, {-1}, 0), from_vector(std::vector<double>{2.25, 2.25, 4}), 1e-12);
  // One element left with correction 1: 0/0, as torch.var.
  EXPECT_TRUE(std::isnan(var(ones({1, 3}), {0}).to_vector<float>()[0]));
  EXPECT_EQ(var(full({4}, 2.5), {}, 0).item(), 0.0);
}

TEST(Reduce, SumGradcheck) {
  for (bool keepdim : {false, true}) {
    for (const Axes& axes : {Axes{}, Axes{1}, Axes{0, 2}, Axes{-1}, Axes{-3, -1}}) {
      SCOPED_TRACE(::testing::Message() << "axes " << detail::str(axes) << " keepdim " << keepdim);
      auto f = [=](const Inputs& in) { return sum(in[0], axes, keepdim); };
      EXPECT_GRADCHECK(f, {leaf({2, 3, 4})});
      EXPECT_GRADCHECK(f, {noncontiguous_leaf({2, 3, 4})});
    }
  }
}

TEST(Reduce, MeanGradcheck) {
  for (bool keepdim : {false, true}) {
    for (const Axes& axes : {Axes{}, Axes{0}, Axes{1, 2}, Axes{-2}}) {
      SCOPED_TRACE(::testing::Message() << "axes " << detail::str(axes) << " keepdim " << keepdim);
      auto f = [=](const Inputs& in) { return mean(in[0], axes, keepdim); };
      EXPECT_GRADCHECK(f, {leaf({2, 3, 4}, 2)});
      EXPECT_GRADCHECK(f, {noncontiguous_leaf({2, 3, 4}, 3)});
    }
  }
}

TEST(Reduce, VarGradcheck) {
  for (bool keepdim : {false, true}) {
    for (int64_t correction : {0, 1, 2}) {
      for (const Axes& axes : {Axes{}, Axes{1}, Axes{0, 2}, Axes{-1}}) {
        SCOPED_TRACE(::testing::Message() << "axes " << detail::str(axes) << " correction "
                                          << correction << " keepdim " << keepdim);
        auto f = [=](const Inputs& in) { return var(in[0], axes, correction, keepdim); };
        EXPECT_GRADCHECK(f, {leaf({3, 4, 5}, 4)});
        EXPECT_GRADCHECK(f, {noncontiguous_leaf({3, 4, 5}, 5)});
      }
    }
  }
}

TEST(Reduce, MaxMinAlongAxisGradcheck) {
  for (bool keepdim : {false, true}) {
    for (int64_t axis : {0, 1, 2, -1, -3}) {
      SCOPED_TRACE(::testing::Message() << "axis " << axis << " keepdim " << keepdim);
      auto f_max = [=](const Inputs& in) { return max(in[0], axis, keepdim).values; };
      auto f_min = [=](const Inputs& in) { return min(in[0], axis, keepdim).values; };
      EXPECT_GRADCHECK(f_max, {leaf({3, 4, 5}, 6)});
      EXPECT_GRADCHECK(f_min, {leaf({3, 4, 5}, 7)});
      EXPECT_GRADCHECK(f_max, {noncontiguous_leaf({3, 4, 5}, 8)});
      EXPECT_GRADCHECK(f_min, {noncontiguous_leaf({3, 4, 5}, 9)});
    }
  }
}

TEST(Reduce, MaxOverAllElementsSplitsTheGradientAmongTies) {
  Tensor x = from_vector(std::vector<double>{3, 1, 3, 3}).requires_grad_();
  max(x).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1. / 3, 0, 1. / 3, 1. / 3}));
}

TEST(Reduce, MaxMinOverAllElementsGradcheck) {
  EXPECT_GRADCHECK([](const Inputs& in) { return max(in[0]); }, {leaf({3, 4}, 10)});
  EXPECT_GRADCHECK([](const Inputs& in) { return min(in[0]); }, {noncontiguous_leaf({3, 4}, 11)});
}

TEST(Reduce, NaNIsTheExtremeAsInPyTorch) {
  Tensor x = from_vector(std::vector<double>{1, kNaN, 3, 2, 1, 1}, {2, 3});
  ValuesIndices mx = max(x, 1), mn = min(x, 1);
  EXPECT_TRUE(std::isnan(mx.values.to_vector<double>()[0]));
  EXPECT_EQ(mx.values.to_vector<double>()[1], 2.0);
  EXPECT_EQ(mx.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  EXPECT_TRUE(std::isnan(mn.values.to_vector<double>()[0]));
  EXPECT_EQ(mn.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 1}));
  EXPECT_TRUE(std::isnan(max(x).item()));
  EXPECT_TRUE(std::isnan(min(x).item()));
}

TEST(Reduce, ExtremesOfIntegersAndScalars) {
  Tensor x = from_vector(std::vector<int64_t>{4, -2, 9, 9, 9, -7}, {3, 2});
  EXPECT_EQ(argmax(x, 0).to_vector<int64_t>(), (std::vector<int64_t>{1, 1}));  // first of ties
  EXPECT_EQ(argmin(x, -1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(max(x, 0).values.to_vector<int64_t>(), (std::vector<int64_t>{9, 9}));
  EXPECT_EQ(min(x).item<int64_t>(), -7);
  EXPECT_EQ(max(x).dtype(), DType::i64);
  Tensor s = scalar_tensor(2.5);
  EXPECT_EQ(max(s, 0).values.dim(), 0);
  EXPECT_EQ(argmax(s, -1).item<int64_t>(), 0);
}

TEST(Reduce, LargeExtremesMatchAPlainLoop) {
  // Above the parallel threshold, with inner runs longer than a kernel block.
  Generator gen(21);
  Tensor x = randn({40, 30, 700}, DType::f32, &gen);
  const std::vector<float> v = x.to_vector<float>();
  for (int64_t axis : {0, 1, 2}) {
    ValuesIndices r = max(x, axis, true);
    const Shape& s = x.shape();
    const std::vector<int64_t> idx = r.indices.to_vector<int64_t>();
    const std::vector<float> val = r.values.to_vector<float>();
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= s[d];
    for (int64_t d = axis + 1; d < 3; ++d) inner *= s[d];
    int64_t mismatches = 0;
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t k = 0; k < inner; ++k) {
        int64_t best = 0;
        for (int64_t r2 = 1; r2 < s[axis]; ++r2)
          if (v[(o * s[axis] + r2) * inner + k] > v[(o * s[axis] + best) * inner + k]) best = r2;
        mismatches += idx[o * inner + k] != best;
        mismatches += val[o * inner + k] != v[(o * s[axis] + best) * inner + k];
      }
    }
    EXPECT_EQ(mismatches, 0) << "axis " << axis;
  }
  EXPECT_EQ(max(x).item<float>(), *std::max_element(v.begin(), v.end()));
  EXPECT_EQ(min(x).item<float>(), *std::min_element(v.begin(), v.end()));
}

TEST(Reduce, AxisOutOfRangeIsAnError) {
  const Tensor x = zeros({2, 3});
  const std::string expected =
      "sum: axis 3 is out of range for a tensor of shape [2, 3] (expected -2 <= axis < 2)";
  EXPECT_EQ(error_message([&] { sum(x, {3}); }), expected);
  EXPECT_EQ(error_message([&] { var(x, {-3}); }),
            "var: axis -3 is out of range for a tensor of shape [2, 3] (expected -2 <= axis < 2)");
  EXPECT_EQ(error_message([&] { max(x, 2); }),
            "max: axis 2 is out of range for a tensor of shape [2, 3] (expected -2 <= axis < 2)");
  EXPECT_EQ(error_message([&] { argmin(x, 5); }),
            "argmin: axis 5 is out of range for a tensor of shape [2, 3] (expected -2 <= axis < "
            "2)");
}

TEST(Reduce, InvalidArgumentsAreErrors) {
  EXPECT_EQ(error_message([] {
              max(zeros({2, 0}), 1);
            }),
            "max: cannot reduce axis 1 of size 0 (shape [2, 0]); expected a non-empty axis");
  EXPECT_EQ(error_message([] {
              min(zeros({0, 3}));
            }),
            "min: cannot reduce an empty tensor of shape [0, 3]; expected at least one element");
  EXPECT_EQ(error_message([] { var(arange(4), {}); }),
            "var: expected a floating tensor, got dtype i64 (convert it with .to(DType::f32))");
  EXPECT_EQ(error_message([] {
              sum(zeros({2, 3}), {1, -1});
            }),
            "sum: an axis appears twice in the reduction axes for shape [2, 3]");
}
