// tasks::write_report: gathers what a run's report shows -- its files (metrics.csv, norms.csv),
// its checkpoint (spec, settings, class names, tokenizer) and, on the task's test data, the
// confusion matrix, the worst mistakes and sample texts -- and hands it to
// train::write_html_report, which only draws.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>

#include "nabla/report.hpp"
#include "nabla/tasks.hpp"

namespace nabla::tasks {
namespace {

namespace fs = std::filesystem;

// At most this many misclassified images: two rows of eight.
constexpr int64_t kMisclassifiedShown = 16;
// Sample generations of a language model: prompts from the test text, tokens drawn after each.
constexpr int64_t kSamples = 3, kPromptTokens = 40, kSampleTokens = 200;

std::string file_in(const std::string& dir, const char* name) {
  return (fs::path(dir) / name).string();
}

std::string format_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6g", value);
  return buffer;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "none" : out;
}

// Everything a report is made from, from either a run folder or a run in memory.
struct Inputs {
  std::string run_dir;
  train::Model* model = nullptr;
  io::ModelSpec spec;
  const TaskData* data = nullptr;
  std::string task;
  train::EvaluationReport evaluation;
  std::vector<Figure> figures;
  std::vector<std::string> class_names;
  std::string command;
  std::vector<std::pair<std::string, std::string>> run_settings;  // only a live run knows them
  int64_t batch_size = 256;
};

std::vector<std::pair<std::string, std::string>> settings_of(const Inputs& in) {
  const io::TrainingSpec& t = in.spec.training;
  const train::Model& model = *in.model;
  std::vector<std::pair<std::string, std::string>> rows = {{"command", in.command}};
  rows.emplace_back(
      "model", in.spec.name + (in.spec.description.empty() ? std::string()
                                                           : " (" + in.spec.description + ")"));
  rows.emplace_back("task", in.task);
  rows.emplace_back("data", in.data->source);
  for (const auto& row : in.run_settings) rows.push_back(row);
  rows.emplace_back("test samples", std::to_string(in.data->x_test.size(0)));
  rows.emplace_back("optimizer", t.optimizer + io::optimizer_settings_text(t));
  // As the run computed: bf16 only where the CPU has it (else the run warned and used fp32).
  rows.emplace_back("precision",
                    model.precision() == Precision::bf16 ? "bf16 mixed precision" : "fp32");
  // Without a schedule the optimizer still holds the rate it started with.
  const std::string default_lr =
      t.lr_schedule_json.empty() ? " (" + format_number(model.optimizer().lr()) + ")" : "";
  rows.emplace_back("learning rate",
                    t.lr > 0 ? format_number(t.lr) : "the optimizer's default" + default_lr);
  rows.emplace_back("learning-rate schedule",
                    t.lr_schedule_json.empty() ? "none" : t.lr_schedule_json);
  rows.emplace_back("loss", t.loss);
  rows.emplace_back("metrics", joined(t.metrics));
  rows.emplace_back("batch size", std::to_string(t.batch_size));
  rows.emplace_back("epochs", std::to_string(t.epochs));
  rows.emplace_back("validation split", format_number(t.validation_split));
  rows.emplace_back("augmentation", t.augmentation_json.empty() ? "none" : t.augmentation_json);
  return rows;
}

// Rows of probabilities [N, C] from a classifier's outputs: the model's own when it ends with a
// softmax (or sigmoid, [N, 1] -> [N, 2]), else a softmax of its scores.
std::vector<double> class_probabilities(const Tensor& output, int64_t classes) {
  std::vector<double> values = output.to(DType::f64).contiguous().to_vector<double>();
  const int64_t rows = output.size(0);
  if (output.size(1) == 1) {  // binary: p(class 1)
    std::vector<double> two(static_cast<size_t>(rows * 2));
    for (int64_t i = 0; i < rows; ++i) {
      const double p =
          values[i] >= 0 && values[i] <= 1 ? values[i] : 1 / (1 + std::exp(-values[i]));
      two[2 * i] = 1 - p;
      two[2 * i + 1] = p;
    }
    return two;
  }
  for (int64_t i = 0; i < rows; ++i) {
    double* row = values.data() + i * classes;
    const double sum = std::accumulate(row, row + classes, 0.0);
    const bool probabilities = std::abs(sum - 1) < 1e-3 &&
                               std::all_of(row, row + classes, [](double v) { return v >= 0; });
    if (probabilities) continue;
    const double top = *std::max_element(row, row + classes);
    double total = 0;
    for (int64_t c = 0; c < classes; ++c) total += (row[c] = std::exp(row[c] - top));
    for (int64_t c = 0; c < classes; ++c) row[c] /= total;
  }
  return values;
}

// True class of each test sample: integer labels [N] (or [N, 1] for a binary classifier), or
// one-hot rows [N, C].
std::vector<int64_t> true_classes(const Tensor& y, int64_t classes) {
  const std::vector<double> values = y.to(DType::f64).contiguous().to_vector<double>();
  const int64_t rows = y.size(0);
  std::vector<int64_t> labels(static_cast<size_t>(rows));
  const bool one_hot = y.dim() == 2 && y.size(1) == classes && classes > 1;
  for (int64_t i = 0; i < rows; ++i) {
    if (one_hot) {
      const double* row = values.data() + i * classes;
      labels[i] = std::max_element(row, row + classes) - row;
    } else {
      labels[i] = static_cast<int64_t>(std::lround(values[i]));
    }
  }
  return labels;
}

// Test inputs that are pictures: [N, H, W] or [N, C, H, W] with C = 1 or 3.
bool is_image_batch(const Tensor& x) {
  return (x.dim() == 3 || (x.dim() == 4 && (x.size(1) == 1 || x.size(1) == 3))) &&
         (x.dtype() == DType::u8 || is_floating(x.dtype()));
}

// Images as image_grid takes them: u8 as they are; floating ones stretched per image to [0, 1]
// when they are not in it already (normalized inputs).
Tensor displayable(const Tensor& images) {
  if (images.dtype() == DType::u8) return images.contiguous();
  Tensor out = images.to(DType::f32).contiguous().clone();
  const int64_t per_image = out.numel() / out.size(0);
  float* p = out.data<float>();
  for (int64_t n = 0; n < out.size(0); ++n) {
    float* image = p + n * per_image;
    const auto [lo, hi] = std::minmax_element(image, image + per_image);
    const float low = *lo, high = *hi;
    if (low >= 0 && high <= 1) continue;
    const float span = high > low ? high - low : 1;
    for (int64_t i = 0; i < per_image; ++i)
      image[i] = std::isfinite(image[i]) ? (image[i] - low) / span : 0;
  }
  return out;
}

void add_misclassified(const Inputs& in, train::HtmlReport& report) {
  const Tensor& x = in.data->x_test;
  if (!is_image_batch(x) || !in.data->x_test_more.empty() || in.model->num_outputs() != 1) return;
  const auto classes = static_cast<int64_t>(in.evaluation.confusion.size());
  const Tensor output = in.model->predict(x, in.batch_size);
  const bool binary = classes == 2 && output.dim() == 2 && output.size(1) == 1;
  if (output.dim() != 2 || (output.size(1) != classes && !binary)) return;
  const std::vector<double> p = class_probabilities(output, classes);
  const std::vector<int64_t> labels = true_classes(in.data->y_test, classes);
  struct Mistake {
    int64_t index, predicted;
    double confidence;
  };
  std::vector<Mistake> mistakes;
  for (int64_t i = 0; i < x.size(0); ++i) {
    const double* row = p.data() + i * classes;
    const int64_t predicted = std::max_element(row, row + classes) - row;
    // (A label outside the classes cannot be named; evaluate() has counted it already.)
    if (predicted != labels[i] && labels[i] >= 0 && labels[i] < classes) {
      mistakes.push_back({i, predicted, row[predicted]});
    }
  }
  // Most confident first; the lower index breaks ties, so the page is the same every time.
  std::sort(mistakes.begin(), mistakes.end(), [](const Mistake& a, const Mistake& b) {
    return a.confidence != b.confidence ? a.confidence > b.confidence : a.index < b.index;
  });
  if (mistakes.size() > static_cast<size_t>(kMisclassifiedShown)) {
    mistakes.resize(kMisclassifiedShown);
  }
  if (mistakes.empty()) return;
  std::vector<int64_t> indices;
  for (const Mistake& m : mistakes) {
    indices.push_back(m.index);
    const std::string& truth = in.class_names[static_cast<size_t>(labels[m.index])];
    char probability[16];
    std::snprintf(probability, sizeof(probability), " (%.0f%%)", m.confidence * 100);
    report.misclassified_captions.push_back(
        {truth, in.class_names[static_cast<size_t>(m.predicted)] + probability});
  }
  const Tensor index = from_vector(indices, {static_cast<int64_t>(indices.size())});
  report.misclassified = displayable(index_select(x, 0, index));
}

void add_samples(const Inputs& in, const std::string& tokenizer_json, train::HtmlReport& report) {
  const Tensor& x = in.data->x_test;
  if (in.task != "corpus" || tokenizer_json.empty() || x.dim() != 2 || x.size(0) == 0) return;
  const data::Tokenizer tokenizer = data::Tokenizer::from_json(tokenizer_json);
  const std::string separator = tokenizer.options().level == "word" ? " " : "";
  Generator gen(0);  // the same texts each time the report is written
  for (int64_t s = 0; s < kSamples; ++s) {
    const Tensor row = x.select(0, s * x.size(0) / kSamples).to(DType::i64).contiguous();
    std::vector<int64_t> prompt = row.to_vector<int64_t>();
    prompt.erase(std::remove(prompt.begin(), prompt.end(), int64_t{0}), prompt.end());  // padding
    if (static_cast<int64_t>(prompt.size()) > kPromptTokens) prompt.resize(kPromptTokens);
    if (prompt.empty()) continue;
    const std::vector<int64_t> tokens =
        train::sample_tokens(in.model->module(), prompt,
                             {.length = kSampleTokens,
                              .temperature = 0.8,
                              .vocab_size = tokenizer.vocab_size(),
                              .first_id = data::Tokenizer::kUnknown + 1},
                             gen);
    std::string text;
    for (const int64_t token : tokens) text += separator + tokenizer.decode({token});
    report.samples.emplace_back(tokenizer.decode(prompt), text);
  }
}

std::string write(const Inputs& in, const std::string& tokenizer_json) {
  const std::string metrics_path = file_in(in.run_dir, kMetricsFile);
  NABLA_CHECK(fs::exists(metrics_path), "report: ", in.run_dir, " holds no ", kMetricsFile,
              "; expected a folder written by `nabla train --out` (", metrics_path, ")");
  train::HtmlReport report;
  report.title = in.spec.name;
  report.settings = settings_of(in);
  report.summary = in.model->summary();
  report.metrics = train::read_metrics_csv(metrics_path);
  const std::string norms_path = file_in(in.run_dir, kNormsFile);
  if (fs::exists(norms_path)) report.norms = train::read_norms_csv(norms_path);
  if (in.spec.training.lr_schedule_json.empty()) report.constant_lr = in.model->optimizer().lr();
  for (const auto& [name, value] : in.evaluation.metrics) {
    report.results.emplace_back("test " + name, format_number(value));
  }
  for (const Figure& figure : in.figures) {
    const size_t colon = figure.text.find(": ");
    if (colon != std::string::npos && figure.name != "test_accuracy" &&
        figure.name != "test_loss") {
      report.results.emplace_back(figure.text.substr(0, colon), figure.text.substr(colon + 2));
    }
  }
  if (in.evaluation.is_classification()) {
    report.confusion = in.evaluation.confusion;
    report.class_names = in.class_names;
    report.results.emplace_back("macro F1", format_number(in.evaluation.macro_f1));
    add_misclassified(in, report);
  }
  add_samples(in, tokenizer_json, report);
  const std::string path = file_in(in.run_dir, kReportFile);
  train::write_html_report(path, report);
  return path;
}

// `names` when it holds one per class, else the class numbers.
std::vector<std::string> class_names_for(std::vector<std::string> names, size_t classes) {
  if (names.size() == classes) return names;
  names.clear();
  for (size_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

std::vector<std::string> class_names_from_metadata(
    const std::map<std::string, std::string>& metadata) {
  const auto it = metadata.find(io::kClassNamesKey);
  if (it == metadata.end()) return {};
  const nlohmann::json names = nlohmann::json::parse(it->second, nullptr, false);
  if (!names.is_array() ||
      !std::all_of(names.begin(), names.end(), [](const auto& n) { return n.is_string(); })) {
    return {};
  }
  return names.get<std::vector<std::string>>();
}

}  // namespace

std::string write_report(const std::string& run_dir, const ReportOptions& options) {
  NABLA_CHECK(fs::is_directory(run_dir), "report: ", run_dir,
              " is not a folder; expected one written by `nabla train --out`");
  const std::string weights = file_in(run_dir, kWeightsFile);
  NABLA_CHECK(fs::exists(weights), "report: ", run_dir, " holds no ", kWeightsFile,
              "; expected a folder written by `nabla train --out` (", weights, ")");
  NABLA_CHECK(fs::exists(file_in(run_dir, kMetricsFile)), "report: ", run_dir, " holds no ",
              kMetricsFile, "; expected a folder written by `nabla train --out` (",
              file_in(run_dir, kMetricsFile), ")");
  std::map<std::string, std::string> metadata;
  train::Model model = train::Model::load(weights, &metadata);
  if (!model.compiled()) {
    // A spec without a "training" section: the defaults of the model format.
    const io::TrainingSpec defaults;
    std::vector<train::MetricArg> metrics(defaults.metrics.begin(), defaults.metrics.end());
    model.compile(io::make_optimizer(defaults), defaults.loss, std::move(metrics));
  }
  Inputs in;
  in.run_dir = run_dir;
  in.model = &model;
  in.spec = io::parse_model_spec(metadata.at(io::kModelSpecKey), weights);
  in.task = task_name_for(in.spec);
  const std::unique_ptr<Task> task = make_task(in.task);
  std::string data_dir = options.data_dir;
  if (data_dir.empty() && metadata.count(io::kDataSourceKey) != 0) {
    data_dir = metadata.at(io::kDataSourceKey);
  }
  const TaskData data = task->load(in.spec, model, data_dir);
  in.data = &data;
  in.batch_size = options.batch_size;
  in.evaluation = evaluate_on_test(model, data, options.batch_size, 0);
  in.figures.push_back(test_figure(in.evaluation));
  std::vector<std::string> names = class_names_from_metadata(metadata);
  if (names.empty()) names = data.class_names;
  in.class_names = class_names_for(std::move(names), in.evaluation.confusion.size());
  in.command = "nabla train --model " + file_in(run_dir, kSpecFile) + " --out " + run_dir;
  const auto tokenizer = metadata.find(io::kTokenizerKey);
  return write(in, tokenizer == metadata.end() ? data.tokenizer_json : tokenizer->second);
}

std::string write_report(const std::string& run_dir, train::Model& model, const io::ModelSpec& spec,
                         const TaskData& data, const RunOptions& run, const RunResult& result) {
  Inputs in;
  in.run_dir = run_dir;
  in.model = &model;
  in.spec = spec;
  in.data = &data;
  in.task = result.task;
  in.evaluation = result.report;
  in.figures = result.figures;
  in.class_names = class_names_for(data.class_names, result.report.confusion.size());
  in.batch_size = ReportOptions{}.batch_size;  // as `nabla report`: the same predictions
  // The command that repeats the run: the spec as it ran (with the settings the command line
  // gave) is in RUN_DIR/model.json; what else the run was given follows.
  in.command =
      "nabla train --model " + file_in(run_dir, kSpecFile) + " --seed " + std::to_string(run.seed) +
      (run.limit > 0 ? " --limit " + std::to_string(run.limit) : std::string()) +
      (run.data_dir.empty() ? std::string() : " --data " + run.data_dir) + " --out " + run_dir;
  in.run_settings = {
      {"seed", std::to_string(run.seed)},
      {"samples for training and validation",
       data.train_stream ? std::string("streamed") : std::to_string(data.x_train.size(0))}};
  return write(in, data.tokenizer_json);
}

}  // namespace nabla::tasks
