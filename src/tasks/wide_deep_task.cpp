// Task "wide_deep": regression on tabular data (a CSV file with a header) by a Wide&Deep model
// (Cheng et al., 2016): a wide linear model of the standardized numeric features and of sparse
// ids (categorical columns, buckets of numeric columns and their crosses), plus a deep network on
// the numeric features and embeddings of the categorical columns; their sum predicts the target.
// The two parts train jointly on the mean squared error, each with its own optimizer as in the
// paper: Adagrad for the wide part (its sparse ids see few updates, which Adagrad's per-weight
// rates suit), the spec's "training" optimizer (Adam) for the deep part. "parts" selects the
// wide part alone ("wide": a linear model) or the deep part alone ("deep"). The task runs the whole
// of `nabla train` itself (Task::run_own): the model takes three inputs that train::Model's fit
// does not carry.
//
// The spec's "tabular" section (docs/model-format.md): "file", "skip_lines", "target", "drop",
// "columns" ([{"name", "type": numeric|categorical|bucketized, "boundaries" | "quantiles"}];
// none: every other column, types inferred), "crosses" ([{"columns": [...], "hash_buckets"}]),
// "test_split" (0.2), "parts", "embedding_dim", "wide_optimizer" and "wide_lr". Its "layers" are
// the deep part's tower (Dense layers ending in Dense(1)). --data FILE.csv trains on a file of
// one's own, with --target naming the column to predict and the column types inferred.
//
// Judged by the test RMSE in the target's units, beside the RMSE of closed-form linear least
// squares on the same split and features (data::least_squares).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>

#include "io/layer_spec.hpp"
#include "io/spec_reader.hpp"
#include "nabla/data.hpp"
#include "nabla/nn.hpp"
#include "nabla/ops.hpp"
#include "nabla/optim.hpp"
#include "nabla/tabular.hpp"
#include "nabla/tasks.hpp"
#include "tasks/task_loop.hpp"

