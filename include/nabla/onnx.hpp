// ONNX export: a built model as an ONNX file (opset 17, IR version 8) that ONNX Runtime and the
// other ONNX tools run. Built on Debian's libonnx-dev (the ONNX C++ library: its protobuf classes,
// checker and shape inference); a nabla built without it still declares these functions, and
// export_onnx then says how to get them.
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

}  // namespace nabla::io
