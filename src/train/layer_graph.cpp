// A model's layers as a graph: names, types, output shapes, parameter counts and inputs, for
// Keras's summary table and TensorBoard's graph.
#include "train/layer_graph.hpp"

#include <map>

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
  // Keras's names: the type in snake case, numbered from the second layer of a type on.
  std::map<std::string, int> name_counts;
  auto add = [&](const nn::Module& layer, const Shape& output_shape) {
    const std::string base = snake_case(layer.type_name());
    const int index = name_counts[base]++;
    LayerNode& out = nodes.emplace_back();
    out.name = index == 0 ? base : base + "_" + std::to_string(index);
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
    for (const nn::ModulePtr& layer : sequential->layers()) {
      h = layer->forward(h);
      add(*layer, h.shape());
    }
    module.train(was_training);
  } else {
    add(module, model.output_shape());
  }
  return nodes;
}

}  // namespace nabla::train::internal
