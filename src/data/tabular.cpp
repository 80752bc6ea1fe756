// The column pipeline of tabular data (nabla/tabular.hpp): types, standardization, vocabularies,
// buckets and crosses, fitted on the training rows only.
#include "nabla/tabular.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <ostream>
#include <random>
#include <set>

#include "core/tensor_impl.hpp"
#include "nabla/error.hpp"

namespace nabla::data {
namespace {

bool tabular_parse_number(const std::string& text, double& value) {
  if (text.empty()) return false;
  const char* first = text.data();
  if (*first == '+') ++first;  // from_chars rejects a leading plus
  const auto [end, error] = std::from_chars(first, text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && std::isfinite(value);
}

// The number in row `row`, column `column` of `table`; Error naming the file, line and column.
double tabular_number(const CsvRows& table, int64_t row, int64_t column) {
  const std::string& field = table.rows[row][column];
  double value = 0;
  NABLA_CHECK(tabular_parse_number(field, value), table.path, ":", table.lines[row], ": column ",
              column + 1, " (", table.columns[column], "): expected a number, got ",
              field.empty() ? std::string("an empty field") : "\"" + field + "\"");
  return value;
}

// An inferred type: numeric when at least 90% of the training values are numbers. The others are
// then mistakes (a typo, "n/a", an empty cell), reported as such with the first one's line,
// rather than turning the column categorical without a word.
bool tabular_inferred_numeric(const CsvRows& table, const std::vector<int64_t>& rows,
                              int64_t column) {
  double unused;
  int64_t numbers = 0, first_other = -1;
  for (int64_t row : rows) {
    if (tabular_parse_number(table.rows[row][column], unused)) {
      ++numbers;
    } else if (first_other < 0) {
      first_other = row;
    }
  }
  const auto n = static_cast<int64_t>(rows.size());
  if (numbers == n) return true;
  if (numbers * 10 < n * 9) return false;
  const std::string& field = table.rows[first_other][column];
  detail::throw_error(detail::str(
      table.path, ":", table.lines[first_other], ": column ", column + 1, " (",
      table.columns[column], "): expected a number, got ",
      field.empty() ? std::string("an empty field") : "\"" + field + "\"", " (", numbers, " of ", n,
      " training values of the column are numbers, so it is taken as numeric; declare it ",
      "categorical in the spec's tabular.columns to keep such values)"));
}

int64_t tabular_bucket(const std::vector<double>& boundaries, double value) {
  return std::upper_bound(boundaries.begin(), boundaries.end(), value) - boundaries.begin();
}

// FNV-1a over the ids of a cross: the same hash on every platform and run.
uint64_t tabular_hash(const std::vector<int64_t>& ids) {
  uint64_t hash = 14695981039346656037ull;
  for (int64_t id : ids) {
    for (int byte = 0; byte < 8; ++byte) {
      hash ^= (static_cast<uint64_t>(id) >> (8 * byte)) & 0xffu;
      hash *= 1099511628211ull;
    }
  }
  return hash;
}

void tabular_check_rows(const CsvRows& table, const std::vector<int64_t>& rows) {
  for (int64_t row : rows) {
    NABLA_CHECK(row >= 0 && row < static_cast<int64_t>(table.rows.size()), "TabularPipeline: row ",
                row, " is outside ", table.path, "'s ", table.rows.size(), " rows");
  }
}

}  // namespace

ColumnKind column_kind_from_name(const std::string& name) {
  if (name == "numeric") return ColumnKind::numeric;
  if (name == "categorical") return ColumnKind::categorical;
  if (name == "bucketized") return ColumnKind::bucketized;
  detail::throw_error(detail::str("unknown column type \"", name,
                                  "\"; expected \"numeric\", \"categorical\" or \"bucketized\""));
}

const char* column_kind_name(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::numeric:
      return "numeric";
    case ColumnKind::categorical:
      return "categorical";
    case ColumnKind::bucketized:
      return "bucketized";
  }
  return "?";
}

TabularPipeline TabularPipeline::fit(const CsvRows& table, const TabularSpec& spec,
                                     const std::vector<int64_t>& train_rows) {
  NABLA_CHECK(!train_rows.empty(), "TabularPipeline::fit: no training rows");
  tabular_check_rows(table, train_rows);
  NABLA_CHECK(
      !spec.target.empty(), "TabularPipeline::fit: no target column given; name the ",
      "column to predict (columns of ", table.path, ": ",
      [&] {
        std::string list;
        for (const auto& c : table.columns) list += (list.empty() ? "" : ", ") + c;
        return list;
      }(),
      ")");
  TabularPipeline p;
  p.target_ = spec.target;
  table.column_index(spec.target);
  for (const std::string& name : spec.drop) table.column_index(name);
  if (spec.columns.empty()) {
    for (size_t c = 0; c < table.columns.size(); ++c) {
      const std::string& name = table.columns[c];
      if (name == spec.target ||
          std::find(spec.drop.begin(), spec.drop.end(), name) != spec.drop.end()) {
        continue;
      }
      ColumnSpec column{name, ColumnKind::categorical, {}, 0};
      if (tabular_inferred_numeric(table, train_rows, static_cast<int64_t>(c))) {
        column.kind = spec.inferred_quantiles > 1 ? ColumnKind::bucketized : ColumnKind::numeric;
        column.quantiles = spec.inferred_quantiles > 1 ? spec.inferred_quantiles : 0;
      }
      p.columns_.push_back(column);
    }
  } else {
    p.columns_ = spec.columns;
  }
  NABLA_CHECK(!p.columns_.empty(), table.path, ": no feature columns besides the target \"",
              spec.target, "\"");
  std::set<std::string> seen;
  for (ColumnSpec& column : p.columns_) {
    const int64_t c = table.column_index(column.name);
    NABLA_CHECK(column.name != spec.target, "column \"", column.name,
                "\" is the target; it cannot also be a feature");
    NABLA_CHECK(seen.insert(column.name).second, "column \"", column.name, "\" is given twice");
    if (column.kind == ColumnKind::categorical) {
      std::set<std::string> categories;
      for (int64_t row : train_rows) categories.insert(table.rows[row][c]);
      p.vocabularies_.emplace_back(categories.begin(), categories.end());
      p.categorical_size_ += static_cast<int64_t>(categories.size()) + 1;
      p.wide_size_ += static_cast<int64_t>(categories.size()) + 1;
      continue;
    }
    std::vector<double> values;
    for (int64_t row : train_rows) values.push_back(tabular_number(table, row, c));
    double mean = 0;
    for (double v : values) mean += v;
    mean /= static_cast<double>(values.size());
    double variance = 0;
    for (double v : values) variance += (v - mean) * (v - mean);
    const double std = std::sqrt(variance / static_cast<double>(values.size()));
    p.means_.push_back(mean);
    p.stds_.push_back(std > 0 ? std : 1.0);  // a constant column stays 0 after centering
    if (column.kind != ColumnKind::bucketized) continue;
    if (column.boundaries.empty()) {
      NABLA_CHECK(column.quantiles > 1, "column \"", column.name,
                  "\" is bucketized but has neither boundaries nor a number of quantiles (> 1)");
      std::sort(values.begin(), values.end());
      for (int64_t i = 1; i < column.quantiles; ++i) {
        const double b =
            values[static_cast<size_t>(i) * values.size() / static_cast<size_t>(column.quantiles)];
        if (column.boundaries.empty() || b > column.boundaries.back()) {
          column.boundaries.push_back(b);
        }
      }
    }
    for (size_t i = 1; i < column.boundaries.size(); ++i) {
      NABLA_CHECK(column.boundaries[i - 1] < column.boundaries[i], "column \"", column.name,
                  "\": bucket boundaries must increase, got ", column.boundaries[i - 1], " then ",
                  column.boundaries[i]);
    }
    p.wide_size_ += static_cast<int64_t>(column.boundaries.size()) + 1;
  }
  for (const CrossSpec& spec_cross : spec.crosses) {
    NABLA_CHECK(spec_cross.columns.size() >= 2, "a cross needs two or more columns, got ",
                spec_cross.columns.size());
    Cross cross;
    cross.hash_buckets = spec_cross.hash_buckets;
    NABLA_CHECK(cross.hash_buckets >= 0, "cross hash_buckets must be >= 0 (0: enumerated), got ",
                cross.hash_buckets);
    double combinations = 1;
    for (const std::string& name : spec_cross.columns) {
      const auto it = std::find_if(p.columns_.begin(), p.columns_.end(),
                                   [&](const ColumnSpec& c) { return c.name == name; });
      NABLA_CHECK(it != p.columns_.end(), "cross of \"", name,
                  "\": not a feature column (crosses take categorical or bucketized features)");
      NABLA_CHECK(it->kind != ColumnKind::numeric, "cross of \"", name,
                  "\": the column is numeric; bucketize it to cross it");
      cross.parts.push_back(static_cast<size_t>(it - p.columns_.begin()));
      int64_t size = static_cast<int64_t>(it->boundaries.size()) + 1;
      if (it->kind == ColumnKind::categorical) {
        size_t categorical_index = 0;
        for (auto c = p.columns_.begin(); c != it; ++c) {
          categorical_index += c->kind == ColumnKind::categorical;
        }
        size = static_cast<int64_t>(p.vocabularies_[categorical_index].size()) + 1;
      }
      combinations *= static_cast<double>(size);
    }
    NABLA_CHECK(cross.hash_buckets > 0 || combinations <= 1e7, "the cross of ",
                spec_cross.columns.size(), " columns has ", combinations,
                " combinations; hash it into fewer buckets (hash_buckets)");
    cross.size = cross.hash_buckets > 0 ? cross.hash_buckets : static_cast<int64_t>(combinations);
    p.wide_size_ += cross.size;
    p.crosses_.push_back(cross);
  }
  return p;
}

TabularFeatures TabularPipeline::transform(const CsvRows& table, const std::vector<int64_t>& rows,
                                           std::ostream* warnings) const {
  tabular_check_rows(table, rows);
  const auto n = static_cast<int64_t>(rows.size());
  const int64_t target_column = table.column_index(target_);
  std::vector<int64_t> indices;
  for (const ColumnSpec& column : columns_) indices.push_back(table.column_index(column.name));
  const auto numeric_count = static_cast<int64_t>(means_.size());
  const auto categorical_count = static_cast<int64_t>(vocabularies_.size());
  const int64_t bucketized_count =
      static_cast<int64_t>(std::count_if(columns_.begin(), columns_.end(), [](const auto& c) {
        return c.kind == ColumnKind::bucketized;
      }));
  const int64_t wide_width =
      categorical_count + bucketized_count + static_cast<int64_t>(crosses_.size());
  TabularFeatures out;
  out.numeric = make_tensor({n, numeric_count}, DType::f32);
  out.categorical = make_tensor({n, categorical_count}, DType::i64);
  out.wide = make_tensor({n, wide_width}, DType::i64);
  out.target = make_tensor({n}, DType::f32);
  float* numeric = out.numeric.data<float>();
  int64_t* categorical = out.categorical.data<int64_t>();
  int64_t* wide = out.wide.data<int64_t>();
  float* target = out.target.data<float>();
  std::vector<bool> warned(columns_.size(), false);
  std::vector<int64_t> local(columns_.size());  // each column's id within the column
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = rows[i];
    target[i] = static_cast<float>(tabular_number(table, row, target_column));
    int64_t numeric_at = 0, categorical_at = 0, categorical_offset = 0, wide_at = 0,
            wide_offset = 0;
    for (size_t c = 0; c < columns_.size(); ++c) {
      const ColumnSpec& column = columns_[c];
      if (column.kind == ColumnKind::categorical) {
        const std::vector<std::string>& vocabulary = vocabularies_[categorical_at];
        const std::string& field = table.rows[row][indices[c]];
        const auto it = std::lower_bound(vocabulary.begin(), vocabulary.end(), field);
        const bool known = it != vocabulary.end() && *it == field;
        local[c] = known ? 1 + (it - vocabulary.begin()) : 0;
        if (!known && !warned[c] && warnings != nullptr) {
          warned[c] = true;
          *warnings << "nabla: warning: " << table.path << ":" << table.lines[row] << ": column "
                    << indices[c] + 1 << " (" << column.name << "): category \"" << field
                    << "\" was not in the training part; it (and any other unseen category of "
                       "this column) goes to the out-of-vocabulary id\n";
        }
        const auto size = static_cast<int64_t>(vocabulary.size()) + 1;
        categorical[i * categorical_count + categorical_at] = categorical_offset + local[c];
        wide[i * wide_width + wide_at++] = wide_offset + local[c];
        categorical_offset += size;
        wide_offset += size;
        ++categorical_at;
        continue;
      }
      const double value = tabular_number(table, row, indices[c]);
      numeric[i * numeric_count + numeric_at] =
          static_cast<float>((value - means_[numeric_at]) / stds_[numeric_at]);
      ++numeric_at;
      if (column.kind == ColumnKind::bucketized) {
        local[c] = tabular_bucket(column.boundaries, value);
        wide[i * wide_width + wide_at++] = wide_offset + local[c];
        wide_offset += static_cast<int64_t>(column.boundaries.size()) + 1;
      }
    }
    for (const Cross& cross : crosses_) {
      std::vector<int64_t> ids;
      int64_t id = 0;
      for (size_t part : cross.parts) {
        ids.push_back(local[part]);
        const ColumnSpec& column = columns_[part];
        int64_t size = static_cast<int64_t>(column.boundaries.size()) + 1;
        if (column.kind == ColumnKind::categorical) {
          size_t k = 0;
          for (size_t c = 0; c < part; ++c) k += columns_[c].kind == ColumnKind::categorical;
          size = static_cast<int64_t>(vocabularies_[k].size()) + 1;
        }
        id = id * size + local[part];
      }
      if (cross.hash_buckets > 0) {
        id = static_cast<int64_t>(tabular_hash(ids) % static_cast<uint64_t>(cross.hash_buckets));
      }
      wide[i * wide_width + wide_at++] = wide_offset + id;
      wide_offset += cross.size;
    }
  }
  return out;
}

