// TensorBoard: event files that TensorBoard shows (`tensorboard --logdir DIR`). SummaryWriter
// writes them as PyTorch's torch.utils.tensorboard.SummaryWriter does (scalars, histograms,
// images, text); the TensorBoard callback logs a fit() as Keras's callback does (epoch_loss ... in
// DIR/train and DIR/validation, weight and gradient histograms); read_events reads any event file
// back. Files are TFRecord files of TensorFlow's Event messages (data::read_tfrecords).
// SummaryWriter::add_graph writes a model's layers as a GraphDef for TensorBoard's Graphs tab.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nabla/tensor.hpp"
#include "nabla/train.hpp"

namespace nabla::train {

// One event file in `log_dir`. Events are buffered and reach the file at flush(), when the buffer
// fills, and at close() or destruction; TensorBoard reads a file while it grows.
class SummaryWriter {
 public:
  // Creates `log_dir` (and its parents) when missing and starts a new file in it,
  // events.out.tfevents.<unix time>.<host name> (".1", ".2"... added when that name is taken),
  // whose first event holds the wall time, step 0 and file_version "brain.Event:2".
  explicit SummaryWriter(const std::string& log_dir);
  ~SummaryWriter();  // flushes and closes; an error at that point is dropped (call close() to see
                     // it)
  SummaryWriter(SummaryWriter&&) noexcept;
  SummaryWriter& operator=(SummaryWriter&&) noexcept;

  // A point of the curve `tag` (stored as a 32-bit float, as TensorBoard's simple_value).
  void add_scalar(const std::string& tag, double value, int64_t step = 0);
  // min, max, count, sum and sum of squares of `values` (any shape, a floating or integer dtype,
  // finite), and their counts in TensorFlow's default buckets: edges 0 and +-1e-12 * 1.1^k up to
  // 1e20, as PyTorch's bins="tensorflow"; runs of empty buckets at both ends are left out.
  void add_histogram(const std::string& tag, const Tensor& values, int64_t step = 0);
  // An image [C, H, W] (C = 1, 3 or 4) or [H, W], u8 or floating in [0, 1], stored as PNG
  // (data::write_png's rules); data::image_grid makes one image of many.
  void add_image(const std::string& tag, const Tensor& image, int64_t step = 0);
  // Text (TensorBoard renders it as Markdown) under the tag `tag`/text_summary, as PyTorch writes
  // it: a string tensor with the plugin name "text".
  void add_text(const std::string& tag, const std::string& text, int64_t step = 0);
  // The model's layer graph for TensorBoard's Graphs tab: one node per layer (op = its type,
  // inputs = the layers it reads, attrs _output_shapes with the batch axis as -1 and
  // "parameters"), inside a scope named after the model; a Sequential's input is a node of its
  // own. The model must be built.
  void add_graph(const Model& model);

  void flush();  // hands every event written so far to the operating system
  void close();  // flush, then close the file; a later add_* is an Error

  const std::string& log_dir() const;
  const std::string& path() const;  // the event file

 private:
  struct State;
  State& state(const char* who) const;  // Error when moved from
  std::unique_ptr<State> state_;
};

struct TensorBoardOptions {
  // Every `histogram_freq` epochs, a histogram of each parameter ("<name>/histogram") and of its
  // gradient from the epoch's last batch ("<name>/gradient"); 0: none.
  int64_t histogram_freq = 1;
  // 0 (Keras's "epoch"): scalars once per epoch. N > 0: also the running values of the batch
  // logs as batch_<name> every N batches, at step = batches trained since fit() began.
  int64_t update_freq = 0;
  // The model's layer graph (SummaryWriter::add_graph) in the train file when training begins.
  bool write_graph = true;
};

// Keras's TensorBoard callback. At each epoch's end, every value of the epoch's logs goes to
// `log_dir`/train as epoch_<name> (epoch_loss, epoch_accuracy) and every val_<name> to
// `log_dir`/validation as epoch_<name>, at step = epoch (from 0); the optimizer's learning rate as
// epoch_learning_rate (Keras's name; the logs' "lr" holds the same value and is not written
// twice). Both files are flushed at every epoch's end, so a crash loses no finished epoch.
class TensorBoard : public Callback {
 public:
  explicit TensorBoard(std::string log_dir = "logs", TensorBoardOptions options = {});
  ~TensorBoard() override;
  void on_train_begin() override;
  void on_batch_end(int64_t batch, const Logs& logs) override;
  void on_epoch_end(int64_t epoch, Logs& logs) override;
  void on_train_end(const Logs& logs) override;

 private:
  void write_histograms(int64_t epoch);
  std::string log_dir_;
  TensorBoardOptions options_;
  std::unique_ptr<SummaryWriter> train_writer_;
  std::unique_ptr<SummaryWriter> validation_writer_;  // made at the first val_ value
  int64_t batches_ = 0;                               // trained since on_train_begin
  double learning_rate_ = 0;                          // the optimizer's, at the last batch
};

// ---- reading event files back ----
struct HistogramSummary {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  std::vector<double> bucket_limit;  // bucket[i] counts values up to bucket_limit[i]
  std::vector<double> bucket;
};

struct ImageSummary {
  int64_t height = 0, width = 0, channels = 0;  // channels: TensorFlow's colorspace
  std::string encoded;                          // the PNG file's bytes
};

struct SummaryValue {
  enum class Kind { scalar, histogram, image, text, other };
  std::string tag;
  Kind kind = Kind::other;
  std::string plugin;  // the metadata's plugin name ("text"), if any
  double scalar = 0;   // simple_value, or a one-element float tensor
  HistogramSummary histogram;
  ImageSummary image;
  std::string text;  // the first string of a text summary's tensor
};

struct GraphNodeSummary {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;
  Shape output_shape;      // the first of _output_shapes (-1: any size), if any
  int64_t parameters = 0;  // the "parameters" attr nabla writes
};

struct TensorBoardEvent {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;  // set in a file's first event
  std::vector<SummaryValue> values;
  std::vector<GraphNodeSummary> graph;  // the nodes of a graph event
};

// Every event of an event file, in order (TFRecords verified as data::read_tfrecords does). A
// record that is not an Event message is an Error naming the file and the record's byte offset;
// fields nabla does not know (graphs, audio) are skipped.
std::vector<TensorBoardEvent> read_events(const std::string& path);

}  // namespace nabla::train
