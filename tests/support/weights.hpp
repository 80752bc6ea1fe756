// A model's weights flattened in parameter order, for tests that compare two trainings bit for bit.
#pragma once

#include <vector>

#include "nabla/train.hpp"

namespace nabla::testing {

inline std::vector<float> weights_of(const train::Model& model) {
  std::vector<float> all;
  for (const Tensor& p : model.module().parameters()) {
    const std::vector<float> values = p.detach().contiguous().to_vector<float>();
    all.insert(all.end(), values.begin(), values.end());
  }
  return all;
}

}  // namespace nabla::testing
