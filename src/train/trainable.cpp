// Model::set_trainable: freezing layers by the names summary() prints, for fine-tuning.
#include <fnmatch.h>

#include "train/layer_graph.hpp"

namespace nabla::train {

int64_t Model::set_trainable(const std::string& pattern, bool trainable) {
  NABLA_CHECK(built_, "set_trainable: build the model first (the layer names come from its ",
              "layers)");
  const std::vector<internal::LayerNode> nodes = internal::layer_graph(*this);
  // The module behind each node, in the order layer_graph lists them.
  std::vector<nn::Module*> layers;
  if (graph_ != nullptr) {
    for (const auto& node : graph_->nodes()) layers.push_back(node->layer.get());
  } else if (auto* sequential = dynamic_cast<nn::Sequential*>(module_.get())) {
    for (const nn::ModulePtr& layer : sequential->layers()) layers.push_back(layer.get());
  } else {
    layers.push_back(module_.get());
  }
  int64_t matched = 0;
  std::string names;
  for (size_t i = 0; i < nodes.size() && i < layers.size(); ++i) {
    names += (names.empty() ? "" : ", ") + nodes[i].name;
    if (layers[i] == nullptr || ::fnmatch(pattern.c_str(), nodes[i].name.c_str(), 0) != 0) {
      continue;
    }
    layers[i]->set_trainable(trainable);
    ++matched;
  }
  NABLA_CHECK(matched > 0, "set_trainable: no layer of '", name_, "' matches '", pattern,
              "'; its layers are ", names);
  return matched;
}

}  // namespace nabla::train
