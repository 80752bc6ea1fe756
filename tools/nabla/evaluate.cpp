// nabla evaluate: a checkpoint written by `nabla train --out` on the test part of its task: loss,
// metrics, per-class precision/recall/F1 and the confusion matrix for a classifier, and the
// figures its task judges it by (macro-F1 and baselines, bits per character, ...).
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "common.hpp"

namespace nabla::cli {
namespace {

struct EvaluateOptions {
  std::string checkpoint;
  std::string data_dir;
  int64_t batch_size = 256;
  int64_t threads = 0;
  int verbose = 1;
  bool quiet = false;
  bool json = false;
  bool int8 = false;  // post-training int8 quantization first (nabla/quantize.hpp)
  int64_t calibration_samples = 2048;
};

// --json: the report as one object, for scripts.
void print_json(const train::EvaluationReport& report, const std::vector<tasks::Figure>& figures,
                const std::vector<std::string>& class_names,
                const std::vector<std::string>& int8_layers) {
  nlohmann::json out;
  out["metrics"] = report.metrics;
  out["int8_layers"] = int8_layers;
  nlohmann::json judged = nlohmann::json::object();
  for (const tasks::Figure& figure : figures) judged[figure.name] = figure.value;
  out["figures"] = judged;
  if (report.is_classification()) {
    out["classes"] = class_names;
    out["confusion"] = report.confusion;
    out["precision"] = report.precision;
    out["recall"] = report.recall;
    out["f1"] = report.f1;
  }
  std::cout << out.dump() << std::endl;
}

void run_evaluate(const EvaluateOptions& options) {
  apply_threads(options.threads);
  LoadedCheckpoint loaded = load_checkpoint(options.checkpoint);
  const std::unique_ptr<tasks::Task> task = tasks::make_task(tasks::task_name_for(loaded.spec));
  task->set_run_folder(
      std::filesystem::path(checkpoint_file(options.checkpoint)).parent_path().string());
  const tasks::TaskData data =
      task->load(loaded.spec, loaded.model, data_dir_of(options.data_dir, loaded));
  const bool plain = !options.quiet && !options.json;
  if (plain) {
    std::cout << "Model " << loaded.model.name() << " on the test set of " << data.source << " ("
              << data.x_test.size(0) << " samples)" << std::endl;
  }
  std::vector<std::string> int8_layers;
  if (options.int8) {
    NABLA_CHECK(data.x_train.defined() && data.x_test_more.empty(),
                "--int8: calibration needs the task's training inputs in memory and a model of "
                "one input; this task ",
                data.x_train.defined() ? "feeds several inputs" : "streams its training data");
    const QuantizationReport quantized = loaded.model.quantize_int8(
        data.x_train,
        {.calibration_samples = options.calibration_samples, .batch_size = options.batch_size});
    int8_layers = quantized.layers;
    if (plain) {
      std::cout << "int8: " << quantized.layers.size() << " layers quantized, calibrated on "
                << quantized.calibration_samples << " training samples";
      if (!quantized.kept_fp32.empty())
        std::cout << "; " << quantized.kept_fp32.size() << " kept in fp32 (too shallow to gain)";
      if (!quantized.not_calibrated.empty())
        std::cout << "; " << quantized.not_calibrated.size() << " not reached (fp32)";
      std::cout << std::endl;
    }
  }
  // The progress bar goes where the report goes: stdout, and only for the plain report.
  const train::EvaluationReport report =
      tasks::evaluate_on_test(loaded.model, data, options.batch_size, plain ? options.verbose : 0);
  std::vector<tasks::Figure> figures = {tasks::test_figure(report)};
  for (tasks::Figure& figure : task->judge(loaded.spec, loaded.model, data, report)) {
    figures.push_back(std::move(figure));
  }
  const std::vector<std::string> class_names =
      report.is_classification() ? class_names_of(loaded, data, report.confusion.size())
                                 : std::vector<std::string>{};
  if (options.json) {
    print_json(report, figures, class_names, int8_layers);
    return;
  }
  if (plain && report.is_classification()) std::cout << report.to_string(class_names);
  for (const tasks::Figure& figure : figures) std::cout << figure.text << "\n";
}

}  // namespace

Command add_evaluate_command(CLI::App& app) {
  auto options = std::make_shared<EvaluateOptions>();
  CLI::App* sub = app.add_subcommand("evaluate", "Evaluate a trained model on the test set");
  sub->add_option("--checkpoint,-c", options->checkpoint,
                  "Folder written by `nabla train --out` (or its model.safetensors)")
      ->required();
  sub->add_option("--data", options->data_dir,
                  "Data folder (default: the one the model was trained on)")
      ->check(data_folder());
  sub->add_option("--batch-size", options->batch_size, "Samples per forward pass")
      ->check(in_range<int64_t>(1))
      ->capture_default_str();
  sub->add_option("--threads", options->threads, "Compute threads (default: all cores)")
      ->check(in_range<int64_t>(0));
  sub->add_option("--verbose", options->verbose,
                  "0 no progress, 1 progress bar (default), 2 one line when done")
      ->check(in_range<int64_t>(0, 2));
  sub->add_flag("--int8", options->int8,
                "Post-training int8 quantization first: Dense and Conv layers run int8, "
                "calibrated on the first training samples");
  sub->add_option("--calibration-samples", options->calibration_samples,
                  "Training samples --int8 calibrates on")
      ->check(in_range<int64_t>(1))
      ->capture_default_str();
  sub->add_flag("--quiet,-q", options->quiet, "Print only the figures (no table, no progress)");
  sub->add_flag("--json", options->json,
                "Print one JSON object: metrics, figures, and for a classifier the class names, "
                "confusion matrix and per-class precision, recall and F1");
  sub->footer(
      "Examples:\n"
      "  nabla train --out runs/mlp && nabla evaluate --checkpoint runs/mlp\n"
      "  nabla evaluate --checkpoint runs/mlp --data /path/to/other/idx/folder\n"
      "  nabla evaluate --checkpoint runs/mlp --json   # for scripts\n"
      "  nabla evaluate --checkpoint runs/cnn --int8   # post-training int8 quantization");
  return {sub, [options] { run_evaluate(*options); }};
}

}  // namespace nabla::cli
