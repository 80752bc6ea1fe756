// Shared pieces of the nabla command line: subcommand registration, model and data lookup, output
// folders and checkpoint files.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nabla/data.hpp"
#include "nabla/io.hpp"
#include "nabla/train.hpp"

namespace nabla::cli {

// A subcommand: its parser, and what runs it once the command line is parsed.
struct Command {
  CLI::App* app = nullptr;
  std::function<void()> run;
};

Command add_train_command(CLI::App& app);
Command add_evaluate_command(CLI::App& app);
Command add_predict_command(CLI::App& app);
Command add_summary_command(CLI::App& app);
Command add_generate_command(CLI::App& app);

// Files in a folder written by `nabla train --out`.
inline constexpr const char* kWeightsFile = "model.safetensors";
inline constexpr const char* kSpecFile = "model.json";
inline constexpr const char* kMetricsFile = "metrics.csv";
// Checkpoint metadata written by `nabla train`.
inline constexpr const char* kClassNamesKey = "nabla.class_names";  // JSON array
inline constexpr const char* kDataDirKey = "nabla.data_dir";
inline constexpr const char* kTokenizerKey = "nabla.tokenizer";  // data::Tokenizer::to_json()

// --model: a JSON model file (a path that exists or ends in .json) or a built-in preset name.
io::ModelSpec resolve_model_spec(const std::string& name_or_path);

// --data: a folder with the four MNIST-layout IDX files; "" is Debian's Fashion-MNIST. Images
// stay raw bytes for a model that starts with a Rescaling layer (all presets do: 47 MB instead of
// 188 MB for the training set), and are scaled to [0, 1] as f32 for any other; labels are i64.
// The images are viewed as the model's inputs, [N, input_shape...] (train::view_as_input_shape;
// input_shape is without the batch axis, empty for a model not built yet).
data::MnistData load_data(const std::string& dir, const train::Model& model,
                          const Shape& input_shape);
std::string data_dir_or_default(const std::string& dir);

// Class names for labels 0..classes-1: Fashion-MNIST's for its folder, else the label numbers.
std::vector<std::string> class_names_for(const std::string& data_dir, int64_t classes);
std::string class_names_to_json(const std::vector<std::string>& names);
// The names stored in a checkpoint's metadata, or class_names_for(data_dir, classes).
std::vector<std::string> class_names_from(const std::map<std::string, std::string>& metadata,
                                          const std::string& data_dir, int64_t classes);

// The weights file of a --checkpoint: DIR/model.safetensors, or the file itself.
std::string checkpoint_file(const std::string& path);

// Creates `dir` if needed and proves that a file can be written there (before any training).
void ensure_writable_dir(const std::string& dir);
// Writes `text` through a temporary file and a rename, so that `path` is never half-written.
void write_text_file(const std::string& path, const std::string& text);

// "0,1,2" -> {0, 1, 2}; Error naming the bad item.
std::vector<int64_t> parse_index_list(const std::string& text);
// "28,28" -> {28, 28}.
Shape parse_shape(const std::string& text);

// --threads: n > 0 sets the intra-op thread count.
void apply_threads(int threads);

// A model (from a checkpoint) compiled with its spec's training settings.
struct LoadedCheckpoint {
  train::Model model;
  std::map<std::string, std::string> metadata;
};
LoadedCheckpoint load_checkpoint(const std::string& checkpoint);

}  // namespace nabla::cli
