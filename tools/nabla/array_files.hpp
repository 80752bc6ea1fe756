// Arrays written for scripts by `nabla predict --output`: NumPy's .npy, CSV (one row per sample)
// or JSON (an array per sample), chosen by the file's extension.
#pragma once

#include <string>

#include "nabla/tensor.hpp"

namespace nabla::cli {

// Error unless `path` ends in .npy, .csv or .json (a usage error when run as the flag's check).
void check_array_file_name(const std::string& path);

// Writes `array` ([N, ...], a sample per index of the first axis) atomically. CSV: each sample's
// values flattened into one row; JSON: each sample nested as its shape. Floats in the shortest
// form that reads back as the same value; JSON has no NaN or infinity, so those are null there.
void write_array_file(const std::string& path, const Tensor& array);

}  // namespace nabla::cli
