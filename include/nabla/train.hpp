// Keras-style training: a Model wraps an nn::Module and gives it compile / fit / evaluate /
// predict / summary / save, with losses and metrics reachable by their Keras names, callbacks
// (early stopping, checkpoints, CSV logs, learning-rate schedules), a Keras progress bar and a
// per-epoch History. When the network ends with a softmax (or sigmoid) and the loss is a
// cross-entropy, training feeds the pre-activation logits to the fused, numerically stable loss;
// predict() still returns probabilities.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nabla/autocast.hpp"
#include "nabla/data.hpp"
#include "nabla/layers.hpp"
#include "nabla/nn.hpp"
#include "nabla/optim.hpp"
#include "nabla/quantize.hpp"
#include "nabla/tensor.hpp"

namespace nabla::data {
class DataLoader;
class Pipeline;
}  // namespace nabla::data

namespace nabla::train {

class Model;

// ---- losses ----
// A loss maps a batch of model outputs and targets to a scalar (the batch mean).
class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string name() const = 0;  // the Keras name
  virtual Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const = 0;
  // The final activation ("softmax", "sigmoid") this loss can fold in; "" for none. When the
  // network ends with it, the model computes from_logits() on the pre-activation values.
  virtual std::string fused_activation() const { return ""; }
  virtual Tensor from_logits(const Tensor& logits, const Tensor& y_true) const;
  // Converts targets to what the loss expects (labels to i64, values to f32) and checks them
  // against the model's output shape (batch axis included); `where` names the caller in errors.
  virtual Tensor prepare_targets(const Tensor& y_true, const Shape& output_shape,
                                 const std::string& where) const;
};
using LossPtr = std::shared_ptr<Loss>;

// Integer labels [N] against class scores [N, C], or [N, T] against [N, T, C] (classes on the
// last axis, as Keras). from_logits: the outputs are logits already.
class SparseCategoricalCrossentropy : public Loss {
 public:
  explicit SparseCategoricalCrossentropy(bool from_logits = false) : from_logits_(from_logits) {}
  std::string name() const override { return "sparse_categorical_crossentropy"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
  std::string fused_activation() const override { return from_logits_ ? "" : "softmax"; }
  Tensor from_logits(const Tensor& logits, const Tensor& y_true) const override;
  Tensor prepare_targets(const Tensor& y_true, const Shape& output_shape,
                         const std::string& where) const override;

 private:
  bool from_logits_;
};

// One-hot (or probability) targets [N, C] against class scores [N, C].
class CategoricalCrossentropy : public Loss {
 public:
  explicit CategoricalCrossentropy(bool from_logits = false) : from_logits_(from_logits) {}
  std::string name() const override { return "categorical_crossentropy"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
  std::string fused_activation() const override { return from_logits_ ? "" : "softmax"; }
  Tensor from_logits(const Tensor& logits, const Tensor& y_true) const override;

 private:
  bool from_logits_;
};

// Targets in [0, 1] against probabilities of the same shape.
class BinaryCrossentropy : public Loss {
 public:
  explicit BinaryCrossentropy(bool from_logits = false) : from_logits_(from_logits) {}
  std::string name() const override { return "binary_crossentropy"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
  std::string fused_activation() const override { return from_logits_ ? "" : "sigmoid"; }
  Tensor from_logits(const Tensor& logits, const Tensor& y_true) const override;

 private:
  bool from_logits_;
};

class MeanSquaredError : public Loss {
 public:
  std::string name() const override { return "mean_squared_error"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
};

class MeanAbsoluteError : public Loss {
 public:
  std::string name() const override { return "mean_absolute_error"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
};

class Huber : public Loss {
 public:
  explicit Huber(double delta = 1.0) : delta_(delta) {}
  std::string name() const override { return "huber"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;

 private:
  double delta_;
};

// Metric-learning losses (src/train/metric_losses.cpp): y_pred holds embeddings [N, D], y_true
// integer class labels [N]; pairs and triplets are mined within the batch, on Euclidean distances
// (torch.cdist). Names: "triplet_semihard", "triplet_batch_all", "contrastive".
//
// FaceNet's online semi-hard mining (Schroff et al. 2015, as TensorFlow Addons'
// TripletSemiHardLoss): for each anchor-positive pair (a, p), the negative n nearest to a that is
// still farther than p, d(a, n) > d(a, p); the farthest negative when there is none. The loss is
// the mean over the pairs of triplet_margin_loss(a, p, n, margin).
class TripletSemiHardLoss : public Loss {
 public:
  explicit TripletSemiHardLoss(double margin = 0.5) : margin_(margin) {}
  std::string name() const override { return "triplet_semihard"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
  Tensor prepare_targets(const Tensor& y_true, const Shape& output_shape,
                         const std::string& where) const override;
  double margin() const { return margin_; }

 private:
  double margin_;
};

// Batch-all (Hermans et al. 2017): every valid triplet of the batch, max(d(a, p) - d(a, n) +
// margin, 0), averaged over the triplets whose loss is positive.
class TripletBatchAllLoss : public TripletSemiHardLoss {
 public:
  explicit TripletBatchAllLoss(double margin = 0.5) : TripletSemiHardLoss(margin) {}
  std::string name() const override { return "triplet_batch_all"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
};

// The contrastive loss of Siamese networks (Hadsell, Chopra and LeCun 2006): the same network
// embeds both images of a pair (shared weights); every pair of the batch is one, d^2 for pairs
// of one class, max(margin - d, 0)^2 for the others. The two kinds are averaged separately and
// then together, as if pairs were drawn half similar, half dissimilar.
class ContrastiveLoss : public TripletSemiHardLoss {
 public:
  explicit ContrastiveLoss(double margin = 1.0) : TripletSemiHardLoss(margin) {}
  std::string name() const override { return "contrastive"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
};

// Segmentation losses (src/train/segmentation_losses.cpp): class probabilities [N, ..., C]
// (classes last, as sparse_categorical_crossentropy) against integer labels [N, ...]. "dice" is
// ops::dice_loss (soft Dice per class over the batch, smooth 1, averaged over the classes);
// "dice_crossentropy" the per-pixel sparse cross-entropy plus the Dice loss, as U-Nets commonly
// train. Both fold a final softmax in (the probabilities come from the logits).
class DiceLoss : public SparseCategoricalCrossentropy {
 public:
  explicit DiceLoss(double smooth = 1.0) : smooth_(smooth) {}
  std::string name() const override { return "dice"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
  std::string fused_activation() const override { return "softmax"; }
  Tensor from_logits(const Tensor& logits, const Tensor& y_true) const override;
  double smooth() const { return smooth_; }

 private:
  double smooth_;
};
class DiceCrossentropy : public DiceLoss {
 public:
  using DiceLoss::DiceLoss;
  std::string name() const override { return "dice_crossentropy"; }
  Tensor operator()(const Tensor& y_pred, const Tensor& y_true) const override;
  Tensor from_logits(const Tensor& logits, const Tensor& y_true) const override;
};

// By Keras name: sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy,
// mse/mean_squared_error, mae/mean_absolute_error, huber/huber_loss. Unknown -> Error listing
// the known names.
LossPtr make_loss(const std::string& name);

// ---- metrics ----
// A metric accumulates over the batches of an epoch (in doubles) and reports one number.
class Metric {
 public:
  virtual ~Metric() = default;
  virtual std::string name() const = 0;  // the key in logs and History
  virtual void reset() = 0;
  // `y_pred` holds the model's outputs, or its logits when `logits` is true (the final softmax or
  // sigmoid was folded into the loss; rankings are the same, thresholds move to 0).
  virtual void update(const Tensor& y_pred, const Tensor& y_true, bool logits) = 0;
  virtual double result() const = 0;
  // The running totals behind result() (counts and sums, which add across the shards of a data
  // set: data-parallel fit sums them over ranks), so that a checkpoint taken in the middle of an
  // epoch resumes the epoch's figures exactly. A metric that keeps none returns {} (the default):
  // it starts over at a resumed step, which changes the epoch's figure, never the weights.
  virtual std::vector<double> state() const { return {}; }
  virtual void set_state(const std::vector<double>& /*state*/) {}
};
using MetricPtr = std::shared_ptr<Metric>;

// Fraction of correct predictions. kind automatic (the name "accuracy") picks by shapes: integer
// labels [N] with scores [N, C] -> sparse categorical; targets shaped like the outputs with C > 1
// -> categorical (argmax of both); otherwise binary (threshold 0.5 on probabilities).
class Accuracy : public Metric {
 public:
  enum class Kind { automatic, sparse_categorical, categorical, binary };
  explicit Accuracy(Kind kind = Kind::automatic, std::string name = "accuracy");
  std::string name() const override { return name_; }
  void reset() override { correct_ = total_ = 0; }
  void update(const Tensor& y_pred, const Tensor& y_true, bool logits) override;
  double result() const override { return total_ > 0 ? correct_ / total_ : 0.0; }
  std::vector<double> state() const override { return {correct_, total_}; }
  void set_state(const std::vector<double>& state) override;

