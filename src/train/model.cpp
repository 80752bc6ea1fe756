// Model: compile, fit, evaluate, predict. The training step is kept lean (no strings or maps are
// built per step; metrics read the outputs' memory directly), because at an MLP's batch of 32 the
// step takes ~100 us and anything extra shows.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iostream>

#include "nabla/data.hpp"
#include "nabla/train.hpp"
#include "train/format.hpp"
#include "train/internal.hpp"

namespace nabla::train {

namespace {

// Restores a module's train/eval mode when leaving a scope (also on errors).
class ModeGuard {
 public:
  ModeGuard(nn::Module& module, bool training) : module_(module), was_(module.is_training()) {
    module_.train(training);
  }
  ~ModeGuard() { module_.train(was_); }
  ModeGuard(const ModeGuard&) = delete;
  ModeGuard& operator=(const ModeGuard&) = delete;

 private:
  nn::Module& module_;
  bool was_;
};

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Finds a final `activation` that can be skipped, looking into the last layer of nested
// Sequentials; fills the modules to run before it.
bool plan_fused_head(nn::Module& root, const std::string& activation,
                     std::vector<nn::Module*>& body, nn::Linear*& head) {
  body.clear();
  head = nullptr;
  nn::Module* current = &root;
  while (auto* sequential = dynamic_cast<nn::Sequential*>(current)) {
    if (sequential->size() == 0) return false;
    for (size_t i = 0; i + 1 < sequential->size(); ++i) {
      body.push_back(sequential->layers()[i].get());
    }
    current = sequential->layers().back().get();
  }
  if (auto* layer = dynamic_cast<nn::Activation*>(current)) {
    return lowercase(layer->name()) == activation;
  }
  if (auto* linear = dynamic_cast<nn::Linear*>(current)) {
    if (lowercase(linear->activation()) != activation) return false;
    head = linear;
    return true;
  }
  return false;
}

std::string default_name(const nn::Module& module) {
  return internal::snake_case(module.type_name());
}

bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }

Shape without_batch_axis(const Shape& shape) { return Shape(shape.begin() + 1, shape.end()); }

Shape with_batch_axis(const Shape& sample_shape) {
  Shape shape{1};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  return shape;
}

void check_same_samples(const Tensor& x, const Tensor& y, const std::string& where) {
  NABLA_CHECK(y.defined() && y.dim() >= 1, where, ": expected targets with a sample axis, got ",
              y.defined() ? "a 0-d tensor" : "none");
  NABLA_CHECK(x.size(0) == y.size(0), where, ": x holds ", x.size(0), " samples but y holds ",
              y.size(0));
}

}  // namespace

Model::Model(nn::ModulePtr module, std::string name)
    : module_(std::move(module)), name_(std::move(name)) {
  NABLA_CHECK(module_ != nullptr, "Model: expected a module, got null");
  if (name_.empty()) name_ = default_name(*module_);
}

Model::Model(std::vector<nn::ModulePtr> layers, std::string name) {
  for (size_t i = 0; i < layers.size(); ++i) {
    NABLA_CHECK(layers[i] != nullptr, "Model: layer ", i, " is null");
  }
  module_ = std::make_shared<nn::Sequential>(std::move(layers));
  name_ = name.empty() ? "sequential" : std::move(name);
}

Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

void Model::build(const Shape& input_shape) {
  for (int64_t size : input_shape) {
    NABLA_CHECK(size > 0, "build: input shape ", input_shape,
                " must have positive sizes (without the batch axis)");
  }
  output_shape_ = module_->build(input_shape);
  input_shape_ = input_shape;
  built_ = true;
  if (compiled_) attach_parameters();
}

void Model::attach_parameters() {
  optim::Optimizer& optimizer = *compiled_->optimizer;
  // An optimizer made on the parameters already (PyTorch style) keeps them and its state.
  if (!optimizer.parameters().empty()) return;
  std::vector<Tensor> trainable;
  for (const Tensor& p : module_->parameters()) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  optimizer.set_parameters(std::move(trainable));
}

