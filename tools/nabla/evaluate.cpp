// nabla evaluate: a checkpoint written by `nabla train --out` on the test set: loss, metrics,
// per-class precision/recall/F1 and the confusion matrix.
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
  int threads = 0;
};

void run_evaluate(const EvaluateOptions& options) {
  apply_threads(options.threads);
  LoadedCheckpoint loaded = load_checkpoint(options.checkpoint);
  NABLA_CHECK(loaded.metadata.count(kTokenizerKey) == 0, "evaluate: ", options.checkpoint,
              " is a text model; nabla train prints its test figures, and nabla generate "
              "samples from a language model");
  std::string data_dir = options.data_dir;
  if (data_dir.empty() && loaded.metadata.count(kDataDirKey) != 0) {
    data_dir = loaded.metadata.at(kDataDirKey);
  }
  const data::MnistData data = load_data(data_dir, loaded.model, loaded.model.input_shape());
  const train::EvaluationReport report =
      loaded.model.evaluate(data.test_images, data.test_labels, options.batch_size, 0);
  const int64_t classes = loaded.model.output_shape().back();
  std::cout << "Model " << loaded.model.name() << " on the test set of "
            << data_dir_or_default(data_dir) << " (" << data.test_images.size(0) << " samples)\n";
  std::cout << report.to_string(class_names_from(loaded.metadata, data_dir, classes));
  if (report.metrics.count("accuracy") != 0) {
    char line[64];
    std::snprintf(line, sizeof(line), "Test accuracy: %.4f\n", report["accuracy"]);
    std::cout << line;
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
                  "Folder with the IDX files (default: the one the model was trained on)");
  sub->add_option("--batch-size", options->batch_size, "Samples per forward pass")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  sub->add_option("--threads", options->threads, "Compute threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  sub->footer(
      "Examples:\n"
      "  nabla train --out runs/mlp && nabla evaluate --checkpoint runs/mlp\n"
      "  nabla evaluate --checkpoint runs/mlp --data /path/to/other/idx/folder");
  return {sub, [options] { run_evaluate(*options); }};
}

}  // namespace nabla::cli