 private:
  Kind kind_;
  std::string name_;
  double correct_ = 0, total_ = 0;
};

// Whether the true class is among the k highest scores (integer labels or one-hot targets).
class TopKAccuracy : public Metric {
 public:
  explicit TopKAccuracy(int64_t k = 5, std::string name = "");  // default name top_<k>_accuracy
  std::string name() const override { return name_; }
  void reset() override { correct_ = total_ = 0; }
  void update(const Tensor& y_pred, const Tensor& y_true, bool logits) override;
  double result() const override { return total_ > 0 ? correct_ / total_ : 0.0; }
  std::vector<double> state() const override { return {correct_, total_}; }
  void set_state(const std::vector<double>& state) override;

 private:
  int64_t k_;
  std::string name_;
  double correct_ = 0, total_ = 0;
};

// Mean squared or absolute error over all elements, as a metric.
class MeanError : public Metric {
 public:
  enum class Kind { squared, absolute };
  explicit MeanError(Kind kind, std::string name);
  std::string name() const override { return name_; }
  void reset() override { sum_ = count_ = 0; }
  void update(const Tensor& y_pred, const Tensor& y_true, bool logits) override;
  double result() const override { return count_ > 0 ? sum_ / count_ : 0.0; }
  std::vector<double> state() const override { return {sum_, count_}; }
  void set_state(const std::vector<double>& state) override;

 private:
  Kind kind_;
  std::string name_;
  double sum_ = 0, count_ = 0;
};

// By Keras name: accuracy/acc, sparse_categorical_accuracy, categorical_accuracy,
// binary_accuracy, top_<k>_accuracy (e.g. top_5_accuracy), sparse_top_k_categorical_accuracy and
// top_k_categorical_accuracy (k = 5), mse/mean_squared_error, mae/mean_absolute_error. The
// name "loss" is not a metric (the loss is always reported); make_metric rejects it.
MetricPtr make_metric(const std::string& name);

// ---- logs, history ----
// Named values of one batch or epoch, in insertion order ("loss", "accuracy", "val_loss", ...).
class Logs {
 public:
  void set(const std::string& name, double value);  // adds or replaces
  std::optional<double> get(std::string_view name) const;
  double at(std::string_view name) const;  // Error listing the names when absent
  bool contains(std::string_view name) const { return get(name).has_value(); }
  const std::vector<std::pair<std::string, double>>& items() const { return items_; }
  std::vector<std::pair<std::string, double>>& items() { return items_; }
  void clear() { items_.clear(); }

