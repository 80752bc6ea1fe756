// Model::save / load_weights / load / save_checkpoint / load_checkpoint: safetensors weights with
// the model spec and the compile settings in the metadata. Members of train::Model, defined here
// because io knows train (never the other way round).
#include <cctype>
#include <iostream>

#include "core/text.hpp"
#include "io/training_state.hpp"
#include "nabla/io.hpp"
#include "nabla/optim.hpp"
#include "train/internal.hpp"

namespace nabla::train {
namespace {}  // namespace

void Model::save(const std::string& path, std::map<std::string, std::string> metadata) const {
  io::save_model(path, *module_, with_spec(path, std::move(metadata)), input_shape());
}

std::map<std::string, std::string> Model::with_spec(
    const std::string& path, std::map<std::string, std::string> metadata) const {
  if (metadata.count(io::kModelSpecKey) == 0) {
    // The compile settings go into the spec's "training" section when they can be rebuilt by
    // name, so that load() returns a model ready for evaluate() and further fit() calls.
    io::TrainingSpec training;
    bool with_training = false;
    if (compiled_ && internal::is_known_loss(compiled_->losses[0]->name())) {
      with_training = true;
      training.present = true;
      training.optimizer = nabla::internal::lowercase(compiled_->optimizer->name());
      training.lr = compiled_->optimizer->lr();
      training.loss = compiled_->losses[0]->name();
      training.metrics.clear();
      for (const MetricPtr& metric : compiled_->metrics[0]) {
        if (internal::is_known_metric(metric->name())) training.metrics.push_back(metric->name());
      }
    }
    try {
      metadata[io::kModelSpecKey] =
          io::model_to_spec(*module_, name_, input_shape(), with_training ? &training : nullptr);
    } catch (const Error& e) {
      // A custom layer: the weights are still worth saving, but the user must know that
      // Model::load cannot rebuild the model from this file.
      std::cerr << "nabla: warning: " << path << " is saved without a model spec (Model::load "
                << "will not rebuild it; use load_weights): " << e.what() << "\n";
    }
  }
  return metadata;
}

void Model::save_checkpoint(const std::string& path, const TrainingState& state,
                            std::map<std::string, std::string> metadata) const {
  metadata = with_spec(path, std::move(metadata));
  metadata[io::kTrainingStateKey] = io::internal::training_state_to_json(state);
  metadata.emplace("format", "pt");
  std::map<std::string, Tensor> tensors = module_->state_dict();
  for (const auto& [key, value] : state.optimizer) {
    tensors[io::kOptimizerStatePrefix + key] = value;
  }
  io::save_safetensors(path, tensors, metadata, /*checksum=*/true);
}

TrainingState Model::load_checkpoint(const std::string& path,
                                     std::map<std::string, std::string>* metadata) {
  optim::Optimizer& optimizer = *compiled_state("load_checkpoint").optimizer;
  io::SafeTensors file = io::load_safetensors(path);  // verifies the checksum
  const auto text = file.metadata.find(io::kTrainingStateKey);
  NABLA_CHECK(text != file.metadata.end(), "load_checkpoint: ", path, " holds no training state ",
              "(metadata key ", io::kTrainingStateKey, "): it was saved by Model::save or a ",
              "weights-only ModelCheckpoint; load it with load_weights and train from the start");
  TrainingState state = io::internal::training_state_from_json(text->second, path);
  const std::string prefix = io::kOptimizerStatePrefix;
  std::map<std::string, Tensor> weights;
  for (auto& [name, tensor] : file.tensors) {
    if (name.starts_with(prefix)) {
      state.optimizer[name.substr(prefix.size())] = std::move(tensor);
    } else {
      weights[name] = std::move(tensor);
    }
  }
  // Both loads check everything before they change anything; should the second fail, the first
  // is undone, so that a bad checkpoint leaves the model and its optimizer as they were.
  const std::map<std::string, Tensor> previous = optimizer.state_dict();
  try {
    optimizer.load_state_dict(state.optimizer);
    module_->load_state_dict(weights, /*strict=*/true);
  } catch (const Error& e) {
    optimizer.load_state_dict(previous);
    detail::throw_error(detail::str("load_checkpoint: ", path, ": ", e.what()));
  }
  if (metadata != nullptr) *metadata = std::move(file.metadata);
  return state;
}

void Model::load_weights(const std::string& path) { io::load_weights(path, *module_); }

Model Model::load(const std::string& path, std::map<std::string, std::string>* metadata) {
  io::LoadedModel loaded = io::load_model(path);
  if (metadata != nullptr) *metadata = loaded.metadata;
  Model model(loaded.model, loaded.spec.name);
  if (!model.built() && !loaded.spec.input_shape.empty()) model.build(loaded.spec.input_shape);
  const io::TrainingSpec& training = loaded.spec.training;
  if (training.present) {
    std::vector<MetricArg> metrics(training.metrics.begin(), training.metrics.end());
    model.compile(io::make_optimizer(training), training.loss, std::move(metrics),
                  {.precision = training.precision});
  }
  return model;
}

}  // namespace nabla::train
