// Tasks: what `nabla train --model NAME` runs, as a library. A task owns its data (Fashion-MNIST
// images, fortunes by category, a text corpus, generated digit strings, ...), and how a trained
// model is judged beyond its test loss (accuracy, macro-F1 against baselines, bits per
// character, exact-sequence accuracy). tasks::run trains a model spec on its task with the
// Keras-style fit, evaluates it on the test part, judges it and writes the checkpoint; the CLI
// only parses arguments and prints. A spec names its task ("task": "fortunes"), or the task
// follows from its "data" section's type (no section: "images"). New model families add a task:
// one file that registers it, one test, one row in the model zoo.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "nabla/io.hpp"
#include "nabla/pipeline.hpp"
#include "nabla/train.hpp"

namespace nabla::tasks {

// A task's data, split in a training and a test part.
struct TaskData {
  Tensor x_train, y_train, x_test, y_test;
  std::string source;                    // where it came from (a folder or file), for messages
  std::string dir;                       // the folder to read it from again ("" = the default)
  std::vector<std::string> class_names;  // classification tasks; empty otherwise
  std::string tokenizer_json;            // text tasks: data::Tokenizer::to_json()
  // A model of several inputs is evaluated on x_test and these, in the order of its inputs (a
  // conditional GAN: the noise, then the labels asked for).
  std::vector<Tensor> x_test_more;
  // Streamed data (TFRecord with "stream"): the training samples, decoded, one element each;
  // x_train and y_train are then undefined and Task::train fits on the pipeline.
  std::shared_ptr<const data::Pipeline> train_stream = nullptr;

  // The model's test inputs: x_test, then x_test_more.
  std::vector<Tensor> test_inputs() const;
};

// What `nabla evaluate` and tasks::run report as the test loss and metrics.
train::EvaluationReport evaluate_on_test(train::Model& model, const TaskData& data,
                                         int64_t batch_size, int verbose);

struct RunOptions;
struct RunResult;

// One figure a trained model is judged by; `text` is how it is printed ("Test accuracy: 0.9201").
struct Figure {
  std::string name;
  double value = 0;
  std::string text;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  // The data for `spec`, from `dir` ("" = the task's default folder), shaped as `model` takes it.
  virtual TaskData load(const io::ModelSpec& spec, const train::Model& model,
                        const std::string& dir) const = 0;
  // How the task trains `model` on the training part: Keras-style fit by default. A task with a
  // loop of its own (a GAN's two optimizers, an RBM's contrastive divergence, teacher forcing
  // with scheduled sampling) overrides it; `fit` carries the run's settings and callbacks.
  virtual train::History train(train::Model& model, const TaskData& data,
                               const train::FitOptions& fit) const;
  // The model's answer to one text of one's own, for tasks whose answer is text (a seq2seq
  // model's decoded string); nullopt for tasks answered by class probabilities, which the caller
  // prints.
  virtual std::optional<std::string> respond(const io::ModelSpec& spec, train::Model& model,
                                             const std::string& text) const;
  // What the model is judged by on the test part, beyond the evaluation report. `spec` holds the
  // training settings the run used (command-line overrides included).
  virtual std::vector<Figure> judge(const io::ModelSpec& spec, train::Model& model,
                                    const TaskData& data,
                                    const train::EvaluationReport& report) const = 0;
  // Files of its own the task writes into the run's output folder (`nabla train --out DIR`), once
  // the checkpoint is in place: pictures such as an autoencoder's reconstructions. `spec` holds
  // the training settings the run used. Default: none.
  virtual void write_outputs(const io::ModelSpec& spec, train::Model& model, const TaskData& data,
                             const std::string& dir) const;
  // A task that trains no train::Model by fit (word2vec: its own Hogwild loop over two tables of
  // vectors) runs the whole of run() itself: it returns the run's result, or nullopt (the default)
  // for the usual way. `spec` holds the training settings of the run, command-line overrides
  // included; `options` the rest of the command line.
  virtual std::optional<RunResult> run_own(const io::ModelSpec& spec,
                                           const RunOptions& options) const;

  // The run's folder, set before load(): `nabla train --out DIR`, or the folder of the checkpoint
  // `nabla evaluate` judges ("" = none). A task that writes while it trains (a GAN's sample grid
  // per epoch) or keeps what judging needs beside the checkpoint (a GAN's judging classifier)
  // uses it.
  void set_run_folder(std::string dir) { run_folder_ = std::move(dir); }
  const std::string& run_folder() const { return run_folder_; }

