// The TensorBoard callback: Keras's layout (log_dir/train and log_dir/validation, epoch_<name>
// and batch_<name> tags, "<weight>/histogram"), written through SummaryWriter.
#include <filesystem>

#include "nabla/tensorboard.hpp"

namespace nabla::train {
namespace {

// The learning rate under Keras's tag: the logs' "lr" (LearningRateScheduler's) is the same value.
constexpr const char* kLearningRate = "learning_rate";

}  // namespace

TensorBoard::TensorBoard(std::string log_dir, TensorBoardOptions options)
    : log_dir_(std::move(log_dir)), options_(options) {
  NABLA_CHECK(!log_dir_.empty(), "TensorBoard: expected a log folder, got an empty path");
  NABLA_CHECK(options_.histogram_freq >= 0, "TensorBoard: histogram_freq must be >= 0, got ",
              options_.histogram_freq);
  NABLA_CHECK(options_.update_freq >= 0,
              "TensorBoard: update_freq must be >= 0 (0: once per epoch), got ",
              options_.update_freq);
}

TensorBoard::~TensorBoard() = default;

void TensorBoard::on_train_begin() {
  // Made here, before the first epoch, so that an unwritable folder stops fit() at once.
  train_writer_ =
      std::make_unique<SummaryWriter>((std::filesystem::path(log_dir_) / "train").string());
  validation_writer_.reset();
  batches_ = 0;
  learning_rate_ = model().optimizer().lr();
  if (options_.write_graph) train_writer_->add_graph(model());
}

void TensorBoard::on_batch_end(int64_t /*batch*/, const Logs& logs) {
  ++batches_;
  // The rate this batch trained with: a scheduler stepped at the epoch's end changes the
  // optimizer's before the epoch's scalars are written.
  learning_rate_ = model().optimizer().lr();
  if (options_.update_freq == 0 || batches_ % options_.update_freq != 0) return;
  for (const auto& [name, value] : logs.items()) {
    train_writer_->add_scalar("batch_" + name, value, batches_);
  }
  train_writer_->add_scalar(std::string("batch_") + kLearningRate, learning_rate_, batches_);
}

void TensorBoard::on_epoch_end(int64_t epoch, Logs& logs) {
  for (const auto& [name, value] : logs.items()) {
    if (name == "lr") continue;
    if (name.starts_with("val_")) {
      if (validation_writer_ == nullptr) {
        validation_writer_ = std::make_unique<SummaryWriter>(
            (std::filesystem::path(log_dir_) / "validation").string());
      }
      validation_writer_->add_scalar("epoch_" + name.substr(4), value, epoch);
    } else {
      train_writer_->add_scalar("epoch_" + name, value, epoch);
    }
  }
  train_writer_->add_scalar(std::string("epoch_") + kLearningRate, learning_rate_, epoch);
  if (options_.histogram_freq > 0 && epoch % options_.histogram_freq == 0) write_histograms(epoch);
  // Every epoch reaches the files now: a crash later loses nothing already logged.
  train_writer_->flush();
  if (validation_writer_ != nullptr) validation_writer_->flush();
}

void TensorBoard::on_train_end(const Logs& /*logs*/) {
  train_writer_->close();
  if (validation_writer_ != nullptr) validation_writer_->close();
}

// Each parameter, and its gradient from the epoch's last batch (zero_grad runs at the start of a
// step, so the gradients are still there when the epoch ends).
void TensorBoard::write_histograms(int64_t epoch) {
  for (const auto& [name, parameter] : model().module().named_parameters()) {
    if (parameter.numel() == 0) continue;
    train_writer_->add_histogram(name + "/histogram", parameter, epoch);
    const Tensor grad = parameter.grad();
    if (grad.defined()) train_writer_->add_histogram(name + "/gradient", grad.to_dense(), epoch);
  }
}

}  // namespace nabla::train
