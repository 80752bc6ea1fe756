// Shared by the elementwise and activation tests: their rows of the op-test harness (the cases of
// tests/reference/gen_elementwise.py) and gradient checks on the three layouts an elementwise op
// meets (contiguous, transposed, broadcast with stride 0).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/op_test.hpp"

namespace nabla::testing {

// The row of elementwise case `name`: `fn` takes the case's inputs a, b, c (those it has), in
// order. `smooth` is false where the case puts inputs on a kink or a tie on purpose (relu at 0,
// maximum of equal values): PyTorch's one-sided choice is checked there, and central differences
// would straddle it.
inline OpTest elementwise_op(const std::string& name,
                             std::function<Tensor(const std::vector<Tensor>&)> fn,
                             bool smooth = true) {
  OpTest op{.name = name,
            .fn =
                [fn](const OpCase& c) {
                  std::vector<Tensor> inputs;
                  for (const char* input : {"a", "b", "c"})
                    if (c.has(input)) inputs.push_back(c.input(input));
                  return fn(inputs);
                },
            .grad_inputs = {"a", "b", "c"}};
  if (!smooth) op.gradcheck = std::nullopt;
  return op;
}

// `leaf` moved into a domain: |x| + 0.5, in place, so that its layout is kept.
inline Tensor positive(Tensor leaf) {
  NoGradGuard no_grad;
  Tensor data = leaf.detach();
  data.copy_(abs(data) + 0.5);
  return leaf;
}

// gradcheck of a one-input op on a contiguous, a transposed and a broadcast (stride 0) input.
inline void expect_unary_gradcheck(const std::function<Tensor(const Tensor&)>& op,
                                   bool positive_input = false) {
  auto prepare = [&](Tensor t) { return positive_input ? positive(t) : t; };
  const Function f = [&](const std::vector<Tensor>& in) { return op(in[0]); };
  EXPECT_GRADCHECK(f, {prepare(leaf({3, 4}, 1))});
  EXPECT_GRADCHECK(f, {prepare(noncontiguous_leaf({3, 4}, 2))});
  const Function broadcast = [&](const std::vector<Tensor>& in) {
    return op(expand(in[0], {3, 4}));
  };
  EXPECT_GRADCHECK(broadcast, {prepare(leaf({1, 4}, 3))});
}

}  // namespace nabla::testing
