// Numeric CSV reader.
#include <charconv>
#include <cstring>

#include "core/tensor_impl.hpp"
#include "data/file_util.hpp"
#include "nabla/data.hpp"
#include "nabla/tabular.hpp"

namespace nabla::data {
namespace {

// Splits one line at `delimiter`, honouring double quotes ("a,b" and "" inside quotes).
std::vector<std::string> split_fields(const std::string& line, char delimiter) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == delimiter) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::string trim(const std::string& text) {
  const char* space = " \t\r";
  const size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(space) - begin + 1);
}

bool parse_number(const std::string& field, double& value) {
  const std::string text = trim(field);
  if (text.empty()) return false;
  const char* first = text.data();
  if (*first == '+') ++first;  // from_chars rejects a leading plus
  const auto [end, error] = std::from_chars(first, text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size();
}

bool all_numeric(const std::vector<std::string>& fields) {
  double unused;
  for (const auto& field : fields) {
    if (!parse_number(field, unused)) return false;
  }
  return true;
}

}  // namespace

int64_t CsvTable::column_index(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int64_t>(i);
  }
  std::string known;
  for (const auto& column : columns) known += (known.empty() ? "" : ", ") + column;
  detail::throw_error(detail::str("CsvTable: no column named \"", name, "\"; columns: ", known));
}

CsvTable read_csv(const std::string& path, const CsvOptions& options) {
  NABLA_CHECK(
      options.dtype == DType::f32 || options.dtype == DType::f64 || options.dtype == DType::i64,
      "read_csv: dtype must be f32, f64 or i64, got ", dtype_name(options.dtype));
  const std::string text = internal::read_file(path, "read_csv");
  CsvTable table;
  std::vector<double> values;
  size_t width = 0;
  int64_t rows = 0;
  bool first = true;
  size_t line_start = 0;
  for (int64_t line_number = 1; line_start < text.size(); ++line_number) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    const std::string line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (trim(line).empty()) continue;
    std::vector<std::string> fields = split_fields(line, options.delimiter);
    if (first) {
      first = false;
      width = fields.size();
      const bool header = options.header.value_or(!all_numeric(fields));
      if (header) {
        for (const auto& field : fields) table.columns.push_back(trim(field));
        continue;
      }
      for (size_t i = 0; i < width; ++i) table.columns.push_back(std::to_string(i));
    }
    NABLA_CHECK(fields.size() == width, "read_csv: ", path, ":", line_number, ": expected ", width,
                " fields like the first line, got ", fields.size());
    for (size_t column = 0; column < fields.size(); ++column) {
      double value;
      NABLA_CHECK(parse_number(fields[column], value), "read_csv: ", path, ":", line_number,
                  ": column ", column + 1, " (", table.columns[column],
                  "): expected a number, got \"", fields[column], "\"");
      values.push_back(value);
    }
    ++rows;
  }
  NABLA_CHECK(!first, "read_csv: ", path, " holds no data");
  NABLA_CHECK(rows > 0, "read_csv: ", path, " holds a header line but no rows");

  table.values = make_tensor({rows, static_cast<int64_t>(width)}, options.dtype);
  const size_t n = values.size();
  if (options.dtype == DType::f64) {
    std::memcpy(table.values.raw_data(), values.data(), n * sizeof(double));
  } else if (options.dtype == DType::f32) {
    float* out = table.values.data<float>();
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(values[i]);
  } else {
    int64_t* out = table.values.data<int64_t>();
    for (size_t i = 0; i < n; ++i) {
      NABLA_CHECK(values[i] == static_cast<double>(static_cast<int64_t>(values[i])),
                  "read_csv: ", path, ": value ", values[i], " in row ", i / width + 1, ", column ",
                  i % width + 1, " is not an integer, expected one for dtype i64");
      out[i] = static_cast<int64_t>(values[i]);
    }
  }
  return table;
}

int64_t CsvRows::column_index(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int64_t>(i);
  }
  std::string known;
  for (const auto& column : columns) known += (known.empty() ? "" : ", ") + column;
  detail::throw_error(detail::str(path, ":", header_line, ": no column named \"", name,
                                  "\" in the header; columns: ", known));
}

// The text cells of a CSV file, for data of mixed types (src/data/tabular.cpp): the same
// splitting and trimming as read_csv, the header required.
CsvRows read_csv_rows(const std::string& path, int64_t skip_lines, char delimiter) {
  NABLA_CHECK(skip_lines >= 0, "read_csv_rows: skip_lines must be >= 0, got ", skip_lines);
  const std::string text = internal::read_file(path, "read_csv_rows");
  CsvRows table;
  table.path = path;
  bool header = true;
  size_t line_start = 0;
  for (int64_t line_number = 1; line_start < text.size(); ++line_number) {
    size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    const std::string line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (line_number <= skip_lines || trim(line).empty()) continue;
    std::vector<std::string> fields = split_fields(line, delimiter);
    for (std::string& field : fields) field = trim(field);
    if (header) {
      header = false;
      table.header_line = line_number;
      table.columns = std::move(fields);
      continue;
    }
    NABLA_CHECK(fields.size() == table.columns.size(), path, ":", line_number, ": expected ",
                table.columns.size(), " fields like the header (line ", table.header_line,
                "), got ", fields.size(),
                line_number == table.header_line + 1 && fields.size() > table.columns.size()
                    ? " (is the first line not the header? lines before it are skipped with "
                      "\"skip_lines\")"
                    : "");
    table.rows.push_back(std::move(fields));
    table.lines.push_back(line_number);
  }
  NABLA_CHECK(!header, path, ": the file is empty; expected a header line of column names, then ",
              "one line per row");
  NABLA_CHECK(!table.rows.empty(), path, ": holds a header (line ", table.header_line,
              ") but no rows");
  return table;
}

}  // namespace nabla::data
