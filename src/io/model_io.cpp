// Model::save / load_weights / load: safetensors weights with the model spec and the compile
// settings in the metadata. Members of train::Model, defined here because io knows train (never
// the other way round).
#include <cctype>

#include "nabla/io.hpp"
#include "train/internal.hpp"

namespace nabla::train {
namespace {

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Only the layer types of the JSON model format make a spec (see io.hpp).
bool spec_can_describe(const nn::Module& module) {
  const auto* sequential = dynamic_cast<const nn::Sequential*>(&module);
  if (sequential == nullptr) return false;
  for (const nn::ModulePtr& layer : sequential->layers()) {
    const nn::Module* m = layer.get();
    if (!dynamic_cast<const nn::Linear*>(m) && !dynamic_cast<const nn::Flatten*>(m) &&
        !dynamic_cast<const nn::Dropout*>(m) && !dynamic_cast<const nn::Activation*>(m)) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Model::save(const std::string& path, std::map<std::string, std::string> metadata) const {
  if (metadata.count(io::kModelSpecKey) == 0 && spec_can_describe(*module_)) {
    // The compile settings go into the spec's "training" section when they can be rebuilt by
    // name, so that load() returns a model ready for evaluate() and further fit() calls.
    io::TrainingSpec training;
    bool with_training = false;
    if (compiled_ && internal::is_known_loss(compiled_->loss->name())) {
      with_training = true;
      training.present = true;
      training.optimizer = lowercase(compiled_->optimizer->name());
      training.lr = compiled_->optimizer->lr();
      training.loss = compiled_->loss->name();
      training.metrics.clear();
      for (const MetricPtr& metric : compiled_->metrics) {
        if (internal::is_known_metric(metric->name())) training.metrics.push_back(metric->name());
      }
    }
    metadata[io::kModelSpecKey] =
        io::model_to_spec(static_cast<const nn::Sequential&>(*module_), name_, input_shape_,
                          with_training ? &training : nullptr);
  }
  io::save_model(path, *module_, std::move(metadata), input_shape_);
}

void Model::load_weights(const std::string& path) { io::load_weights(path, *module_); }

Model Model::load(const std::string& path, std::map<std::string, std::string>* metadata) {
  io::LoadedModel loaded = io::load_model(path);
  if (metadata != nullptr) *metadata = loaded.metadata;
  Model model(loaded.model, loaded.spec.name);
  if (!loaded.spec.input_shape.empty()) model.build(loaded.spec.input_shape);
  const io::TrainingSpec& training = loaded.spec.training;
  if (training.present) {
    std::vector<MetricArg> metrics(training.metrics.begin(), training.metrics.end());
    model.compile(optim::make_optimizer(training.optimizer, training.lr), training.loss,
                  std::move(metrics));
  }
  return model;
}

}  // namespace nabla::train
