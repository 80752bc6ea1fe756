// Text formatting shared by the training code (progress bar, summary, reports, errors). Internal.
#pragma once

#include <cstdint>
#include <string>

#include "nabla/tensor.hpp"

namespace nabla::train {

// A shape with its batch axis written as `batch`: [N, 10].
std::string shape_with_batch(const Shape& shape, const char* batch);
// Keras's form of an output shape: (None, 784).
std::string keras_shape(const Shape& shape);
// 101770 -> "101,770".
std::string with_thousands(int64_t value);
// A metric value as Keras prints it: "%.4f", or "%.4e" when its magnitude is below 1e-3.
std::string format_value(double value);
// A duration per unit as Keras prints it: " 3s/step", " 12ms/step", " 137us/step".
std::string format_time_per_unit(double seconds, const char* unit);

}  // namespace nabla::train
