// Shared by the matmul and loss tests: their PyTorch reference cases
// (tests/reference/gen_matmul_loss.py) and helpers to replay them.
#pragma once

#include <string>
#include <vector>

#include "nabla/nabla.hpp"
#include "ops/reduce_index_reference.hpp"  // error_message
#include "support/reference.hpp"

namespace nabla::testing {

// tests/reference/data/matmul_loss.json, parsed once.
inline const nlohmann::json& matmul_loss_reference() {
  static const nlohmann::json cases = load_reference("matmul_loss");
  return cases;
}

// The names of the reference cases that start with `prefix` ("matmul/", "loss/", ...).
inline std::vector<std::string> reference_cases(const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& [name, value] : matmul_loss_reference().items())
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  return names;
}

// A leaf holding the values of `x` in a non-contiguous layout: the last two axes stored
// transposed, or a 1-d tensor stored in every other element.
inline Tensor strided_leaf(const Tensor& x) {
  Tensor view;
  if (x.dim() >= 2) {
    view = x.transpose(-1, -2).contiguous().transpose(-1, -2);
  } else if (x.dim() == 1) {
    Tensor storage = zeros({2 * x.numel()}, x.dtype());
    view = storage.slice(0, 0, 2 * x.numel(), 2);
    view.copy_(x);
  } else {
    view = x.clone();
  }
  Tensor leaf = view.detach();
  if (is_floating(leaf.dtype())) leaf.requires_grad_();
  return leaf;
}

}  // namespace nabla::testing
