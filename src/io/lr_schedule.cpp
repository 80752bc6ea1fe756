// "lr_schedule" of a model spec's training section: PyTorch's epoch schedulers by name.
#include "io/spec_sections.hpp"
#include "nabla/io.hpp"

namespace nabla::io {
namespace internal {

std::shared_ptr<optim::LRScheduler> lr_scheduler_from_json(const SpecReader& reader,
                                                           const Json& spec,
                                                           const std::string& path,
                                                           optim::Optimizer& optimizer,
                                                           int64_t epochs) {
  if (!spec.is_object()) reader.fail(path, "expected an object, got " + json_excerpt(spec));
  reader.check_keys(spec, path, {"type", "gamma", "step_size", "milestones", "eta_min"},
                    "\"lr_schedule\"");
  const auto type_it = spec.find("type");
  if (type_it == spec.end()) {
    reader.fail(path, "missing \"type\": cosine, step, multistep or exponential");
  }
  const std::string type = reader.string(*type_it, SpecReader::join_path(path, "type"));
  const auto number = [&](const char* key, double fallback, double low, double high) {
    const auto it = spec.find(key);
    return it == spec.end() ? fallback
                            : reader.number(*it, SpecReader::join_path(path, key), low, high);
  };
  const auto require = [&](const char* key) -> const Json& {
    const auto it = spec.find(key);
    if (it == spec.end()) reader.fail(path, detail::str("\"", type, "\" needs \"", key, "\""));
    return *it;
  };
  if (type == "cosine") {
    return std::make_shared<optim::CosineAnnealingLR>(optimizer, epochs,
                                                      number("eta_min", 0, 0, 1e9));
  }
  if (type == "step") {
    const int64_t step_size =
        reader.positive_int(require("step_size"), SpecReader::join_path(path, "step_size"));
    return std::make_shared<optim::StepLR>(optimizer, step_size, number("gamma", 0.1, 0, 1));
  }
  if (type == "multistep") {
    const Json& list = require("milestones");
    const std::string where = SpecReader::join_path(path, "milestones");
    if (!list.is_array() || list.empty()) {
      reader.fail(where, "expected a list of epoch numbers, got " + json_excerpt(list));
    }
    std::vector<int64_t> milestones;
    for (const Json& m : list) milestones.push_back(reader.positive_int(m, where));
    return std::make_shared<optim::MultiStepLR>(optimizer, milestones, number("gamma", 0.1, 0, 1));
  }
  if (type == "exponential") {
    const Json& gamma = require("gamma");
    return std::make_shared<optim::ExponentialLR>(
        optimizer, reader.number(gamma, SpecReader::join_path(path, "gamma"), 0, 1, true));
  }
  reader.fail(SpecReader::join_path(path, "type"),
              "unknown schedule \"" + type + "\"; known: cosine, step, multistep, exponential");
}

}  // namespace internal

std::shared_ptr<optim::LRScheduler> make_lr_scheduler(const TrainingSpec& training,
                                                      optim::Optimizer& optimizer) {
  if (training.lr_schedule_json.empty()) return nullptr;
  const internal::SpecReader reader("training");
  return internal::lr_scheduler_from_json(reader, internal::Json::parse(training.lr_schedule_json),
                                          "lr_schedule", optimizer, training.epochs);
}

}  // namespace nabla::io