namespace nabla::tasks {
namespace {

namespace fs = std::filesystem;
using io::internal::Json;

constexpr const char* kBostonHousePricesFile =
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/boston_house_prices.csv";
constexpr const char* kWideDeepPredictionsFile = "predictions.csv";

struct WideDeepSettings {
  std::string file = kBostonHousePricesFile;
  int64_t skip_lines = 0;
  data::TabularSpec table;
  double test_split = 0.2;
  std::string parts = "wide_deep";  // or "wide", "deep"
  int64_t embedding_dim = 8;
  std::string wide_optimizer = "adagrad";
  double wide_lr = 0.1;
  double wide_l1 = 0, wide_l2 = 0;  // FTRL's regularization (wide_optimizer "ftrl")
  Json tower;                       // the deep part's layers
};

data::ColumnSpec wide_deep_column(const io::internal::SpecReader& reader, const Json& item,
                                  const std::string& path) {
  if (!item.is_object()) reader.fail(path, "expected an object {\"name\", \"type\", ...}");
  reader.check_keys(item, path, {"name", "type", "boundaries", "quantiles"}, "a column");
  data::ColumnSpec column;
  const Json* name = reader.find(item, path, {"name"});
  if (name == nullptr) reader.fail(path, "missing \"name\"");
  column.name = reader.string(*name, path + ".name");
  if (const Json* v = reader.find(item, path, {"type"})) {
    reader.check_with(path + ".type", [&] {
      column.kind = data::column_kind_from_name(reader.string(*v, path + ".type"));
    });
  }
  if (const Json* v = reader.find(item, path, {"boundaries"})) {
    if (!v->is_array() || v->empty()) reader.fail(path + ".boundaries", "expected a list");
    for (size_t i = 0; i < v->size(); ++i) {
      column.boundaries.push_back(
          reader.number((*v)[i], detail::str(path, ".boundaries[", i, "]"), -1e300, 1e300));
    }
  }
  if (const Json* v = reader.find(item, path, {"quantiles"})) {
    column.quantiles = reader.positive_int(*v, path + ".quantiles");
  }
  if (column.kind == data::ColumnKind::bucketized && column.boundaries.empty() &&
      column.quantiles < 2) {
    reader.fail(path, "a bucketized column needs \"boundaries\" or \"quantiles\" (2 or more)");
  }
  return column;
}

WideDeepSettings wide_deep_settings(const io::ModelSpec& spec) {
  const io::internal::SpecReader reader(spec.name);
  const Json root = data::internal::parse_json(spec.json);
  WideDeepSettings s;
  s.tower = root.at("layers");
  const auto it = root.find("tabular");
  if (it == root.end()) return s;
  const Json& t = *it;
  if (!t.is_object()) reader.fail("tabular", "expected an object");
  reader.check_keys(t, "tabular",
                    {"file", "skip_lines", "target", "drop", "columns", "crosses", "test_split",
                     "parts", "embedding_dim", "wide_optimizer", "wide_lr", "wide_l1", "wide_l2"},
                    "\"tabular\"");
  if (const Json* v = reader.find(t, "tabular", {"file"})) {
    s.file = reader.string(*v, "tabular.file");
  }
  if (const Json* v = reader.find(t, "tabular", {"skip_lines"})) {
    s.skip_lines = static_cast<int64_t>(reader.number(*v, "tabular.skip_lines", 0, 1e9));
  }
  if (const Json* v = reader.find(t, "tabular", {"target"})) {
    s.table.target = reader.string(*v, "tabular.target");
  }
  if (const Json* v = reader.find(t, "tabular", {"drop"})) {
    if (!v->is_array()) reader.fail("tabular.drop", "expected a list of column names");
    for (size_t i = 0; i < v->size(); ++i) {
      s.table.drop.push_back(reader.string((*v)[i], detail::str("tabular.drop[", i, "]")));
    }
  }
  if (const Json* v = reader.find(t, "tabular", {"columns"})) {
    if (!v->is_array()) reader.fail("tabular.columns", "expected a list of columns");
    for (size_t i = 0; i < v->size(); ++i) {
      s.table.columns.push_back(
          wide_deep_column(reader, (*v)[i], detail::str("tabular.columns[", i, "]")));
    }
  }
  if (const Json* v = reader.find(t, "tabular", {"crosses"})) {
    if (!v->is_array()) reader.fail("tabular.crosses", "expected a list of crosses");
    for (size_t i = 0; i < v->size(); ++i) {
      const std::string path = detail::str("tabular.crosses[", i, "]");
      const Json& item = (*v)[i];
      if (!item.is_object()) reader.fail(path, "expected {\"columns\": [...], \"hash_buckets\"}");
      reader.check_keys(item, path, {"columns", "hash_buckets"}, "a cross");
      data::CrossSpec cross;
      const Json* columns = reader.find(item, path, {"columns"});
      if (columns == nullptr || !columns->is_array() || columns->size() < 2) {
        reader.fail(path + ".columns", "expected a list of two or more column names");
      }
      for (size_t j = 0; j < columns->size(); ++j) {
        cross.columns.push_back(
            reader.string((*columns)[j], detail::str(path, ".columns[", j, "]")));
      }
      if (const Json* h = reader.find(item, path, {"hash_buckets"})) {
        cross.hash_buckets = reader.positive_int(*h, path + ".hash_buckets");
      }
      s.table.crosses.push_back(cross);
    }
  }
  if (const Json* v = reader.find(t, "tabular", {"test_split"})) {
    s.test_split = reader.number(*v, "tabular.test_split", 0, 1, false);
  }
  if (const Json* v = reader.find(t, "tabular", {"parts"})) {
    s.parts = reader.string(*v, "tabular.parts");
    if (s.parts != "wide_deep" && s.parts != "wide" && s.parts != "deep") {
      reader.fail("tabular.parts",
                  "expected \"wide_deep\", \"wide\" or \"deep\", got \"" + s.parts + "\"");
    }
  }
  if (const Json* v = reader.find(t, "tabular", {"embedding_dim"})) {
    s.embedding_dim = reader.positive_int(*v, "tabular.embedding_dim");
  }
  if (const Json* v = reader.find(t, "tabular", {"wide_optimizer"})) {
    s.wide_optimizer = reader.string(*v, "tabular.wide_optimizer");
    reader.check_with("tabular.wide_optimizer", [&] { optim::make_optimizer(s.wide_optimizer); });
  }
  if (const Json* v = reader.find(t, "tabular", {"wide_lr"})) {
    s.wide_lr = reader.number(*v, "tabular.wide_lr", 0, 1e3, false);
  }
  for (const char* key : {"wide_l1", "wide_l2"}) {
    if (const Json* v = reader.find(t, "tabular", {key})) {
      const std::string path = std::string("tabular.") + key;
      if (s.wide_optimizer != "ftrl") {
        reader.fail(path, "L1 and L2 strengths apply to the \"ftrl\" wide optimizer, not \"" +
                              s.wide_optimizer + "\"");
      }
      (key[6] == '1' ? s.wide_l1 : s.wide_l2) = reader.number(*v, path, 0, 1e9);
    }
  }
  return s;
}

// The model: forward_multi({numeric f32 [N, F], categorical i64 [N, C], wide i64 [N, W]}) -> [N].
class WideDeepModel : public nn::Module {
 public:
  WideDeepModel(const data::TabularPipeline& pipeline, const WideDeepSettings& s,
                const std::string& spec_name)
      : wide_(s.parts != "deep"), deep_(s.parts != "wide") {
    const auto numeric = static_cast<int64_t>(pipeline.numeric_names().size());
    if (wide_) {
      nn::EmbeddingOptions zeros;
      zeros.initializer = "zeros";  // a linear model starts at 0, as tf.estimator's
      if (pipeline.wide_size() > 0) {
        wide_ids_ = register_module(
            "wide_ids", std::make_shared<nn::Embedding>(pipeline.wide_size(), 1, zeros));
      }
      nn::LinearOptions linear;
      linear.in_features = std::max<int64_t>(numeric, 1);
      linear.kernel_initializer = "zeros";
      wide_dense_ = register_module("wide_dense", std::make_shared<nn::Linear>(1, linear));
    }
    if (deep_) {
      if (pipeline.categorical_size() > 0) {
        embedding_ = register_module(
            "embedding",
            std::make_shared<nn::Embedding>(pipeline.categorical_size(), s.embedding_dim));
      }
      tower_ = register_module("tower", std::make_shared<nn::Sequential>());
      const io::internal::SpecReader reader(spec_name);
      for (size_t i = 0; i < s.tower.size(); ++i) {
        tower_->add(io::internal::parse_layer(reader, s.tower[i], detail::str("layers[", i, "]")));
      }
      const int64_t width =
          numeric + static_cast<int64_t>(pipeline.categorical_names().size()) * s.embedding_dim;
      const Shape out = tower_->build({width});
      NABLA_CHECK(out.size() == 2 && out[1] == 1, "model spec ", spec_name,
                  ": the deep part's layers must end in one output (Dense(1)) for the regression, ",
                  "got an output of shape ", out);
    }
  }

