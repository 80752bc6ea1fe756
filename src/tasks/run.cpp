// tasks::run: a spec trained on its task with fit(), evaluated and judged on the test part, and
// written as a checkpoint folder. Settings are checked before the (long) data loading and
// training, and the output folder is proven writable before the first epoch.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "nabla/data.hpp"
#include "nabla/tasks.hpp"

namespace nabla::tasks {
namespace {

namespace fs = std::filesystem;

// Creates `dir` if needed and proves that a file can be written there.
void ensure_writable_dir(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  NABLA_CHECK(!error, "--out: cannot create the output folder ", dir, ": ", error.message());
  NABLA_CHECK(fs::is_directory(dir), "--out: ", dir, " exists and is not a folder");
  // Creating the folder can succeed where writing fails (read-only mounts, permissions).
  const std::string probe =
      (fs::path(dir) / (".nabla-write-test-" + std::to_string(getpid()))).string();
  std::FILE* file = std::fopen(probe.c_str(), "wb");
  NABLA_CHECK(file != nullptr, "--out: cannot write to the output folder ", dir, ": ",
              std::strerror(errno));
  std::fclose(file);
  std::remove(probe.c_str());
}

std::string json_string_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    out += i ? ", \"" : "\"";
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += "\"";
  }
  return out + "]";
}

void write_checkpoint(const std::string& dir, train::Model& model, const std::string& spec_json,
                      const TaskData& data, const train::EvaluationReport& report) {
  std::map<std::string, std::string> metadata = {{io::kModelSpecKey, spec_json}};
  if (!data.dir.empty()) metadata[io::kDataSourceKey] = data.dir;
  if (report.is_classification()) {
    const auto classes = static_cast<int64_t>(report.confusion.size());
    std::vector<std::string> names = data.class_names;
    if (static_cast<int64_t>(names.size()) != classes) {
      names.clear();
      for (int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
    }
    metadata[io::kClassNamesKey] = json_string_list(names);
  }
  if (!data.tokenizer_json.empty()) metadata[io::kTokenizerKey] = data.tokenizer_json;
  model.save((fs::path(dir) / kWeightsFile).string(), std::move(metadata));
  data::write_file_atomic((fs::path(dir) / kSpecFile).string(), spec_json, "model spec");
}

}  // namespace

RunResult run(const std::string& model, const RunOptions& options) {
  return run(io::resolve_model_spec(model), options);
}

RunResult run(io::ModelSpec spec, const RunOptions& options) {
  std::ostream& log = options.log != nullptr ? *options.log : std::cout;
  NABLA_CHECK(options.limit >= 0, "--limit: expected a sample count >= 0, got ", options.limit);
  io::TrainingSpec training = spec.training;
  if (options.epochs) training.epochs = *options.epochs;
  if (options.batch_size) training.batch_size = *options.batch_size;
  if (options.optimizer) training.optimizer = *options.optimizer;
  if (options.lr) training.lr = *options.lr;
  if (options.validation_split) training.validation_split = *options.validation_split;
  training.present = true;
  auto optimizer = optim::make_optimizer(training.optimizer, training.lr);
  const train::LossPtr loss = train::make_loss(training.loss);
  const std::unique_ptr<Task> task = make_task(task_name_for(spec));
  if (!options.out.empty()) ensure_writable_dir(options.out);

  manual_seed(options.seed);  // the initial weights
  train::Model model(io::build_model(spec), spec.name);
  TaskData data = task->load(spec, model, options.data_dir);
  if (options.limit > 0 && options.limit < data.x_train.size(0)) {
    data.x_train = data.x_train.slice(0, 0, options.limit);
    data.y_train = data.y_train.slice(0, 0, options.limit);
  }
  if (spec.input_shape.empty()) {
    spec.input_shape = Shape(data.x_train.shape().begin() + 1, data.x_train.shape().end());
  }
  if (!model.built()) model.build(spec.input_shape);
  std::vector<train::MetricArg> metrics(training.metrics.begin(), training.metrics.end());
  model.compile(std::move(optimizer), loss, std::move(metrics));

  log << "Training " << spec.name << " on " << data.source << ": " << data.x_train.size(0)
      << " samples, " << training.epochs << (training.epochs == 1 ? " epoch" : " epochs")
      << ", batch " << training.batch_size << ", " << training.optimizer << " (lr "
      << model.optimizer().lr() << "), seed " << options.seed << std::endl;
  std::vector<train::CallbackPtr> callbacks;
  if (auto scheduler = io::make_lr_scheduler(training, model.optimizer())) {
    callbacks.push_back(std::make_shared<train::LearningRateScheduler>(std::move(scheduler)));
  }
  if (!options.out.empty()) {
    callbacks.push_back(
        std::make_shared<train::CSVLogger>((fs::path(options.out) / kMetricsFile).string()));
  }
  RunResult result;
  result.task = task->name();
  result.history = task->train(model, data,
                               {.epochs = training.epochs,
                                .batch_size = training.batch_size,
                                .validation_split = training.validation_split,
                                .verbose = options.verbose,
                                .callbacks = callbacks,
                                .seed = options.seed,
                                .augmentation = training.augmentation});
  result.report =
      model.evaluate(data.x_test, data.y_test, training.batch_size, options.verbose > 0 ? 2 : 0);
  result.figures.push_back(test_figure(result.report));
  for (Figure& figure : task->judge(spec, model, data, result.report)) {
    result.figures.push_back(std::move(figure));
  }
  if (!options.out.empty()) {
    write_checkpoint(options.out, model, io::spec_with_training(spec, training), data,
                     result.report);
  }
  return result;
}

}  // namespace nabla::tasks