 private:
  std::vector<std::pair<std::string, double>> items_;
};

// What fit() returns: every epoch's logs by name, as Keras's History.history.
struct History {
  std::vector<int64_t> epoch;  // 0-based numbers of the epochs run
  std::map<std::string, std::vector<double>> history;
  const std::vector<double>& operator[](const std::string& name) const;  // Error when absent
};

// ---- training state (full checkpoints, exact resume) ----
// Where a fit() stands: everything, besides the weights, that a run resumed from a checkpoint
// needs to continue bit for bit as if it had never stopped (Model::training_state,
// Model::save_checkpoint, Model::load_checkpoint, FitOptions::resume). The sample order and the
// augmentation draws need nothing here: the loader derives them from (seed, epoch, batch index).
struct TrainingState {
  int64_t epoch = 0;        // the epoch in progress; when `step` is 0, the next one to run
  int64_t step = 0;         // its batches done
  int64_t global_step = 0;  // batches done since training began
  // Data-parallel fit: the processes whose batches `step` counts (each batch is batch_size of each
  // one's); a mid-epoch state resumes only with as many. 1 for a single process.
  int64_t processes = 1;
  // The epoch's running figures so far: samples seen, the sum of the loss over them, the same
  // per output (several outputs), and each metric's Metric::state, output by output.
  int64_t seen = 0;
  double loss_sum = 0;
  std::vector<double> output_sums;
  std::vector<std::vector<std::vector<double>>> metrics;
  History history;                          // the epochs finished
  std::vector<uint64_t> generator;          // default_generator()'s state: dropout and noise
  std::map<std::string, Tensor> optimizer;  // Optimizer::state_dict(): moments, steps, lr
  // Callback::save_state of each of the fit's callbacks, in their order.
  std::vector<std::map<std::string, double>> callbacks;
};

// ---- callbacks ----
class Callback {
 public:
  virtual ~Callback() = default;
  virtual void on_train_begin() {}
  virtual void on_train_end(const Logs& /*last_epoch_logs*/) {}
  virtual void on_epoch_begin(int64_t /*epoch*/) {}
  // Callbacks may add entries to the epoch's logs (LearningRateScheduler adds "lr").
  virtual void on_epoch_end(int64_t /*epoch*/, Logs& /*logs*/) {}
  // Running means of the epoch so far; the same Logs object is updated in place every step.
  virtual void on_batch_end(int64_t /*batch*/, const Logs& /*logs*/) {}
  // Full checkpoints: the values the callback carries between epochs (a best value, a count of
  // epochs without improvement), under names of its choosing; restore_state gets them back,
  // with the whole training state (its history, its epoch), after on_train_begin of a resumed
  // fit. Callbacks without such values keep the defaults.
  virtual void save_state(std::map<std::string, double>& /*values*/) const {}
  virtual void restore_state(const std::map<std::string, double>& /*values*/,
                             const TrainingState& /*state*/) {}
  // A callback that keeps checkpoints of its own (BackupAndRestore) may resume the fit: called
  // before on_train_begin of a fit not given FitOptions::resume, it loads the weights and the
  // optimizer (Model::load_checkpoint) and returns the state to go on from; null = start afresh.
  // The first callback to return one wins.
  virtual std::shared_ptr<const TrainingState> restore_training() { return nullptr; }

  void set_model(Model* model) { model_ = model; }

 protected:
  Model& model() const;  // Error when the callback is not attached to a fit

 private:
  Model* model_ = nullptr;
};
using CallbackPtr = std::shared_ptr<Callback>;

// "min" or "max" for a monitored quantity; "auto" picks max for accuracy-like names.
bool monitor_higher_is_better(const std::string& monitor, const std::string& mode);

struct EarlyStoppingOptions {
  std::string monitor = "val_loss";
  double min_delta = 0;  // smaller improvements do not count
  int64_t patience = 0;  // epochs without improvement before stopping
  std::string mode = "auto";
  bool restore_best_weights = false;  // at the end of training, load the best epoch's weights
};
class EarlyStopping : public Callback {
 public:
  explicit EarlyStopping(EarlyStoppingOptions options = {});
  void on_train_begin() override;
  void on_epoch_end(int64_t epoch, Logs& logs) override;
  void on_train_end(const Logs& logs) override;
  // The best value, its epoch and the wait (restore_best_weights' copy is not carried: a
  // resumed run restores the best weights seen since it resumed).
  void save_state(std::map<std::string, double>& values) const override;
  void restore_state(const std::map<std::string, double>& values,
                     const TrainingState& state) override;
  int64_t stopped_epoch() const { return stopped_epoch_; }  // -1: ran to the end
  int64_t best_epoch() const { return best_epoch_; }
  double best() const { return best_; }

 private:
  EarlyStoppingOptions options_;
  bool higher_is_better_;
  double best_ = 0;
  int64_t best_epoch_ = -1;
  int64_t wait_ = 0;
  int64_t stopped_epoch_ = -1;
  nn::StateDict best_weights_;
};

struct ModelCheckpointOptions {
  std::string monitor = "val_loss";
  bool save_best_only = false;
  std::string mode = "auto";
  // How often: every `every_epochs` epochs, or, when every_steps > 0, every `every_steps`
  // batches (Keras's save_freq) instead.
  int64_t every_epochs = 1;
  int64_t every_steps = 0;
  // > 0: after each save, only the `keep` newest files whose names fit the path pattern (the
  // text around its fields) stay in its folder.
  int64_t keep = 0;
  // false (as Keras): full checkpoints (Model::save_checkpoint), from which a fit resumes
  // exactly; true: the weights and spec only (Model::save).
  bool save_weights_only = false;
  std::map<std::string, std::string> metadata{};  // added to every file (data source, ...)
};
// Saves the model after each epoch (or every N epochs or steps), or only when the monitored
// value improved. The path may hold fields from the epoch's logs and the counts:
// "ckpt-{epoch:02d}-{val_loss:.3f}.safetensors" ({epoch} counts from 1, as Keras's; {step} is
// the number of batches done since training began). Files are written atomically (temporary
// file, fsync, rename, fsync of the folder). List it after callbacks that add to the logs (the
// LearningRateScheduler's "lr"), so that the checkpoint's history holds what they added.
class ModelCheckpoint : public Callback {
 public:
  explicit ModelCheckpoint(std::string filepath, ModelCheckpointOptions options = {});
  void on_train_begin() override;
  void on_epoch_begin(int64_t epoch) override;
  void on_epoch_end(int64_t epoch, Logs& logs) override;
  void on_batch_end(int64_t batch, const Logs& logs) override;
  void save_state(std::map<std::string, double>& values) const override;
  void restore_state(const std::map<std::string, double>& values,
                     const TrainingState& state) override;
  const std::vector<std::string>& saved() const { return saved_; }  // paths written

 private:
  void save(int64_t epoch, const Logs& logs);
  void remove_old_files() const;
  std::string filepath_;
  ModelCheckpointOptions options_;
  bool higher_is_better_;
  std::optional<double> best_;
  std::vector<std::string> saved_;
  int64_t steps_done_ = 0;  // since training began
  int64_t epoch_ = 0;       // the epoch in progress
};

// Writes one CSV row per epoch: "epoch" (0-based, as Keras) then the log names sorted. The whole
// file is rewritten through a temporary file each epoch, so it is never left half-written.
class CSVLogger : public Callback {
 public:
  explicit CSVLogger(std::string filename, char separator = ',', bool append = false);
  void on_train_begin() override;
  void on_epoch_end(int64_t epoch, Logs& logs) override;
  // A resumed fit: the rows of the epochs in the checkpoint's history, written at once (the
  // file of the killed run may be gone, and a run resumed at its end trains no epoch).
  void restore_state(const std::map<std::string, double>& values,
                     const TrainingState& state) override;

