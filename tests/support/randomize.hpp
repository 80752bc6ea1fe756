// Random weights for tests that compare two implementations of a model (ONNX export and import):
// every floating parameter and BatchNorm statistic drawn at random, so that a wrong layout or a
// swapped gate shows in the outputs (fresh running statistics are 0 and 1, which hide both).
#pragma once

#include <cstdint>

#include "nabla/nn.hpp"

namespace nabla::testing {

inline void randomize(nn::Module& module, uint64_t seed) {
  Generator gen(seed);
  NoGradGuard no_grad;
  for (auto [name, t] : module.named_parameters()) nn::init::uniform_(t, -0.6, 0.6, &gen);
  for (auto [name, t] : module.named_buffers()) {
    if (!is_floating(t.dtype())) continue;
    if (name.ends_with("running_var")) {
      nn::init::uniform_(t, 0.5, 1.5, &gen);  // variances stay positive
    } else if (name.ends_with("running_mean")) {
      nn::init::uniform_(t, -0.3, 0.3, &gen);
    }
  }
}

}  // namespace nabla::testing