void Model::compile(OptimizerArg optimizer, LossArg loss, std::vector<MetricArg> metrics) {
  auto compiled = std::make_unique<Compiled>();
  compiled->optimizer =
      optimizer.optimizer ? std::move(optimizer.optimizer) : optim::make_optimizer(optimizer.name);
  NABLA_CHECK(loss.loss != nullptr, "compile: expected a loss, got null");
  compiled->loss = std::move(loss.loss);
  for (MetricArg& metric : metrics) {
    if (!metric.metric && metric.name == "loss") continue;  // always reported
    MetricPtr made = metric.metric ? std::move(metric.metric) : make_metric(metric.name);
    for (const MetricPtr& other : compiled->metrics) {
      NABLA_CHECK(other->name() != made->name(), "compile: metric '", made->name(),
                  "' is listed twice");
    }
    compiled->metrics.push_back(std::move(made));
  }
  const std::string activation = compiled->loss->fused_activation();
  if (!activation.empty()) {
    compiled->fused = plan_fused_head(*module_, activation, compiled->body, compiled->head);
  }
  compiled_ = std::move(compiled);
  if (built_) attach_parameters();
}

bool Model::compiled() const { return compiled_ != nullptr; }

Model::Compiled& Model::compiled_state(const std::string& where) const {
  NABLA_CHECK(compiled_ != nullptr, where, ": the model is not compiled; call ",
              "compile(optimizer, loss, metrics) first, e.g. compile(\"adam\", ",
              "\"sparse_categorical_crossentropy\", {\"accuracy\"})");
  return *compiled_;
}

optim::Optimizer& Model::optimizer() const { return *compiled_state("optimizer").optimizer; }
const Loss& Model::loss() const { return *compiled_state("loss").loss; }

Tensor Model::prepare_inputs(const Tensor& x, const std::string& where) const {
  NABLA_CHECK(x.defined() && x.dim() >= 1, where,
              ": expected inputs with a sample axis first, got ",
              x.defined() ? "a 0-d tensor" : "none");
  // Integer data (raw pixels) stays as it is, 4x smaller than f32; each batch is cast when it
  // enters the network (batch_inputs), as Keras casts inputs to the layers' dtype.
  return x;
}

bool Model::takes_raw_inputs() const {
  const auto* sequential = dynamic_cast<const nn::Sequential*>(module_.get());
  return sequential != nullptr && sequential->size() > 0 &&
         dynamic_cast<const nn::Rescaling*>(sequential->layers()[0].get()) != nullptr;
}

// A batch as the network takes it: f32 unless the first layer rescales integers itself.
Tensor Model::batch_inputs(const Tensor& batch) const {
  // Token ids stay integers for embeddings; other integer data becomes f32 unless it is rescaled.
  if (is_floating(batch.dtype()) || takes_raw_inputs()) return batch;
  return batch.to(is_floating(module_->input_dtype()) ? DType::f32 : module_->input_dtype());
}

void Model::ensure_built(const Tensor& x, const std::string& where) {
  const Shape sample_shape = without_batch_axis(x.shape());
  if (!built_) {
    build(sample_shape);
    return;
  }
  NABLA_CHECK(sample_shape == input_shape_, where, ": the model takes inputs of shape ",
              shape_with_batch(with_batch_axis(input_shape_), "N"), ", got x of shape ", x.shape());
}

Tensor Model::forward_for_loss(const Tensor& batch) {
  const Compiled& compiled = *compiled_;
  const Tensor x = batch_inputs(batch);
  if (!compiled.fused) return module_->forward(x);
  Tensor h = x;
  for (nn::Module* layer : compiled.body) h = layer->forward(h);
  if (compiled.head != nullptr) return linear(h, compiled.head->weight(), compiled.head->bias());
  return h;
}

Tensor Model::compute_loss(const Tensor& output, const Tensor& targets) const {
  const Compiled& compiled = *compiled_;
  return compiled.fused ? compiled.loss->from_logits(output, targets)
                        : (*compiled.loss)(output, targets);
}

