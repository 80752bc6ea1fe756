// Small classification data for the training tests: `n` samples of `features` standard-normal
// features (from Generator(seed)) with labels i % classes, so every class has its share.
#pragma once

#include <cstdint>
#include <vector>

#include "nabla/nabla.hpp"

namespace nabla::testing {

struct ClassSamples {
  Tensor x, y;
};

inline ClassSamples class_samples(int64_t n, int64_t features, int64_t classes, uint64_t seed) {
  Generator generator(seed);
  ClassSamples data{randn({n, features}, DType::f32, &generator), Tensor()};
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back(i % classes);
  data.y = from_vector(labels, {n});
  return data;
}

}  // namespace nabla::testing
