// tasks::run: a spec trained on its task with fit(), evaluated and judged on the test part, and
// written as a checkpoint folder. Settings are checked before the (long) data loading and
// training, and the output folder is proven writable before the first epoch.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string_view>

#include "nabla/data.hpp"
#include "nabla/dist.hpp"
#include "nabla/report.hpp"
#include "nabla/tasks.hpp"
#include "nabla/tensorboard.hpp"
#include "tasks/fine_tune.hpp"
#include "tasks/run_checkpoints.hpp"

namespace nabla::tasks {
namespace {

namespace fs = std::filesystem;

// nabla's own leftovers in an output folder, and nothing else: a run's staging folder
// (.nabla-run-PID-XXXXXX, see OutputFolder) whose process is gone, and the temporary file of an
// atomic write of one of the outputs (data::internal::AtomicFile: NAME.tmp- and mkstemp's
// six letters or digits; the CLI before ef0cb3d wrote NAME.tmp-PID).
constexpr std::string_view kStagingPrefix = ".nabla-run-";

bool all_digits(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](unsigned char c) { return std::isdigit(c) != 0; });
}
bool all_alnum(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(),
                                      [](unsigned char c) { return std::isalnum(c) != 0; });
}

bool is_stale_temporary_file(std::string_view name) {
  for (const std::string_view output :
       {kWeightsFile, kSpecFile, kMetricsFile, kNormsFile, kReportFile}) {
    const std::string prefix = std::string(output) + ".tmp-";
    if (!name.starts_with(prefix)) continue;
    const std::string_view suffix = name.substr(prefix.size());
    return (suffix.size() == 6 && all_alnum(suffix)) || all_digits(suffix);
  }
  return false;
}

// Whether process `pid` runs. A killed one can linger as a zombie until its parent reaps it (or
// for good, under a container's first process that reaps none): it counts as gone.
bool process_running(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;  // no /proc: kill's answer stands
  const size_t name_end = line.rfind(')');     // "pid (name) state ...", the name may hold ')'
  return name_end == std::string::npos || name_end + 2 >= line.size() || line[name_end + 2] != 'Z';
}

bool is_stale_staging_folder(std::string_view name) {
  if (!name.starts_with(kStagingPrefix)) return false;
  name.remove_prefix(kStagingPrefix.size());
  const size_t dash = name.find('-');
  if (dash == std::string_view::npos || dash > 9 || !all_digits(name.substr(0, dash)) ||
      name.size() != dash + 7 || !all_alnum(name.substr(dash + 1))) {
    return false;
  }
  // A live process (ours or another run's into the same folder) keeps its staging folder.
  return !process_running(static_cast<pid_t>(std::stol(std::string(name.substr(0, dash)))));
}

// The folder a run writes to. The three files are written into a staging folder inside it (on
// the same file system, so that a rename moves each in one step) and moved into place together
// once all are complete: metrics.csv, model.json, then model.safetensors, the checkpoint that
// evaluate, predict and generate read (it holds the spec itself), so that the checkpoint there is
// always a whole one and never older than the files beside it. A run that fails (an error, a full
// disk) leaves the previous run's files as they were and removes its staging folder; one that is
// killed leaves it to the next run into the folder, which removes it.
class OutputFolder {
 public:
  explicit OutputFolder(const std::string& dir) : dir_(dir) {
    std::error_code error;
    fs::create_directories(dir, error);
    NABLA_CHECK(!error, "--out: cannot create the output folder ", dir, ": ", error.message());
    NABLA_CHECK(fs::is_directory(dir), "--out: ", dir, " exists and is not a folder");
    std::vector<fs::path> leftovers;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
      const std::string name = entry.path().filename().string();
      if (is_stale_temporary_file(name) || is_stale_staging_folder(name)) {
        leftovers.push_back(entry.path());
      }
    }
    for (const fs::path& path : leftovers) {
      fs::remove_all(path, error);  // best effort: a leftover is no reason to fail the run
    }
    // Creating the folder can succeed where writing fails (read-only mounts, permissions):
    // creating the staging folder proves it writable before the first epoch.
    std::string pattern =
        (fs::path(dir) / (std::string(kStagingPrefix) + std::to_string(::getpid()) + "-XXXXXX"))
            .string();
    NABLA_CHECK(::mkdtemp(pattern.data()) != nullptr, "--out: cannot write to the output folder ",
                dir, ": ", std::strerror(errno));
    staging_ = pattern;
  }
  ~OutputFolder() {
    std::error_code ignored;
    if (!staging_.empty()) fs::remove_all(staging_, ignored);
  }
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;

  std::string staged(const char* file) const { return (fs::path(staging_) / file).string(); }

  void commit() {
    for (const char* file : {kMetricsFile, kNormsFile, kSpecFile, kWeightsFile}) {
      const std::string target = (fs::path(dir_) / file).string();
      NABLA_CHECK(std::rename(staged(file).c_str(), target.c_str()) == 0, "--out: cannot move ",
                  file, " into ", dir_, ": ", std::strerror(errno));
    }
    // The renames are durable once the folder's own entry list is on disk.
    const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
      ::fsync(fd);
      ::close(fd);
    }
    std::error_code ignored;
    fs::remove_all(staging_, ignored);
    staging_.clear();
  }

 private:
  std::string dir_;
  std::string staging_;
};

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