// ---- fit ----
History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
  Compiled& compiled = compiled_state("fit");
  FlushDenormalGuard denormals;  // as on TensorFlow: denormals would slow training down
  NABLA_CHECK(options.epochs >= 0 && options.initial_epoch >= 0,
              "fit: epochs and initial_epoch must be >= 0, got ", options.epochs, " and ",
              options.initial_epoch);
  NABLA_CHECK(options.batch_size > 0, "fit: batch_size must be positive, got ", options.batch_size);
  NABLA_CHECK(options.validation_split >= 0 && options.validation_split < 1,
              "fit: validation_split must lie in [0, 1), got ", options.validation_split);
  NABLA_CHECK(options.verbose >= 0 && options.verbose <= 2, "fit: verbose must be 0, 1 or 2, got ",
              options.verbose);
  Tensor train_x = prepare_inputs(x, "fit");
  check_same_samples(train_x, y, "fit");
  Tensor train_y = y;
  Tensor val_x, val_y;
  if (options.validation_data.x.defined()) {
    val_x = prepare_inputs(options.validation_data.x, "fit (validation_data)");
    check_same_samples(val_x, options.validation_data.y, "fit (validation_data)");
    val_y = options.validation_data.y;
  } else if (options.validation_split > 0) {
    data::Split split = data::train_validation_split(train_x, train_y, options.validation_split,
                                                     options.seed, /*shuffle=*/false);
    train_x = split.train_inputs;
    train_y = split.train_targets;
    val_x = split.validation_inputs;
    val_y = split.validation_targets;
    NABLA_CHECK(val_x.size(0) > 0, "fit: validation_split ", options.validation_split, " of ",
                x.size(0), " samples holds out none; use a larger split or more data");
  }
  NABLA_CHECK(train_x.size(0) > 0, "fit: no training samples");
  ensure_built(train_x, "fit");
  if (val_x.defined()) ensure_built(val_x, "fit (validation data)");
  NABLA_CHECK(!compiled.optimizer->parameters().empty(),
              "fit: the model has no trainable parameters");
  const Tensor targets = compiled.loss->prepare_targets(train_y, output_shape_, "fit");
  if (val_x.defined()) {
    val_y = compiled.loss->prepare_targets(val_y, output_shape_, "fit (validation data)");
  }

  // Plain batches are assembled on this thread: a prefetch thread would compete with the compute
  // threads for the cores, and one batch copy costs a few microseconds. Augmented batches are
  // prepared in the background, while the previous batch trains.
  data::DataLoader loader(train_x, targets,
                          {.batch_size = options.batch_size,
                           .shuffle = options.shuffle,
                           .drop_last = false,
                           .seed = options.seed,
                           .prefetch = options.augmentation != nullptr,
                           .augmentation = options.augmentation});
  const bool dynamic = options.verbose == 1 && stdout_is_terminal();
  stop_training_ = false;
  for (const CallbackPtr& callback : options.callbacks) {
    NABLA_CHECK(callback != nullptr, "fit: a callback is null");
    callback->set_model(this);
    callback->on_train_begin();
  }
  History history;
  Logs logs;
  for (int64_t epoch = options.initial_epoch; epoch < options.epochs; ++epoch) {
    for (const CallbackPtr& callback : options.callbacks) callback->on_epoch_begin(epoch);
    if (options.verbose > 0) std::cout << "Epoch " << epoch + 1 << "/" << options.epochs << "\n";
    ProgressBar bar(loader.num_batches(), options.verbose, std::cout, dynamic);
    logs.clear();
    loader.start_epoch(epoch);
    run_epoch(loader, epoch, options.epochs, bar, options.callbacks, logs);
    if (val_x.defined()) {
      const Logs validation = evaluate_logs(val_x, val_y, options.batch_size, nullptr, nullptr);
      for (const auto& [name, value] : validation.items()) logs.set("val_" + name, value);
    }
    bar.finish(logs);
    for (const CallbackPtr& callback : options.callbacks) callback->on_epoch_end(epoch, logs);
    history.epoch.push_back(epoch);
    for (const auto& [name, value] : logs.items()) history.history[name].push_back(value);
    if (stop_training_) break;
  }
  for (const CallbackPtr& callback : options.callbacks) callback->on_train_end(logs);
  return history;
}

void Model::run_epoch(data::DataLoader& loader, int64_t epoch, int64_t epochs, ProgressBar& bar,
                      const std::vector<CallbackPtr>& callbacks, Logs& logs) {
  Compiled& compiled = *compiled_;
  ModeGuard mode(*module_, true);
  logs.set("loss", 0);
  for (const MetricPtr& metric : compiled.metrics) {
    metric->reset();
    logs.set(metric->name(), 0);
  }
  // Values are updated in place below: the names were laid out once, above.
  auto& items = logs.items();
  const int64_t steps = loader.num_batches();
  double loss_sum = 0;
  int64_t seen = 0, step = 0;
  while (std::optional<data::Batch> batch = loader.next()) {
    compiled.optimizer->zero_grad();
    const Tensor output = forward_for_loss(batch->inputs);
    const Tensor loss = compute_loss(output, batch->targets);
    const double value = loss.item();
    if (!std::isfinite(value)) {
      bar.abandon();
      NABLA_CHECK(false, "fit: the loss became ", value, " at epoch ", epoch + 1, "/", epochs,
                  ", step ", step + 1, "/", steps, "; training stopped. The learning rate (",
                  compiled.optimizer->lr(), ") is probably too high: try a lower one, e.g. ",
                  compiled.optimizer->lr() / 10);
    }
    loss.backward();
    compiled.optimizer->step();

    const int64_t n = batch->size();
    loss_sum += value * static_cast<double>(n);
    seen += n;
    items[0].second = loss_sum / static_cast<double>(seen);
    {
      NoGradGuard no_grad;
      for (size_t i = 0; i < compiled.metrics.size(); ++i) {
        compiled.metrics[i]->update(output, batch->targets, compiled.fused);
        items[i + 1].second = compiled.metrics[i]->result();
      }
    }
    for (const CallbackPtr& callback : callbacks) callback->on_batch_end(step, logs);
    ++step;
    bar.update(step, logs);
    if (stop_training_) break;
  }
}