 private:
  std::string run_folder_;
};
using TaskFactory = std::function<std::unique_ptr<Task>()>;

// The registry. register_task is called by each task's file when the library loads; a name
// registered twice is an Error.
bool register_task(const std::string& name, TaskFactory factory);
std::vector<std::string> task_names();  // sorted
// Error listing the registered names when there is none.
std::unique_ptr<Task> make_task(const std::string& name);
// The task a spec trains on: its "task", else its "data" section's type, else "images".
std::string task_name_for(const io::ModelSpec& spec);

// The test accuracy (or loss) every classifier reports first.
Figure test_figure(const train::EvaluationReport& report);

struct RunOptions {
  std::string data_dir;  // "" = the task's default
  int64_t limit = 0;     // > 0: train on the first `limit` samples only
  uint64_t seed = 0;     // initial weights and shuffling
  int verbose = 1;       // fit's: 0 silent, 1 progress bar, 2 one line per epoch
  std::string out;       // folder for model.safetensors, model.json, metrics.csv ("" = none)
  // Folder for TensorBoard event files ("" = none): the train::TensorBoard callback.
  std::string tensorboard;
  // Anomaly detection for the run (set_detect_anomaly: the first op whose forward or backward
  // makes a NaN or Inf is an Error naming it) and the train::GradientWatch callback.
  bool detect_anomaly = false;
  // With `out`: full checkpoints in out/checkpoints (kCheckpointFolder) every `save_every_epochs`
  // epochs, or every `save_every_steps` batches when > 0; the newest `keep` stay. A run that
  // does not resume first removes the checkpoints of an earlier run there.
  int64_t save_every_epochs = 1;
  int64_t save_every_steps = 0;
  int64_t keep = 2;
  // A monitored value ("val_loss", "val_accuracy", ...): out/best.safetensors (kBestFile) is the
  // checkpoint of the epoch where it was best. "" = none.
  std::string save_best;
  // Continue from the newest checkpoint in out/checkpoints that loads (skipping damaged ones
  // with a warning naming them), or start when there is none. The run's model and settings
  // must be those the checkpoint was made with; only `epochs` may differ.
  bool resume = false;
  // Fine-tuning: start from the weights of a checkpoint (a file, or a run folder holding
  // model.safetensors) instead of a fresh initialization. With new_head, the last layer keeps
  // its fresh initialization (and may differ in shape: another number of classes), as after
  // Keras's model.pop(); model.add(...). Each `freeze` pattern freezes the layers it matches
  // (train::Model::set_trainable) before the optimizer is made.
  std::string init_from;
  bool new_head = false;
  std::vector<std::string> freeze;
  // Keep only the samples of these classes, training and test part alike (labels unchanged).
  std::vector<int64_t> classes;
  // Overrides of the spec's training section.
  std::optional<int64_t> epochs, batch_size;
  std::optional<std::string> optimizer;
  std::optional<double> lr, validation_split;
  // The optimizer's settings (io::TrainingSpec's); a different --optimizer than the spec's drops
  // the spec's settings, which were meant for its own optimizer.
  std::optional<double> momentum, weight_decay;
  std::optional<bool> nesterov;
  std::optional<std::string> loss;       // a loss by name (train::make_loss), for the spec's
  std::optional<std::string> precision;  // "fp32" or "bf16", for the spec's (io::TrainingSpec)
  // More, as JSON a spec's "training" section takes (io::merge_training): "lr_schedule" (an
  // object) and "augmentation" (a list of steps).
  std::optional<std::string> lr_schedule, augmentation;
  // Callbacks: train::EarlyStopping with this patience (restoring the best epoch's weights at the
  // end) and train::ReduceLROnPlateau with this patience and factor, both on `monitor` ("" =
  // val_loss when there is validation data, else loss).
  std::optional<int64_t> early_stopping, reduce_lr_on_plateau;
  double reduce_lr_factor = 0.1;
  std::string monitor;
  // One JSON line per epoch (train::JSONLogger) on this stream, e.g. std::cout for scripts.
  std::ostream* json = nullptr;
  std::ostream* log = nullptr;  // where the run says what it trains (null: std::cout)
  // Data-parallel training across processes (dist::DataParallel; `mpirun -np N nabla train`):
  // batch_size is each process's; rank 0 alone prints and writes `out`, the report and the
  // event files, and every rank reads the checkpoint it resumes from. Tasks with a training
  // loop of their own train a whole copy on each rank.
  train::DistributedStrategyPtr strategy{};

