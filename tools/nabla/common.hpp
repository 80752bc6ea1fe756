// Shared pieces of the nabla command line: subcommand registration, model and data lookup, output
// folders and checkpoint files.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <stdexcept>
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
Command add_report_command(CLI::App& app);
Command add_export_command(CLI::App& app);
Command add_import_command(CLI::App& app);
Command add_embed_command(CLI::App& app);
Command add_search_command(CLI::App& app);

Command add_convert_command(CLI::App& app);

// A mistake on the command line found after parsing (e.g. --index beyond the test set): exit 2,
// like CLI11's parse errors. The library has no such category: it cannot tell whether a name came
// from a flag or from a model file, so the CLI checks its flags itself (see the validators below)
// and everything the library throws is a data or runtime error (exit 1).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The validator of a numeric flag: the whole text must be a finite T in [min, max] (min excluded
// when min_exclusive), else "expected an integer >= 1, got 0" (CLI11 puts the flag's name first
// and main exits 2). T is int64_t, uint64_t or double; integers are compared exactly, so a seed
// takes every uint64 and no more.
template <class T>
CLI::Validator in_range(T min, T max = std::numeric_limits<T>::max(), bool min_exclusive = false);

// A validator that runs `check` on the flag's text and turns the nabla::Error it throws into a
// usage error with the library's own message (unknown preset or optimizer names, index lists).
CLI::Validator checked_by(std::function<void(const std::string&)> check, std::string description);

// --data: a folder (or a path that does not exist yet: the data readers say what to install).
CLI::Validator data_folder();
// --tensorboard: a folder to write into (created when missing); not empty, not an existing file.
CLI::Validator log_folder();
// --model: a JSON file or the name of a built-in preset.
CLI::Validator model_name_or_file();
// --optimizer: a name make_optimizer knows.
CLI::Validator optimizer_name();

// The weights file of a --checkpoint: DIR/model.safetensors, or the file itself.
std::string checkpoint_file(const std::string& path);

// "0,1,2" -> {0, 1, 2}; Error naming the bad item (check the flag with checked_by first).
std::vector<int64_t> parse_index_list(const std::string& text);
// "28,28" -> {28, 28}.
Shape parse_shape(const std::string& text);

// --threads: n > 0 sets the intra-op thread count, at most the machine's cores (more only slow
// every kernel down: 64 threads on 2 cores trained 77 times slower than 3); a larger n, or a
// NABLA_NUM_THREADS above the cores when n is 0, warns on stderr and uses the cores.
void apply_threads(int64_t threads);

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
