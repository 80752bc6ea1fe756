// nabla import: an ONNX model (from PyTorch's torch.onnx.export, say) as a checkpoint folder like
// the one `nabla train --out` writes (model.safetensors with the spec in its metadata, and
// model.json), so that evaluate, predict, summary, export and train --init-from read it.
#include <filesystem>
#include <iostream>
#include <memory>

#include "common.hpp"
#include "nabla/onnx.hpp"

namespace nabla::cli {
namespace {

struct ImportOptions {
  std::string onnx;
  std::string out;
  std::string name;
};

void run_import(const ImportOptions& options) {
  nn::ModulePtr module = io::import_onnx(options.onnx);
  const std::string name =
      !options.name.empty() ? options.name : std::filesystem::path(options.onnx).stem().string();
  train::Model model(module, name);
  // The spec is worked out before anything is written: a model that no spec describes fails here
  // and leaves the folder as it was.
  const std::string spec = io::model_to_spec(model.module(), name, model.input_shape());
  std::filesystem::create_directories(options.out);
  const std::filesystem::path dir(options.out);
  // model.safetensors last: it is the checkpoint the other commands read (as `nabla train`).
  data::write_file_atomic((dir / tasks::kSpecFile).string(), spec, "model spec");
  model.save((dir / tasks::kWeightsFile).string());
  std::cout << "Imported " << options.onnx << " (" << model.module().num_parameters()
            << " parameters) into " << (dir / tasks::kWeightsFile).string() << " and "
            << (dir / tasks::kSpecFile).string() << "\n";
}

}  // namespace

Command add_import_command(CLI::App& app) {
  auto options = std::make_shared<ImportOptions>();
  CLI::App* sub = app.add_subcommand("import", "Turn an ONNX model into a nabla checkpoint folder");
  sub->add_option("onnx", options->onnx, "The ONNX file to import (opsets 7 to 17)")->required();
  sub->add_option("--out,-o", options->out,
                  "Folder to write model.safetensors and model.json into (created if missing)")
      ->required();
  sub->add_option("--name", options->name, "The model's name (default: the file's stem)");
  sub->footer(
      "Examples:\n"
      "  nabla import resnet.onnx --out runs/resnet\n"
      "  nabla predict --checkpoint runs/resnet --input x.npy --output y.npy");
  return {sub, [options] { run_import(*options); }};
}

}  // namespace nabla::cli
