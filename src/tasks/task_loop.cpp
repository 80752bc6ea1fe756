// Shared pieces of the tasks with a training loop of their own (see task_loop.hpp).
#include "tasks/task_loop.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "nabla/ops.hpp"

namespace nabla::tasks::internal {

TaskLoop::TaskLoop(train::Model& model, const train::FitOptions& fit, const std::string& task,
                   int64_t steps_per_epoch)
    : model_(model), fit_(fit), steps_(steps_per_epoch) {
  NABLA_CHECK(fit.resume == nullptr, "--resume: the ", task, " task trains with a loop of its ",
              "own, which full checkpoints cannot resume; train it again from the start");
  for (const train::CallbackPtr& callback : fit.callbacks) {
    if (dynamic_cast<const train::ModelCheckpoint*>(callback.get()) != nullptr ||
        dynamic_cast<const train::BackupAndRestore*>(callback.get()) != nullptr) {
      continue;
    }
    callbacks_.push_back(callback);
  }
}

void TaskLoop::begin() {
  for (const train::CallbackPtr& callback : callbacks_) {
    callback->set_model(&model_);
    callback->on_train_begin();
  }
}

void TaskLoop::epoch_begin(int64_t epoch) {
  if (fit_.verbose > 0) std::cout << "Epoch " << epoch + 1 << "/" << fit_.epochs << std::endl;
  bar_ = std::make_unique<train::ProgressBar>(steps_, fit_.verbose, std::cout,
                                              fit_.verbose == 1 && isatty(STDOUT_FILENO) == 1);
  for (const train::CallbackPtr& callback : callbacks_) callback->on_epoch_begin(epoch);
}

void TaskLoop::batch_end(int64_t batch, const train::Logs& logs) {
  bar_->update(batch + 1, logs);
  for (const train::CallbackPtr& callback : callbacks_) callback->on_batch_end(batch, logs);
}

void TaskLoop::epoch_end(int64_t epoch, train::Logs& logs) {
  for (const train::CallbackPtr& callback : callbacks_) callback->on_epoch_end(epoch, logs);
  bar_->finish(logs);
  history_.epoch.push_back(epoch);
  for (const auto& [name, value] : logs.items()) history_.history[name].push_back(value);
  last_ = logs;
}

train::History TaskLoop::end() {
  for (const train::CallbackPtr& callback : callbacks_) callback->on_train_end(last_);
  return history_;
}

bool TaskLoop::stop_requested() const { return model_.stop_training_requested(); }

Tensor TaskLoop::order(int64_t epoch, int64_t n) const {
  if (!fit_.shuffle) return arange(static_cast<double>(n));
  Generator gen(fit_.seed * 1000003 + static_cast<uint64_t>(epoch));
  return randperm(n, &gen);
}

void check_image_data(const io::ModelSpec& spec, const std::string& task, const std::string& does) {
  NABLA_CHECK(!spec.data, "the ", task, " task ", does, " (IDX files in the MNIST layout, --data ",
              "DIR) and cannot use the spec's \"data\" section (", spec.data ? spec.data->type : "",
              "); give the spec no \"data\" section");
}

Tensor unit_pixels(const Tensor& images) {
  if (images.dtype() != DType::u8) return images.to(DType::f32);
  Tensor pixels = images.to(DType::f32).contiguous();
  float* p = pixels.data<float>();
  const auto scale = static_cast<float>(1.0 / 255);
  for (int64_t i = 0; i < pixels.numel(); ++i) p[i] *= scale;
  return pixels;
}

TaskData image_reconstruction_data(const data::MnistData& images, const train::Model& model,
                                   const std::string& folder, const std::string& task) {
  const Shape& output = model.output_shape();
  const int64_t pixels = values_per_sample(images.train_images.shape());
  NABLA_CHECK(model.num_outputs() == 1 && values_per_sample(output) == pixels, "the ", task,
              " task needs a model whose output holds one value per pixel (",
              images.train_images.size(1), " x ", images.train_images.size(2), " = ", pixels,
              "), got output shape ", output);
  const Shape target_shape(output.begin() + 1, output.end());
  TaskData out;
  out.x_train = train::view_as_input_shape(images.train_images, model.input_shape(),
                                           "the training images in " + folder);
  out.x_test = train::view_as_input_shape(images.test_images, model.input_shape(),
                                          "the test images in " + folder);
  out.y_train = train::view_as_input_shape(unit_pixels(images.train_images), target_shape,
                                           "the training targets");
  out.y_test =
      train::view_as_input_shape(unit_pixels(images.test_images), target_shape, "the test targets");
  out.source = folder;
  out.dir = folder;
  return out;
}

int64_t values_per_sample(const Shape& shape) {
  int64_t size = 1;
  for (size_t i = 1; i < shape.size(); ++i) size *= shape[i];
  return size;
}

Tensor pictures_of(const Tensor& samples, int64_t height, int64_t width, double scale) {
  NABLA_CHECK(height * width == values_per_sample(samples.shape()), "cannot draw samples of ",
              "shape ", samples.shape(), " as ", height, " x ", width, " images");
  Tensor pictures = samples.to(DType::f32).contiguous().clone();
  float* p = pictures.data<float>();
  for (int64_t i = 0; i < pictures.numel(); ++i)
    p[i] = std::isnan(p[i]) ? 0 : std::clamp(p[i], 0.f, 1.f);
  return upsample(pictures.reshape({samples.size(0), 1, height, width}), scale);
}

double normal_quantile(double p) {
  NABLA_CHECK(p > 0 && p < 1, "normal_quantile: expected p in (0, 1), got ", p);
  // Bisection on the CDF 0.5 * erfc(-x / sqrt(2)): 100 halvings of [-40, 40] reach double
  // precision.
  double low = -40, high = 40;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (low + high);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? low : high) = mid;
  }
  return 0.5 * (low + high);
}

void reject_fit_only_options(const RunOptions& o, const std::string& loop,
                             std::vector<std::string> also) {
  std::vector<std::string> given;
  if (o.resume) given.push_back("--resume");
  if (!o.init_from.empty()) given.push_back("--init-from");
  if (!o.freeze.empty()) given.push_back("--freeze");
  if (!o.classes.empty()) given.push_back("--classes");
  if (!o.save_best.empty()) given.push_back("--save-best");
  if (!o.tensorboard.empty()) given.push_back("--tensorboard");
  if (o.early_stopping) given.push_back("--early-stopping");
  if (o.reduce_lr_on_plateau) given.push_back("--reduce-lr-on-plateau");
  if (o.validation_split && *o.validation_split > 0) given.push_back("--validation-split");
  if (o.augmentation) given.push_back("--augment");
  if (o.lr_schedule) given.push_back("--lr-schedule");
  if (o.loss) given.push_back("--loss");
  given.insert(given.end(), also.begin(), also.end());
  if (given.empty()) return;
  std::string list;
  for (const std::string& flag : given) list += (list.empty() ? "" : ", ") + flag;
  NABLA_CHECK(false, loop, " and does not take ", list);
}

}  // namespace nabla::tasks::internal
