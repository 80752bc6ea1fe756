// Model::summary(): Keras's table for a Sequential (one row per layer, output shapes found by
// running the layers on one zero sample), or one row for any other module.
#include <algorithm>
#include <map>

#include "train/format.hpp"
#include "train/internal.hpp"

namespace nabla::train {
namespace {

struct ParamCounts {
  int64_t trainable = 0;
  int64_t non_trainable = 0;  // frozen parameters and floating-point buffers (running stats)
  int64_t total() const { return trainable + non_trainable; }
};

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

struct Row {
  std::string layer;
  std::string shape;
  std::string params;
  std::vector<std::string> connected;  // graph models: one line per input
};

// Keras's reference to a node's output in "Connected to": layer[call][tensor].
std::string node_reference(const std::string& node_name) {
  return node_name.back() == ']' ? node_name + "[0]" : node_name + "[0][0]";
}

// Pads `text` to `width` (Keras's fixed columns, widened when a cell is longer).
std::string padded(const std::string& text, size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

std::string trimmed(std::string line) {
  line.erase(line.find_last_not_of(' ') + 1);
  return line;
}

}  // namespace

std::string Model::summary() const {
  NABLA_CHECK(built_, "summary: the model '", name_,
              "' is not built yet; call build(input_shape) (e.g. build({28, 28})) or fit() first");
  std::vector<Row> rows;
  std::map<std::string, int> name_counts;
  auto row_for = [&](const nn::Module& layer, const Shape& output_shape) {
    const std::string base = internal::snake_case(layer.type_name());
    const int index = name_counts[base]++;
    const std::string name = index == 0 ? base : base + "_" + std::to_string(index);
    rows.push_back({name + " (" + layer.type_name() + ")",
                    keras_shape(output_shape),
                    std::to_string(count_params(layer).total()),
                    {}});
  };
  if (auto* graph = dynamic_cast<const nn::Graph*>(module_.get())) {
    for (const auto& node : graph->nodes()) {
      Row row;
      const std::string type = node->layer ? node->layer->type_name() : "InputLayer";
      row.layer = node->name + " (" + type + ")";
      row.shape = keras_shape(internal::with_batch_axis(node->shape));
      // A shared layer's parameters are counted at its first call only.
      const bool first_call = node->name.back() != ']';
      row.params =
          std::to_string(node->layer && first_call ? count_params(*node->layer).total() : 0);
      for (const auto& input : node->inputs) row.connected.push_back(node_reference(input->name));
      rows.push_back(std::move(row));
    }
  } else if (auto* sequential = dynamic_cast<const nn::Sequential*>(module_.get())) {
    const bool was_training = module_->is_training();
    module_->eval();
    NoGradGuard no_grad;
    Shape batch_shape{1};
    batch_shape.insert(batch_shape.end(), input_shape().begin(), input_shape().end());
    Tensor h = zeros(batch_shape, module_->input_dtype());
    for (const nn::ModulePtr& layer : sequential->layers()) {
      h = layer->forward(h);
      row_for(*layer, h.shape());
    }
    module_->train(was_training);
  } else {
    row_for(*module_, output_shape());
  }

  // Keras's columns: 29, 26 and 10 characters (65 in all) for sequential models; functional
  // ones add "Connected to" (Keras's 98-character table: 32, 22, 12, 32).
  const bool graph = dynamic_cast<const nn::Graph*>(module_.get()) != nullptr;
  size_t layer_width = graph ? 32 : 29, shape_width = graph ? 22 : 26,
         params_width = graph ? 12 : 10, connected_width = graph ? 32 : 0;
  for (const Row& row : rows) {
    layer_width = std::max(layer_width, row.layer.size() + 1);
    shape_width = std::max(shape_width, row.shape.size() + 1);
    params_width = std::max(params_width, row.params.size() + 1);
    for (const std::string& ref : row.connected) {
      connected_width = std::max(connected_width, ref.size() + 1);
    }
  }
  const size_t line_length = layer_width + shape_width + params_width + connected_width;
  const std::string thin(line_length, '_'), thick(line_length, '=');
  std::string text = "Model: \"" + name_ + "\"\n" + thin + "\n";
  text += trimmed(padded("Layer (type)", layer_width) + padded("Output Shape", shape_width) +
                  (graph ? padded("Param #", params_width) + "Connected to" : "Param #")) +
          "\n" + thick + "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    std::string line = padded(row.layer, layer_width) + padded(row.shape, shape_width);
    line +=
        graph ? padded(row.params, params_width) + (row.connected.empty() ? "[]" : row.connected[0])
              : row.params;
    text += trimmed(line) + "\n";
    for (size_t k = 1; k < row.connected.size(); ++k) {
      text += std::string(layer_width + shape_width + params_width, ' ') + row.connected[k] + "\n";
    }
    text += (i + 1 < rows.size() ? thin : thick) + "\n";
  }
  if (rows.empty()) text += thick + "\n";
  const ParamCounts totals = count_params(*module_);
  text += "Total params: " + with_thousands(totals.total()) + "\n";
  text += "Trainable params: " + with_thousands(totals.trainable) + "\n";
  text += "Non-trainable params: " + with_thousands(totals.non_trainable) + "\n";
  text += thin + "\n";
  return text;
}

}  // namespace nabla::train
