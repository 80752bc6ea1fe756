// Predictions as files for scripts.
#include "array_files.hpp"

#include <charconv>
#include <cmath>
#include <string_view>

#include "nabla/data.hpp"
#include "nabla/io.hpp"

namespace nabla::cli {
namespace {

enum class Format { npy, csv, json };

Format format_of(const std::string& path) {
  for (const auto& [extension, format] :
       {std::pair{".npy", Format::npy}, std::pair{".csv", Format::csv},
        std::pair{".json", Format::json}}) {
    if (path.size() > std::string_view(extension).size() && path.ends_with(extension)) {
      return format;
    }
  }
  detail::throw_error("expected a file name ending in .npy, .csv or .json, got '" + path + "'");
}

// Appends element `index` (C order) of the contiguous `array`. Floats as std::to_chars writes
// them: the shortest text that reads back as the same float or double.
void append_value(std::string& out, const Tensor& array, int64_t index, Format format) {
  char text[64];
  const auto append_float = [&](auto value) {
    if (!std::isfinite(value) && format == Format::json) {
      out += "null";
      return;
    }
    out.append(text, std::to_chars(text, text + sizeof(text), value).ptr);
  };
  switch (array.dtype()) {
    case DType::f32:
      return append_float(array.data<float>()[index]);
    case DType::f64:
      return append_float(array.data<double>()[index]);
    case DType::i64:
      out += std::to_string(array.data<int64_t>()[index]);
      return;
    case DType::u8:
      out += std::to_string(array.data<uint8_t>()[index]);
      return;
    case DType::boolean:
      const bool value = array.data<bool>()[index];
      out += format == Format::json ? (value ? "true" : "false") : (value ? "1" : "0");
      return;
  }
}

// The values from `index` on nested as shape[axis:], as JSON arrays; returns the next index.
int64_t append_json(std::string& out, const Tensor& array, size_t axis, int64_t index) {
  if (axis == array.shape().size()) {
    append_value(out, array, index, Format::json);
    return index + 1;
  }
  out += '[';
  for (int64_t i = 0; i < array.shape()[axis]; ++i) {
    if (i > 0) out += ", ";
    index = append_json(out, array, axis + 1, index);
  }
  out += ']';
  return index;
}

std::string csv_text(const Tensor& array) {
  const int64_t rows = array.size(0), columns = rows == 0 ? 0 : array.numel() / rows;
  std::string out;
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t column = 0; column < columns; ++column) {
      if (column > 0) out += ',';
      append_value(out, array, row * columns + column, Format::csv);
    }
    out += '\n';
  }
  return out;
}

}  // namespace

void check_array_file_name(const std::string& path) { format_of(path); }

void write_array_file(const std::string& path, const Tensor& array) {
  const Format format = format_of(path);
  NABLA_CHECK(array.dim() >= 1, "--output ", path, ": expected outputs with a sample axis");
  if (format == Format::npy) return io::save_npy(path, array);
  const Tensor values = array.contiguous();
  std::string text;
  if (format == Format::csv) {
    text = csv_text(values);
  } else {
    append_json(text, values, 0, 0);
    text += '\n';
  }
  data::write_file_atomic(path, text, "--output");
}

}  // namespace nabla::cli
