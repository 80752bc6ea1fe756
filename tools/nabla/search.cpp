// nabla search: image search with a checkpoint of the retrieval task (the triplet and
// contrastive presets): test image N as the query against the training images, ranked by the
// distance of their embeddings. Prints the matches' classes and distances and writes the query
// and its matches as one PNG picture. The work is nabla::retrieval's.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "common.hpp"
#include "nabla/retrieval.hpp"

namespace nabla::cli {
namespace {

struct SearchOptions {
  std::string checkpoint;
  int64_t index = 0;
  int64_t top = 8;
  std::string picture;
  std::string data_dir;
  int64_t threads = 0;
};

std::string search_class_name(const std::vector<std::string>& names, int64_t label) {
  return label >= 0 && label < static_cast<int64_t>(names.size()) ? names[label]
                                                                  : std::to_string(label);
}

void run_search(const SearchOptions& options) {
  apply_threads(options.threads);
  LoadedCheckpoint loaded = load_checkpoint(options.checkpoint);
  const std::string task_name = tasks::task_name_for(loaded.spec);
  if (task_name != "retrieval") {
    throw UsageError(detail::str("search: ", options.checkpoint, " holds a model of the ",
                                 task_name, " task; search takes a checkpoint of the retrieval ",
                                 "task (nabla train --model triplet --out DIR)"));
  }
  const std::unique_ptr<tasks::Task> task = tasks::make_task(task_name);
  const tasks::TaskData data =
      task->load(loaded.spec, loaded.model, data_dir_of(options.data_dir, loaded));
  const int64_t count = data.x_test.size(0);
  if (options.index >= count) {  // a mistake on the command line, found once the data is read
    throw UsageError(detail::str("--index ", options.index, " is out of range: the test set ",
                                 "holds ", count, " images (indices 0 to ", count - 1, ")"));
  }
  const std::string picture =
      !options.picture.empty()
          ? options.picture
          : (std::filesystem::path(checkpoint_file(options.checkpoint)).parent_path() /
             ("search-" + std::to_string(options.index) + ".png"))
                .string();
  const retrieval::SearchResult result =
      retrieval::search(loaded.model, data, options.index, options.top, picture);
  const std::vector<std::string>& names = result.class_names;
  std::cout << "Test image " << options.index << " ("
            << search_class_name(names, result.query_label) << "): nearest of the "
            << data.x_train.size(0) << " training images" << std::endl;
  for (size_t i = 0; i < result.matches.size(); ++i) {
    const retrieval::Match& m = result.matches[i];
    std::printf("%2zu. training image %-6lld %-12s distance %.4f%s\n", i + 1,
                static_cast<long long>(m.index), search_class_name(names, m.label).c_str(),
                m.distance, m.label == result.query_label ? "" : "  (another class)");
  }
  std::cout << "Wrote " << picture << " (the query, then its matches, nearest first)" << std::endl;
}

}  // namespace

Command add_search_command(CLI::App& app) {
  auto options = std::make_shared<SearchOptions>();
  CLI::App* sub = app.add_subcommand(
      "search", "Image search: a test image's nearest training images by embedding distance");
  sub->add_option("--checkpoint,-c", options->checkpoint,
                  "Folder written by `nabla train --model triplet --out DIR` (or its "
                  "model.safetensors)")
      ->required();
  sub->add_option("--index,-i", options->index, "The test image to search with")
      ->check(in_range<int64_t>(0))
      ->required();
  sub->add_option("--top,-k", options->top, "How many matches to show")
      ->check(in_range<int64_t>(1, 100))
      ->capture_default_str();
  sub->add_option("--picture,-o", options->picture,
                  "The PNG to write (default: search-N.png beside the checkpoint)");
  sub->add_option("--data", options->data_dir,
                  "Data folder (default: the one the model was trained on)")
      ->check(data_folder());
  sub->add_option("--threads", options->threads, "Compute threads (default: all cores)")
      ->check(in_range<int64_t>(0));
  sub->footer(
      "Examples:\n"
      "  nabla train --model triplet --out runs/triplet\n"
      "  nabla search --checkpoint runs/triplet --index 0\n"
      "  nabla search --checkpoint runs/triplet --index 42 --top 5 --picture query42.png");
  return {sub, [options] { run_search(*options); }};
}

}  // namespace nabla::cli
