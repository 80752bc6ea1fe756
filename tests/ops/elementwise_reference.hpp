// Shared by the elementwise and activation tests: their PyTorch reference cases
// (tests/reference/gen_elementwise.py) and gradient checks on the three layouts an elementwise
// op meets (contiguous, transposed, broadcast with stride 0).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "nabla/nabla.hpp"
#include "ops/reduce_index_reference.hpp"  // error_message
#include "support/gradcheck.hpp"
#include "support/reference.hpp"

namespace nabla::testing {

// tests/reference/data/elementwise.json, parsed once.
inline const nlohmann::json& elementwise_reference() {
  static const nlohmann::json cases = load_reference("elementwise");
  return cases;
}

// Runs `fn` on the inputs of case `name` and compares its output with PyTorch's; for
// differentiable cases also the gradients of sum(out * weight) with respect to each floating input.
inline void expect_matches_reference(const std::string& name, const Function& fn,
                                     double rtol = 1e-5, double atol = 1e-6) {
  SCOPED_TRACE("reference case " + name);
  const nlohmann::json& c = elementwise_reference().at(name);
  const bool differentiable = c.contains("grads");
  std::vector<Tensor> inputs;
  for (const auto& j : c.at("inputs")) {
    Tensor t = tensor_from_json(j).detach();
    if (differentiable && is_floating(t.dtype())) t.requires_grad_();
    inputs.push_back(t);
  }
  const Tensor out = fn(inputs);
  const Tensor expected = tensor_from_json(c.at("out"));
  EXPECT_EQ(out.dtype(), expected.dtype());
  EXPECT_ALL_CLOSE(out, expected, rtol, atol);
  if (!differentiable) return;
  (out * tensor_from_json(c.at("weight"))).sum().backward();
  size_t k = 0;
  for (const Tensor& x : inputs) {
    if (!x.requires_grad()) continue;
    ASSERT_TRUE(x.grad().defined()) << "no gradient for input " << k;
    EXPECT_ALL_CLOSE(x.grad(), tensor_from_json(c.at("grads").at(k)), rtol, atol);
    ++k;
  }
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
