// What the ONNX import files share: the values of an ONNX graph as the importer sees them (a
// symbolic nabla tensor, a constant, a shape computation, or an output of a recurrent node in one
// of the layouts PyTorch's exporter reshapes it through) and the importer that turns the nodes, in
// their (topological) file order, into layer calls of an nn::Graph. Internal to
// src/io/onnx_import*.cpp (only they include the ONNX headers).
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "nabla/nn.hpp"

namespace nabla::io::onnx_import {

// The batch size inside a shape computation (Shape(input)[0]): unknown until the model runs.
inline constexpr int64_t kBatch = std::numeric_limits<int64_t>::min();

// How the outputs of ONNX's LSTM/GRU (D = 1 or 2 directions) are laid out after the nodes read
// so far. nabla's Recurrent layer (batch_first) gives [N, T, D * H] (return_sequences) or
// [N, D * H]; a view becomes one of those at the node that brings it to that layout.
enum class RnnView {
  y,                  // Y [T, D, N, H]
  y_steps_split,      // Transpose(Y, {0, 2, 1, 3}): [T, N, D, H] (torch, bidirectional)
  y_time_major,       // Squeeze(Y, 1) (D = 1) or Reshape(y_steps_split, {0, 0, -1}): [T, N, D * H]
  y_batch_major,      // Transpose(Y, {2, 0, 1, 3}): [N, T, D, H]
  y_batch_first,      // Transpose(y_time_major, {1, 0, 2}): [N, T, D * H], nabla's sequences
  state,              // Y_h [D, N, H]
  state_batch_major,  // Transpose(Y_h, {1, 0, 2}): [N, D, H]
};

struct Value {
  enum class Kind {
    tensor,     // a symbolic tensor of the graph model
    constant,   // a float initializer or Constant
    ints,       // an int64 constant or shape computation (kBatch stands for the batch size)
    zeros,      // ConstantOfShape with value 0 (a recurrent node's initial state)
    matmul,     // MatMul(x, constant [in, out]): a Dense, with the bias of an Add that follows
    recurrent,  // an output of an LSTM/GRU node, in `view`
    // tensor * scale + offset by scalar constants (Add, Sub, Mul, Div): a Rescaling layer where it
    // is read as data, or the start of GELU's erf formula.
    scaled,
    // GELU's erf formula as PyTorch writes it, x * 0.5 * (1 + erf(x / sqrt 2)), part by part
    // (`tensor` is x): erf(x / sqrt 2), then 1 + that, then x times that (without the 0.5).
    gelu_erf,
    gelu_one_plus,
    gelu_unhalved,
    // GroupNorm's lowering as PyTorch and nabla write it (`tensor` is x [N, C, ...]):
    // InstanceNormalization of Reshape(x, [N, G, -1]) with scale 1 and bias 0, reshaped back to
    // x's shape, times the per-channel weight (`constant`, [C]), plus the bias.
    group_norm,
    group_norm_restored,
    group_norm_scaled,
  };
  Kind kind = Kind::tensor;
  nn::SymbolicTensor tensor;     // tensor; matmul and recurrent: the input
  bool time_major = false;       // tensor: Transpose(x [N, T, F], {1, 0, 2}), read by LSTM/GRU only
  Tensor constant;               // constant; matmul: the weight [in, out]
  std::vector<int64_t> ints;     // ints
  Shape ints_shape;              // ints: {} for a scalar, {k} for a vector
  int node = -1;                 // recurrent: the LSTM/GRU node's index
  RnnView view = RnnView::y;     // recurrent
  int64_t directions = 1;        // recurrent: D
  double scale = 1, offset = 0;  // scaled
  int64_t groups = 0;            // group_norm*
  double epsilon = 0;            // group_norm*
};

class Importer {
 public:
  Importer(const onnx::ModelProto& model, std::string path);
  // The graph model, with every layer's weights set from the initializers.
  nn::ModulePtr run();