std::vector<std::string> TabularPipeline::numeric_names() const {
  std::vector<std::string> names;
  for (const ColumnSpec& c : columns_) {
    if (c.kind != ColumnKind::categorical) names.push_back(c.name);
  }
  return names;
}

std::vector<std::string> TabularPipeline::categorical_names() const {
  std::vector<std::string> names;
  for (const ColumnSpec& c : columns_) {
    if (c.kind == ColumnKind::categorical) names.push_back(c.name);
  }
  return names;
}

std::string TabularPipeline::describe() const {
  std::string text;
  size_t categorical_at = 0;
  for (const ColumnSpec& c : columns_) {
    text += "  " + c.name + ": " + column_kind_name(c.kind);
    if (c.kind == ColumnKind::categorical) {
      text += detail::str(", ", vocabularies_[categorical_at++].size(), " categories + OOV");
    } else if (c.kind == ColumnKind::bucketized) {
      text += detail::str(", ", c.boundaries.size() + 1, " buckets, standardized");
    } else {
      text += ", standardized";
    }
    text += "\n";
  }
  for (const Cross& cross : crosses_) {
    text += "  cross";
    for (size_t i = 0; i < cross.parts.size(); ++i) {
      text += (i == 0 ? " " : " x ") + columns_[cross.parts[i]].name;
    }
    text += cross.hash_buckets > 0 ? detail::str(": hashed into ", cross.size, " ids\n")
                                   : detail::str(": ", cross.size, " combinations\n");
  }
  return text;
}

RowSplit split_rows(int64_t n, double test_fraction, uint64_t seed) {
  NABLA_CHECK(test_fraction > 0 && test_fraction < 1,
              "split_rows: test_fraction must be in (0, 1), got ", test_fraction);
  const auto train =
      static_cast<int64_t>(std::llround(static_cast<double>(n) * (1 - test_fraction)));
  NABLA_CHECK(train >= 1 && train < n, "split_rows: ", n, " rows cannot be split ",
              1 - test_fraction, " : ", test_fraction, " with rows on both sides");
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);  // mt19937_64's output is fixed by the standard; the modulo too
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(order[i], order[static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1))]);
  }
  RowSplit split;
  split.train.assign(order.begin(), order.begin() + train);
  split.test.assign(order.begin() + train, order.end());
  return split;
}

}  // namespace nabla::data
