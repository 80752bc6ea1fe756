// nabla evaluate: a checkpoint written by `nabla train --out` on the test part of its task: loss,
// metrics, per-class precision/recall/F1 and the confusion matrix for a classifier, and the
// figures its task judges it by (macro-F1 and baselines, bits per character, ...).
#include <cstdio>
#include <iostream>
#include <memory>

#include "common.hpp"

namespace nabla::cli {
namespace {

struct EvaluateOptions {
  std::string checkpoint;
  std::string data_dir;
  int64_t batch_size = 256;
  int64_t threads = 0;
};

void run_evaluate(const EvaluateOptions& options) {
  apply_threads(options.threads);
  LoadedCheckpoint loaded = load_checkpoint(options.checkpoint);
  const std::unique_ptr<tasks::Task> task = tasks::make_task(tasks::task_name_for(loaded.spec));
  const tasks::TaskData data =
      task->load(loaded.spec, loaded.model, data_dir_of(options.data_dir, loaded));
  const train::EvaluationReport report =
      loaded.model.evaluate(data.x_test, data.y_test, options.batch_size, 0);
  std::cout << "Model " << loaded.model.name() << " on the test set of " << data.source << " ("
            << data.x_test.size(0) << " samples)\n";
  if (report.is_classification()) {
    std::cout << report.to_string(class_names_of(loaded, data, report.confusion.size()));
  }
  std::cout << tasks::test_figure(report).text << "\n";
  for (const tasks::Figure& figure : task->judge(loaded.spec, loaded.model, data, report)) {
    std::cout << figure.text << "\n";
  }
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
  sub->footer(
      "Examples:\n"
      "  nabla train --out runs/mlp && nabla evaluate --checkpoint runs/mlp\n"
      "  nabla evaluate --checkpoint runs/mlp --data /path/to/other/idx/folder");
  return {sub, [options] { run_evaluate(*options); }};
}

}  // namespace nabla::cli
