// nabla export: a checkpoint written by `nabla train --out` as an ONNX model (io::export_onnx),
// for ONNX Runtime and the other ONNX tools.
#include <iostream>
#include <memory>

#include "common.hpp"
#include "nabla/onnx.hpp"

namespace nabla::cli {
namespace {

struct ExportOptions {
  std::string checkpoint;
  std::string onnx;
};

void run_export(const ExportOptions& options) {
  const LoadedCheckpoint loaded = load_checkpoint(options.checkpoint);
  io::export_onnx(loaded.model, options.onnx);
  std::cout << "Wrote " << options.onnx << " (ONNX opset " << io::kOnnxOpset << ", model "
            << (loaded.spec.name.empty() ? "model" : loaded.spec.name) << ", input [N";
  for (int64_t d : loaded.model.input_shape()) std::cout << ", " << d;
  std::cout << "])\n";
}

}  // namespace

Command add_export_command(CLI::App& app) {
  auto options = std::make_shared<ExportOptions>();
  CLI::App* sub = app.add_subcommand("export", "Write a trained model as an ONNX file");
  sub->add_option("--checkpoint,-c", options->checkpoint,
                  "Folder written by `nabla train --out` (or its model.safetensors)")
      ->required();
  sub->add_option("--onnx", options->onnx, "The ONNX file to write (opset 17)")->required();
  sub->footer(
      "Examples:\n"
      "  nabla train --out runs/mlp && nabla export --checkpoint runs/mlp --onnx mlp.onnx\n"
      "  nabla export --checkpoint runs/cnn/model.safetensors --onnx cnn.onnx");
  return {sub, [options] { run_export(*options); }};
}

}  // namespace nabla::cli