  Tensor forward(const Tensor&) override {
    NABLA_CHECK(false, "WideDeepModel takes three inputs (numeric, categorical, wide ids): call ",
                "forward_multi");
  }

  Tensor forward_multi(const std::vector<Tensor>& inputs) override {
    NABLA_CHECK(inputs.size() == 3, "WideDeepModel: expected 3 inputs, got ", inputs.size());
    const Tensor& numeric = inputs[0];
    const int64_t n = numeric.shape()[0];
    Tensor out;
    if (wide_) {
      // With no numeric column the linear map sees one column of zeros: its bias alone remains.
      const Tensor dense_in = numeric.shape()[1] > 0 ? numeric : zeros({n, 1});
      out = wide_dense_->forward(dense_in);
      if (wide_ids_ != nullptr) out = add(out, sum(wide_ids_->forward(inputs[2]), {1}));
    }
    if (deep_) {
      Tensor x = numeric;
      if (embedding_ != nullptr) {
        const Tensor embedded = reshape(embedding_->forward(inputs[1]), {n, -1});
        x = numeric.shape()[1] > 0 ? concat({numeric, embedded}, 1) : embedded;
      }
      const Tensor deep = tower_->forward(x);
      out = out.defined() ? add(out, deep) : deep;
    }
    return reshape(out, {n});
  }

