// Tabular data: a CSV file with a header read as text cells, and the column pipeline that turns
// its rows into a model's inputs, as Keras's preprocessing layers and TensorFlow's feature
// columns do for Wide&Deep models: numeric columns standardized with the training part's mean and
// standard deviation, categorical columns mapped to ids of a vocabulary learned from the training
// part (a category not seen there goes to the column's out-of-vocabulary id, with one warning),
// bucketized numeric columns (given boundaries, or quantiles of the training part), and crosses
// of categorical or bucketized columns (every combination enumerated, or hashed into a number of
// buckets). Also the closed-form linear least-squares fit that serves as the baseline of
// regression on such data. Errors name the file, the line and the column.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "nabla/tensor.hpp"

namespace nabla::data {

// The text cells of a CSV file with a header line (fields trimmed, quotes as read_csv's).
struct CsvRows {
  std::string path;
  int64_t header_line = 1;           // line number of the header in the file
  std::vector<std::string> columns;  // from the header
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> lines;  // the file's line number of each row (1-based)
  // The column named `name`; Error naming the file, the header line and the columns otherwise.
  int64_t column_index(const std::string& name) const;
};
// `skip_lines` lines come before the header and are skipped: scikit-learn's copy of the Boston
// house-price data opens with a line of counts ("506,13") above its header. Empty lines are
// skipped. Errors: an empty file, a row with another number of fields than the header.
CsvRows read_csv_rows(const std::string& path, int64_t skip_lines = 0, char delimiter = ',');

enum class ColumnKind { numeric, categorical, bucketized };
// "numeric", "categorical", "bucketized"; Error for another name.
ColumnKind column_kind_from_name(const std::string& name);
const char* column_kind_name(ColumnKind kind);

struct ColumnSpec {
  std::string name;
  ColumnKind kind = ColumnKind::numeric;
  // bucketized: sorted boundaries b0 < b1 < ...; bucket 0 is (-inf, b0), bucket i is
  // [b(i-1), b(i)) and the last is [b(last), inf), as tf.feature_column.bucketized_column.
  std::vector<double> boundaries;
  // bucketized without boundaries: this many buckets, bounded by the training part's quantiles.
  int64_t quantiles = 0;
};

struct CrossSpec {
  std::vector<std::string> columns;  // two or more categorical or bucketized columns
  // 0: every combination of the columns' ids is its own id (their sizes multiplied);
  // > 0: combinations hashed into this many ids (tf.feature_column.crossed_column).
  int64_t hash_buckets = 0;
};

struct TabularSpec {
  std::string target;               // the numeric column to predict
  std::vector<ColumnSpec> columns;  // the features; empty: every other column, types inferred
  std::vector<std::string> drop;    // columns left out (when `columns` is empty)
  std::vector<CrossSpec> crosses;
  // Inferred types: a column whose training values are numbers is bucketized into this many
  // quantile buckets (its standardized value still goes to the deep part; <= 1: numeric only);
  // any other column is categorical. A column of 90% numbers or more is numeric and its other
  // values are an error naming the first one's line.
  int64_t inferred_quantiles = 4;
};

// The rows of a table as a model's inputs.
struct TabularFeatures {
  // f32 [N, numeric_names().size()]: numeric and bucketized columns' values, standardized.
  Tensor numeric;
  // i64 [N, categorical columns]: ids into one table of categorical_size() rows; each column has
  // its range of ids, the first of which is its out-of-vocabulary id.
  Tensor categorical;
  // i64 [N, categorical + bucketized columns + crosses]: ids into one table of wide_size() rows
  // (the sparse features of a wide linear model: one id per column and cross).
  Tensor wide;
  Tensor target;  // f32 [N]: the target's values as they are
};

class TabularPipeline {
 public:
  // Learns what transform() needs from the rows `train_rows` of `table` only: column types (when
  // inferred), means and standard deviations, vocabularies, quantile boundaries.
  static TabularPipeline fit(const CsvRows& table, const TabularSpec& spec,
                             const std::vector<int64_t>& train_rows);
  // The features of rows `rows` of `table` (which may be another file with the same columns). A
  // category the training part did not have goes to its column's out-of-vocabulary id; the first
  // one of each column is said on `warnings` (null: none).
  TabularFeatures transform(const CsvRows& table, const std::vector<int64_t>& rows,
                            std::ostream* warnings) const;

  const std::vector<ColumnSpec>& columns() const { return columns_; }  // resolved types
  const std::string& target() const { return target_; }
  std::vector<std::string> numeric_names() const;
  std::vector<std::string> categorical_names() const;
  int64_t categorical_size() const { return categorical_size_; }
  int64_t wide_size() const { return wide_size_; }
  const std::vector<double>& means() const { return means_; }  // per numeric_names()
  const std::vector<double>& stds() const { return stds_; }
  // Each categorical column's categories in id order after its out-of-vocabulary id.
  const std::vector<std::vector<std::string>>& vocabularies() const { return vocabularies_; }
  // One line per column and cross: its type and size ("RAD: categorical, 9 categories + OOV").
  std::string describe() const;

 private:
  struct Cross {
    std::vector<size_t> parts;  // indices into columns_ (categorical or bucketized)
    int64_t hash_buckets = 0;
    int64_t size = 0;
  };
  std::string target_;
  std::vector<ColumnSpec> columns_;
  std::vector<Cross> crosses_;
  std::vector<double> means_, stds_;                    // numeric and bucketized columns
  std::vector<std::vector<std::string>> vocabularies_;  // categorical columns
  int64_t categorical_size_ = 0, wide_size_ = 0;
};

// Row indices 0..n-1 shuffled by `seed` (the same on every platform), split into the first
// round(n * (1 - test_fraction)) for training and the rest for testing.
struct RowSplit {
  std::vector<int64_t> train, test;
};
RowSplit split_rows(int64_t n, double test_fraction, uint64_t seed);

// Closed-form linear least squares: the coefficients w ([p] f64) minimizing |x w - y|^2 for x
// [n, p] and y [n] (f32 or f64), by Householder QR in f64. Error when x has fewer rows than
// columns or its columns are linearly dependent (rank below p).
Tensor least_squares(const Tensor& x, const Tensor& y);

}  // namespace nabla::data
