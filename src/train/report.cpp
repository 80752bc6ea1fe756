// EvaluationReport: confusion matrix, per-class precision/recall/F1 (as scikit-learn's
// classification_report, zero when undefined), and its text.
#include <algorithm>
#include <cstdio>

#include "train/format.hpp"
#include "train/internal.hpp"

namespace nabla::train {
namespace internal {

Task classification_task(const Loss& loss, const Shape& output_shape) {
  if (output_shape.size() != 2) return Task::none;
  const std::string name = loss.name();
  if (name == "sparse_categorical_crossentropy") return Task::sparse;
  if (name == "categorical_crossentropy") return Task::categorical;
  if (name == "binary_crossentropy" && output_shape[1] == 1) return Task::binary;
  return Task::none;
}

int64_t num_classes(Task task, const Shape& output_shape) {
  return task == Task::binary ? 2 : output_shape[1];
}

namespace {

// Predicted class of each row of `output` (f64 copy: evaluation is not the hot path).
std::vector<int64_t> predicted_classes(const Tensor& output, Task task, bool logits) {
  const std::vector<double> values = output.to(DType::f64).to_vector<double>();
  const int64_t rows = output.size(0);
  std::vector<int64_t> classes(rows);
  if (task == Task::binary) {
    const double threshold = logits ? 0.0 : 0.5;
    for (int64_t i = 0; i < rows; ++i) classes[i] = values[i] > threshold ? 1 : 0;
    return classes;
  }
  const int64_t cols = output.size(1);
  for (int64_t i = 0; i < rows; ++i)
    classes[i] = internal::argmax_row(values.data() + i * cols, cols);
  return classes;
}

std::vector<int64_t> true_classes(const Tensor& targets, Task task) {
  if (task == Task::sparse) return targets.to(DType::i64).to_vector<int64_t>();
  const std::vector<double> values = targets.to(DType::f64).to_vector<double>();
  const int64_t rows = targets.size(0);
  std::vector<int64_t> classes(rows);
  if (task == Task::binary) {
    for (int64_t i = 0; i < rows; ++i) classes[i] = values[i] > 0.5 ? 1 : 0;
    return classes;
  }
  const int64_t cols = targets.size(1);
  for (int64_t i = 0; i < rows; ++i)
    classes[i] = internal::argmax_row(values.data() + i * cols, cols);
  return classes;
}

}  // namespace

void add_to_confusion(std::vector<std::vector<int64_t>>& confusion, const Tensor& output,
                      const Tensor& targets, Task task, bool logits) {
  const std::vector<int64_t> predicted = predicted_classes(output, task, logits);
  const std::vector<int64_t> truth = true_classes(targets, task);
  for (size_t i = 0; i < predicted.size(); ++i) ++confusion[truth[i]][predicted[i]];
}

void compute_class_scores(EvaluationReport& report) {
  const size_t classes = report.confusion.size();
  report.precision.assign(classes, 0);
  report.recall.assign(classes, 0);
  report.f1.assign(classes, 0);
  for (size_t c = 0; c < classes; ++c) {
    int64_t predicted = 0, actual = 0;
    for (size_t other = 0; other < classes; ++other) {
      predicted += report.confusion[other][c];
      actual += report.confusion[c][other];
    }
    const double hits = static_cast<double>(report.confusion[c][c]);
    const double p = predicted > 0 ? hits / static_cast<double>(predicted) : 0.0;
    const double r = actual > 0 ? hits / static_cast<double>(actual) : 0.0;
    report.precision[c] = p;
    report.recall[c] = r;
    report.f1[c] = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
  }
  auto mean = [classes](const std::vector<double>& v) {
    double total = 0;
    for (double x : v) total += x;
    return classes > 0 ? total / static_cast<double>(classes) : 0.0;
  };
  report.macro_precision = mean(report.precision);
  report.macro_recall = mean(report.recall);
  report.macro_f1 = mean(report.f1);
}

}  // namespace internal

double EvaluationReport::operator[](const std::string& name) const {
  const auto it = metrics.find(name);
  if (it != metrics.end()) return it->second;
  std::string names;
  for (const auto& entry : metrics) names += (names.empty() ? "" : ", ") + entry.first;
  NABLA_CHECK(false, "EvaluationReport: no metric named '", name, "' (have: ", names, ")");
  return 0;
}

std::string EvaluationReport::to_string(const std::vector<std::string>& class_names) const {
  std::string text;
  // The loss first, then the metrics, as Keras prints them.
  auto append_metric = [&text](const std::string& name, double value) {
    text += (text.empty() ? "" : " - ") + name + ": " + format_value(value);
  };
  if (auto it = metrics.find("loss"); it != metrics.end()) append_metric(it->first, it->second);
  for (const auto& [name, value] : metrics) {
    if (name != "loss") append_metric(name, value);
  }
  text += '\n';
  if (!is_classification()) return text;

  const size_t classes = confusion.size();
  auto label = [&](size_t c) {
    return c < class_names.size() ? class_names[c] : std::to_string(c);
  };
  // Matrix rows carry the class index too, since its columns are numbered.
  auto row_label = [&](size_t c) {
    return c < class_names.size() ? class_names[c] + " (" + std::to_string(c) + ")"
                                  : std::to_string(c);
  };
  size_t name_width = 9;  // "macro avg"
  for (size_t c = 0; c < classes; ++c) name_width = std::max(name_width, row_label(c).size());
  char buffer[256];
  std::snprintf(buffer, sizeof(buffer), "\n%*s  precision  recall  f1-score  support\n",
                static_cast<int>(name_width), "");
  text += buffer;
  int64_t total = 0;
  for (size_t c = 0; c < classes; ++c) {
    int64_t support = 0;
    for (int64_t count : confusion[c]) support += count;
    total += support;
    std::snprintf(buffer, sizeof(buffer), "%*s  %9.4f  %6.4f  %8.4f  %7lld\n",
                  static_cast<int>(name_width), label(c).c_str(), precision[c], recall[c], f1[c],
                  static_cast<long long>(support));
    text += buffer;
  }
  std::snprintf(buffer, sizeof(buffer), "%*s  %9.4f  %6.4f  %8.4f  %7lld\n",
                static_cast<int>(name_width), "macro avg", macro_precision, macro_recall, macro_f1,
                static_cast<long long>(total));
  text += buffer;

  text += "\nconfusion matrix (rows: true class, columns: predicted class)\n";
  int64_t largest = 0;
  for (const auto& row : confusion) {
    for (int64_t count : row) largest = std::max(largest, count);
  }
  const size_t cell =
      std::max(std::to_string(largest).size(), std::to_string(classes - 1).size()) + 2;
  auto pad_left = [](const std::string& cell_text, size_t width) {
    return std::string(width > cell_text.size() ? width - cell_text.size() : 0, ' ') + cell_text;
  };
  text += std::string(name_width, ' ');
  for (size_t c = 0; c < classes; ++c) text += pad_left(std::to_string(c), cell);
  text += '\n';
  for (size_t r = 0; r < classes; ++r) {
    text += pad_left(row_label(r), name_width);
    for (size_t c = 0; c < classes; ++c) text += pad_left(std::to_string(confusion[r][c]), cell);
    text += '\n';
  }
  return text;
}

}  // namespace nabla::train