// What a checkpoint of the run records besides the weights: the spec with its training
// settings, the data folder, the class names (`classes` of them; 0 = none) and a tokenizer.
std::map<std::string, std::string> checkpoint_metadata(const std::string& spec_json,
                                                       const TaskData& data, int64_t classes) {
  std::map<std::string, std::string> metadata = {{io::kModelSpecKey, spec_json}};
  if (!data.dir.empty()) metadata[io::kDataSourceKey] = data.dir;
  if (classes > 0) {
    std::vector<std::string> names = data.class_names;
    if (static_cast<int64_t>(names.size()) != classes) {
      names.clear();
      for (int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
    }
    metadata[io::kClassNamesKey] = json_string_list(names);
  }
  if (!data.tokenizer_json.empty()) metadata[io::kTokenizerKey] = data.tokenizer_json;
  return metadata;
}

void write_checkpoint(OutputFolder& out, train::Model& model, const std::string& spec_json,
                      const TaskData& data, const train::EvaluationReport& report) {
  const auto classes =
      report.is_classification() ? static_cast<int64_t>(report.confusion.size()) : 0;
  model.save(out.staged(kWeightsFile), checkpoint_metadata(spec_json, data, classes));
  data::write_file_atomic(out.staged(kSpecFile), spec_json, "model spec");
  out.commit();
}

// The task's own files (pictures) come after the checkpoint, which a failure here leaves in place.
void write_task_outputs(const Task& task, const io::ModelSpec& spec, train::Model& model,
                        const TaskData& data, const std::string& dir) {
  try {
    task.write_outputs(spec, model, data, dir);
  } catch (const std::exception& e) {
    NABLA_CHECK(false, "the checkpoint was saved to ", dir, ", but the ", task.name(),
                " task's outputs could not be written: ", e.what());
  }
}

// The report comes last, from the run in memory: a failure to write it leaves the checkpoint that
// is already in place, and says so.
void write_run_report(const RunOptions& options, train::Model& model, io::ModelSpec spec,
                      const io::TrainingSpec& training, const TaskData& data,
                      const RunResult& result) {
  spec.training = training;
  try {
    write_report(options.out, model, spec, data, options, result);
  } catch (const std::exception& e) {
    NABLA_CHECK(false, "the checkpoint was saved to ", options.out, ", but ", kReportFile,
                " could not be written: ", e.what());
  }
}

// The spec's training settings with those the command line gives as JSON.
io::TrainingSpec merge_command_line_training(io::TrainingSpec training, const RunOptions& options) {
  training.present = true;
  if (!options.lr_schedule && !options.augmentation) return training;
  std::string overrides = "{";
  if (options.lr_schedule) overrides += "\"lr_schedule\": " + *options.lr_schedule;
  if (options.augmentation) {
    overrides +=
        std::string(options.lr_schedule ? ", " : "") + "\"augmentation\": " + *options.augmentation;
  }
  return io::merge_training(training, overrides + "}", "(command line)");
}

}  // namespace

