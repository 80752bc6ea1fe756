// Model::summary(): Keras's table of the model's layers (internal::layer_graph): one row per
// layer of a Sequential, per node of a graph model (with "Connected to"), or one for any other
// module.
#include <algorithm>

#include "train/format.hpp"
#include "train/internal.hpp"
#include "train/layer_graph.hpp"

namespace nabla::train {
namespace {

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
  const bool graph = dynamic_cast<const nn::Graph*>(module_.get()) != nullptr;
  std::vector<Row> rows;
  for (const internal::LayerNode& node : internal::layer_graph(*this)) {
    Row& row = rows.emplace_back();
    row.layer = node.name + " (" + node.type + ")";
    row.shape = keras_shape(node.output_shape);
    row.params = std::to_string(node.params);
    if (graph) {
      for (const std::string& input : node.inputs) row.connected.push_back(node_reference(input));
    }
  }

  // Keras's columns: 29, 26 and 10 characters (65 in all) for sequential models; functional
  // ones add "Connected to" (Keras's 98-character table: 32, 22, 12, 32).
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
  const internal::ParamCounts totals = internal::count_params(*module_);
  text += "Total params: " + with_thousands(totals.total()) + "\n";
  text += "Trainable params: " + with_thousands(totals.trainable) + "\n";
  text += "Non-trainable params: " + with_thousands(totals.non_trainable) + "\n";
  text += thin + "\n";
  return text;
}

}  // namespace nabla::train