 private:
  void add_row(int64_t epoch, const Logs& logs);
  void write_file() const;
  std::string filename_;
  char separator_;
  bool append_;
  std::vector<std::string> columns_;
  std::string content_;
};

// Sets the optimizer's learning rate each epoch, either from a Keras-style function
// schedule(epoch, lr) -> lr (called at the start of every epoch) or by stepping a PyTorch-style
// scheduler built on model.optimizer() (at the end of every epoch). Adds "lr" to the logs.
class LearningRateScheduler : public Callback {
 public:
  explicit LearningRateScheduler(std::function<double(int64_t epoch, double lr)> schedule);
  explicit LearningRateScheduler(std::shared_ptr<optim::LRScheduler> scheduler);
  void on_epoch_begin(int64_t epoch) override;
  void on_epoch_end(int64_t epoch, Logs& logs) override;
  // A resumed fit: the scheduler is put at the checkpoint's epoch (its closed form gives the
  // rate); a function schedule is not applied again to an epoch resumed in its middle, whose
  // rate the optimizer's state holds already.
  void restore_state(const std::map<std::string, double>& values,
                     const TrainingState& state) override;

 private:
  std::function<double(int64_t, double)> schedule_;
  std::shared_ptr<optim::LRScheduler> scheduler_;
  bool skip_next_epoch_begin_ = false;
};

// Keras's ReduceLROnPlateau: when the monitored value has not improved by more than min_delta
// for `patience` epochs, the learning rate is multiplied by `factor` (not below min_lr), then
// `cooldown` epochs pass before waiting starts again. Adds "lr" (the rate the epoch ran with) to
// the logs. A LearningRateScheduler listed with it sets the rate each epoch and so overrides it.
struct ReduceLROnPlateauOptions {
  std::string monitor = "val_loss";
  double factor = 0.1;  // in (0, 1)
  int64_t patience = 10;
  std::string mode = "auto";
  double min_delta = 1e-4;
  int64_t cooldown = 0;
  double min_lr = 0;
  int verbose = 0;  // 1: a line on stdout each time the rate is reduced
};
class ReduceLROnPlateau : public Callback {
 public:
  explicit ReduceLROnPlateau(ReduceLROnPlateauOptions options = {});
  void on_train_begin() override;
  void on_epoch_end(int64_t epoch, Logs& logs) override;
  void save_state(std::map<std::string, double>& values) const override;
  void restore_state(const std::map<std::string, double>& values,
                     const TrainingState& state) override;

 private:
  ReduceLROnPlateauOptions options_;
  bool higher_is_better_;
  double best_ = 0;
  int64_t wait_ = 0;
  int64_t cooldown_counter_ = 0;
};

// Keras's TerminateOnNaN: a batch whose loss is NaN or infinite stops training after that batch
// (whose update is not applied), with a line on stdout; fit() returns the history so far, the
// epoch's loss NaN. Without it, such a loss is an Error that names the step and the learning rate.
class TerminateOnNaN : public Callback {
 public:
  void on_batch_end(int64_t batch, const Logs& logs) override;
};

// Keras's LambdaCallback: a callback from functions; those left empty do nothing, e.g.
// LambdaCallback({.on_epoch_end = [](int64_t epoch, Logs& logs) { ... }}).
struct LambdaCallbackFunctions {
  std::function<void()> on_train_begin{};
  std::function<void(const Logs&)> on_train_end{};
  std::function<void(int64_t epoch)> on_epoch_begin{};
  std::function<void(int64_t epoch, Logs& logs)> on_epoch_end{};
  std::function<void(int64_t batch, const Logs& logs)> on_batch_end{};
};
class LambdaCallback : public Callback {
 public:
  explicit LambdaCallback(LambdaCallbackFunctions functions);
  void on_train_begin() override;
  void on_train_end(const Logs& logs) override;
  void on_epoch_begin(int64_t epoch) override;
  void on_epoch_end(int64_t epoch, Logs& logs) override;
  void on_batch_end(int64_t batch, const Logs& logs) override;

 private:
  LambdaCallbackFunctions functions_;
};

// One JSON object per line (JSON Lines) for each epoch: {"epoch": 0, "loss": 0.51, ...} with the
// epoch's logs in order (epoch 0-based, as CSVLogger's), and with every_steps > 0 also one every
// N batches: {"epoch": 0, "batch": 99, "step": 100, "loss": ...} (batch within the epoch, step
// since training began). NaN and infinities are written as null. Each line is written and flushed
// whole, so a killed run leaves every line it finished. To a file (truncated when training
// begins, unless append) or to a stream (nabla train --json writes to stdout).
struct JSONLoggerOptions {
  int64_t every_steps = 0;
  bool append = false;
};
class JSONLogger : public Callback {
 public:
  explicit JSONLogger(std::string filename, JSONLoggerOptions options = {});
  explicit JSONLogger(std::ostream& out, JSONLoggerOptions options = {});
  ~JSONLogger() override;
  void on_train_begin() override;
  void on_epoch_begin(int64_t epoch) override;
  void on_epoch_end(int64_t epoch, Logs& logs) override;
  void on_batch_end(int64_t batch, const Logs& logs) override;
  // A resumed fit: a file (not appended to) is rewritten with the lines of the epochs in the
  // checkpoint's history.
  void restore_state(const std::map<std::string, double>& values,
                     const TrainingState& state) override;

 private:
  void write_line(const std::string& line);
  std::string filename_;
  std::ostream* stream_ = nullptr;  // the caller's stream; null when writing to filename_
  JSONLoggerOptions options_;
  int file_ = -1;
  int64_t epoch_ = 0;
  int64_t steps_done_ = 0;
};

// Keras's BackupAndRestore: full checkpoints in `backup_dir` every epoch (or every N epochs or
// batches) and, when a fit starts and a backup is there (a run that was killed or failed), the
// fit resumes from the newest one that loads, bit for bit as if it had not stopped (damaged
// files are skipped with a warning on stderr naming them). A fit that ends normally removes the
// backups (delete_checkpoint). Resume with the model, data, settings and callbacks of the run
// that made them. `nabla train --out DIR --resume` is the same mechanism, with the checkpoints
// kept.
struct BackupAndRestoreOptions {
  int64_t every_epochs = 1;
  int64_t every_steps = 0;  // > 0: every N batches instead
  bool delete_checkpoint = true;
};
class BackupAndRestore : public Callback {
 public:
  explicit BackupAndRestore(std::string backup_dir, BackupAndRestoreOptions options = {});
  std::shared_ptr<const TrainingState> restore_training() override;
  void on_train_begin() override;
  void on_train_end(const Logs& logs) override;
  void on_epoch_begin(int64_t epoch) override;
  void on_epoch_end(int64_t epoch, Logs& logs) override;
  void on_batch_end(int64_t batch, const Logs& logs) override;
  void save_state(std::map<std::string, double>& values) const override;
  void restore_state(const std::map<std::string, double>& values,
                     const TrainingState& state) override;
  // The backups in the folder, newest first.
  std::vector<std::string> backups() const;