  std::string type_name() const override { return "WideDeep"; }
  std::vector<Tensor> wide_parameters() const {
    std::vector<Tensor> params;
    if (wide_ids_ != nullptr) params.push_back(wide_ids_->weight());
    if (wide_dense_ != nullptr) {
      for (const Tensor& p : wide_dense_->parameters()) params.push_back(p);
    }
    return params;
  }
  std::vector<Tensor> deep_parameters() const {
    std::vector<Tensor> params;
    if (embedding_ != nullptr) params.push_back(embedding_->weight());
    if (tower_ != nullptr) {
      for (const Tensor& p : tower_->parameters()) params.push_back(p);
    }
    return params;
  }

 private:
  bool wide_, deep_;
  std::shared_ptr<nn::Embedding> wide_ids_, embedding_;
  std::shared_ptr<nn::Linear> wide_dense_;
  std::shared_ptr<nn::Sequential> tower_;
};

std::vector<Tensor> wide_deep_inputs(const data::TabularFeatures& f) {
  return {f.numeric, f.categorical, f.wide};
}

// The closed-form baseline on the same split: least squares on an intercept, the standardized
// numeric (and bucketized) columns and indicators of each categorical column's categories (the
// first category of each column is the reference, as a one-hot encoding without its first column;
// an unseen category is all zeros). RMSE on the test part.
double least_squares_rmse(const data::TabularPipeline& pipeline, const data::TabularFeatures& train,
                          const data::TabularFeatures& test) {
  const auto& vocabularies = pipeline.vocabularies();
  auto design = [&](const data::TabularFeatures& f) {
    const int64_t n = f.numeric.shape()[0], numeric = f.numeric.shape()[1];
    int64_t width = 1 + numeric;
    for (const auto& v : vocabularies) width += std::max<int64_t>(0, std::ssize(v) - 1);
    std::vector<double> x(static_cast<size_t>(n * width), 0.0);
    const std::vector<float> values = f.numeric.to_vector<float>();
    const std::vector<int64_t> ids = f.categorical.to_vector<int64_t>();
    const auto categorical = static_cast<int64_t>(vocabularies.size());
    for (int64_t i = 0; i < n; ++i) {
      double* row = &x[i * width];
      row[0] = 1;
      for (int64_t j = 0; j < numeric; ++j) row[1 + j] = values[i * numeric + j];
      int64_t column = 1 + numeric, offset = 0;
      for (int64_t c = 0; c < categorical; ++c) {
        const int64_t local = ids[i * categorical + c] - offset;  // 0: OOV, 1: reference
        if (local >= 2) row[column + local - 2] = 1;
        column += std::max<int64_t>(0, std::ssize(vocabularies[c]) - 1);
        offset += std::ssize(vocabularies[c]) + 1;
      }
    }
    Tensor t = from_vector(x, {n, width});
    return t;
  };
  const Tensor w = data::least_squares(design(train), train.target);
  const Tensor predicted = matmul(design(test), reshape(w, {-1, 1}));
  const std::vector<double> p = predicted.to_vector<double>();
  const std::vector<float> y = test.target.to_vector<float>();
  double sum = 0;
  for (size_t i = 0; i < y.size(); ++i) sum += (p[i] - y[i]) * (p[i] - y[i]);
  return std::sqrt(sum / static_cast<double>(y.size()));
}

std::vector<float> wide_deep_predict(WideDeepModel& model, const data::TabularFeatures& f,
                                     double mean, double std) {
  NoGradGuard no_grad;
  model.eval();
  std::vector<float> p = model.forward_multi(wide_deep_inputs(f)).to_vector<float>();
  model.train();
  for (float& v : p) v = static_cast<float>(v * std + mean);
  return p;
}

double wide_deep_rmse(const std::vector<float>& predicted, const Tensor& target) {
  const std::vector<float> y = target.to_vector<float>();
  double sum = 0;
  for (size_t i = 0; i < y.size(); ++i) sum += (predicted[i] - y[i]) * (predicted[i] - y[i]);
  return std::sqrt(sum / static_cast<double>(y.size()));
}

data::TabularFeatures wide_deep_rows(const data::TabularFeatures& f,
                                     const std::vector<int64_t>& rows, const Tensor& target) {
  const Tensor index = from_vector(rows, {std::ssize(rows)});
  return {index_select(f.numeric, 0, index), index_select(f.categorical, 0, index),
          index_select(f.wide, 0, index), index_select(target, 0, index)};
}

// The spec as the run trained it, for model.json: the training settings with the command line's
// overrides, the file and target it read, and the columns as fitted (types inferred, quantile
// boundaries computed), so that `nabla train --model DIR/model.json` repeats the run.
std::string wide_deep_trained_spec(const io::ModelSpec& spec, const WideDeepSettings& s,
                                   const nlohmann::ordered_json& columns, int64_t deep_width) {
  nlohmann::ordered_json root = nlohmann::ordered_json::parse(spec.json);
  root["input_shape"] = nlohmann::ordered_json::array({deep_width});
  auto& training = root["training"];
  training["optimizer"] = spec.training.optimizer;
  if (spec.training.lr > 0) training["lr"] = spec.training.lr;
  training["batch_size"] = spec.training.batch_size;
  training["epochs"] = spec.training.epochs;
  auto& tabular = root["tabular"];
  tabular["file"] = s.file;
  tabular["skip_lines"] = s.skip_lines;
  tabular["target"] = s.table.target;
  tabular.erase("drop");
  tabular["columns"] = columns;
  nlohmann::ordered_json crosses = nlohmann::ordered_json::array();
  for (const data::CrossSpec& cross : s.table.crosses) {
    nlohmann::ordered_json item{{"columns", cross.columns}};
    if (cross.hash_buckets > 0) item["hash_buckets"] = cross.hash_buckets;
    crosses.push_back(item);
  }
  tabular["crosses"] = crosses;
  return root.dump(2) + "\n";
}

void write_wide_deep_outputs(const std::string& dir, const io::ModelSpec& spec,
                             const WideDeepSettings& settings, WideDeepModel& model,
                             const data::TabularPipeline& pipeline, const data::CsvRows& table,
                             const std::vector<int64_t>& test_rows,
                             const std::vector<float>& predicted, const train::History& history) {
  std::error_code error;
  fs::create_directories(dir, error);
  NABLA_CHECK(!error && fs::is_directory(dir), "--out: cannot create the output folder ", dir,
              error ? ": " + error.message() : "");
  nlohmann::ordered_json columns = nlohmann::ordered_json::array();
  for (const data::ColumnSpec& c : pipeline.columns()) {
    nlohmann::ordered_json column{{"name", c.name}, {"type", data::column_kind_name(c.kind)}};
    if (c.kind == data::ColumnKind::bucketized) column["boundaries"] = c.boundaries;
    columns.push_back(column);
  }
  nlohmann::ordered_json fitted{{"target", pipeline.target()},
                                {"columns", columns},
                                {"numeric", pipeline.numeric_names()},
                                {"means", pipeline.means()},
                                {"stds", pipeline.stds()},
                                {"categorical", pipeline.categorical_names()},
                                {"vocabularies", pipeline.vocabularies()}};
  // The spec goes under a key of its own, not io::kModelSpecKey: the weights are those of the
  // task's three-input model, which no spec builds, so `nabla evaluate` and `predict` say that the
  // file holds no model spec instead of failing to load it into the tower's Sequential.
  const std::string trained =
      wide_deep_trained_spec(spec, settings, columns,
                             std::ssize(pipeline.numeric_names()) +
                                 std::ssize(pipeline.categorical_names()) * settings.embedding_dim);
  io::save_model((fs::path(dir) / kWeightsFile).string(), model,
                 {{"nabla.wide_deep.spec", trained}, {"nabla.tabular.pipeline", fitted.dump()}});
  data::write_file_atomic((fs::path(dir) / kSpecFile).string(), trained, "model spec");
  std::string metrics = "epoch,loss\n";
  const std::vector<double>& losses = history.history.at("loss");
  for (size_t e = 0; e < losses.size(); ++e) {
    metrics += std::to_string(e) + "," + std::to_string(losses[e]) + "\n";
  }
  data::write_file_atomic((fs::path(dir) / kMetricsFile).string(), metrics, "metrics");
  const int64_t target = table.column_index(pipeline.target());
  std::string rows = "line," + pipeline.target() + ",prediction\n";
  for (size_t i = 0; i < test_rows.size(); ++i) {
    rows += detail::str(table.lines[test_rows[i]], ",", table.rows[test_rows[i]][target], ",",
                        predicted[i], "\n");
  }
  data::write_file_atomic((fs::path(dir) / kWideDeepPredictionsFile).string(), rows, "predictions");
}

class WideDeepTask : public Task {
 public:
  std::string name() const override { return "wide_deep"; }

