// Reading back the CSV files a run leaves (CSVLogger's metrics, NormLogger's norms) for the
// report. Both are written by nabla, but a run folder is outside input: every malformed line is an
// Error naming the file, the line and what was expected.
#include <cmath>
#include <cstdlib>

#include "data/file_util.hpp"
#include "nabla/report.hpp"

namespace nabla::train {
namespace {

// The most bytes a run's CSV file may hold: years of epochs, far from what a report can draw.
constexpr int64_t kMaxCsvBytes = int64_t{64} << 20;

std::vector<std::string> split(const std::string& line, char separator) {
  std::vector<std::string> cells;
  size_t start = 0;
  while (true) {
    const size_t end = line.find(separator, start);
    cells.push_back(line.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) return cells;
    start = end + 1;
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

// A number, or NaN for "NA" and anything else that is not one (a value the run could not log).
double cell_value(const std::string& cell) {
  if (cell.empty()) return NAN;
  char* end = nullptr;
  const double value = std::strtod(cell.c_str(), &end);
  return end == cell.c_str() + cell.size() ? value : NAN;
}

}  // namespace

std::vector<double> MetricsTable::column(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return values[i];
  }
  return {};
}

MetricsTable read_metrics_csv(const std::string& path) {
  const std::vector<std::string> lines =
      lines_of(data::internal::read_file(path, "metrics", kMaxCsvBytes));
  NABLA_CHECK(!lines.empty(), "metrics ", path,
              ": the file is empty; expected CSVLogger's header \"epoch,<names>\" and one row per "
              "epoch");
  const std::vector<std::string> header = split(lines[0], ',');
  NABLA_CHECK(header[0] == "epoch", "metrics ", path,
              ": expected a header starting with \"epoch\" (CSVLogger's), got \"", lines[0], "\"");
  MetricsTable table;
  table.columns.assign(header.begin() + 1, header.end());
  table.values.resize(table.columns.size());
  for (size_t row = 1; row < lines.size(); ++row) {
    const std::vector<std::string> cells = split(lines[row], ',');
    NABLA_CHECK(cells.size() == header.size(), "metrics ", path, ": line ", row + 1, " holds ",
                cells.size(), " values; expected ", header.size(), " as in the header");
    const double epoch = cell_value(cells[0]);
    NABLA_CHECK(std::isfinite(epoch), "metrics ", path, ": line ", row + 1,
                ": expected an epoch number first, got \"", cells[0], "\"");
    table.epochs.push_back(epoch);
    for (size_t c = 1; c < cells.size(); ++c) table.values[c - 1].push_back(cell_value(cells[c]));
  }
  return table;
}

std::vector<NormRecord> read_norms_csv(const std::string& path) {
  const std::vector<std::string> lines =
      lines_of(data::internal::read_file(path, "norms", kMaxCsvBytes));
  const std::string expected = "epoch,layer,parameter,weight_norm,grad_norm";
  NABLA_CHECK(!lines.empty() && lines[0] == expected, "norms ", path,
              ": expected NormLogger's header \"", expected, "\", got \"",
              lines.empty() ? std::string() : lines[0], "\"");
  std::vector<NormRecord> records;
  for (size_t row = 1; row < lines.size(); ++row) {
    const std::vector<std::string> cells = split(lines[row], ',');
    const double epoch = cells.size() == 5 ? cell_value(cells[0]) : NAN;
    NABLA_CHECK(std::isfinite(epoch) && epoch >= 0 && epoch == std::floor(epoch), "norms ", path,
                ": line ", row + 1,
                ": expected \"epoch,layer,parameter,weight_norm,grad_norm\" with an epoch number "
                ">= 0, got \"",
                lines[row], "\"");
    records.push_back({.epoch = static_cast<int64_t>(epoch),
                       .layer = cells[1],
                       .parameter = cells[2],
                       .weight_norm = cell_value(cells[3]),
                       .grad_norm = cell_value(cells[4])});
  }
  return records;
}

}  // namespace nabla::train
