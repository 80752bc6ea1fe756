// Shared pieces of the tasks that train with a loop of their own (the variational autoencoder,
// the GANs) instead of Model::fit: the run's callbacks driven epoch by epoch, the seeded sample
// order, and images as pixels and pictures.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nabla/tasks.hpp"

namespace nabla::tasks::internal {

// Drives FitOptions' callbacks and progress bar for a task's own loop, and collects the History.
// Full checkpoints (ModelCheckpoint with training state, BackupAndRestore) describe where a fit()
// stands and cannot describe such a loop: they are left out (so `nabla train --resume` finds no
// checkpoint and starts over), and FitOptions::resume is an Error naming the task. The other
// callbacks (CSV, JSON and norm logs, TensorBoard, early stopping on the loop's own values) see the
// loop's logs as they see fit()'s.
class TaskLoop {
 public:
  TaskLoop(train::Model& model, const train::FitOptions& fit, const std::string& task,
           int64_t steps_per_epoch);
  void begin();
  void epoch_begin(int64_t epoch);
  // `logs` holds the epoch's running means so far.
  void batch_end(int64_t batch, const train::Logs& logs);
  void epoch_end(int64_t epoch, train::Logs& logs);
  train::History end();
  bool stop_requested() const;
  // The order of the n training samples in `epoch`: a permutation drawn from the fit's seed (the
  // identity without shuffling), the same for a seed at any thread count.
  Tensor order(int64_t epoch, int64_t n) const;

 private:
  train::Model& model_;
  const train::FitOptions& fit_;
  int64_t steps_;
  std::vector<train::CallbackPtr> callbacks_;
  std::unique_ptr<train::ProgressBar> bar_;
  train::History history_;
  train::Logs last_;
};

// The tasks that read Fashion-MNIST-like images (IDX files) refuse a spec with a "data" section
// (text): "the <task> task <does> (IDX files in the MNIST layout, --data DIR) and cannot use the
// spec's "data" section (<type>); give the spec no "data" section".
void check_image_data(const io::ModelSpec& spec, const std::string& task, const std::string& does);
// Pixels in [0, 1] as f32: raw bytes divided by 255, floats as they are.
Tensor unit_pixels(const Tensor& images);
// The data of a task whose model gives back its input (the autoencoders, the VAE): the images
// as the model takes them, and their pixels in [0, 1] shaped as its output as the targets. An
// output that does not hold one value per pixel is an Error naming `task`.
TaskData image_reconstruction_data(const data::MnistData& images, const train::Model& model,
                                   const std::string& folder, const std::string& task);
// Values per sample of a [N, ...] shape.
int64_t values_per_sample(const Shape& shape);
// Samples [n, ...] holding height * width values each, as pictures [n, 1, H, W] in [0, 1]
// (clamped, NaN as 0) scaled up `scale` times for the eye.
Tensor pictures_of(const Tensor& samples, int64_t height, int64_t width, double scale = 2);
// The standard normal distribution's quantile function (inverse CDF) at p in (0, 1).
double normal_quantile(double p);

// For a task that runs its own loop (Task::run_own: no validation data, no callbacks, no
// resumable checkpoints): one error, "`loop` and does not take --resume, --freeze, ...", naming
// the settings of Model::fit's runs that `o` was given, and the flags in `also` (those the caller
// found given that its own loop has no use for either).
void reject_fit_only_options(const RunOptions& o, const std::string& loop,
                             std::vector<std::string> also = {});

}  // namespace nabla::tasks::internal