  // Data of one's own as data_dir, for an image model: an image folder (data::is_image_folder)
  // or TFRecord files (data::is_tfrecord_data). The spec becomes task "image_folder" or
  // "tfrecord" with the input shape the data gives and as many outputs as classes
  // (adapt_spec_to_data). image_size (height, width; default: the spec's input size) and color
  // ("rgb", the default, or "grayscale") say how images are read; test_split is the fraction held
  // out as the test part (default 0.2, chosen with `seed`; train/ and test/ folders, or train*
  // and test* shards, need none); skip_bad_records skips bad images or records with a warning
  // each; input_feature and label_feature name a TFRecord's features (default "image", else
  // "features", and "label"). Each is an Error for other data.
  std::optional<std::pair<int64_t, int64_t>> image_size;
  std::string color;
  std::optional<double> test_split;
  bool skip_bad_records = false;
  std::string input_feature, label_feature;
  // Tabular data (task "wide_deep"): the CSV column to predict (`nabla train --target`); "" = the
  // spec's "tabular" target.
  std::string target;

  // TFRecord files: the training part streamed through a data::Pipeline while training instead
  // of loaded (memory bounded by the shuffle buffer); automatic when the files hold more than
  // kStreamTFRecordBytes. An Error for other data.
  bool stream = false;
};
inline constexpr int64_t kStreamTFRecordBytes = int64_t{1} << 30;

// `spec` as it trains on options.data_dir (see RunOptions): input shape, "data" section and the
// last layer's units (a sequential spec ending in a layer with "units") follow the data and the
// options. Unchanged when data_dir is neither an image folder nor TFRecord files (an Error when
// options for them were given).
io::ModelSpec adapt_spec_to_data(const io::ModelSpec& spec, const RunOptions& options);

struct RunResult {
  std::string task;
  train::History history;
  train::EvaluationReport report;
  std::vector<Figure> figures;  // test_figure first, then the task's
  // What a task's run_own wrote into options.out, to be said after the figures ("model.json and
  // vectors.txt"); "" for the usual files.
  std::string saved;
};

// Trains `spec` (or a preset name / JSON file) on its task, evaluates and judges it on the test
// part, and with options.out writes model.safetensors (weights and the spec with its training
// settings, data source, class names, tokenizer), model.json (the same spec), metrics.csv,
// norms.csv and then report.html (write_report). A report that cannot be written is an Error
// raised after the checkpoint is in place.
RunResult run(io::ModelSpec spec, const RunOptions& options = {});
RunResult run(const std::string& model, const RunOptions& options = {});

// Files in a folder written by run(options.out).
inline constexpr const char* kWeightsFile = "model.safetensors";
inline constexpr const char* kSpecFile = "model.json";
inline constexpr const char* kMetricsFile = "metrics.csv";
inline constexpr const char* kCheckpointFolder = "checkpoints";
inline constexpr const char* kBestFile = "best.safetensors";
// Written beside them: per-parameter weight and gradient norms (train::NormLogger), and the
// report (write_report), after the checkpoint is in place.
inline constexpr const char* kNormsFile = "norms.csv";
inline constexpr const char* kReportFile = "report.html";

// ---- the run report (src/tasks/run_report.cpp) ----
// RUN_DIR/report.html (train::write_html_report) for a folder written by run(options.out): the
// settings and model from its checkpoint, the curves of metrics.csv, the norms of norms.csv, and,
// computed again on the task's test data with the checkpoint's weights, the test results, the
// confusion matrix, the most confidently misclassified test images (image classifiers) and sample
// generations (language models). Errors name the file missing or wrong and what was expected.
struct ReportOptions {
  std::string data_dir;      // "" = the folder the checkpoint's data came from
  int64_t batch_size = 256;  // samples per forward pass on the test data
};
// Returns the path written.
std::string write_report(const std::string& run_dir, const ReportOptions& options = {});
// The same for a run still in memory (run() calls it once the checkpoint is written): its model,
// spec (with the training settings it ran with), data and results, so nothing is loaded or
// evaluated twice; the command line is rebuilt from `run`.
std::string write_report(const std::string& run_dir, train::Model& model, const io::ModelSpec& spec,
                         const TaskData& data, const RunOptions& run, const RunResult& result);

}  // namespace nabla::tasks