RunResult run(const std::string& model, const RunOptions& options) {
  return run(io::resolve_model_spec(model), options);
}

RunResult run(io::ModelSpec spec, const RunOptions& options) {
  // Data-parallel runs: every rank trains, rank 0 alone speaks and writes.
  const train::DistributedStrategyPtr& strategy = options.strategy;
  const bool primary = strategy == nullptr || strategy->rank() == 0;
  static std::ostream silent(nullptr);
  std::ostream& log = !primary ? silent : options.log != nullptr ? *options.log : std::cout;
  const auto on_rank_zero = [&](train::CallbackPtr callback) {
    return strategy != nullptr ? dist::rank_zero_only(std::move(callback)) : callback;
  };
  spec = adapt_spec_to_data(spec, options);
  NABLA_CHECK(options.limit >= 0, "--limit: expected a sample count >= 0, got ", options.limit);
  io::TrainingSpec training = spec.training;
  if (options.epochs) training.epochs = *options.epochs;
  if (options.batch_size) training.batch_size = *options.batch_size;
  if (options.optimizer && *options.optimizer != training.optimizer) {
    training.optimizer = *options.optimizer;
    training.momentum.reset();
    training.nesterov.reset();
    training.weight_decay.reset();
  }
  if (options.momentum) training.momentum = *options.momentum;
  if (options.nesterov) training.nesterov = *options.nesterov;
  if (options.weight_decay) training.weight_decay = *options.weight_decay;
  if (options.lr) training.lr = *options.lr;
  if (options.validation_split) training.validation_split = *options.validation_split;
  if (options.loss) training.loss = *options.loss;
  if (options.precision) training.precision = *options.precision;
  training = merge_command_line_training(training, options);
  // The whole run in the spec's precision, tasks with a training loop of their own included (on a
  // CPU without bf16: one warning, and fp32).
  const Autocast precision(parse_precision(training.precision));
  auto optimizer = io::make_optimizer(training);
  const train::LossPtr loss = train::make_loss(training.loss);
  const std::unique_ptr<Task> task = make_task(task_name_for(spec));
  task->set_run_folder(primary ? options.out : "");  // rank 0 alone writes
  {
    io::ModelSpec as_given = spec;
    as_given.training = training;
    // Under a distributed strategy, a task with a run of its own trains a whole copy on every
    // rank; rank 0 alone speaks and writes.
    RunOptions own = options;
    if (!primary) {
      own.out.clear();
      own.tensorboard.clear();
      own.json = nullptr;
      own.log = &silent;
      own.verbose = 0;
    }
    if (std::optional<RunResult> result = task->run_own(as_given, own)) return std::move(*result);
  }
  NABLA_CHECK(!options.new_head || !options.init_from.empty(), "--new-head: give the ",
              "checkpoint to start from with --init-from");
  NABLA_CHECK(!options.resume || !options.out.empty(), "--resume: give the run's folder with ",
              "--out DIR (its checkpoints are in DIR/", kCheckpointFolder, ")");
  NABLA_CHECK(options.save_every_epochs >= 1 && options.save_every_steps >= 0 && options.keep >= 1,
              "--save-every: expected at least 1 epoch or step, and --keep at least 1; got ",
              options.save_every_epochs, " epochs, ", options.save_every_steps, " steps, keep ",
              options.keep);
  NABLA_CHECK(!options.save_best.starts_with("val_") || training.validation_split > 0,
              "--save-best ", options.save_best, ": there is no validation data to monitor; add ",
              "--validation-split, e.g. 0.1, or monitor a training value such as loss");
  const std::string monitor = !options.monitor.empty()        ? options.monitor
                              : training.validation_split > 0 ? "val_loss"
                                                              : "loss";
  NABLA_CHECK(!monitor.starts_with("val_") || training.validation_split > 0, "--monitor ", monitor,
              ": there is no validation data to monitor; add --validation-split, e.g. ",
              "0.1, or monitor a training value such as loss");
  NABLA_CHECK(options.reduce_lr_factor > 0 && options.reduce_lr_factor < 1,
              "--reduce-lr-factor: expected a factor in (0, 1), got ", options.reduce_lr_factor);
  std::optional<OutputFolder> out;
  if (!options.out.empty() && primary) out.emplace(options.out);
  // Where a file of the run goes: staged in `out` (rank 0), named only on the other ranks, whose
  // writing callbacks never act.
  const auto staged = [&](const char* name) {
    return out ? out->staged(name) : (std::filesystem::path(options.out) / name).string();
  };

  manual_seed(options.seed);  // the initial weights
  train::Model model(io::build_model(spec), spec.name);
  // A spec with an input shape has its weights already (build_model built them); the Model learns
  // its input and output shapes here, before the data, so that a task can shape its data as the
  // model takes and gives them (the reconstruction task's targets are the model's output shape).
  // A graph model is built already, from its Inputs.
  if (!spec.input_shape.empty() && !model.built()) model.build(spec.input_shape);
  TaskData data = task->load(spec, model, options.data_dir);
  NABLA_CHECK(!data.train_stream || options.classes.empty(), "--classes: a streamed training ",
              "part cannot be filtered by class; leave --stream out");
  if (!options.classes.empty()) internal::keep_classes(data, options.classes);
  if (data.train_stream && options.limit > 0) {
    data.train_stream =
        std::make_shared<const data::Pipeline>(data.train_stream->take(options.limit));
  } else if (options.limit > 0 && options.limit < data.x_train.size(0)) {
    data.x_train = data.x_train.slice(0, 0, options.limit);
    data.y_train = data.y_train.slice(0, 0, options.limit);
  }
  if (spec.input_shape.empty()) {
    spec.input_shape = Shape(data.x_train.shape().begin() + 1, data.x_train.shape().end());
  }
  if (!model.built()) model.build(spec.input_shape);
  if (!options.init_from.empty()) {
    internal::load_initial_weights(model, options.init_from, options.new_head);
  }
  for (const std::string& pattern : options.freeze) model.set_trainable(pattern, false);
  internal::describe_fine_tuning(model, options, log);
  std::vector<train::MetricArg> metrics(training.metrics.begin(), training.metrics.end());
  model.compile(std::move(optimizer), loss, std::move(metrics), {.precision = training.precision});

  log << "Training " << spec.name << " on " << data.source << ": "
      << (data.train_stream ? std::string("streamed") : std::to_string(data.x_train.size(0)))
      << " samples, " << training.epochs << (training.epochs == 1 ? " epoch" : " epochs")
      << ", batch " << training.batch_size << ", " << training.optimizer << " (lr "
      << model.optimizer().lr() << io::optimizer_settings_text(training) << "), "
      << (compute_precision() == Precision::bf16 ? "bf16 mixed precision, " : "") << "seed "
      << options.seed << std::endl;
  if (strategy != nullptr) {
    log << "Data-parallel over " << strategy->size() << " processes: batch " << training.batch_size
        << " on each, " << training.batch_size * strategy->size() << " samples per step"
        << std::endl;
  }
  std::vector<train::CallbackPtr> callbacks;
  if (auto scheduler = io::make_lr_scheduler(training, model.optimizer())) {
    callbacks.push_back(std::make_shared<train::LearningRateScheduler>(std::move(scheduler)));
  }
  if (options.reduce_lr_on_plateau) {
    callbacks.push_back(std::make_shared<train::ReduceLROnPlateau>(
        train::ReduceLROnPlateauOptions{.monitor = monitor,
                                        .factor = options.reduce_lr_factor,
                                        .patience = *options.reduce_lr_on_plateau,
                                        .verbose = options.verbose > 0 ? 1 : 0}));
  }
  if (options.early_stopping) {
    callbacks.push_back(std::make_shared<train::EarlyStopping>(train::EarlyStoppingOptions{
        .monitor = monitor, .patience = *options.early_stopping, .restore_best_weights = true}));
  }
  if (options.json != nullptr)
    callbacks.push_back(on_rank_zero(std::make_shared<train::JSONLogger>(*options.json)));
  if (!options.out.empty()) {
    callbacks.push_back(on_rank_zero(std::make_shared<train::CSVLogger>(staged(kMetricsFile))));
    callbacks.push_back(on_rank_zero(std::make_shared<train::NormLogger>(staged(kNormsFile))));
  }
  if (!options.tensorboard.empty()) {
    callbacks.push_back(on_rank_zero(std::make_shared<train::TensorBoard>(options.tensorboard)));
  }
  if (options.detect_anomaly) callbacks.push_back(std::make_shared<train::GradientWatch>());
  std::shared_ptr<const train::TrainingState> resume;
  const std::string spec_json = io::spec_with_training(spec, training);
  if (!options.out.empty()) {
    if (primary) {
      const int64_t removed = internal::prepare_checkpoint_folder(options.out, !options.resume);
      if (removed > 0) {
        log << "Removed the " << removed << " checkpoint(s) of an earlier run in " << options.out
            << "/" << kCheckpointFolder << std::endl;
      }
    }
    if (strategy != nullptr) dist::barrier();  // the folder is ready before any rank reads it
    const std::string settings =
        internal::run_settings_json(spec_json, options, data.dir, get_num_threads());
    if (options.resume) {
      if (const auto path = internal::find_resume_checkpoint(options.out, settings,
                                                             primary ? std::cerr : silent)) {
        resume = std::make_shared<const train::TrainingState>(model.load_checkpoint(*path));
        log << "Resuming from " << *path << ": epoch " << resume->epoch + 1 << ", " << resume->step
            << " of its batches done" << std::endl;
      } else {
        log << "No checkpoint to resume from in " << options.out << "/" << kCheckpointFolder
            << "; training from the start" << std::endl;
      }
    }
    std::map<std::string, std::string> metadata =
        checkpoint_metadata(spec_json, data, static_cast<int64_t>(data.class_names.size()));
    metadata[internal::kRunSettingsKey] = settings;
    callbacks.push_back(on_rank_zero(std::make_shared<train::ModelCheckpoint>(
        internal::checkpoint_pattern(options.out),
        train::ModelCheckpointOptions{.every_epochs = options.save_every_epochs,
                                      .every_steps = options.save_every_steps,
                                      .keep = options.keep,
                                      .metadata = metadata})));
    if (!options.save_best.empty()) {
      callbacks.push_back(on_rank_zero(std::make_shared<train::ModelCheckpoint>(
          (std::filesystem::path(options.out) / kBestFile).string(),
          train::ModelCheckpointOptions{
              .monitor = options.save_best, .save_best_only = true, .metadata = metadata})));
    }
  }
  const DetectAnomalyGuard anomaly(options.detect_anomaly || is_anomaly_enabled());
  RunResult result;
  result.task = task->name();
  result.history = task->train(model, data,
                               {.epochs = training.epochs,
                                .batch_size = training.batch_size,
                                .validation_split = training.validation_split,
                                .verbose = primary ? options.verbose : 0,
                                .callbacks = callbacks,
                                .seed = options.seed,
                                .augmentation = training.augmentation,
                                .resume = resume,
                                .strategy = strategy});
  result.report =
      evaluate_on_test(model, data, training.batch_size, primary && options.verbose > 0 ? 2 : 0);
  result.figures.push_back(test_figure(result.report));
  io::ModelSpec as_run = spec;  // what the task sees: the settings the run trained with
  as_run.training = training;
  for (Figure& figure : task->judge(as_run, model, data, result.report)) {
    result.figures.push_back(std::move(figure));
  }
  if (out) {
    write_checkpoint(*out, model, spec_json, data, result.report);
    write_task_outputs(*task, as_run, model, data, options.out);
    write_run_report(options, model, spec, training, data, result);
  }
  return result;
}

}  // namespace nabla::tasks
