// Text formatting shared by the training code.
#include "train/format.hpp"

#include <cmath>
#include <cstdio>

namespace nabla::train {

std::string shape_with_batch(const Shape& shape, const char* batch) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += i == 0 ? std::string(batch) : std::to_string(shape[i]);
  }
  return text + "]";
}

std::string keras_shape(const Shape& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += i == 0 ? std::string("None") : std::to_string(shape[i]);
  }
  return text + ")";
}

std::string with_thousands(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string text;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return value < 0 ? "-" + text : text;
}

std::string format_value(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), std::fabs(value) > 1e-3 ? "%.4f" : "%.4e", value);
  return buffer;
}

std::string format_time_per_unit(double seconds, const char* unit) {
  char buffer[64];
  if (seconds >= 1 || seconds == 0) {
    std::snprintf(buffer, sizeof(buffer), " %.0fs/%s", seconds, unit);
  } else if (seconds >= 1e-3) {
    std::snprintf(buffer, sizeof(buffer), " %.0fms/%s", seconds * 1e3, unit);
  } else {
    std::snprintf(buffer, sizeof(buffer), " %.0fus/%s", seconds * 1e6, unit);
  }
  return buffer;
}

}  // namespace nabla::train
