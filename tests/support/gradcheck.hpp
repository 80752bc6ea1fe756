// gradcheck: compares the analytic backward of a function with central differences in float64,
// as torch.autograd.gradcheck. Inputs must be f64 leaves with requires_grad; they may be
// non-contiguous views (detach a transposed tensor) to exercise strided kernels.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <vector>

#include "nabla/nabla.hpp"

namespace nabla::testing {

using Function = std::function<Tensor(const std::vector<Tensor>&)>;

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

::testing::AssertionResult gradcheck(const Function& f, const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& options = {});

// A float64 leaf with requires_grad, filled from N(0,1) with a fixed seed.
Tensor leaf(const Shape& shape, uint64_t seed = 1);
// The same, but stored transposed (last two axes), so that the leaf is not contiguous.
Tensor noncontiguous_leaf(const Shape& shape, uint64_t seed = 1);

// An f64 tensor holding `values`, of `shape` (default: one axis of their count).
inline Tensor f64(std::vector<double> values, const Shape& shape = {}) {
  return from_vector(values, shape.empty() ? Shape{static_cast<int64_t>(values.size())} : shape);
}
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace nabla::testing

#define EXPECT_GRADCHECK(f, ...) EXPECT_TRUE(::nabla::testing::gradcheck(f, __VA_ARGS__))
