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
#include "nabla/tasks.hpp"
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

// The weights file of a --checkpoint: DIR/model.safetensors, or the file itself.
std::string checkpoint_file(const std::string& path);

// "0,1,2" -> {0, 1, 2}; Error naming the bad item.
std::vector<int64_t> parse_index_list(const std::string& text);
// "28,28" -> {28, 28}.
Shape parse_shape(const std::string& text);

// --threads: n > 0 sets the intra-op thread count.
void apply_threads(int threads);

// A model (from a checkpoint) compiled with its spec's training settings, its spec and metadata.
struct LoadedCheckpoint {
  train::Model model;
  io::ModelSpec spec;
  std::map<std::string, std::string> metadata;
};
LoadedCheckpoint load_checkpoint(const std::string& checkpoint);
// --data, else the folder the checkpoint's data came from ("" = its task's default).
std::string data_dir_of(const std::string& data_flag, const LoadedCheckpoint& loaded);
// The checkpoint's class names, else the task data's, else the label numbers.
std::vector<std::string> class_names_of(const LoadedCheckpoint& loaded, const tasks::TaskData& data,
                                        size_t classes);

}  // namespace nabla::cli
