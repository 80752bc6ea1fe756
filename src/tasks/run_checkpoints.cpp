// Checkpoint folders of tasks::run. A checkpoint is found by its name (the step count orders
// them) and trusted only after load_safetensors verified its checksum; a resumed run whose
// settings differ from the checkpoint's would silently train something else, so that is an error
// rather than a skipped file.
#include "tasks/run_checkpoints.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <regex>
#include <vector>

#include "data/json_input.hpp"
#include "nabla/io.hpp"
#include "nabla/tasks.hpp"

namespace nabla::tasks::internal {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const std::regex& checkpoint_name() {
  static const std::regex name(R"(epoch-(\d+)-step-(\d+)\.safetensors)");
  return name;
}

// "NAME.tmp-" and mkstemp's six letters or digits: data::internal::AtomicFile's temporary file.
bool is_temporary_file(const std::string& name, const std::string& target_suffix) {
  const size_t mark = name.rfind(".tmp-");
  if (mark == std::string::npos || name.size() != mark + 11) return false;
  const std::string target = name.substr(0, mark);
  return target.ends_with(target_suffix) &&
         std::all_of(name.begin() + static_cast<std::ptrdiff_t>(mark) + 5, name.end(),
                     [](unsigned char c) { return std::isalnum(c) != 0; });
}

// The first setting in which `made` (the checkpoint's) differs from `now`, as "<where>: X there,
// Y here"; "" when they agree. Epochs may differ (a resumed run may train longer), and threads
// only warn (they change the result's last bits, not its validity).
std::string first_difference(Json made, Json now) {
  for (Json* settings : {&made, &now}) {
    if (settings->contains("spec") && (*settings)["spec"].contains("training")) {
      (*settings)["spec"]["training"].erase("epochs");
    }
    settings->erase("threads");
  }
  const Json patch = Json::diff(made, now);
  if (patch.empty()) return "";
  const std::string where = patch[0].value("path", std::string("/"));
  const Json::json_pointer pointer(where);
  const std::string there =
      made.contains(pointer) ? data::internal::json_excerpt(made[pointer]) : "absent";
  const std::string here =
      now.contains(pointer) ? data::internal::json_excerpt(now[pointer]) : "absent";
  return where + " is " + there + " there, " + here + " here";
}

}  // namespace

std::string run_settings_json(const std::string& spec_json, const RunOptions& options,
                              const std::string& data_dir, int threads) {
  Json settings = Json::object();
  settings["spec"] = data::internal::parse_json(spec_json);
  settings["seed"] = options.seed;
  settings["limit"] = options.limit;
  settings["data"] = data_dir;
  settings["classes"] = options.classes;
  settings["init_from"] = options.init_from;
  settings["new_head"] = options.new_head;
  settings["freeze"] = options.freeze;
  // The callbacks the command line adds: a resumed fit must have the same ones, in order.
  settings["early_stopping"] = options.early_stopping.value_or(-1);
  settings["reduce_lr_on_plateau"] = options.reduce_lr_on_plateau.value_or(-1);
  if (options.reduce_lr_on_plateau) settings["reduce_lr_factor"] = options.reduce_lr_factor;
  if (options.early_stopping || options.reduce_lr_on_plateau) settings["monitor"] = options.monitor;
  settings["tensorboard"] = !options.tensorboard.empty();
  settings["json"] = options.json != nullptr;
  settings["threads"] = threads;
  return settings.dump();
}

std::string checkpoint_pattern(const std::string& out) {
  return (fs::path(out) / kCheckpointFolder / "epoch-{epoch:03d}-step-{step:08d}.safetensors")
      .string();
}

int64_t prepare_checkpoint_folder(const std::string& out, bool fresh) {
  const fs::path folder = fs::path(out) / kCheckpointFolder;
  std::error_code error;
  fs::create_directories(folder, error);
  NABLA_CHECK(!error && fs::is_directory(folder), "--out: cannot create the checkpoint folder ",
              folder.string(), ": ", error ? error.message() : "a file has its name");
  int64_t removed = 0;
  std::vector<fs::path> leftovers;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (is_temporary_file(name, ".safetensors")) leftovers.push_back(entry.path());
    if (fresh && std::regex_match(name, checkpoint_name())) {
      leftovers.push_back(entry.path());
      ++removed;
    }
  }
  for (const fs::directory_entry& entry : fs::directory_iterator(out, error)) {
    const std::string name = entry.path().filename().string();
    if (is_temporary_file(name, kBestFile) || (fresh && name == kBestFile)) {
      leftovers.push_back(entry.path());
    }
  }
  for (const fs::path& path : leftovers) fs::remove(path, error);  // best effort
  return removed;
}

std::optional<std::string> find_resume_checkpoint(const std::string& out,
                                                  const std::string& settings,
                                                  std::ostream& warnings) {
  const fs::path folder = fs::path(out) / kCheckpointFolder;
  std::vector<std::pair<int64_t, fs::path>> found;  // (steps, path)
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    std::smatch match;
    if (!std::regex_match(name, match, checkpoint_name())) continue;
    found.emplace_back(std::stoll(match[2].str().substr(0, 18)), entry.path());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a > b; });
  const Json now = Json::parse(settings);
  for (const auto& [steps, path] : found) {
    io::SafeTensors file;
    try {
      file = io::load_safetensors(path.string());
    } catch (const Error& e) {
      warnings << "nabla: warning: skipping the damaged checkpoint " << path.string() << ": "
               << e.what() << std::endl;
      continue;
    }
    const auto made = file.metadata.find(kRunSettingsKey);
    if (made == file.metadata.end() || file.metadata.count(io::kTrainingStateKey) == 0) {
      warnings << "nabla: warning: skipping " << path.string() << ": it holds no run settings "
               << "or training state (not written by nabla train --out)" << std::endl;
      continue;
    }
    Json recorded;
    try {
      recorded = data::internal::parse_json(made->second);
    } catch (const Error& e) {
      warnings << "nabla: warning: skipping the damaged checkpoint " << path.string() << ": "
               << e.what() << std::endl;
      continue;
    }
    const std::string difference = first_difference(recorded, now);
    NABLA_CHECK(difference.empty(), "--resume: the checkpoint ", path.string(), " was made by ",
                "another run: ", difference, ". Resume with the model and settings it was made ",
                "with (only --epochs may change), or train afresh without --resume");
    if (recorded.value("threads", 0) != now.value("threads", 0)) {
      warnings << "nabla: warning: " << path.string() << " was made with "
               << recorded.value("threads", 0) << " threads, this run has "
               << now.value("threads", 0) << ": the weights will not be bit-identical to an "
               << "uninterrupted run" << std::endl;
    }
    return path.string();
  }
  return std::nullopt;
}

}  // namespace nabla::tasks::internal
