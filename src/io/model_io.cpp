// Model::save / load_weights / load: safetensors weights with the model spec and the compile
// settings in the metadata. Members of train::Model, defined here because io knows train (never
// the other way round).
#include <cctype>
#include <iostream>

#include "nabla/io.hpp"
#include "train/internal.hpp"

namespace nabla::train {
namespace {

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

void Model::save(const std::string& path, std::map<std::string, std::string> metadata) const {
  if (metadata.count(io::kModelSpecKey) == 0) {
    // The compile settings go into the spec's "training" section when they can be rebuilt by
    // name, so that load() returns a model ready for evaluate() and further fit() calls.
    io::TrainingSpec training;
    bool with_training = false;
    if (compiled_ && internal::is_known_loss(compiled_->losses[0]->name())) {
      with_training = true;
      training.present = true;
      training.optimizer = lowercase(compiled_->optimizer->name());
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
  io::save_model(path, *module_, std::move(metadata), input_shape());
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
    model.compile(optim::make_optimizer(training.optimizer, training.lr), training.loss,
                  std::move(metrics));
  }
  return model;
}

}  // namespace nabla::train
