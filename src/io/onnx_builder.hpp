// What the ONNX layer converters share: a builder that adds nodes, initializers and attributes to
// a GraphProto under stable names, the description of one layer call, and the converters' entry
// points by layer family. Internal to src/io/onnx_*.cpp (only they include the ONNX headers).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "nabla/nn.hpp"

namespace nabla::io::onnx_export {

// Thrown by a converter for a layer (or a configuration of it) that has no ONNX form; the exporter
// collects one per layer and reports them all in one Error.
class Unsupported : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One call of a layer in the model: the value names it reads and must write, and their shapes
// (batch axis included, of size 1: the sample the model was built on).
struct LayerCall {
  nn::Module* layer = nullptr;  // not const: a nested block runs its parts once for their shapes
  std::string name;  // the layer node's name ("dense_1"): prefix of everything the call adds
  std::vector<std::string> inputs;
  std::vector<Shape> input_shapes;
  std::string output;
  Shape output_shape;
};

class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto& graph) : graph_(graph) {}

  // Adds `op` reading `inputs` and writing `outputs`; the node is named `name` (made unique).
  onnx::NodeProto& node(const std::string& op, const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs, const std::string& name);
  // A single-output node writing a fresh value "<prefix>/<op>" (made unique); returns its name.
  std::string value(const std::string& op, const std::vector<std::string>& inputs,
                    const std::string& prefix);

  // A value name not used yet, for a node added later: "<prefix>/<what>" (made unique).
  std::string fresh(const std::string& prefix, const std::string& what) {
    return unique(prefix + "/" + what);
  }

  // Float initializers, converted to f32 from a floating tensor of any layout; return their name.
  std::string weight(const std::string& name, const Tensor& value);
  std::string floats(const std::string& name, const Shape& shape, const std::vector<float>& values);
  std::string scalar(const std::string& name, float value) { return floats(name, {}, {value}); }
  std::string ints(const std::string& name, const std::vector<int64_t>& values);  // 1-d i64
  // A bool initializer of `shape` (masks: true = may attend).
  std::string bools(const std::string& name, const Shape& shape, const std::vector<bool>& values);

  static void set(onnx::NodeProto& node, const std::string& key, int64_t value);
  static void set(onnx::NodeProto& node, const std::string& key, float value);
  static void set(onnx::NodeProto& node, const std::string& key, const std::string& value);
  static void set(onnx::NodeProto& node, const std::string& key,
                  const std::vector<int64_t>& values);
  static void set(onnx::NodeProto& node, const std::string& key,
                  const std::vector<std::string>& values);

 private:
  std::string unique(const std::string& name);
  // A new initializer under `name` (made unique), of ONNX's `data_type`, with `shape` as its dims.
  onnx::TensorProto& initializer(const std::string& name, int data_type, const Shape& shape);
  onnx::GraphProto& graph_;
  std::set<std::string> used_;  // node, value and initializer names given so far
};

// Writes `activation` (nabla's names: "relu", "softmax", "gelu", ...; "" and "linear" copy) of
// `input` to `output`, leaky_relu with `negative_slope`. Unsupported for a name ONNX has no form
// of.
void emit_activation(GraphBuilder& b, const std::string& activation, const std::string& input,
                     const std::string& output, const std::string& prefix,
                     double negative_slope = 0.01);

// The converters by family: each returns false when the layer is not of its family, writes the
// call's nodes and returns true when it is, and throws Unsupported for a configuration without
// an ONNX form.
bool convert_core_layer(const LayerCall& call, GraphBuilder& b);       // onnx_core_layers.cpp
bool convert_cnn_layer(const LayerCall& call, GraphBuilder& b);        // onnx_cnn_layers.cpp
bool convert_sequence_layer(const LayerCall& call, GraphBuilder& b);   // onnx_sequence_layers.cpp
bool convert_attention_layer(const LayerCall& call, GraphBuilder& b);  // onnx_attention_layers.cpp

// Any layer: tries the families in turn; Unsupported for a layer none of them knows.
void convert_layer(const LayerCall& call, GraphBuilder& b);

// A layer inside the call's layer (a block's part), applied to `input` of `input_shape`: named
// "<call>.<part_name>", its output shape found by running it once on zeros (no grad). Writes
// `output` when given, else the part's name; returns the value written.
std::string convert_part(const LayerCall& call, nn::Module& part, const std::string& part_name,
                         const std::string& input, const Shape& input_shape, Shape& output_shape,
                         GraphBuilder& b, const std::string& output = "");
// The child registered as `name` in `layer` (a block's part); Unsupported when there is none.
nn::Module& child(const nn::Module& layer, const std::string& name);

}  // namespace nabla::io::onnx_export
