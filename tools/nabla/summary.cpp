// nabla summary: the Keras-style table of a preset or a JSON model file.
#include <iostream>
#include <memory>

#include "common.hpp"

namespace nabla::cli {
namespace {

struct SummaryOptions {
  std::string model = "mlp";
  std::string input_shape;
};

void run_summary(const SummaryOptions& options) {
  io::ModelSpec spec = io::resolve_model_spec(options.model);
  if (!options.input_shape.empty()) spec.input_shape = parse_shape(options.input_shape);
  NABLA_CHECK(!spec.input_shape.empty(), "summary: model ", spec.name,
              " gives no input_shape; pass one, e.g. --input-shape 28,28");
  train::Model model(io::build_model(spec), spec.name);
  if (!model.built()) model.build(spec.input_shape);
  std::cout << model.summary();
}

}  // namespace

Command add_summary_command(CLI::App& app) {
  auto options = std::make_shared<SummaryOptions>();
  CLI::App* sub = app.add_subcommand("summary", "Print a model's layers, shapes and parameters");
  sub->add_option("--model,-m", options->model, "Built-in preset name or JSON model file")
      ->check(model_name_or_file())
      ->capture_default_str();
  sub->add_option("--input-shape", options->input_shape,
                  "Input shape without the batch axis, e.g. 28,28 (default: the model's)")
      ->check(checked_by([](const std::string& text) { parse_shape(text); }, "SIZES"));
  sub->footer(
      "Examples:\n"
      "  nabla summary                     # the preset mlp\n"
      "  nabla summary --model my_model.json --input-shape 28,28");
  return {sub, [options] { run_summary(*options); }};
}

}  // namespace nabla::cli
