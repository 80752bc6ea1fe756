// Shared pieces of the nabla command line.
#include "common.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace nabla::cli {
namespace fs = std::filesystem;

io::ModelSpec resolve_model_spec(const std::string& name_or_path) {
  NABLA_CHECK(!name_or_path.empty(), "--model: expected a preset name or a JSON file");
  if (fs::exists(name_or_path) || name_or_path.ends_with(".json") ||
      name_or_path.find('/') != std::string::npos) {
    return io::load_model_spec(name_or_path);
  }
  return io::parse_model_spec(io::builtin_model_spec(name_or_path), name_or_path);
}

std::string data_dir_or_default(const std::string& dir) {
  return dir.empty() ? data::kFashionMnistDir : dir;
}

data::MnistData load_data(const std::string& dir, const train::Model& model,
                          const Shape& input_shape) {
  const std::string folder = data_dir_or_default(dir);
  data::MnistData data;
  if (model.takes_raw_inputs()) {
    data = data::load_mnist(folder, /*raw=*/true);
    data.train_labels = data.train_labels.to(DType::i64);
    data.test_labels = data.test_labels.to(DType::i64);
  } else {
    data = data::load_mnist(folder);
  }
  data.train_images = train::view_as_input_shape(data.train_images, input_shape,
                                                 "the training images in " + folder);
  data.test_images =
      train::view_as_input_shape(data.test_images, input_shape, "the test images in " + folder);
  return data;
}

std::vector<std::string> class_names_for(const std::string& data_dir, int64_t classes) {
  std::string lowered = data_dir_or_default(data_dir);
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto& fashion = data::fashion_mnist_classes();
  if (lowered.find("fashion") != std::string::npos &&
      classes == static_cast<int64_t>(fashion.size())) {
    return fashion;
  }
  std::vector<std::string> names;
  for (int64_t c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

std::string class_names_to_json(const std::vector<std::string>& names) {
  return nlohmann::json(names).dump();
}

std::vector<std::string> class_names_from(const std::map<std::string, std::string>& metadata,
                                          const std::string& data_dir, int64_t classes) {
  const auto it = metadata.find(kClassNamesKey);
  if (it != metadata.end()) {
    const nlohmann::json names = nlohmann::json::parse(it->second, nullptr, false);
    if (names.is_array() && static_cast<int64_t>(names.size()) == classes) {
      std::vector<std::string> result;
      for (const auto& name : names) {
        if (!name.is_string()) return class_names_for(data_dir, classes);
        result.push_back(name.get<std::string>());
      }
      return result;
    }
  }
  return class_names_for(data_dir, classes);
}

std::string checkpoint_file(const std::string& path) {
  NABLA_CHECK(!path.empty(), "--checkpoint: expected a folder written by `nabla train --out`");
  if (fs::is_directory(path)) {
    const std::string file = (fs::path(path) / kWeightsFile).string();
    NABLA_CHECK(fs::exists(file), "--checkpoint ", path, ": the folder holds no ", kWeightsFile,
                " (write one with `nabla train --out ", path, "`)");
    return file;
  }
  NABLA_CHECK(fs::exists(path), "--checkpoint ", path, ": no such file or folder");
  return path;
}

void ensure_writable_dir(const std::string& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  NABLA_CHECK(!error, "--out: cannot create the output folder ", dir, ": ", error.message());
  NABLA_CHECK(fs::is_directory(dir), "--out: ", dir, " exists and is not a folder");
  // Creating the folder can succeed where writing fails (read-only mounts, permissions).
  const std::string probe =
      (fs::path(dir) / (".nabla-write-test-" + std::to_string(getpid()))).string();
  std::FILE* file = std::fopen(probe.c_str(), "wb");
  NABLA_CHECK(file != nullptr, "--out: cannot write to the output folder ", dir, ": ",
              std::strerror(errno));
  std::fclose(file);
  std::remove(probe.c_str());
}

void write_text_file(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp-" + std::to_string(getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    NABLA_CHECK(out.good(), "cannot write ", temp, ": ", std::strerror(errno));
    out << text;
    out.flush();
    if (!out.good()) {
      std::remove(temp.c_str());
      NABLA_CHECK(false, "cannot write ", temp, ": ", std::strerror(errno));
    }
  }
  std::error_code error;
  fs::rename(temp, path, error);
  if (error) {
    std::remove(temp.c_str());
    NABLA_CHECK(false, "cannot rename ", temp, " to ", path, ": ", error.message());
  }
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
  std::map<std::string, std::string> metadata;
  train::Model model = train::Model::load(checkpoint_file(checkpoint), &metadata);
  if (!model.compiled()) {
    // A spec without a "training" section: the defaults of the model format.
    const io::TrainingSpec defaults;
    std::vector<train::MetricArg> metrics(defaults.metrics.begin(), defaults.metrics.end());
    model.compile(optim::make_optimizer(defaults.optimizer, defaults.lr), defaults.loss,
                  std::move(metrics));
  }
  return {std::move(model), std::move(metadata)};
}

}  // namespace nabla::cli
