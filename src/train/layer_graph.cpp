// A model's layers as a graph: names, types, output shapes, parameter counts and inputs, for
// Keras's summary table and TensorBoard's graph.
#include "train/layer_graph.hpp"

#include <algorithm>
#include <cctype>

#include "train/internal.hpp"

namespace nabla::train::internal {

ParamCounts count_params(const nn::Module& module) {
  ParamCounts counts;
  for (const Tensor& p : module.parameters()) {
    (p.requires_grad() ? counts.trainable : counts.non_trainable) += p.numel();
  }
  for (const auto& [name, buffer] : module.named_buffers()) {
    if (is_floating(buffer.dtype())) counts.non_trainable += buffer.numel();
  }
  return counts;
}

std::vector<LayerNode> layer_graph(const Model& model) {
  std::vector<LayerNode> nodes;
  nn::Module& module = model.module();
  if (auto* graph = dynamic_cast<const nn::Graph*>(&module)) {
    for (const auto& node : graph->nodes()) {
      LayerNode& out = nodes.emplace_back();
      out.name = node->name;
      out.type = node->layer ? node->layer->type_name() : "InputLayer";
      out.output_shape = with_batch_axis(node->shape);
      // A shared layer's parameters are counted at its first call only.
      const bool first_call = node->name.back() != ']';
      out.params = node->layer && first_call ? count_params(*node->layer).total() : 0;
      for (const auto& input : node->inputs) out.inputs.push_back(input->name);
    }
    return nodes;
  }
  // Keras's names for a Sequential's layers (Sequential::layer_name), the type for one module.
  auto add = [&](const nn::Module& layer, std::string name, const Shape& output_shape) {
    LayerNode& out = nodes.emplace_back();
    out.name = std::move(name);
    out.type = layer.type_name();
    out.output_shape = output_shape;
    out.params = count_params(layer).total();
    if (nodes.size() > 1) out.inputs.push_back(nodes[nodes.size() - 2].name);
  };
  if (auto* sequential = dynamic_cast<const nn::Sequential*>(&module)) {
    const bool was_training = module.is_training();
    module.eval();
    NoGradGuard no_grad;
    Tensor h = zeros(with_batch_axis(model.input_shape()), module.input_dtype());
    for (size_t i = 0; i < sequential->size(); ++i) {
      h = sequential->layers()[i]->forward(h);
      add(*sequential->layers()[i], sequential->layer_name(i), h.shape());
    }
    module.train(was_training);
  } else {
    add(module, snake_case(module.type_name()), model.output_shape());
  }
  return nodes;
}

std::vector<LayerParameter> layer_parameters(const Model& model) {
  const auto* sequential = dynamic_cast<const nn::Sequential*>(&model.module());
  std::vector<LayerParameter> out;
  for (const auto& [name, tensor] : model.module().named_parameters()) {
    const std::string prefix = name.substr(0, name.find('.'));
    std::string layer = prefix;
    // A Sequential's children are named "0", "1", ...: summary() calls them dense, dense_1.
    const bool index = !prefix.empty() && std::all_of(prefix.begin(), prefix.end(), [](char c) {
      return std::isdigit(static_cast<unsigned char>(c)) != 0;
    });
    if (sequential != nullptr && index && std::stoul(prefix) < sequential->size()) {
      layer = sequential->layer_name(std::stoul(prefix));
    }
    out.push_back({.layer = layer,
                   .name = name,
                   .label = layer + name.substr(prefix.size()),
                   .tensor = tensor});
  }
  return out;
}

}  // namespace nabla::train::internal