 private:
  std::string dir_;
  BackupAndRestoreOptions options_;
  std::unique_ptr<ModelCheckpoint> checkpoint_;
};

// Warns when gradients explode or vanish, per parameter and per layer, with the step: after each
// batch (every `every_steps` batches), before the next zero_grad, it takes the L2 norm of every
// parameter's gradient. One line per finding, on `out` (std::cerr when null):
//   nabla: warning: step 120: the gradient of dense_1.weight has norm 3.2e+05 (above 1e+03):
//   exploding gradients
//   nabla: warning: step 7: every gradient of layer dense has norm below 1e-08 (largest 2e-11):
//   vanishing gradients
// Parameters and layers are named as summary() names them. Each parameter warns of explosion,
// and each layer of vanishing, at most once per epoch, so that a diverging run does not flood.
// Frozen parameters (no gradient) are left out. The defaults: healthy per-parameter gradient
// norms are of order 1e-3 to 10, and Keras's clipnorm and PyTorch's clip_grad_norm_ are usually
// set at 1 to 5, so 1e3 is far beyond anything clipping would be meant to tame; below 1e-8 an
// update of learning rate 1e-3 moves no f32 weight of order 1e-2 or more at all.
struct GradientWatchOptions {
  int64_t every_steps = 1;
  double explode_threshold = 1e3;  // a parameter's gradient norm above it: exploding
  double vanish_threshold = 1e-8;  // every gradient norm of a layer below it: vanishing
  std::ostream* out = nullptr;     // where warnings go (null: std::cerr)
};
class GradientWatch : public Callback {
 public:
  explicit GradientWatch(GradientWatchOptions options = {});
  void on_train_begin() override;
  void on_epoch_begin(int64_t epoch) override;
  void on_batch_end(int64_t batch, const Logs& logs) override;
  // A resumed fit counts steps from the checkpoint's.
  void restore_state(const std::map<std::string, double>& values,
                     const TrainingState& state) override;
  int64_t warnings() const { return warnings_; }  // lines written since training began

 private:
  struct Watched {
    std::string name;  // "dense_1.weight"
    Tensor tensor;
    size_t layer;  // index into layers_
    bool warned = false;
  };
  struct Layer {
    std::string name;
    bool warned = false;
  };
  void check(int64_t step);
  void warn(int64_t step, const std::string& text);
  GradientWatchOptions options_;
  std::vector<Watched> parameters_;
  std::vector<Layer> layers_;
  int64_t global_step_ = 0;
  int64_t warnings_ = 0;
};

// ---- progress bar ----
// Keras's Progbar: "1875/1875 [==============================] - 3s 1ms/step - loss: 0.4970".
// verbose 1: redrawn in place with '\r' when `dynamic` (a terminal), at most every 50 ms;
// otherwise printed once, when the epoch ends. verbose 2: one short line per epoch
// ("1875/1875 - 3s - loss: 0.4970 - 3s/epoch - 1ms/step"). verbose 0: silent.
class ProgressBar {
 public:
  // The share of the time spent waiting for data above which the bar shows it.
  static constexpr double kDataWaitShown = 0.05;
  // target -1: unknown (a pipeline of unknown length), shown "N/Unknown" as Keras does.
  ProgressBar(int64_t target, int verbose, std::ostream& out, bool dynamic);
  // `current` steps done; `logs` hold the running values to show.
  void update(int64_t current, const Logs& logs);
  // The epoch's final line with all of `logs` (validation values included).
  void finish(const Logs& logs);
  // Ends a partially drawn line (before an error is reported), so that output stays readable.
  void abandon();
  // The share of the epoch's time so far spent waiting for data: shown (" - data wait: 12%")
  // when above kDataWaitShown, so that a slow input pipeline is seen.
  void set_data_wait(double share) { data_wait_ = share; }
  // The text of a line for `current` steps done after `elapsed` seconds (no control
  // characters, no newline). final: elapsed time and time per step instead of the ETA.
  std::string render(int64_t current, double elapsed, const Logs& logs, bool final) const;

