// Shared pieces of the nabla command line.
#include "common.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <type_traits>

#include "nabla/dist.hpp"
#include "nabla/optim.hpp"

namespace nabla::cli {
namespace fs = std::filesystem;

namespace {

// Bounds as people write them: 0.001, 1e-06, 18446744073709551615.
template <class T>
std::string bound_text(T value) {
  if constexpr (std::is_floating_point_v<T>) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%g", value);
    return buffer;
  } else {
    return std::to_string(value);
  }
}

}  // namespace

template <class T>
CLI::Validator in_range(T min, T max, bool min_exclusive) {
  constexpr bool integer = std::is_integral_v<T>;
  // "an integer >= 1", "a number > 0", "an integer from 0 to 2": the range the help shows too.
  const std::string range = max == std::numeric_limits<T>::max()
                                ? (min_exclusive ? "> " : ">= ") + bound_text(min)
                                : "from " + bound_text(min) + " to " + bound_text(max);
  const std::string expected = (integer ? "an integer " : "a number ") + range;
  // A value past the type's own limit must not read as "expected an integer >= 0".
  const std::string type_range =
      integer ? "an integer from " + bound_text(min) + " to " + bound_text(max) : expected;
  auto check = [=](const std::string& text) -> std::string {
    T value{};
    const char* end = text.data() + text.size();
    const auto [ptr, error] = std::from_chars(text.data(), end, value);
    if (error == std::errc::result_out_of_range && ptr == end) {
      return "expected " + type_range + ", got " + text;
    }
    bool ok = error == std::errc() && ptr == end;
    if constexpr (!integer) ok = ok && std::isfinite(value);  // from_chars reads "nan" and "inf"
    ok = ok && (min_exclusive ? value > min : value >= min) && value <= max;
    return ok ? std::string() : "expected " + expected + ", got " + text;
  };
  return CLI::Validator(check, range);
}

template CLI::Validator in_range<int64_t>(int64_t, int64_t, bool);
template CLI::Validator in_range<uint64_t>(uint64_t, uint64_t, bool);
template CLI::Validator in_range<double>(double, double, bool);

CLI::Validator checked_by(std::function<void(const std::string&)> check, std::string description) {
  return CLI::Validator(
      [check = std::move(check)](const std::string& text) -> std::string {
        try {
          check(text);
          return "";
        } catch (const std::exception& e) {  // nabla::Error, or a file system error
          return e.what();
        }
      },
      std::move(description));
}

CLI::Validator data_folder() {
  return checked_by(
      [](const std::string& path) {
        std::error_code error;  // a path that cannot be examined is left to the data readers
        // A TFRecord file is data of its own (nabla train --data shard.tfrecord).
        // So is a CSV file of tabular data (nabla train --model wide_deep --data FILE.csv).
        NABLA_CHECK(fs::is_directory(path, error) || !fs::exists(path, error) ||
                        data::is_tfrecord_data(path) || path.ends_with(".csv"),
                    path, " is a file; expected the folder that holds the data set (or TFRecord ",
                    "files, or a CSV file for tabular models)");
      },
      "DIR");
}

CLI::Validator log_folder() {
  return checked_by(
      [](const std::string& path) {
        NABLA_CHECK(!path.empty(), "expected a folder for the event files, got an empty path");
        std::error_code error;  // a path that cannot be examined is left to the writer
        NABLA_CHECK(fs::is_directory(path, error) || !fs::exists(path, error), path,
                    " is a file; expected a folder for the event files (created when missing)");
      },
      "DIR");
}

CLI::Validator model_name_or_file() {
  return checked_by(
      [](const std::string& name) {
        // io::resolve_model_spec reads a file when one exists or the name looks like a path;
        // anything else must be a preset. A missing file is left to the loader (exit 1, as a
        // missing --checkpoint): only a mistyped preset name is a command-line mistake here.
        std::error_code error;
        if (!fs::exists(name, error) && !name.ends_with(".json") &&
            name.find('/') == std::string::npos) {
          io::builtin_model_spec(name);
        }
      },
      "");
}

CLI::Validator optimizer_name() {
  // An optimizer made without parameters is cheap and attaches to none: only the name counts.
  return checked_by([](const std::string& name) { optim::make_optimizer(name, 0); }, "");
}

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

// Comma-separated integers >= min. The messages leave out the flag: CLI11 puts it first.
std::vector<int64_t> parse_int_list(const std::string& text, int64_t min, const char* what) {
  std::vector<int64_t> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, end - start);
    const bool digits = !item.empty() && item.size() < 18 &&
                        item.find_first_not_of("0123456789") == std::string::npos;
    const int64_t value = digits ? std::stoll(item) : -1;
    NABLA_CHECK(value >= min, "expected ", what, " >= ", min, " separated by commas, got '", item,
                "'", item == text ? std::string() : " in '" + text + "'");
    values.push_back(value);
    start = end + 1;
  }
  return values;
}

}  // namespace

std::vector<int64_t> parse_index_list(const std::string& text) {
  return parse_int_list(text, 0, "indices");
}

Shape parse_shape(const std::string& text) { return parse_int_list(text, 1, "sizes"); }

void apply_threads(int64_t threads) {
  const auto cores = static_cast<int64_t>(std::max(1U, std::thread::hardware_concurrency()));
  // Several processes of an MPI job on this machine share its cores.
  const int64_t local = dist::local_size();
  if (threads <= 0 && local > 1 && std::getenv("NABLA_NUM_THREADS") == nullptr) {
    threads = std::max<int64_t>(1, cores / local);
  }
  const int64_t wanted = threads > 0 ? threads : get_num_threads();
  if (wanted > cores) {
    std::cerr << "nabla: warning: "
              << (threads > 0 ? "--threads " + std::to_string(threads)
                              : "NABLA_NUM_THREADS=" + std::to_string(wanted))
              << " is more than the " << cores << " cores of this machine; using " << cores
              << std::endl;
  }
  if (threads > 0 || wanted > cores) set_num_threads(static_cast<int>(std::min(wanted, cores)));
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
