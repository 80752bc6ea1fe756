// Shared pieces of the nabla command line.
#include "common.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace nabla::cli {
namespace fs = std::filesystem;

std::string checkpoint_file(const std::string& path) {
  NABLA_CHECK(!path.empty(), "--checkpoint: expected a folder written by `nabla train --out`");
  if (fs::is_directory(path)) {
    const std::string file = (fs::path(path) / tasks::kWeightsFile).string();
    NABLA_CHECK(fs::exists(file), "--checkpoint ", path, ": the folder holds no ",
                tasks::kWeightsFile, " (write one with `nabla train --out ", path, "`)");
    return file;
  }
  NABLA_CHECK(fs::exists(path), "--checkpoint ", path, ": no such file or folder");
  return path;
}

namespace {

std::vector<int64_t> parse_int_list(const std::string& text, const char* what) {
  std::vector<int64_t> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    NABLA_CHECK(!item.empty() && item.size() < 18 &&
                    item.find_first_not_of("0123456789") == std::string::npos,
                what, ": expected non-negative integers separated by commas, got '", item, "' in '",
                text, "'");
    values.push_back(std::stoll(item));
    start = end + 1;
  }
  return values;
}

}  // namespace

std::vector<int64_t> parse_index_list(const std::string& text) {
  return parse_int_list(text, "--index");
}

Shape parse_shape(const std::string& text) {
  Shape shape = parse_int_list(text, "--input-shape");
  for (int64_t size : shape) {
    NABLA_CHECK(size > 0, "--input-shape: sizes must be positive, got '", text, "'");
  }
  return shape;
}

void apply_threads(int threads) {
  NABLA_CHECK(threads >= 0, "--threads: expected a count >= 0 (0: the default), got ", threads);
  if (threads > 0) set_num_threads(threads);
}

LoadedCheckpoint load_checkpoint(const std::string& checkpoint) {
  const std::string file = checkpoint_file(checkpoint);
  std::map<std::string, std::string> metadata;
  train::Model model = train::Model::load(file, &metadata);
  if (!model.compiled()) {
    // A spec without a "training" section: the defaults of the model format.
    const io::TrainingSpec defaults;
    std::vector<train::MetricArg> metrics(defaults.metrics.begin(), defaults.metrics.end());
    model.compile(optim::make_optimizer(defaults.optimizer, defaults.lr), defaults.loss,
                  std::move(metrics));
  }
  // Model::load read the spec already: it is there and valid.
  io::ModelSpec spec = io::parse_model_spec(metadata.at(io::kModelSpecKey), file);
  return {std::move(model), std::move(spec), std::move(metadata)};
}

std::string data_dir_of(const std::string& data_flag, const LoadedCheckpoint& loaded) {
  if (!data_flag.empty()) return data_flag;
  const auto it = loaded.metadata.find(io::kDataSourceKey);
  return it == loaded.metadata.end() ? "" : it->second;
}

std::vector<std::string> class_names_of(const LoadedCheckpoint& loaded, const tasks::TaskData& data,
                                        size_t classes) {
  const auto it = loaded.metadata.find(io::kClassNamesKey);
  if (it != loaded.metadata.end()) {
    const nlohmann::json names = nlohmann::json::parse(it->second, nullptr, false);
    if (names.is_array() && names.size() == classes &&
        std::all_of(names.begin(), names.end(), [](const auto& n) { return n.is_string(); })) {
      return names.get<std::vector<std::string>>();
    }
  }
  if (data.class_names.size() == classes) return data.class_names;
  std::vector<std::string> numbers;
  for (size_t c = 0; c < classes; ++c) numbers.push_back(std::to_string(c));
  return numbers;
}

}  // namespace nabla::cli