 private:
  double seconds_since_start() const;
  int64_t target_;
  int verbose_;
  std::ostream& out_;
  bool dynamic_;
  int64_t start_ns_;
  double last_draw_ = -1;
  size_t last_width_ = 0;
  int64_t current_ = 0;
  bool line_open_ = false;  // a dynamic line is drawn without its newline
  double data_wait_ = 0;
};

// ---- the model ----
struct ValidationData {
  Tensor x{};
  Tensor y{};
};

// ---- training across processes ----
// What fit asks of a distributed strategy: src/dist/ implements it over MPI (dist::DataParallel,
// all-reduce of the gradients as PyTorch's DDP; dist::ParameterServer). Every process runs the
// same fit on the same data and settings; fit gives each training rank its part of every batch of
// batch_size * size() samples (data::DataLoaderOptions::shard_count), so batch_size is per
// process, and the strategy keeps the replicas in step. rank() and size() count training ranks.
class DistributedStrategy {
 public:
  virtual ~DistributedStrategy() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Once, before the first step: rank 0's parameter and buffer values on every rank.
  virtual void begin_training(nn::Module& module, optim::Optimizer& optimizer) = 0;
  // Before a step's backward: this rank holds `share` of the step's samples across ranks (its
  // gradient's weight in the average; 0 when its part of a short last batch is empty).
  virtual void begin_step(double share) = 0;
  // After the backward: the step's update. The gradients become the step's across all ranks (the
  // shares' weighted sum, which is the mean over all its samples), then optimizer.step().
  virtual void update(optim::Optimizer& optimizer) = 0;
  // At the end of each epoch, before validation: rank-local state made common (BatchNorm's
  // running statistics, updated from each rank's own samples, become their mean across ranks).
  virtual void synchronize_buffers(nn::Module& module) = 0;
  // Once the fit ends, normally or by an exception.
  virtual void end_training() = 0;
  // Element-wise sums across ranks, in place: the step's loss, the epoch's metric states.
  virtual void sum(std::vector<double>& values) = 0;
  // A rank that holds parameters for the others instead of training (a parameter server): fit
  // calls begin_training, then serve until every training rank is done, and returns no history.
  virtual bool trains() const { return true; }
  virtual void serve(nn::Module& /*module*/, optim::Optimizer& /*optimizer*/) {}
};
using DistributedStrategyPtr = std::shared_ptr<DistributedStrategy>;

struct FitOptions {
  int64_t epochs = 1;
  int64_t batch_size = 32;
  double validation_split = 0;       // holds out the last fraction of the samples (as Keras)
  ValidationData validation_data{};  // used instead of validation_split when x is defined
  bool shuffle = true;
  int64_t initial_epoch = 0;  // resume: epochs run from initial_epoch to epochs - 1
  int verbose = 1;            // 0 silent, 1 progress bar, 2 one line per epoch
  std::vector<CallbackPtr> callbacks{};
  uint64_t seed = 0;  // shuffle order of each epoch (and the augmentation's draws)
  // Random transforms of each training batch (data::random_crop, ...), applied in the loader's
  // background thread while the previous batch trains; null = none.
  data::AugmentationPtr augmentation{};
  // Continue from a checkpoint (Model::load_checkpoint, which restored the weights and the
  // optimizer): from its epoch and step, with its running figures, history, random generator
  // and callback states. With the same data, settings, callbacks and thread count, the run ends
  // bit for bit where one that never stopped ends. initial_epoch is ignored.
  std::shared_ptr<const TrainingState> resume{};
  // Data-parallel training across processes (dist::DataParallel); null = this process alone.
  // batch_size is then each process's; the step's loss and the epoch's figures are those of all
  // processes' samples (metrics from their summed state()), the same on every rank.
  DistributedStrategyPtr strategy{};
};

// Results of evaluate(): "loss" and every metric by name; for classification, the confusion
// matrix and per-class precision, recall and F1 with their macro averages.
struct EvaluationReport {
  std::map<std::string, double> metrics;
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]; empty if none
  std::vector<double> precision, recall, f1;    // per class
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;

  double operator[](const std::string& name) const;  // Error listing the names when absent
  bool is_classification() const { return !confusion.empty(); }
  // The metrics, then (classification) a per-class table and the confusion matrix.
  std::string to_string(const std::vector<std::string>& class_names = {}) const;
};

// Arguments of compile() that take a Keras name or an object.
struct OptimizerArg {
  OptimizerArg(const char* name) : name(name) {}             // NOLINT: implicit by design
  OptimizerArg(std::string name) : name(std::move(name)) {}  // NOLINT
  template <class O>
  OptimizerArg(std::unique_ptr<O> optimizer) : optimizer(std::move(optimizer)) {}  // NOLINT
  std::string name;
  std::unique_ptr<optim::Optimizer> optimizer;
};
struct LossArg {
  LossArg(const char* name) : loss(make_loss(name)) {}         // NOLINT
  LossArg(const std::string& name) : loss(make_loss(name)) {}  // NOLINT
  template <class L>
  LossArg(std::shared_ptr<L> loss) : loss(std::move(loss)) {}  // NOLINT
  LossPtr loss;
};
struct MetricArg {
  MetricArg(const char* name) : name(name) {}             // NOLINT
  MetricArg(std::string name) : name(std::move(name)) {}  // NOLINT
  template <class M>
  MetricArg(std::shared_ptr<M> metric) : metric(std::move(metric)) {}  // NOLINT
  std::string name;
  MetricPtr metric;
};

// compile()'s settings beyond the optimizer, losses and metrics.
struct CompileOptions {
  // "bf16" (or "bfloat16"): fit, evaluate and predict run in an Autocast scope
  // (nabla/autocast.hpp), their matrix products and convolutions in bf16 with fp32 accumulation
  // and master weights, everything else in fp32 (Keras's "mixed_bfloat16" policy); on a CPU
  // without bf16 instructions, a warning and fp32. "fp32" (the default): the caller's precision.
  std::string precision = "fp32";
};

class Model {
 public:
  explicit Model(nn::ModulePtr module, std::string name = "");
  // A Sequential of the layers (Keras's Sequential([...])). The initializer-list form makes
  // Model({layer}) a Sequential of one layer rather than the layer itself.
  explicit Model(std::vector<nn::ModulePtr> layers, std::string name = "");
  Model(std::initializer_list<nn::ModulePtr> layers, std::string name = "")
      : Model(std::vector<nn::ModulePtr>(layers), std::move(name)) {}
  // Keras's functional Model(inputs, outputs): an nn::Graph of the calls between them.
  Model(std::vector<nn::SymbolicTensor> inputs, std::vector<nn::SymbolicTensor> outputs,
        std::string name = "");
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  // Creates the parameters of lazy layers for inputs of `input_shape` (without the batch axis).
  // A graph model is built when it is made; build() then only checks the shape.
  void build(const Shape& input_shape);
  bool built() const { return built_; }
  // Freezes (trainable = false) or unfreezes the layers whose names, as summary() prints them
  // ("conv2d", "batch_normalization_1"; a graph model's node names), match the shell pattern
  // (`*`, `?`, `[...]`); returns how many matched, Error listing the names when none does. As in
  // Keras, the optimizer is chosen at compile(): compile after changing what is trainable.
  int64_t set_trainable(const std::string& pattern, bool trainable);
  const Shape& input_shape() const;   // the first input's, without the batch axis
  const Shape& output_shape() const;  // the first output's, batch axis included (1)
  size_t num_inputs() const { return input_shapes_.empty() ? 1 : input_shapes_.size(); }
  size_t num_outputs() const { return output_shapes_.empty() ? 1 : output_shapes_.size(); }
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }
  const std::vector<Shape>& output_shapes() const { return output_shapes_; }
  // Names of the outputs ("output" for a single-output Sequential): the prefixes of the
  // per-output losses and metrics in the logs of a model with several outputs ("label_loss").
  std::vector<std::string> output_names() const;

