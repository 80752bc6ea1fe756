// Model: compile, fit, evaluate, predict. The training step is kept lean (no strings or maps are
// built per step; metrics read the outputs' memory directly), because at an MLP's batch of 32 the
// step takes ~100 us and anything extra shows.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>

#include "autograd/anomaly.hpp"
#include "core/text.hpp"
#include "nabla/data.hpp"
#include "nabla/train.hpp"
#include "nn/conv_pool_fusion.hpp"
#include "nn/int8_layer.hpp"
#include "train/format.hpp"
#include "train/internal.hpp"
#include "train/layer_graph.hpp"

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

// Finds a final `activation` that can be skipped, looking into the last layer of nested
// Sequentials; fills the modules to run before it.
// Fills, too, the names of those modules and of the head, as summary() gives them.
bool plan_fused_head(nn::Module& root, const std::string& activation,
                     std::vector<nn::Module*>& body, nn::Linear*& head,
                     std::vector<std::string>& body_names, std::string& head_name) {
  body.clear();
  body_names.clear();
  head = nullptr;
  nn::Module* current = &root;
  std::string path;  // of the nested Sequential being planned, with a trailing '/'
  while (auto* sequential = dynamic_cast<nn::Sequential*>(current)) {
    if (sequential->size() == 0) return false;
    for (size_t i = 0; i + 1 < sequential->size(); ++i) {
      body.push_back(sequential->layers()[i].get());
      body_names.push_back(path + sequential->layer_name(i));
    }
    current = sequential->layers().back().get();
    path += sequential->layer_name(sequential->size() - 1) + "/";
  }
  head_name = path.substr(0, path.size() - 1);
  if (auto* layer = dynamic_cast<nn::Activation*>(current)) {
    return nabla::internal::lowercase(layer->name()) == activation;
  }
  if (auto* linear = dynamic_cast<nn::Linear*>(current)) {
    if (nabla::internal::lowercase(linear->activation()) != activation) return false;
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
std::vector<Tensor> as_list(const Tensor& x) { return {x}; }

}  // namespace

Model::Model(nn::ModulePtr module, std::string name)
    : module_(std::move(module)), name_(std::move(name)) {
  NABLA_CHECK(module_ != nullptr, "Model: expected a module, got null");
  if (name_.empty()) name_ = module_->name().empty() ? default_name(*module_) : module_->name();
  graph_ = dynamic_cast<nn::Graph*>(module_.get());
  if (graph_ != nullptr) {
    // A graph model knows its shapes from its calls: it is built already.
    input_shapes_ = graph_->input_shapes();
    for (const Shape& shape : graph_->output_shapes())
      output_shapes_.push_back(internal::with_batch_axis(shape));
    built_ = true;
  }
}

Model::Model(std::vector<nn::SymbolicTensor> inputs, std::vector<nn::SymbolicTensor> outputs,
             std::string name)
    : Model(std::make_shared<nn::Graph>(std::move(inputs), std::move(outputs)),
            name.empty() ? "model" : std::move(name)) {}

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

const Shape& Model::input_shape() const {
  static const Shape kNone;
  return input_shapes_.empty() ? kNone : input_shapes_[0];
}

const Shape& Model::output_shape() const {
  static const Shape kNone;
  return output_shapes_.empty() ? kNone : output_shapes_[0];
}

std::vector<std::string> Model::output_names() const {
  if (graph_ == nullptr) return {"output"};
  std::vector<std::string> names;
  for (const auto& node : graph_->outputs()) names.push_back(node->name);
  return names;
}

void Model::build(const Shape& input_shape) {
  for (int64_t size : input_shape) {
    NABLA_CHECK(size > 0, "build: input shape ", input_shape,
                " must have positive sizes (without the batch axis)");
  }
  if (graph_ != nullptr) {
    NABLA_CHECK(input_shapes_.size() == 1 && input_shapes_[0] == input_shape, "build: the model '",
                name_, "' takes inputs of shape ", input_shapes_[0],
                " (a graph model is built from its Input shapes), got ", input_shape);
    return;
  }
  output_shapes_ = {module_->build(input_shape)};
  input_shapes_ = {input_shape};
  built_ = true;
  inference_chunk_ = 0;
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

void Model::compile(OptimizerArg optimizer, LossArg loss, std::vector<MetricArg> metrics,
                    const CompileOptions& options) {
  compile(std::move(optimizer), std::vector<LossArg>{std::move(loss)}, std::move(metrics), {},
          options);
}

void Model::compile(OptimizerArg optimizer, std::vector<LossArg> losses,
                    std::vector<MetricArg> metrics, std::vector<double> loss_weights,
                    const CompileOptions& options) {
  const size_t outputs = num_outputs();
  NABLA_CHECK(losses.size() == 1 || losses.size() == outputs, "compile: expected one loss or one ",
              "per output (", outputs, "), got ", losses.size());
  NABLA_CHECK(loss_weights.empty() || loss_weights.size() == outputs, "compile: expected one ",
              "loss weight per output (", outputs, "), got ", loss_weights.size());
  for (double weight : loss_weights) {
    NABLA_CHECK(std::isfinite(weight) && weight >= 0, "compile: loss weights must be finite and ",
                ">= 0, got ", weight);
  }
  auto compiled = std::make_unique<Compiled>();
  compiled->precision = parse_precision(options.precision);
  // Says now, once, when this CPU has no bf16 (fit then runs in fp32).
  if (compiled->precision == Precision::bf16) const Autocast check(Precision::bf16);
  compiled->optimizer =
      optimizer.optimizer ? std::move(optimizer.optimizer) : optim::make_optimizer(optimizer.name);
  for (size_t i = 0; i < outputs; ++i) {
    // Losses hold no state, so one loss serves every output.
    LossPtr loss = losses[losses.size() == 1 ? 0 : i].loss;
    NABLA_CHECK(loss != nullptr, "compile: expected a loss, got null");
    compiled->losses.push_back(std::move(loss));
    compiled->loss_weights.push_back(loss_weights.empty() ? 1.0 : loss_weights[i]);
  }
  compiled->metrics.resize(outputs);
  for (MetricArg& metric : metrics) {
    if (!metric.metric && metric.name == "loss") continue;  // always reported
    NABLA_CHECK(metric.metric == nullptr || outputs == 1, "compile: metric '",
                metric.metric ? metric.metric->name() : "", "' is an object, but the model has ",
                outputs, " outputs; give metrics by name so that each output gets its own");
    for (size_t i = 0; i < outputs; ++i) {
      MetricPtr made = metric.metric ? metric.metric : make_metric(metric.name);
      for (const MetricPtr& other : compiled->metrics[i]) {
        NABLA_CHECK(other->name() != made->name(), "compile: metric '", made->name(),
                    "' is listed twice");
      }
      compiled->metrics[i].push_back(std::move(made));
    }
  }
  if (graph_ != nullptr) {
    for (const LossPtr& loss : compiled->losses) {
      compiled->graph_activations.push_back(loss->fused_activation());
    }
  } else if (const std::string activation = compiled->losses[0]->fused_activation();
             !activation.empty()) {
    compiled->fused = plan_fused_head(*module_, activation, compiled->body, compiled->head,
                                      compiled->body_names, compiled->head_name);
  }
  compiled_ = std::move(compiled);
  if (built_) attach_parameters();
}

bool Model::compiled() const { return compiled_ != nullptr; }

Precision Model::precision() const {
  const bool bf16 = compiled_ != nullptr && compiled_->precision == Precision::bf16;
  return bf16 && bf16_supported() ? Precision::bf16 : compute_precision();
}

Model::Compiled& Model::compiled_state(const std::string& where) const {
  NABLA_CHECK(compiled_ != nullptr, where, ": the model is not compiled; call ",
              "compile(optimizer, loss, metrics) first, e.g. compile(\"adam\", ",
              "\"sparse_categorical_crossentropy\", {\"accuracy\"})");
  return *compiled_;
}

optim::Optimizer& Model::optimizer() const { return *compiled_state("optimizer").optimizer; }
const Loss& Model::loss() const { return *compiled_state("loss").losses[0]; }

void Model::check_inputs(const std::vector<Tensor>& x, const std::vector<Tensor>* y,
                         const std::string& where) const {
  const size_t inputs = graph_ != nullptr ? graph_->inputs().size() : 1;
  NABLA_CHECK(x.size() == inputs, where, ": the model '", name_, "' takes ", inputs,
              " input(s), got ", x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    NABLA_CHECK(x[i].defined() && x[i].dim() >= 1, where, ": expected inputs with a sample axis ",
                "first, got ", x[i].defined() ? "a 0-d tensor" : "none",
                x.size() > 1 ? detail::str(" (input ", i, ")") : "");
    NABLA_CHECK(x[i].size(0) == x[0].size(0), where, ": input ", i, " holds ", x[i].size(0),
                " samples but input 0 holds ", x[0].size(0));
  }
  if (y == nullptr) return;
  NABLA_CHECK(y->size() == num_outputs(), where, ": the model '", name_, "' has ", num_outputs(),
              " output(s), got ", y->size(), " target tensor(s)");
  for (size_t i = 0; i < y->size(); ++i) {
    const Tensor& t = (*y)[i];
    NABLA_CHECK(t.defined() && t.dim() >= 1, where, ": expected targets with a sample axis, got ",
                t.defined() ? "a 0-d tensor" : "none");
    NABLA_CHECK(x[0].size(0) == t.size(0), where, ": x holds ", x[0].size(0),
                " samples but y holds ", t.size(0));
  }
}

bool Model::takes_raw_inputs() const {
  const auto* sequential = dynamic_cast<const nn::Sequential*>(module_.get());
  return sequential != nullptr && sequential->size() > 0 &&
         dynamic_cast<const nn::Rescaling*>(sequential->layers()[0].get()) != nullptr;
}

// A batch as the network takes it. Integer data (raw pixels) stays as it is in memory, 4x smaller
// than f32, and is cast when it enters the network, as Keras casts inputs to the layers' dtype:
// token ids stay integers for embeddings; a first Rescaling layer takes the integers itself.
Tensor Model::batch_inputs(const Tensor& batch, size_t input) const {
  if (is_floating(batch.dtype())) return batch;
  if (graph_ != nullptr) {
    const DType dtype = graph_->inputs()[input]->dtype;
    return batch.dtype() == dtype ? batch : batch.to(dtype);
  }
  if (takes_raw_inputs()) return batch;
  return batch.to(is_floating(module_->input_dtype()) ? DType::f32 : module_->input_dtype());
}

void Model::ensure_built(const std::vector<Tensor>& x, const std::string& where) {
  if (!built_) {
    build(without_batch_axis(x[0].shape()));
    return;
  }
  for (size_t i = 0; i < x.size(); ++i) {
    const Shape& expected = input_shapes_[i];
    NABLA_CHECK(without_batch_axis(x[i].shape()) == expected, where,
                ": the model takes inputs of shape ",
                shape_with_batch(internal::with_batch_axis(expected), "N"), ", got ",
                x.size() > 1 ? detail::str("input ", i, " (", graph_->inputs()[i]->name, ")")
                             : std::string("x"),
                " of shape ", x[i].shape());
  }
}

std::vector<Tensor> Model::prepare_targets(const std::vector<Tensor>& y,
                                           const std::string& where) const {
  std::vector<Tensor> targets;
  for (size_t i = 0; i < y.size(); ++i) {
    targets.push_back(compiled_->losses[i]->prepare_targets(y[i], output_shapes_[i], where));
  }
  return targets;
}

std::vector<Tensor> Model::forward_outputs(const std::vector<Tensor>& x, bool for_loss,
                                           std::vector<bool>& logits) {
  if (graph_ != nullptr) {
    std::vector<Tensor> inputs;
    for (size_t i = 0; i < x.size(); ++i) inputs.push_back(batch_inputs(x[i], i));
    static const std::vector<std::string> kAsTheyAre;
    return graph_->forward_all(
        inputs, for_loss && compiled_ ? compiled_->graph_activations : kAsTheyAre, &logits);
  }
  const Tensor input = batch_inputs(x[0], 0);
  const bool fused = for_loss && compiled_ && compiled_->fused;
  logits.assign(1, fused);
  if (!fused) return {module_->forward(input)};
  Tensor h = input;
  // Each layer in a LayerScope, as Sequential::forward runs them, for anomaly messages, and a
  // convolution followed by a max pooling as one op, as there.
  const std::vector<nn::Module*>& body = compiled_->body;
  for (size_t i = 0; i < body.size(); ++i) {
    const autograd::LayerScope scope(compiled_->body_names[i]);
    const nn::ConvMaxPool fused =
        nn::find_conv_max_pool(body[i], i + 1 < body.size() ? body[i + 1] : nullptr,
                               i + 2 < body.size() ? body[i + 2] : nullptr);
    if (fused.layers > 0) {
      h = fused.forward(h);
      i += fused.layers - 1;
      continue;
    }
    h = body[i]->forward(h);
  }
  if (compiled_->head != nullptr) {
    const autograd::LayerScope scope(compiled_->head_name);
    h = compiled_->head->logits(h);
  }
  return {h};
}

namespace {

// The log entries of an epoch, laid out once in the order their values are updated in place:
// "loss", then (several outputs) "<output>_loss" for each, then the metrics ("<output>_<metric>"
// with several outputs).
void lay_out_logs(const std::vector<std::vector<MetricPtr>>& metrics,
                  const std::vector<std::string>& output_names, Logs& logs) {
  const bool several = metrics.size() > 1;
  logs.set("loss", 0);
  if (several) {
    for (const std::string& name : output_names) logs.set(name + "_loss", 0);
  }
  for (size_t i = 0; i < metrics.size(); ++i) {
    for (const MetricPtr& metric : metrics[i]) {
      metric->reset();
      logs.set(several ? output_names[i] + "_" + metric->name() : metric->name(), 0);
    }
  }
}

// The state at the start of the epoch after `state`'s: its running figures reset.
TrainingState next_epoch(TrainingState state) {
  ++state.epoch;
  state.step = 0;
  state.seen = 0;
  state.loss_sum = 0;
  state.output_sums.clear();
  state.metrics.clear();
  return state;
}

}  // namespace

// ---- fit ----
History Model::fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
  return fit(as_list(x), as_list(y), options);
}

History Model::fit(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                   const FitOptions& options) {
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
  check_inputs(x, &y, "fit");
  const bool single = x.size() == 1 && y.size() == 1;
  NABLA_CHECK(single || options.augmentation == nullptr, "fit: augmentation takes a model with ",
              "one input and one output; this one has ", x.size(), " and ", y.size());
  NABLA_CHECK(single || !options.validation_data.x.defined(), "fit: validation_data holds one ",
              "input and one target; for a model with several, use validation_split");
  std::vector<Tensor> train_x = x, train_y = y, val_x, val_y;
  if (options.validation_data.x.defined()) {
    val_x = {options.validation_data.x};
    val_y = {options.validation_data.y};
    check_inputs(val_x, &val_y, "fit (validation_data)");
  } else if (options.validation_split > 0) {
    // Keras holds out the last samples (no shuffle), the same ones for every tensor.
    for (std::vector<Tensor>* part : {&train_x, &train_y}) {
      std::vector<Tensor>& held_out = part == &train_x ? val_x : val_y;
      for (Tensor& t : *part) {
        data::Split split = data::train_validation_split(t, Tensor(), options.validation_split,
                                                         options.seed, /*shuffle=*/false);
        t = split.train_inputs;
        held_out.push_back(split.validation_inputs);
      }
    }
    NABLA_CHECK(val_x[0].size(0) > 0, "fit: validation_split ", options.validation_split, " of ",
                x[0].size(0), " samples holds out none; use a larger split or more data");
  }
  NABLA_CHECK(train_x[0].size(0) > 0, "fit: no training samples");
  ensure_built(train_x, "fit");
  if (!val_x.empty()) ensure_built(val_x, "fit (validation data)");
  NABLA_CHECK(!compiled.optimizer->parameters().empty(),
              "fit: the model has no trainable parameters");
  const std::vector<Tensor> targets = prepare_targets(train_y, "fit");
  if (!val_x.empty()) val_y = prepare_targets(val_y, "fit (validation data)");

  // Plain batches are assembled on this thread: a prefetch thread would compete with the compute
  // threads for the cores, and one batch copy costs a few microseconds. Augmented batches are
  // prepared in the background, while the previous batch trains. With several inputs or outputs
  // the loader draws sample indices, and each tensor is gathered by them.
  const Tensor indices = single ? Tensor() : arange(static_cast<double>(train_x[0].size(0)));
  DistributedStrategy* strategy = options.strategy.get();
  if (strategy != nullptr && !strategy->trains()) {
    // A parameter server's rank: it applies the others' gradients until they are done.
    strategy->begin_training(*module_, *compiled.optimizer);
    struct EndTraining {
      DistributedStrategy& strategy;
      ~EndTraining() { strategy.end_training(); }
    } end{*strategy};
    strategy->serve(*module_, *compiled.optimizer);
    return {};
  }
  data::DataLoader loader(single ? train_x[0] : indices, single ? targets[0] : indices,
                          {.batch_size = options.batch_size,
                           .shuffle = options.shuffle,
                           .drop_last = false,
                           .seed = options.seed,
                           .prefetch = options.augmentation != nullptr,
                           .augmentation = options.augmentation,
                           .shard_index = strategy != nullptr ? strategy->rank() : 0,
                           .shard_count = strategy != nullptr ? strategy->size() : 1});
  return fit_loop(loader, single ? std::vector<Tensor>{} : train_x,
                  single ? std::vector<Tensor>{} : targets, val_x, val_y, options);
}

History Model::fit_loop(data::DataLoader& loader, const std::vector<Tensor>& x,
                        const std::vector<Tensor>& y, const std::vector<Tensor>& val_x,
                        const std::vector<Tensor>& val_y, const FitOptions& options) {
  Compiled& compiled = *compiled_;
  const Autocast precision_scope(precision());
  DistributedStrategy* strategy = options.strategy.get();
  const bool dynamic = options.verbose == 1 && stdout_is_terminal();
  for (const CallbackPtr& callback : options.callbacks) {
    NABLA_CHECK(callback != nullptr, "fit: a callback is null");
    callback->set_model(this);
  }
  std::shared_ptr<const TrainingState> restored = options.resume;
  for (size_t i = 0; i < options.callbacks.size() && restored == nullptr; ++i) {
    restored = options.callbacks[i]->restore_training();
  }
  const TrainingState* resume = restored.get();
  const int64_t processes = strategy != nullptr ? strategy->size() : 1;
  if (resume != nullptr) {
    // At the end of an epoch any number of processes can go on; in its middle, the batches done
    // are counted in batch_size * processes samples.
    NABLA_CHECK(resume->step == 0 || resume->processes == processes, "fit: the checkpoint was ",
                "written by ", resume->processes, " process(es) after batch ", resume->step,
                " of epoch ", resume->epoch + 1, "; resume it with as many, or resume from a ",
                "checkpoint written at the end of an epoch with any number");
    // A pipeline of unknown length: a step past its end just ends the resumed epoch.
    const int64_t steps = loader.num_batches();
    check_resume(*resume, steps >= 0 ? steps : std::numeric_limits<int64_t>::max(),
                 options.callbacks.size());
  }
  stop_training_ = false;
  for (const CallbackPtr& callback : options.callbacks) callback->on_train_begin();
  // progress_ and the callbacks are what training_state() reports while the fit runs.
  struct FitScope {
    Model& model;
    ~FitScope() {
      model.fit_callbacks_ = nullptr;
      model.ended_epoch_logs_ = nullptr;
      if (model.strategy_ != nullptr) model.strategy_->end_training();
      model.strategy_ = nullptr;
    }
  } scope{*this};
  fit_callbacks_ = &options.callbacks;
  if (strategy != nullptr) {
    strategy->begin_training(*module_, *compiled.optimizer);
    strategy_ = strategy;
  }
  progress_ = TrainingState{};
  progress_.epoch = options.initial_epoch;
  progress_.processes = processes;
  if (resume != nullptr) {
    progress_ = *resume;
    progress_.optimizer.clear();  // load_checkpoint restored it; training_state() reads it anew
    progress_.callbacks.clear();
    progress_.processes = processes;
    if (!resume->generator.empty()) default_generator().set_state(resume->generator);
    for (size_t i = 0; i < resume->callbacks.size(); ++i) {
      options.callbacks[i]->restore_state(resume->callbacks[i], *resume);
    }
  }
  if (strategy != nullptr && strategy->rank() > 0) {
    // Dropout and other draws differ between ranks, as they would between the samples of one
    // big batch; rank 0 keeps the stream a checkpoint records.
    Generator& generator = default_generator();
    generator.manual_seed(generator.next_u64() ^ (0x9E3779B97F4A7C15ULL * strategy->rank()));
  }
  Logs logs;
  data_wait_seconds_ = 0;
  step_seconds_ = 0;
  data_wait_share_ = 0;
  for (int64_t epoch = progress_.epoch; epoch < options.epochs; ++epoch) {
    progress_.epoch = epoch;
    for (const CallbackPtr& callback : options.callbacks) callback->on_epoch_begin(epoch);
    if (options.verbose > 0) std::cout << "Epoch " << epoch + 1 << "/" << options.epochs << "\n";
    ProgressBar bar(loader.num_batches(), options.verbose, std::cout, dynamic);
    logs.clear();
    loader.start_epoch(epoch, progress_.step);
    try {
      run_epoch(loader, x, y, options.epochs, bar, options.callbacks, logs);
    } catch (const Error&) {
      bar.abandon();  // an error in a step (anomaly detection's) starts on a line of its own
      throw;
    }
    if (strategy != nullptr) {
      merge_epoch_metrics(logs);
      strategy->synchronize_buffers(*module_);
    }
    if (!val_x.empty()) {
      // Data-parallel: every rank evaluates all of it, so the figures agree without messages.
      const Logs validation = evaluate_logs(val_x, val_y, options.batch_size, nullptr, nullptr);
      for (const auto& [name, value] : validation.items()) logs.set("val_" + name, value);
    }
    bar.finish(logs);
    ended_epoch_logs_ = &logs;
    for (const CallbackPtr& callback : options.callbacks) callback->on_epoch_end(epoch, logs);
    ended_epoch_logs_ = nullptr;
    progress_.history.epoch.push_back(epoch);
    for (const auto& [name, value] : logs.items()) progress_.history.history[name].push_back(value);
    progress_ = next_epoch(std::move(progress_));
    if (stop_training_) break;
  }
  for (const CallbackPtr& callback : options.callbacks) callback->on_train_end(logs);
  return progress_.history;
}

void Model::check_resume(const TrainingState& state, int64_t steps, size_t callbacks) const {
  NABLA_CHECK(state.epoch >= 0 && state.step >= 0 && state.step <= steps, "fit: cannot resume ",
              "at step ", state.step, " of epoch ", state.epoch + 1, ": an epoch has ", steps,
              " batches here; resume with the data and batch size the checkpoint was made with");
  NABLA_CHECK(state.callbacks.empty() || state.callbacks.size() == callbacks, "fit: the ",
              "checkpoint holds the state of ", state.callbacks.size(), " callbacks, this fit has ",
              callbacks, "; resume with the callbacks it was made with");
  const Compiled& compiled = *compiled_;
  NABLA_CHECK(state.output_sums.empty() || state.output_sums.size() == compiled.losses.size(),
              "fit: the checkpoint holds the running loss of ", state.output_sums.size(),
              " outputs, the model has ", compiled.losses.size());
  NABLA_CHECK(state.metrics.empty() || state.metrics.size() == compiled.metrics.size(),
              "fit: the checkpoint holds the metrics of ", state.metrics.size(),
              " outputs, the model has ", compiled.metrics.size());
  for (size_t i = 0; i < state.metrics.size(); ++i) {
    NABLA_CHECK(state.metrics[i].size() == compiled.metrics[i].size(), "fit: the checkpoint ",
                "holds ", state.metrics[i].size(), " metrics for output ", i, ", the model has ",
                compiled.metrics[i].size(), "; resume with the metrics it was compiled with");
  }
}

void Model::merge_epoch_metrics(Logs& logs) {
  std::vector<double> states;
  for (const auto& metrics : compiled_->metrics) {
    for (const MetricPtr& metric : metrics) {
      const std::vector<double> state = metric->state();
      states.insert(states.end(), state.begin(), state.end());
    }
  }
  strategy_->sum(states);
  size_t at = 0;
  for (const auto& metrics : compiled_->metrics) {
    for (const MetricPtr& metric : metrics) {
      const size_t n = metric->state().size();
      if (n == 0) continue;  // a metric without a state() keeps this rank's own figure
      metric->set_state({states.begin() + static_cast<ptrdiff_t>(at),
                         states.begin() + static_cast<ptrdiff_t>(at + n)});
      at += n;
    }
  }
  fill_epoch_logs(logs);
}

void Model::fill_epoch_logs(Logs& logs) const {
  const Compiled& compiled = *compiled_;
  auto& items = logs.items();
  const auto seen = static_cast<double>(progress_.seen);
  size_t item = 0;
  items[item++].second = seen > 0 ? progress_.loss_sum / seen : 0.0;
  if (compiled.losses.size() > 1) {
    for (double sum : progress_.output_sums) items[item++].second = seen > 0 ? sum / seen : 0.0;
  }
  for (const auto& metrics : compiled.metrics) {
    for (const MetricPtr& metric : metrics) items[item++].second = metric->result();
  }
}

// `x`/`y` are empty when the loader yields the batches themselves, else the tensors to gather by
// the loader's sample indices.
void Model::run_epoch(data::DataLoader& loader, const std::vector<Tensor>& x,
                      const std::vector<Tensor>& y, int64_t epochs, ProgressBar& bar,
                      const std::vector<CallbackPtr>& callbacks, Logs& logs) {
  Compiled& compiled = *compiled_;
  ModeGuard mode(*module_, true);
  const size_t outputs = compiled.losses.size();
  const bool several = outputs > 1;
  lay_out_logs(compiled.metrics, output_names(), logs);
  // Values are updated in place below: the names were laid out once, above.
  auto& items = logs.items();
  const int64_t steps = loader.num_batches();
  const int64_t epoch = progress_.epoch;
  TrainingState& p = progress_;
  if (p.output_sums.size() != outputs) p.output_sums.assign(outputs, 0);
  // A resumed epoch: its figures go on from the checkpoint's. The metric states a checkpoint
  // holds are rank 0's (its loss sums are all ranks'), so the other ranks start theirs anew.
  const bool restore_metrics = strategy_ == nullptr || strategy_->rank() == 0;
  if (p.step > 0) {
    for (size_t i = 0; i < p.metrics.size() && restore_metrics; ++i) {
      for (size_t j = 0; j < p.metrics[i].size(); ++j) {
        compiled.metrics[i][j]->set_state(p.metrics[i][j]);
      }
    }
    fill_epoch_logs(logs);
    bar.update(p.step, logs);
  }
  p.metrics.clear();
  std::vector<Tensor> batch_x, batch_y;
  std::vector<bool> logits;
  // The time next() waits for a batch, against the whole step's: the data-wait share.
  using Clock = std::chrono::steady_clock;
  const double epoch_wait_start = data_wait_seconds_, epoch_step_start = step_seconds_;
  Clock::time_point step_begin = Clock::now();
  const auto timed_next = [&] {
    const Clock::time_point begin = Clock::now();
    std::optional<data::Batch> batch = loader.next();
    const Clock::time_point end = Clock::now();
    data_wait_seconds_ += std::chrono::duration<double>(end - begin).count();
    step_seconds_ += std::chrono::duration<double>(end - step_begin).count();
    step_begin = end;
    const double epoch_steps = step_seconds_ - epoch_step_start;
    if (epoch_steps > 0) bar.set_data_wait((data_wait_seconds_ - epoch_wait_start) / epoch_steps);
    if (step_seconds_ > 0) data_wait_share_ = data_wait_seconds_ / step_seconds_;
    return batch;
  };
  while (std::optional<data::Batch> batch = timed_next()) {
    batch_x.clear();
    batch_y.clear();
    if (x.empty()) {
      batch_x.push_back(batch->inputs);
      // A pipeline's targets are prepared batch by batch (in-memory ones were, once, by fit).
      batch_y.push_back(loader.streaming() ? prepare_targets({batch->targets}, "fit")[0]
                                           : batch->targets);
    } else {
      for (const Tensor& t : x) batch_x.push_back(index_select(t, 0, batch->inputs));
      for (const Tensor& t : y) batch_y.push_back(index_select(t, 0, batch->inputs));
    }
    compiled.optimizer->zero_grad();
    // This rank's samples and, data-parallel, all ranks': the step's figures are over those.
    const int64_t n = batch->size();
    const int64_t step_samples = strategy_ != nullptr ? loader.global_batch_size(p.step) : n;
    const double share = static_cast<double>(n) / static_cast<double>(step_samples);
    std::vector<Tensor> output;
    Tensor loss;
    // The loss, then each output's (several outputs): this rank's share of the step's.
    std::vector<double> figures(several ? outputs + 1 : 1, 0.0);
    if (n > 0) {
      output = forward_outputs(batch_x, true, logits);
      for (size_t i = 0; i < outputs; ++i) {
        const Loss& fn = *compiled.losses[i];
        Tensor part = logits[i] ? fn.from_logits(output[i], batch_y[i]) : fn(output[i], batch_y[i]);
        if (several) figures[i + 1] = part.item() * share;
        if (compiled.loss_weights[i] != 1.0) part = part * compiled.loss_weights[i];
        loss = loss.defined() ? loss + part : part;
      }
      figures[0] = loss.item() * share;
    }
    if (strategy_ != nullptr) strategy_->sum(figures);
    if (several) {
      for (size_t i = 0; i < outputs; ++i) {
        p.output_sums[i] += figures[i + 1] * static_cast<double>(step_samples);
      }
    }
    const double value = figures[0];
    if (!std::isfinite(value)) {
      // As Keras: the callbacks see the batch's loss (TerminateOnNaN ends the fit there); the
      // update is not applied, so the weights stay those of the last finite step.
      items[0].second = value;
      for (const CallbackPtr& callback : callbacks) callback->on_batch_end(p.step, logs);
      if (stop_training_) break;
      bar.abandon();
      NABLA_CHECK(false, "fit: the loss became ", value, " at epoch ", epoch + 1, "/", epochs,
                  ", step ", p.step + 1, "/", steps, "; training stopped. The learning rate (",
                  compiled.optimizer->lr(), ") is probably too high: try a lower one, e.g. ",
                  compiled.optimizer->lr() / 10);
    }
    if (strategy_ != nullptr) {
      strategy_->begin_step(share);
      if (n > 0) loss.backward();
      strategy_->update(*compiled.optimizer);
    } else {
      loss.backward();
      compiled.optimizer->step();
    }

    p.loss_sum += value * static_cast<double>(step_samples);
    p.seen += step_samples;
    size_t item = 0;
    items[item++].second = p.loss_sum / static_cast<double>(p.seen);
    if (several) {
      for (size_t i = 0; i < outputs; ++i) {
        items[item++].second = p.output_sums[i] / static_cast<double>(p.seen);
      }
    }
    {
      NoGradGuard no_grad;
      for (size_t i = 0; i < outputs; ++i) {
        for (const MetricPtr& metric : compiled.metrics[i]) {
          if (n > 0) metric->update(output[i], batch_y[i], logits[i]);
          items[item++].second = metric->result();
        }
      }
    }
    ++p.step;
    ++p.global_step;
    for (const CallbackPtr& callback : callbacks) callback->on_batch_end(p.step - 1, logs);
    bar.update(p.step, logs);
    if (stop_training_) break;
  }
}

TrainingState Model::training_state() const {
  NABLA_CHECK(fit_callbacks_ != nullptr, "training_state: no fit() is running; call it from a ",
              "callback (on_batch_end, on_epoch_end)");
  TrainingState state = progress_;
  if (ended_epoch_logs_ != nullptr) {
    state.history.epoch.push_back(state.epoch);
    for (const auto& [name, value] : ended_epoch_logs_->items()) {
      state.history.history[name].push_back(value);
    }
    state = next_epoch(std::move(state));
  } else {
    state.metrics.clear();
    for (const auto& metrics : compiled_->metrics) {
      std::vector<std::vector<double>>& states = state.metrics.emplace_back();
      for (const MetricPtr& metric : metrics) states.push_back(metric->state());
    }
  }
  state.generator = default_generator().state();
  state.optimizer = compiled_->optimizer->state_dict();
  state.callbacks.clear();
  for (const CallbackPtr& callback : *fit_callbacks_)
    callback->save_state(state.callbacks.emplace_back());
  return state;
}

// ---- evaluate / predict ----
Logs Model::evaluate_logs(const std::vector<Tensor>& x, const std::vector<Tensor>& targets,
                          int64_t batch_size, EvaluationReport* report, ProgressBar* bar) {
  Compiled& compiled = *compiled_;
  FlushDenormalGuard denormals;
  const Autocast precision_scope(precision());
  ModeGuard mode(*module_, false);
  NoGradGuard no_grad;
  const size_t outputs = compiled.losses.size();
  const bool several = outputs > 1;
  Logs logs;
  lay_out_logs(compiled.metrics, output_names(), logs);
  auto& items = logs.items();
  // The confusion matrix and per-class scores describe a single classifier output.
  const internal::Task task =
      report && !several ? internal::classification_task(*compiled.losses[0], output_shapes_[0])
                         : internal::Task::none;
  if (task != internal::Task::none) {
    const int64_t classes = internal::num_classes(task, output_shapes_[0]);
    report->confusion.assign(classes, std::vector<int64_t>(classes, 0));
  }
  const int64_t n = x[0].size(0);
  double loss_sum = 0;
  std::vector<double> output_sums(outputs, 0);
  int64_t step = 0;
  std::vector<Tensor> batch_x, batch_y;
  std::vector<bool> logits;
  for (int64_t start = 0; start < n; start += batch_size) {
    const int64_t end = std::min(n, start + batch_size);
    batch_x.clear();
    batch_y.clear();
    for (const Tensor& t : x) batch_x.push_back(t.slice(0, start, end));
    for (const Tensor& t : targets) batch_y.push_back(t.slice(0, start, end));
    const std::vector<Tensor> output = forward_outputs(batch_x, true, logits);
    double value = 0;
    for (size_t i = 0; i < outputs; ++i) {
      const Loss& fn = *compiled.losses[i];
      const double part =
          (logits[i] ? fn.from_logits(output[i], batch_y[i]) : fn(output[i], batch_y[i])).item() *
          static_cast<double>(end - start);
      output_sums[i] += part;
      value += compiled.loss_weights[i] * part;
    }
    loss_sum += value;
    size_t item = 0;
    items[item++].second = loss_sum / static_cast<double>(end);
    if (several) {
      for (size_t i = 0; i < outputs; ++i) {
        items[item++].second = output_sums[i] / static_cast<double>(end);
      }
    }
    for (size_t i = 0; i < outputs; ++i) {
      for (const MetricPtr& metric : compiled.metrics[i]) {
        metric->update(output[i], batch_y[i], logits[i]);
        items[item++].second = metric->result();
      }
    }
    if (task != internal::Task::none) {
      internal::add_to_confusion(report->confusion, output[0], batch_y[0], task, logits[0]);
    }
    if (bar != nullptr) bar->update(++step, logs);
  }
  return logs;
}

EvaluationReport Model::evaluate(const Tensor& x, const Tensor& y, int64_t batch_size,
                                 int verbose) {
  return evaluate(as_list(x), as_list(y), batch_size, verbose);
}

EvaluationReport Model::evaluate(const std::vector<Tensor>& x, const std::vector<Tensor>& y,
                                 int64_t batch_size, int verbose) {
  compiled_state("evaluate");
  NABLA_CHECK(batch_size > 0, "evaluate: batch_size must be positive, got ", batch_size);
  NABLA_CHECK(verbose >= 0 && verbose <= 2, "evaluate: verbose must be 0, 1 or 2, got ", verbose);
  check_inputs(x, &y, "evaluate");
  NABLA_CHECK(x[0].size(0) > 0, "evaluate: x holds no samples");
  ensure_built(x, "evaluate");
  const std::vector<Tensor> targets = prepare_targets(y, "evaluate");
  const int64_t steps = (x[0].size(0) + batch_size - 1) / batch_size;
  ProgressBar bar(steps, verbose, std::cout, verbose == 1 && stdout_is_terminal());
  EvaluationReport report;
  const Logs logs = evaluate_logs(x, targets, batch_size, &report, &bar);
  bar.finish(logs);
  for (const auto& [name, value] : logs.items()) report.metrics[name] = value;
  if (report.is_classification()) internal::compute_class_scores(report);
  return report;
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  const std::vector<Tensor> outputs = predict(as_list(x), batch_size);
  NABLA_CHECK(outputs.size() == 1, "predict: the model '", name_, "' has ", outputs.size(),
              " outputs; call predict with a list of inputs to get them all");
  return outputs[0];
}

QuantizationReport Model::quantize_int8(const Tensor& x, const QuantizeOptions& options) {
  return quantize_int8(as_list(x), options);
}

QuantizationReport Model::quantize_int8(const std::vector<Tensor>& x,
                                        const QuantizeOptions& options) {
  NABLA_CHECK(!x.empty(), "quantize_int8: expected calibration data with at least one sample");
  const int64_t n = nn::calibration_samples(x[0], options);
  std::vector<Tensor> calibration;
  for (const Tensor& t : x) calibration.push_back(t.slice(0, 0, std::min(n, t.size(0))));
  QuantizationReport report =
      nabla::quantize_int8(*module_, [&] { predict(calibration, options.batch_size); });
  report.calibration_samples = n;
  return report;
}

// Inference keeps a forward's activations in cache: predict() splits a batch whose largest
// activation would exceed this many bytes into forwards of fewer samples (outputs are per sample,
// so the results are the same). Measured on the 2-core AVX-512 EPYC, the bench CNN (whose first
// convolution writes 86.5 KB per image) ran 40k images/s in fp32 and 73k in int8 in forwards of
// 64 images, 31k and 44k in forwards of 256: from 11 MB per activation on, every layer streams
// from memory (the max pooling after the first convolution took 1.5 ms at batch 256, 0.12 at 64).
constexpr int64_t kInferenceCacheBytes = int64_t{6} << 20;

int64_t Model::inference_chunk() {
  if (inference_chunk_ == 0) {
    int64_t largest = 1;  // bytes per sample of the largest input or layer output
    for (const Shape& shape : input_shapes_) largest = std::max(largest, 4 * shape_numel(shape));
    for (const internal::LayerNode& node : internal::layer_graph(*this))
      largest = std::max(largest, 4 * shape_numel(node.output_shape));
    inference_chunk_ = std::max<int64_t>(1, kInferenceCacheBytes / largest);
  }
  return inference_chunk_;
}

std::vector<Tensor> Model::predict(const std::vector<Tensor>& x, int64_t batch_size) {
  NABLA_CHECK(batch_size > 0, "predict: batch_size must be positive, got ", batch_size);
  FlushDenormalGuard denormals;
  const Autocast precision_scope(precision());
  check_inputs(x, nullptr, "predict");
  ensure_built(x, "predict");
  ModeGuard mode(*module_, false);
  NoGradGuard no_grad;
  const int64_t n = x[0].size(0);
  std::vector<Tensor> results(num_outputs());
  std::vector<Tensor> batch_x;
  std::vector<bool> logits;
  const int64_t step = std::min(batch_size, inference_chunk());
  for (int64_t start = 0; start < n; start += step) {
    const int64_t end = std::min(n, start + step);
    batch_x.clear();
    for (const Tensor& t : x) batch_x.push_back(t.slice(0, start, end));
    const std::vector<Tensor> outputs = forward_outputs(batch_x, false, logits);
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!results[i].defined()) {
        Shape shape = outputs[i].shape();
        shape[0] = n;
        results[i] = empty(shape, outputs[i].dtype());
      }
      results[i].slice(0, start, end).copy_(outputs[i]);
    }
  }
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].defined()) {
      Shape shape = output_shapes_.empty() ? Shape{0} : output_shapes_[i];
      shape[0] = 0;
      results[i] = empty(shape);
    }
  }
  return results;
}

}  // namespace nabla::train