// ---- evaluate / predict ----
Logs Model::evaluate_logs(const Tensor& x, const Tensor& targets, int64_t batch_size,
                          EvaluationReport* report, ProgressBar* bar) {
  Compiled& compiled = *compiled_;
  FlushDenormalGuard denormals;
  ModeGuard mode(*module_, false);
  NoGradGuard no_grad;
  Logs logs;
  logs.set("loss", 0);
  for (const MetricPtr& metric : compiled.metrics) {
    metric->reset();
    logs.set(metric->name(), 0);
  }
  auto& items = logs.items();
  const internal::Task task =
      report ? internal::classification_task(*compiled.loss, output_shape_) : internal::Task::none;
  if (task != internal::Task::none) {
    const int64_t classes = internal::num_classes(task, output_shape_);
    report->confusion.assign(classes, std::vector<int64_t>(classes, 0));
  }
  const int64_t n = x.size(0);
  double loss_sum = 0;
  int64_t step = 0;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t end = std::min(n, start + batch_size);
    const Tensor inputs = x.slice(0, start, end);
    const Tensor batch_targets = targets.slice(0, start, end);
    const Tensor output = forward_for_loss(inputs);
    loss_sum += compute_loss(output, batch_targets).item() * static_cast<double>(end - start);
    items[0].second = loss_sum / static_cast<double>(end);
    for (size_t i = 0; i < compiled.metrics.size(); ++i) {
      compiled.metrics[i]->update(output, batch_targets, compiled.fused);
      items[i + 1].second = compiled.metrics[i]->result();
    }
    if (task != internal::Task::none) {
      internal::add_to_confusion(report->confusion, output, batch_targets, task, compiled.fused);
    }
    if (bar != nullptr) bar->update(++step, logs);
  }
  return logs;
}

EvaluationReport Model::evaluate(const Tensor& x, const Tensor& y, int64_t batch_size,
                                 int verbose) {
  Compiled& compiled = compiled_state("evaluate");
  NABLA_CHECK(batch_size > 0, "evaluate: batch_size must be positive, got ", batch_size);
  NABLA_CHECK(verbose >= 0 && verbose <= 2, "evaluate: verbose must be 0, 1 or 2, got ", verbose);
  const Tensor inputs = prepare_inputs(x, "evaluate");
  check_same_samples(inputs, y, "evaluate");
  NABLA_CHECK(inputs.size(0) > 0, "evaluate: x holds no samples");
  ensure_built(inputs, "evaluate");
  const Tensor targets = compiled.loss->prepare_targets(y, output_shape_, "evaluate");
  const int64_t steps = (inputs.size(0) + batch_size - 1) / batch_size;
  ProgressBar bar(steps, verbose, std::cout, verbose == 1 && stdout_is_terminal());
  EvaluationReport report;
  const Logs logs = evaluate_logs(inputs, targets, batch_size, &report, &bar);
  bar.finish(logs);
  for (const auto& [name, value] : logs.items()) report.metrics[name] = value;
  if (report.is_classification()) internal::compute_class_scores(report);
  return report;
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  NABLA_CHECK(batch_size > 0, "predict: batch_size must be positive, got ", batch_size);
  FlushDenormalGuard denormals;
  const Tensor inputs = prepare_inputs(x, "predict");
  ensure_built(inputs, "predict");
  ModeGuard mode(*module_, false);
  NoGradGuard no_grad;
  const int64_t n = inputs.size(0);
  Shape result_shape = output_shape_;
  result_shape[0] = n;
  Tensor result;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t end = std::min(n, start + batch_size);
    const Tensor output = module_->forward(batch_inputs(inputs.slice(0, start, end)));
    if (!result.defined()) {
      result_shape = output.shape();
      result_shape[0] = n;
      result = empty(result_shape, output.dtype());
    }
    result.slice(0, start, end).copy_(output);
  }
  return result.defined() ? result : empty(result_shape);
}

}  // namespace nabla::train