  // For the converters (onnx_import_layers.cpp, onnx_import_shapes.cpp,
  // onnx_import_recurrent.cpp).
  const std::string& path() const { return path_; }
  int64_t opset() const { return opset_; }
  // "Conv node '/conv1/Conv'" for error messages.
  std::string where(const onnx::NodeProto& node) const;
  const Value& value(const onnx::NodeProto& node, size_t input) const;
  bool has_input(const onnx::NodeProto& node, size_t input) const;
  // The input as a symbolic tensor (a pending MatMul becomes its Dense layer here).
  nn::SymbolicTensor tensor(const onnx::NodeProto& node, size_t input);
  // The value `name` as a symbolic tensor, building what it waits for (the Dense of a MatMul, the
  // recurrent layer of a batch-first sequence); Error naming `reader` for any other kind.
  nn::SymbolicTensor materialize(const std::string& name, const onnx::NodeProto& reader);
  const Tensor& constant(const onnx::NodeProto& node, size_t input) const;
  const std::vector<int64_t>& ints(const onnx::NodeProto& node, size_t input) const;
  void set(const onnx::NodeProto& node, size_t output, Value value);
  void set_tensor(const onnx::NodeProto& node, nn::SymbolicTensor tensor);
  // How many nodes (and graph outputs) read the value `name`.
  int uses(const std::string& name) const;
  const onnx::NodeProto& node_at(int index) const { return graph_.node(index); }
  // The nabla layer of a recurrent node, built on its first use with the outputs it gives.
  nn::SymbolicTensor recurrent_output(const Value& v, bool sequences,
                                      const onnx::NodeProto& reader);

 private:
  void convert(int index);
  Value initializer(const onnx::TensorProto& t) const;

  const onnx::GraphProto& graph_;
  std::string path_;
  int64_t opset_ = 0;
  std::map<std::string, Value> values_;
  std::map<std::string, int> uses_;
  std::map<int, std::pair<bool, nn::SymbolicTensor>> recurrent_;  // node -> (sequences, output)
};

// Calls `layer` on `inputs` (which builds its weights) and copies `weights` (parameter or buffer
// name -> value) into it; Error naming the node on a shape that does not match.
nn::SymbolicTensor call_layer(Importer& importer, const onnx::NodeProto& node,
                              const nn::ModulePtr& layer,
                              const std::vector<nn::SymbolicTensor>& inputs,
                              const std::map<std::string, Tensor>& weights);

// The float tensor or int64 values of an ONNX TensorProto (raw or typed data); Error naming it for
// another type.
Tensor float_tensor(const onnx::TensorProto& t, const std::string& path);
std::vector<int64_t> int_values(const onnx::TensorProto& t, const std::string& path);

// A node configuration nabla has no layer for: one Error naming the node and why.
[[noreturn]] void refuse(const Importer& im, const onnx::NodeProto& node, const std::string& why);

// Converts one node; the per-family converters return false for an op they do not handle.
void convert_node(Importer& importer, const onnx::NodeProto& node, int index);
bool convert_layer_op(Importer& importer, const onnx::NodeProto& node);
bool convert_shape_op(Importer& importer, const onnx::NodeProto& node);
bool convert_recurrent_op(Importer& importer, const onnx::NodeProto& node, int index);
bool convert_arithmetic_op(Importer& importer, const onnx::NodeProto& node);
// Add, Sub, Mul or Div of a tensor and a scalar constant, or of two tensors of one shape
// (onnx_import_arithmetic.cpp; Add comes here unless it is a MatMul's bias).
void arithmetic(Importer& importer, const onnx::NodeProto& node);
// nabla's Recurrent layer for an LSTM/GRU node, called on its batch-first input `x`, giving every
// step (`sequences`) or the final hidden state.
nn::SymbolicTensor build_recurrent(Importer& importer, const onnx::NodeProto& node,
                                   const nn::SymbolicTensor& x, bool sequences);

// The op types the importer knows (the check before conversion lists all others at once).
bool is_supported_op(const std::string& op_type);

// Attribute lookups with ONNX's defaults.
int64_t attr_int(const onnx::NodeProto& node, const std::string& name, int64_t fallback);
float attr_float(const onnx::NodeProto& node, const std::string& name, float fallback);
std::string attr_string(const onnx::NodeProto& node, const std::string& name,
                        const std::string& fallback);
std::vector<int64_t> attr_ints(const onnx::NodeProto& node, const std::string& name,
                               std::vector<int64_t> fallback);
const onnx::TensorProto* attr_tensor(const onnx::NodeProto& node, const std::string& name);

}  // namespace nabla::io::onnx_import