  std::optional<RunResult> run_own(const io::ModelSpec& spec,
                                   const RunOptions& options) const override {
    internal::reject_fit_only_options(options,
                                      "the wide_deep task trains with its own loop (two "
                                      "optimizers, no validation data, no resumable checkpoints)");
    std::ostream& log = options.log != nullptr ? *options.log : std::cout;
    WideDeepSettings s = wide_deep_settings(spec);
    // A file of one's own: its columns are not the spec's; types are inferred and --target names
    // the column to predict.
    if (!options.data_dir.empty() && options.data_dir != s.file) {
      s.file = options.data_dir;
      s.skip_lines = 0;
      s.table.columns.clear();
      s.table.crosses.clear();
      s.table.drop.clear();
      s.table.target.clear();
    }
    if (!options.target.empty()) s.table.target = options.target;
    NABLA_CHECK(!fs::is_directory(s.file), "wide_deep: --data ", s.file,
                " is a folder; expected a CSV file with a header line");
    const data::CsvRows table = data::read_csv_rows(s.file, s.skip_lines);
    NABLA_CHECK(
        !s.table.target.empty(), "wide_deep: no target column for ", s.file,
        "; name the column to predict with --target (columns: ",
        [&] {
          std::string list;
          for (const auto& c : table.columns) list += (list.empty() ? "" : ", ") + c;
          return list;
        }(),
        ")");
    data::RowSplit split = data::split_rows(std::ssize(table.rows), s.test_split, options.seed);
    if (options.limit > 0 && options.limit < std::ssize(split.train)) {
      split.train.resize(static_cast<size_t>(options.limit));
    }
    const data::TabularPipeline pipeline = data::TabularPipeline::fit(table, s.table, split.train);
    const data::TabularFeatures train_part = pipeline.transform(table, split.train, &std::cerr);
    const data::TabularFeatures test_part = pipeline.transform(table, split.test, &std::cerr);

    // The target, standardized with the training part's mean and deviation for training.
    const std::vector<float> y = train_part.target.to_vector<float>();
    double mean = 0, variance = 0;
    for (float v : y) mean += v;
    mean /= static_cast<double>(y.size());
    for (float v : y) variance += (v - mean) * (v - mean);
    const double deviation = std::max(std::sqrt(variance / static_cast<double>(y.size())), 1e-12);
    std::vector<float> scaled(y.size());
    for (size_t i = 0; i < y.size(); ++i) scaled[i] = static_cast<float>((y[i] - mean) / deviation);
    const Tensor y_scaled = from_vector(scaled, {std::ssize(scaled)});

    manual_seed(options.seed);
    auto model = std::make_shared<WideDeepModel>(pipeline, s, spec.name);
    std::vector<std::unique_ptr<optim::Optimizer>> optimizers;
    if (!model->wide_parameters().empty()) {
      if (s.wide_optimizer == "ftrl") {
        optimizers.push_back(std::make_unique<optim::Ftrl>(
            optim::FtrlOptions{.lr = s.wide_lr, .l1 = s.wide_l1, .l2 = s.wide_l2}));
      } else {
        optimizers.push_back(optim::make_optimizer(s.wide_optimizer, s.wide_lr));
      }
      optimizers.back()->set_parameters(model->wide_parameters());
    }
    if (!model->deep_parameters().empty()) {
      optimizers.push_back(io::make_optimizer(spec.training));
      optimizers.back()->set_parameters(model->deep_parameters());
    }
    const int64_t epochs = spec.training.epochs, batch = spec.training.batch_size;
    log << "Training " << spec.name << " (" << s.parts << ") on " << s.file << ": "
        << table.rows.size() << " rows, target " << pipeline.target() << ", " << split.train.size()
        << " for training and " << split.test.size() << " for testing (seed " << options.seed
        << "), " << epochs << " epochs of batch " << batch << "; "
        << (s.parts != "deep" ? s.wide_optimizer + " for the wide part" : "")
        << (s.parts == "wide_deep" ? ", " : "")
        << (s.parts != "wide" ? spec.training.optimizer + " for the deep part" : "") << "\n"
        << pipeline.describe() << std::flush;

    RunResult result;
    result.task = name();
    const auto n = std::ssize(split.train);
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::mt19937_64 shuffle(options.seed ^ 0x5eedull);
    model->train();
    for (int64_t epoch = 0; epoch < epochs; ++epoch) {
      for (int64_t i = 0; i < n; ++i) order[i] = i;
      for (int64_t i = n - 1; i > 0; --i) {
        std::swap(order[i], order[static_cast<int64_t>(shuffle() % static_cast<uint64_t>(i + 1))]);
      }
      double loss_sum = 0;
      for (int64_t start = 0; start < n; start += batch) {
        const std::vector<int64_t> rows(order.begin() + start,
                                        order.begin() + std::min(n, start + batch));
        const data::TabularFeatures b = wide_deep_rows(train_part, rows, y_scaled);
        for (auto& optimizer : optimizers) optimizer->zero_grad();
        Tensor loss = mse_loss(model->forward_multi(wide_deep_inputs(b)), b.target);
        loss.backward();
        for (auto& optimizer : optimizers) optimizer->step();
        loss_sum += loss.item() * static_cast<double>(rows.size());
      }
      const double epoch_loss = loss_sum / static_cast<double>(n);
      result.history.epoch.push_back(epoch);
      result.history.history["loss"].push_back(epoch_loss);
      if (options.verbose > 1 ||
          (options.verbose > 0 && (epoch + 1 == epochs || (epoch + 1) % 25 == 0))) {
        char line[120];
        std::snprintf(line, sizeof(line), "Epoch %lld/%lld: loss %.4f (standardized target)",
                      static_cast<long long>(epoch + 1), static_cast<long long>(epochs),
                      epoch_loss);
        log << line << std::endl;
      }
      if (options.json != nullptr) {
        *options.json << nlohmann::json{{"epoch", epoch}, {"loss", epoch_loss}}.dump() << std::endl;
      }
    }
    const std::vector<float> predicted = wide_deep_predict(*model, test_part, mean, deviation);
    const double rmse = wide_deep_rmse(predicted, test_part.target);
    // The baseline needs a design of full rank with no more columns than training rows; data of
    // one's own may have neither (two identical columns, more categories than rows), which is no
    // reason to lose the trained model: the run says why and goes on without it.
    std::optional<double> baseline;
    try {
      baseline = least_squares_rmse(pipeline, train_part, test_part);
    } catch (const Error& e) {
      log << "No least-squares baseline: " << e.what() << std::endl;
    }
    char text[200];
    std::snprintf(text, sizeof(text), "Test RMSE: %.4f (%s, in %s's units)", rmse, s.parts.c_str(),
                  pipeline.target().c_str());
    result.figures.push_back({"test_rmse", rmse, text});
    if (baseline) {
      std::snprintf(text, sizeof(text),
                    "Least-squares test RMSE: %.4f (closed form, same split and features)",
                    *baseline);
      result.figures.push_back({"least_squares_rmse", *baseline, text});
      std::snprintf(text, sizeof(text), "RMSE against least squares: %.1f%% %s",
                    std::abs(1 - rmse / *baseline) * 100, rmse <= *baseline ? "lower" : "higher");
      result.figures.push_back({"rmse_ratio", rmse / *baseline, text});
    }
    if (!options.out.empty()) {
      write_wide_deep_outputs(options.out, spec, s, *model, pipeline, table, split.test, predicted,
                              result.history);
      result.saved = std::string(kWeightsFile) + ", " + kSpecFile + ", " + kMetricsFile + " and " +
                     kWideDeepPredictionsFile;
    }
    return result;
  }

  TaskData load(const io::ModelSpec&, const train::Model&, const std::string&) const override {
    NABLA_CHECK(false, "a wide_deep checkpoint is judged as it trains (nabla train); its test ",
                "predictions are in ", kWideDeepPredictionsFile, " of the run's --out folder");
  }
  std::vector<Figure> judge(const io::ModelSpec&, train::Model&, const TaskData&,
                            const train::EvaluationReport&) const override {
    NABLA_CHECK(false, "the wide_deep task judges its model as it trains it (nabla train)");
  }
};

const bool kWideDeepRegistered =
    register_task("wide_deep", [] { return std::make_unique<WideDeepTask>(); });

}  // namespace
}  // namespace nabla::tasks
