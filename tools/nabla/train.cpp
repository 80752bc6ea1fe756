// nabla train: the classic Keras example by default (preset mlp on Fashion-MNIST: Adam 1e-3,
// sparse categorical cross-entropy, accuracy, 5 epochs, batch 32, seed 0), then the test
// accuracy. --out writes model.safetensors, model.json and metrics.csv.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "common.hpp"

namespace nabla::cli {
namespace {

struct TrainOptions {
  std::string model = "mlp";
  std::string data_dir;
  int64_t epochs = 0;
  int64_t batch_size = 0;
  std::string optimizer;
  double lr = 0;
  uint64_t seed = 0;
  int threads = 0;
  double validation_split = 0;
  std::string out;
  int64_t limit = 0;
  int verbose = 1;
  // Which of the training settings the command line overrides (else the spec's are used).
  CLI::Option* epochs_given = nullptr;
  CLI::Option* batch_size_given = nullptr;
  CLI::Option* optimizer_given = nullptr;
  CLI::Option* lr_given = nullptr;
  CLI::Option* validation_split_given = nullptr;
};

void print_test_result(const train::EvaluationReport& report) {
  char line[64];
  if (report.metrics.count("accuracy") != 0) {
    std::snprintf(line, sizeof(line), "Test accuracy: %.4f\n", report["accuracy"]);
  } else {
    std::snprintf(line, sizeof(line), "Test loss: %.4f\n", report["loss"]);
  }
  std::cout << line;
}

// What a run trains and tests on: Fashion-MNIST (or IDX files), or the spec's text task.
struct RunData {
  Tensor x_train, y_train, x_test, y_test;
  std::string source;
  std::vector<std::string> class_names{};  // empty: from the data folder (images)
  std::string tokenizer_json{};            // text tasks
};

RunData load_run_data(const TrainOptions& options, const io::ModelSpec& spec,
                      const train::Model& model) {
  RunData run;
  if (spec.data) {
    data::TextTaskData text = data::load_text_task(*spec.data, options.data_dir);
    run = {text.train_inputs, text.train_targets, text.test_inputs,   text.test_targets,
           text.source,       text.class_names,   text.tokenizer_json};
  } else {
    // Raw bytes if the model rescales; viewed as the spec's input shape ([1, 28, 28] for a CNN).
    data::MnistData images = load_data(options.data_dir, model, spec.input_shape);
    run = {images.train_images, images.train_labels, images.test_images, images.test_labels,
           data_dir_or_default(options.data_dir)};
  }
  if (options.limit > 0 && options.limit < run.x_train.size(0)) {
    run.x_train = run.x_train.slice(0, 0, options.limit);
    run.y_train = run.y_train.slice(0, 0, options.limit);
  }
  return run;
}

void print_line(const char* format, double a, double b = 0) {
  char line[160];
  std::snprintf(line, sizeof(line), format, a, b);
  std::cout << line;
}

// The figures each text task is judged by, beyond the test loss and accuracy.
void print_text_task_results(const data::TextTaskOptions& task, const RunData& run,
                             train::Model& model, const train::EvaluationReport& report) {
  if (task.type == "corpus") {
    // Cross-entropy in nats per token -> bits per character (or word).
    print_line(
        task.level == "char" ? "Test bits per character: %.3f\n" : "Test bits per word: %.3f\n",
        report["loss"] / std::log(2.0));
  } else if (task.type == "fortunes") {
    const auto classes = static_cast<int64_t>(run.class_names.size());
    const int64_t vocab = data::Tokenizer::from_json(run.tokenizer_json).vocab_size();
    const train::BaselineScores majority =
        train::majority_class_baseline(run.y_train, run.y_test, classes);
    const train::BaselineScores words = train::bag_of_words_baseline(
        run.x_train, run.y_train, run.x_test, run.y_test, vocab, classes);
    print_line("Test macro-F1: %.4f (accuracy %.4f)\n", report.macro_f1, report["accuracy"]);
    print_line("Majority-class baseline: macro-F1 %.4f, accuracy %.4f\n", majority.macro_f1,
               majority.accuracy);
    print_line("Bag-of-words linear baseline: macro-F1 %.4f, accuracy %.4f\n", words.macro_f1,
               words.accuracy);
  } else if (task.type == "digits") {
    auto* net = dynamic_cast<nn::Sequential*>(&model.module());
    nn::Seq2Seq* seq2seq = nullptr;
    for (const auto& layer : net != nullptr ? net->layers() : std::vector<nn::ModulePtr>{}) {
      if (auto* s = dynamic_cast<nn::Seq2Seq*>(layer.get())) seq2seq = s;
    }
    if (seq2seq == nullptr) return;  // any other model: loss and accuracy say it all
    const int64_t source_length = seq2seq->options().source_length;
    const Tensor decoded =
        seq2seq->greedy_decode(run.x_test.slice(1, 0, source_length), run.y_test.size(1));
    print_line("Test exact-sequence accuracy (greedy decoding): %.4f\n",
               train::exact_sequence_accuracy(decoded, run.y_test));
  }
}

void run_train(const TrainOptions& options) {
  apply_threads(options.threads);
  NABLA_CHECK(options.limit >= 0, "--limit: expected a sample count >= 0, got ", options.limit);
  io::ModelSpec spec = resolve_model_spec(options.model);
  io::TrainingSpec training = spec.training;
  if (*options.epochs_given) training.epochs = options.epochs;
  if (*options.batch_size_given) training.batch_size = options.batch_size;
  if (*options.optimizer_given) training.optimizer = options.optimizer;
  if (*options.lr_given) training.lr = options.lr;
  if (*options.validation_split_given) training.validation_split = options.validation_split;
  training.present = true;
  // Settings are checked before the (long) data loading and training.
  auto optimizer = optim::make_optimizer(training.optimizer, training.lr);
  const train::LossPtr loss = train::make_loss(training.loss);
  if (!options.out.empty()) ensure_writable_dir(options.out);

  manual_seed(options.seed);  // the initial weights
  train::Model model(io::build_model(spec), spec.name);
  const RunData run = load_run_data(options, spec, model);
  const Shape sample_shape(run.x_train.shape().begin() + 1, run.x_train.shape().end());
  if (spec.input_shape.empty()) spec.input_shape = sample_shape;
  if (!model.built()) model.build(spec.input_shape);
  std::vector<train::MetricArg> metrics(training.metrics.begin(), training.metrics.end());
  model.compile(std::move(optimizer), loss, std::move(metrics));

  std::cout << "Training " << spec.name << " on " << run.source << ": " << run.x_train.size(0)
            << " samples, " << training.epochs << (training.epochs == 1 ? " epoch" : " epochs")
            << ", batch " << training.batch_size << ", " << training.optimizer << " (lr "
            << model.optimizer().lr() << "), seed " << options.seed << "\n";
  std::vector<train::CallbackPtr> callbacks;
  if (auto scheduler = io::make_lr_scheduler(training, model.optimizer())) {
    callbacks.push_back(std::make_shared<train::LearningRateScheduler>(std::move(scheduler)));
  }
  namespace fs = std::filesystem;
  if (!options.out.empty()) {
    callbacks.push_back(
        std::make_shared<train::CSVLogger>((fs::path(options.out) / kMetricsFile).string()));
  }
  model.fit(run.x_train, run.y_train,
            {.epochs = training.epochs,
             .batch_size = training.batch_size,
             .validation_split = training.validation_split,
             .verbose = options.verbose,
             .callbacks = callbacks,
             .seed = options.seed,
             .augmentation = training.augmentation});
  const train::EvaluationReport report =
      model.evaluate(run.x_test, run.y_test, training.batch_size, options.verbose > 0 ? 2 : 0);
  print_test_result(report);
  if (spec.data) print_text_task_results(*spec.data, run, model, report);

  if (!options.out.empty()) {
    const std::string spec_json =
        io::model_to_spec(model.module(), spec.name, spec.input_shape, &training);
    std::map<std::string, std::string> metadata = {{io::kModelSpecKey, spec_json},
                                                   {kDataDirKey, run.source}};
    if (report.is_classification()) {
      const auto classes = static_cast<int64_t>(report.confusion.size());
      metadata[kClassNamesKey] = class_names_to_json(
          run.class_names.empty() ? class_names_for(options.data_dir, classes) : run.class_names);
    }
    if (!run.tokenizer_json.empty()) metadata[kTokenizerKey] = run.tokenizer_json;
    model.save((fs::path(options.out) / kWeightsFile).string(), std::move(metadata));
    write_text_file((fs::path(options.out) / kSpecFile).string(), spec_json + "\n");
    std::cout << "Saved " << kWeightsFile << ", " << kSpecFile << " and " << kMetricsFile << " to "
              << options.out << "\n";
  }
}

}  // namespace

Command add_train_command(CLI::App& app) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* sub = app.add_subcommand(
      "train", "Train a model (default: the classic MLP on Fashion-MNIST), then test it");
  sub->add_option("--model,-m", options->model,
                  "Built-in preset name or JSON model file (docs/model-format.md)")
      ->capture_default_str();
  sub->add_option("--data", options->data_dir,
                  "Folder with the four MNIST-layout IDX files (default: " +
                      std::string(data::kFashionMnistDir) +
                      "); for a text model, the fortunes or corpus folder");
  options->epochs_given =
      sub->add_option("--epochs", options->epochs, "Epochs (default: the model's, 5 for mlp)")
          ->check(CLI::PositiveNumber);
  options->batch_size_given =
      sub->add_option("--batch-size", options->batch_size, "Batch size (default: 32)")
          ->check(CLI::PositiveNumber);
  options->optimizer_given = sub->add_option(
      "--optimizer", options->optimizer, "sgd, adam, adamw, rmsprop or adagrad (default: adam)");
  options->lr_given = sub->add_option("--lr", options->lr,
                                      "Learning rate (default: the optimizer's, 0.001 for adam)")
                          ->check(CLI::PositiveNumber);
  sub->add_option("--seed", options->seed, "Seed of the initial weights and the shuffling")
      ->capture_default_str();
  sub->add_option("--threads", options->threads, "Compute threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  options->validation_split_given =
      sub->add_option("--validation-split", options->validation_split,
                      "Fraction of the training samples held out for validation (the last ones)")
          ->check(CLI::Range(0.0, 0.99));
  sub->add_option("--out", options->out,
                  "Folder to write model.safetensors, model.json and metrics.csv to");
  sub->add_option("--limit", options->limit,
                  "Train on the first N samples only (quick runs and tests)")
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--verbose", options->verbose,
                  "0 silent, 1 progress bar (default), 2 one line per epoch")
      ->check(CLI::Range(0, 2));
  sub->footer(
      "Examples:\n"
      "  nabla train                                   # Keras's classic example, 5 epochs\n"
      "  nabla train --epochs 10 --lr 5e-4 --out runs/mlp\n"
      "  nabla train --model my_model.json --data /path/to/mnist --validation-split 0.1\n"
      "  nabla train --limit 1000 --epochs 1           # a quick check");
  return {sub, [options] { run_train(*options); }};
}

}  // namespace nabla::cli
