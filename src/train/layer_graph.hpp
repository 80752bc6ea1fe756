// A model's layers as a graph, shared by Model::summary (Keras's table) and
// SummaryWriter::add_graph (TensorBoard's graph). Internal.
#pragma once

#include <string>
#include <vector>

#include "nabla/train.hpp"

namespace nabla::train::internal {

struct ParamCounts {
  int64_t trainable = 0;
  int64_t non_trainable = 0;  // frozen parameters and floating-point buffers (running stats)
  int64_t total() const { return trainable + non_trainable; }
};
ParamCounts count_params(const nn::Module& module);

struct LayerNode {
  std::string name;    // Keras's: dense, dense_1; a graph model's node names (tower[1]: 2nd call)
  std::string type;    // the layer's type_name(); "InputLayer" for a graph model's inputs
  Shape output_shape;  // batch axis included (1)
  int64_t params = 0;  // 0 for inputs and for the later calls of a shared layer
  std::vector<std::string> inputs;  // names of the nodes read; a Sequential's layer reads the one
                                    // before it, its first layer nothing
};

// The nodes of a built model in order: a graph model's nodes (inputs included), a Sequential's
// layers (output shapes found by running them on one zero sample, in eval mode, without grad), or
// one node for any other module.
std::vector<LayerNode> layer_graph(const Model& model);

// Each parameter of the model with the top-level layer it belongs to, the layer named as
// summary() names it: {"dense_1", "1.weight", "dense_1.weight"} for a Sequential's second Dense;
// a graph model's parameter names start with the layer's name already.
struct LayerParameter {
  std::string layer;
  std::string name;   // as named_parameters() gives it
  std::string label;  // the name with the layer's summary() name in front
  Tensor tensor;
};
std::vector<LayerParameter> layer_parameters(const Model& model);

}  // namespace nabla::train::internal