  // optimizer: name ("adam", "sgd", ...) with its defaults, or an object; loss: Keras name or
  // object; metrics: names or objects ("accuracy" and the loss are printed in every epoch).
  void compile(OptimizerArg optimizer = "rmsprop", LossArg loss = "sparse_categorical_crossentropy",
               std::vector<MetricArg> metrics = {}, const CompileOptions& options = {});
  // Several outputs (Keras's compile(loss=[...], loss_weights=[...])): one loss per output (or
  // one for all), the metrics computed for every output (by name), the loss minimized being
  // sum_i loss_weights[i] * loss_i (weights 1 when empty).
  void compile(OptimizerArg optimizer, std::vector<LossArg> losses, std::vector<MetricArg> metrics,
               std::vector<double> loss_weights = {}, const CompileOptions& options = {});
  bool compiled() const;
  // The precision fit, evaluate and predict run in: bf16 when compiled for it on a CPU that has
  // it, else the caller's (compute_precision()).
  Precision precision() const;

  History fit(const Tensor& x, const Tensor& y, const FitOptions& options = {});
  EvaluationReport evaluate(const Tensor& x, const Tensor& y, int64_t batch_size = 32,
                            int verbose = 1);
  // Outputs for all samples, as the network computes them (probabilities after a softmax).
  Tensor predict(const Tensor& x, int64_t batch_size = 32);
  // Several inputs and outputs, in the order of the graph's inputs and outputs. (Validation
  // then comes from options.validation_split; augmentation takes a single image input.)
  History fit(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
              const FitOptions& options = {});
  EvaluationReport evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                            int64_t batch_size = 32, int verbose = 1);
  std::vector<Tensor> predict(const std::vector<Tensor>& x, int64_t batch_size = 32);
  // Post-training int8 quantization (nabla/quantize.hpp): calibrates on the first
  // options.calibration_samples of x (training data, as predict takes it) and converts the Dense
  // and Conv layers; predict and evaluate then run them in int8. fit() returns them to fp32.
  QuantizationReport quantize_int8(const Tensor& x, const QuantizeOptions& options = {});
  QuantizationReport quantize_int8(const std::vector<Tensor>& x,
                                   const QuantizeOptions& options = {});
  // Trains on a streaming pipeline's batches (data::Pipeline, nabla/pipeline.hpp, ending in
  // batch()): epoch e reads the pipeline's iteration e, so its shuffles draw anew each epoch and
  // runs repeat. The pipeline does the batching, shuffling and augmenting: options.batch_size
  // is only validation's batch size, and shuffle, seed, augmentation and validation_split do not
  // apply (validation_data does). The model is built from the first batch's shape.
  History fit(const data::Pipeline& train, const FitOptions& options = {});
  // The share of the last fit()'s training time spent waiting for the next batch (the progress
  // bar shows it when above kDataWaitShown): near 0 when the data keeps up with the steps.
  double data_wait_share() const { return data_wait_share_; }

  // Keras's table: Layer (type), Output Shape, Param #, then total/trainable/non-trainable; a
  // graph model adds the "Connected to" column.
  std::string summary() const;

  // Weights as safetensors with the model spec (and the compile settings) in the metadata
  // (nabla::io); load() rebuilds and compiles the network from it. Optimizer state is not saved.
  // A module that no spec can describe (a custom layer) is saved without one, with a warning on
  // stderr naming the layer.
  void save(const std::string& path, std::map<std::string, std::string> metadata = {}) const;
  void load_weights(const std::string& path);
  // `metadata`, when given, receives the file's metadata (the spec included).
  static Model load(const std::string& path,
                    std::map<std::string, std::string>* metadata = nullptr);
  // A full checkpoint: what save() writes, plus the optimizer's state (tensors named
  // io::kOptimizerStatePrefix + key) and `state` (JSON under io::kTrainingStateKey), with a
  // checksum. It loads as a model too (load, load_weights, nabla evaluate).
  void save_checkpoint(const std::string& path, const TrainingState& state,
                       std::map<std::string, std::string> metadata = {}) const;
  // Loads a full checkpoint's weights and optimizer state into this compiled model and returns
  // the training state for FitOptions::resume. A damaged file, or one from another model or
  // optimizer, is an Error naming the file, and leaves the model and optimizer as they were.
  TrainingState load_checkpoint(const std::string& path,
                                std::map<std::string, std::string>* metadata = nullptr);
  // Where the current fit() stands, for callbacks that checkpoint: after on_batch_end, the
  // batches done; in on_epoch_end, the epoch finished (with its logs as the callbacks before
  // left them). Error outside fit().
  TrainingState training_state() const;

  nn::Module& module() const { return *module_; }
  // True when the first layer is a Rescaling: the model then takes raw integer data (pixel
  // bytes) and scales it itself, so the data can stay in memory 4x smaller than as f32.
  bool takes_raw_inputs() const;
  const nn::ModulePtr& module_ptr() const { return module_; }
  optim::Optimizer& optimizer() const;  // Error before compile()
  const Loss& loss() const;             // the first output's; Error before compile()
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  // Callbacks call this to end fit() after the current batch.
  void stop_training() { stop_training_ = true; }
  bool stop_training_requested() const { return stop_training_; }

 private:
  struct Compiled;  // optimizer, losses, metrics, and the plan that skips a final softmax
  struct StepResult;
  Compiled& compiled_state(const std::string& where) const;
  void check_inputs(const std::vector<Tensor>& x, const std::vector<Tensor>* y,
                    const std::string& where) const;
  Tensor batch_inputs(const Tensor& batch, size_t input) const;
  void ensure_built(const std::vector<Tensor>& x, const std::string& where);
  void attach_parameters();
  std::vector<Tensor> prepare_targets(const std::vector<Tensor>& y, const std::string& where) const;
  // The outputs for a batch; for_loss: pre-activation where the loss folds the activation in
  // (`logits` tells which).
  std::vector<Tensor> forward_outputs(const std::vector<Tensor>& x, bool for_loss,
                                      std::vector<bool>& logits);
  // One epoch from batch progress_.step on (0, or a resumed step with progress_'s figures).
  void run_epoch(data::DataLoader& loader, const std::vector<Tensor>& x,
                 const std::vector<Tensor>& y, int64_t epochs, ProgressBar& bar,
                 const std::vector<CallbackPtr>& callbacks, Logs& logs);
  // `metadata` with the model spec and compile settings added (unless given), for save().
  std::map<std::string, std::string> with_spec(const std::string& path,
                                               std::map<std::string, std::string> metadata) const;
  // Error when `state` cannot continue this fit (steps per epoch, callbacks, outputs, metrics).
  void check_resume(const TrainingState& state, int64_t steps, size_t callbacks) const;
  // fit()'s loop over the epochs, once the data is in `loader`: `x`/`y` are empty when the loader
  // yields the batches, else the tensors its indices gather.
  History fit_loop(data::DataLoader& loader, const std::vector<Tensor>& x,
                   const std::vector<Tensor>& y, const std::vector<Tensor>& val_x,
                   const std::vector<Tensor>& val_y, const FitOptions& options);
  // Sets the epoch's running logs from progress_ and the metrics.
  void fill_epoch_logs(Logs& logs) const;
  // Data-parallel fit: the metrics' states summed across ranks, then the epoch's logs from them.
  void merge_epoch_metrics(Logs& logs);
  // Loss and metrics over (x, targets) in eval mode; fills the confusion matrix of `report`.
  Logs evaluate_logs(const std::vector<Tensor>& x, const std::vector<Tensor>& targets,
                     int64_t batch_size, EvaluationReport* report, ProgressBar* bar);

