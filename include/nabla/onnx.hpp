// ONNX export and import: a built model as an ONNX file (opset 17, IR version 8) that ONNX Runtime
// and the other ONNX tools run, and an ONNX file (from PyTorch, say) as a nabla graph model. Built
// on Debian's libonnx-dev (the ONNX C++ library: its protobuf classes, checker and shape
// inference); a nabla built without it still declares these functions, which then say how to get
// them.
#pragma once

#include <string>
#include <vector>

#include "nabla/train.hpp"

namespace nabla::io {

inline constexpr int kOnnxOpset = 17;
inline constexpr int kOnnxIrVersion = 8;

struct OnnxExportOptions {
  std::string graph_name;  // "" = the model's name, else "nabla_model"
};

// Writes `model` (built: its layers have their weights) as an ONNX model to `path`, atomically.
// The graph's inputs are the model's inputs with a dynamic batch axis "N" (a Sequential's is named
// "input", a graph model's keep their names); its outputs are named "output" (a Sequential) or
// after the graph model's output layers. Weights are initializers named after the layer and the
// parameter ("dense_1.weight"); the model runs in inference form (dropout is the identity, batch
// normalization uses the running statistics). The model is checked by ONNX's checker and shape
// inference before it is written. Errors: a layer with no ONNX form (all such layers are listed,
// each with its name, type and why), an unbuilt model, a file that cannot be written, a nabla
// built without libonnx-dev.
void export_onnx(const train::Model& model, const std::string& path,
                 const OnnxExportOptions& options = {});

// Whether this build of nabla can export ONNX (it was built with libonnx-dev).
bool onnx_export_available();

// ONNX import: the model in the ONNX file `path` (opsets 7 to 17) as a nabla graph model
// (nn::Graph, in eval mode), whose layers carry the file's weights; wrap it in a train::Model to
// evaluate, train or save it like any other. The graph's inputs (float, only the batch axis
// dynamic) become the model's Inputs, its outputs the model's outputs. Supported operators (see
// docs/guide.md for their limits): Gemm, MatMul (+ Add as its bias), Relu, Sigmoid, Tanh, Softmax,
// LogSoftmax, LeakyRelu, Elu, Softplus, LayerNormalization, Flatten, Reshape, Conv,
// BatchNormalization, MaxPool, AveragePool, GlobalAveragePool, Add and Sum (residual), Concat,
// Identity, Dropout, Pad (zero width), Constant, LSTM and GRU (batch-first, as PyTorch
// exports them, with the Transpose/Squeeze/Gather/Shape/Slice nodes around them). Errors, each
// naming the file: not an ONNX model, an opset outside 7..17, ONNX's checker refusing the model,
// operators nabla has no layer for (all of them listed at once, each with its nodes), a supported
// operator in a configuration nabla has no layer for (naming the node and why), a damaged tensor,
// a nabla built without libonnx-dev.
nn::ModulePtr import_onnx(const std::string& path);

// Whether this build of nabla can import ONNX (it was built with libonnx-dev).
bool onnx_import_available();

}  // namespace nabla::io
