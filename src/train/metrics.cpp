// Metrics by Keras name. They read the outputs' memory directly (no graph, no temporaries) since
// they run after every training step, and accumulate in doubles.
#include <cmath>
#include <cstdlib>
#include <functional>

#include "nabla/train.hpp"
#include "train/internal.hpp"

namespace nabla::train {
namespace {

// Rows of a [N, C] score matrix (any leading shape flattened into rows), as doubles on demand.
template <class T>
struct Rows {
  const T* data;
  int64_t rows;
  int64_t cols;
  const T* row(int64_t i) const { return data + i * cols; }
};

// Calls f(Rows<T>) with the contiguous scores as f32 or f64.
template <class F>
void with_rows(const Tensor& scores, int64_t cols, const char* what, F&& f) {
  NABLA_CHECK(scores.dtype() == DType::f32 || scores.dtype() == DType::f64, what,
              ": expected floating-point outputs, got ", scores.dtype());
  const Tensor c = scores.contiguous();
  const int64_t rows = cols > 0 ? c.numel() / cols : 0;
  if (c.dtype() == DType::f32) {
    f(Rows<float>{c.data<float>(), rows, cols});
  } else {
    f(Rows<double>{c.data<double>(), rows, cols});
  }
}

// Integer labels as contiguous i64.
Tensor labels_i64(const Tensor& y_true) {
  return (y_true.dtype() == DType::i64 ? y_true : y_true.to(DType::i64)).contiguous();
}

bool sparse_layout(const Tensor& y_pred, const Tensor& y_true) {
  return y_pred.dim() >= 2 && y_pred.size(-1) > 1 &&
         y_true.numel() * y_pred.size(-1) == y_pred.numel() &&
         (y_true.dim() == y_pred.dim() - 1 ||
          (y_true.dim() == y_pred.dim() && y_true.size(-1) == 1));
}

// Index of the true class of each row: the label, or the argmax of a one-hot row.
std::vector<int64_t> true_classes(const Tensor& y_pred, const Tensor& y_true, const char* what) {
  if (sparse_layout(y_pred, y_true)) return labels_i64(y_true).to_vector<int64_t>();
  NABLA_CHECK(y_true.shape() == y_pred.shape(), what, ": targets of shape ", y_true.shape(),
              " do not match outputs of shape ", y_pred.shape(),
              " (expected integer labels or one-hot rows)");
  std::vector<int64_t> classes;
  const int64_t cols = y_pred.size(-1);
  with_rows(y_true.to(y_pred.dtype()), cols, what, [&](auto rows) {
    classes.resize(rows.rows);
    for (int64_t i = 0; i < rows.rows; ++i) classes[i] = internal::argmax_row(rows.row(i), cols);
  });
  return classes;
}

}  // namespace

// ---- accuracy ----
Accuracy::Accuracy(Kind kind, std::string name) : kind_(kind), name_(std::move(name)) {}

namespace {

// A metric state of `size` running totals, checked when a checkpoint restores it.
void check_metric_state(const std::string& name, const std::vector<double>& state, size_t size) {
  NABLA_CHECK(state.size() == size, "metric '", name, "': expected a state of ", size,
              " values, got ", state.size());
  for (double value : state) {
    NABLA_CHECK(std::isfinite(value) && value >= 0, "metric '", name,
                "': state values are counts and sums >= 0, got ", value);
  }
}

}  // namespace

void Accuracy::set_state(const std::vector<double>& state) {
  check_metric_state(name_, state, 2);
  correct_ = state[0];
  total_ = state[1];
}

void Accuracy::update(const Tensor& y_pred, const Tensor& y_true, bool logits) {
  Kind kind = kind_;
  if (kind == Kind::automatic) {
    if (sparse_layout(y_pred, y_true) && !is_floating(y_true.dtype())) {
      kind = Kind::sparse_categorical;
    } else if (y_pred.dim() >= 2 && y_pred.size(-1) > 1 && y_true.shape() == y_pred.shape()) {
      kind = Kind::categorical;
    } else if (sparse_layout(y_pred, y_true)) {
      kind = Kind::sparse_categorical;
    } else {
      kind = Kind::binary;
    }
  }
  if (kind == Kind::sparse_categorical) {
    NABLA_CHECK(sparse_layout(y_pred, y_true), name_, ": expected integer labels for outputs ",
                y_pred.shape(), ", got targets of shape ", y_true.shape());
    const Tensor labels = labels_i64(y_true);
    const int64_t* label = labels.data<int64_t>();
    const int64_t cols = y_pred.size(-1);
    with_rows(y_pred, cols, name_.c_str(), [&](auto rows) {
      int64_t correct = 0;
      for (int64_t i = 0; i < rows.rows; ++i)
        correct += internal::argmax_row(rows.row(i), cols) == label[i];
      correct_ += static_cast<double>(correct);
      total_ += static_cast<double>(rows.rows);
    });
  } else if (kind == Kind::categorical) {
    const std::vector<int64_t> truth = true_classes(y_pred, y_true, name_.c_str());
    const int64_t cols = y_pred.size(-1);
    with_rows(y_pred, cols, name_.c_str(), [&](auto rows) {
      int64_t correct = 0;
      for (int64_t i = 0; i < rows.rows; ++i)
        correct += internal::argmax_row(rows.row(i), cols) == truth[i];
      correct_ += static_cast<double>(correct);
      total_ += static_cast<double>(rows.rows);
    });
  } else {
    NABLA_CHECK(y_true.numel() == y_pred.numel(), name_, ": targets of shape ", y_true.shape(),
                " do not match outputs of shape ", y_pred.shape());
    // A sigmoid's 0.5 threshold is 0 on its logits.
    const double threshold = logits ? 0.0 : 0.5;
    const std::vector<double> truth = y_true.to(DType::f64).to_vector<double>();
    with_rows(y_pred, 1, name_.c_str(), [&](auto rows) {
      int64_t correct = 0;
      for (int64_t i = 0; i < rows.rows; ++i) {
        correct += (rows.data[i] > threshold) == (truth[i] > 0.5);
      }
      correct_ += static_cast<double>(correct);
      total_ += static_cast<double>(rows.rows);
    });
  }
}

// ---- top-k accuracy ----
TopKAccuracy::TopKAccuracy(int64_t k, std::string name)
    : k_(k), name_(name.empty() ? "top_" + std::to_string(k) + "_accuracy" : std::move(name)) {
  NABLA_CHECK(k >= 1, "TopKAccuracy: k must be at least 1, got ", k);
}

void TopKAccuracy::set_state(const std::vector<double>& state) {
  check_metric_state(name_, state, 2);
  correct_ = state[0];
  total_ = state[1];
}

void TopKAccuracy::update(const Tensor& y_pred, const Tensor& y_true, bool /*logits*/) {
  NABLA_CHECK(y_pred.dim() >= 2, name_, ": expected class scores [N, C], got outputs of shape ",
              y_pred.shape());
  const std::vector<int64_t> truth = true_classes(y_pred, y_true, name_.c_str());
  const int64_t cols = y_pred.size(-1);
  with_rows(y_pred, cols, name_.c_str(), [&](auto rows) {
    int64_t correct = 0;
    for (int64_t i = 0; i < rows.rows; ++i) {
      const auto* row = rows.row(i);
      const auto target = row[truth[i]];
      // In the top k when fewer than k scores beat the true class's.
      int64_t higher = 0;
      for (int64_t j = 0; j < cols; ++j) higher += row[j] > target;
      correct += higher < k_;
    }
    correct_ += static_cast<double>(correct);
    total_ += static_cast<double>(rows.rows);
  });
}

// ---- mean errors ----
MeanError::MeanError(Kind kind, std::string name) : kind_(kind), name_(std::move(name)) {}

void MeanError::set_state(const std::vector<double>& state) {
  check_metric_state(name_, state, 2);
  sum_ = state[0];
  count_ = state[1];
}

void MeanError::update(const Tensor& y_pred, const Tensor& y_true, bool /*logits*/) {
  NABLA_CHECK(y_true.numel() == y_pred.numel(), name_, ": targets of shape ", y_true.shape(),
              " do not match outputs of shape ", y_pred.shape());
  const std::vector<double> truth = y_true.to(DType::f64).to_vector<double>();
  with_rows(y_pred, 1, name_.c_str(), [&](auto rows) {
    for (int64_t i = 0; i < rows.rows; ++i) {
      const double diff = static_cast<double>(rows.data[i]) - truth[i];
      sum_ += kind_ == Kind::squared ? diff * diff : std::abs(diff);
    }
    count_ += static_cast<double>(rows.rows);
  });
}

namespace {

using MetricTable = std::vector<std::pair<std::string, std::function<MetricPtr()>>>;

const MetricTable& metric_table() {
  using Kind = Accuracy::Kind;
  static const MetricTable kMetrics = {
      {"accuracy", [] { return std::make_shared<Accuracy>(); }},
      {"acc", [] { return std::make_shared<Accuracy>(Kind::automatic, "acc"); }},
      {"sparse_categorical_accuracy",
       [] {
         return std::make_shared<Accuracy>(Kind::sparse_categorical, "sparse_categorical_accuracy");
       }},
      {"categorical_accuracy",
       [] { return std::make_shared<Accuracy>(Kind::categorical, "categorical_accuracy"); }},
      {"binary_accuracy",
       [] { return std::make_shared<Accuracy>(Kind::binary, "binary_accuracy"); }},
      {"sparse_top_k_categorical_accuracy",
       [] { return std::make_shared<TopKAccuracy>(5, "sparse_top_k_categorical_accuracy"); }},
      {"top_k_categorical_accuracy",
       [] { return std::make_shared<TopKAccuracy>(5, "top_k_categorical_accuracy"); }},
      {"mse", [] { return std::make_shared<MeanError>(MeanError::Kind::squared, "mse"); }},
      {"mean_squared_error",
       [] { return std::make_shared<MeanError>(MeanError::Kind::squared, "mean_squared_error"); }},
      {"mae", [] { return std::make_shared<MeanError>(MeanError::Kind::absolute, "mae"); }},
      {"mean_absolute_error",
       [] {
         return std::make_shared<MeanError>(MeanError::Kind::absolute, "mean_absolute_error");
       }},
  };
  return kMetrics;
}

// The metric called `name`, or null when there is none.
MetricPtr find_metric(const std::string& name) {
  for (const auto& [key, make] : metric_table()) {
    if (key == name) return make();
  }
  // top_<k>_accuracy, e.g. top_5_accuracy.
  const std::string prefix = "top_", suffix = "_accuracy";
  if (name.size() > prefix.size() + suffix.size() && name.starts_with(prefix) &&
      name.ends_with(suffix)) {
    const std::string digits =
        name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.find_first_not_of("0123456789") == std::string::npos && digits.size() < 9 &&
        std::stoll(digits) >= 1) {
      return std::make_shared<TopKAccuracy>(std::stoll(digits), name);
    }
  }
  return nullptr;
}

}  // namespace

bool internal::is_known_metric(const std::string& name) { return find_metric(name) != nullptr; }

MetricPtr make_metric(const std::string& name) {
  if (MetricPtr metric = find_metric(name)) return metric;
  std::string known;
  for (const auto& entry : metric_table()) known += entry.first + ", ";
  NABLA_CHECK(false, "unknown metric '", name, "'",
              name == "loss" ? " (the loss is always reported; do not list it as a metric)" : "",
              "; known metrics: ", known, "top_<k>_accuracy");
  return nullptr;
}

}  // namespace nabla::train