  nn::ModulePtr module_;
  nn::Graph* graph_ = nullptr;  // module_ when it is a graph model
  std::string name_;
  bool built_ = false;
  std::vector<Shape> input_shapes_;   // without the batch axis
  std::vector<Shape> output_shapes_;  // batch axis included (1)
  // The most samples predict() runs in one forward (inference_chunk()); 0 until computed.
  int64_t inference_chunk_ = 0;
  int64_t inference_chunk();
  std::unique_ptr<Compiled> compiled_;
  bool stop_training_ = false;
  // During fit(): the progress training_state() reports (its epoch, step, running figures and
  // the finished epochs' history), the callbacks, and the epoch's logs once it has ended.
  TrainingState progress_;
  const std::vector<CallbackPtr>* fit_callbacks_ = nullptr;
  const Logs* ended_epoch_logs_ = nullptr;
  DistributedStrategy* strategy_ = nullptr;          // FitOptions::strategy during fit()
  double data_wait_share_ = 0;                       // data_wait_share()
  double data_wait_seconds_ = 0, step_seconds_ = 0;  // the fit's, so far
};

using Sequential = Model;

}  // namespace nabla::train

namespace nabla::train {
// ---- text-task evaluation (src/train/text_evaluation.cpp) ----
// Share of rows where `decoded` (greedy decoding: ids, then 0 after the end) equals `targets`
// (ids, the end id 2, then padding 0) -- exact-sequence accuracy of a seq2seq model.
double exact_sequence_accuracy(const Tensor& decoded, const Tensor& targets);

// Classification baselines on padded token ids [N, T] (0 = padding) with labels [N]: predicting
// the most frequent training class, and a linear softmax classifier on bag-of-words counts
// (trained with nabla: Adam, `epochs` epochs, seeded). Scores on the test part.
struct BaselineScores {
  double accuracy = 0;
  double macro_f1 = 0;
};
BaselineScores majority_class_baseline(const Tensor& train_labels, const Tensor& test_labels,
                                       int64_t classes);
BaselineScores bag_of_words_baseline(const Tensor& train_ids, const Tensor& train_labels,
                                     const Tensor& test_ids, const Tensor& test_labels,
                                     int64_t vocab_size, int64_t classes, int64_t epochs = 10,
                                     uint64_t seed = 0);

// ---- principal component analysis (src/train/pca.cpp) ----
// The baseline an autoencoder is judged against: the best linear code of the same size. pca(x, k)
// fits the mean and the top-k principal directions of the rows of x ([N, D], or [N, ...]
// flattened to [N, D]; any numeric dtype): the covariance by nabla's matmul over chunks of rows,
// summed in double, then its top-k eigenvectors by subspace iteration with Rayleigh-Ritz steps.
// Each component's sign makes its largest entry positive (as scikit-learn's svd_flip), so a seed
// cannot flip it. Error unless 1 <= k <= D and N >= 2.
struct PCA {
  Tensor mean;                    // [D], f32
  Tensor components;              // [k, D], f32: orthonormal rows, by decreasing variance
  std::vector<double> variances;  // the variance along each component (unbiased, / (N - 1))
  int64_t iterations = 0;         // subspace iterations until the variances settled

  // [N, D] (or [N, ...]) -> the codes [N, k].
  Tensor transform(const Tensor& x) const;
  // The rows of x projected on the components, as [N, D] f32: mean + codes * components.
  Tensor reconstruct(const Tensor& x) const;
};
PCA pca(const Tensor& x, int64_t components, uint64_t seed = 0);

// ---- samples as a model's inputs (src/train/input_shape.cpp) ----
// `samples` [N, ...] viewed as [N, input_shape...] when each sample holds as many values as
// input_shape: Fashion-MNIST's [N, 28, 28] as [N, 1, 28, 28] for a convolutional network, where
// Keras users add the channel axis by hand. A view (no copy) for contiguous samples; unchanged
// for an empty input_shape (a model not built yet). Otherwise an Error that starts with `where`
// and names both shapes.
Tensor view_as_input_shape(const Tensor& samples, const Shape& input_shape,
                           const std::string& where);

// ---- sampling from a language model (src/train/text_generation.cpp) ----
// Continues `prompt` (token ids) by `length` tokens drawn from the model's next-token
// distribution sharpened by `temperature` (p^(1/T), renormalized; T -> 0 is greedy). `model` maps
// ids [1, T] to next-token scores [1, T, V] (probabilities after a final softmax, else logits).
// A Sequential of embeddings, recurrent layers and per-step layers is stepped one token at a
// time with the recurrent states carried (linear in the length); any other model is re-run on
// the last `max_context` tokens for each new token. Only ids in [first_id, vocab_size) are drawn
// (vocab_size 0: every score; first_id 1 skips the padding id). Returns the new tokens only;
// on_token, when set, sees each one as soon as it is drawn (to print a stream).
struct SamplingOptions {
  int64_t length = 300;
  double temperature = 1.0;
  int64_t vocab_size = 0;
  int64_t first_id = 1;
  int64_t max_context = 256;
  std::function<void(int64_t token)> on_token = nullptr;
};
std::vector<int64_t> sample_tokens(nn::Module& model, const std::vector<int64_t>& prompt,
                                   const SamplingOptions& options, Generator& gen);
}  // namespace nabla::train

namespace nabla {
using train::Model;
using train::Sequential;
}  // namespace nabla
