// The training state of a full checkpoint as JSON. Every value is checked on the way in: the
// text comes from a file that may be damaged or from another program.
#include "io/training_state.hpp"

#include <cmath>
#include <limits>

#include "data/json_input.hpp"

namespace nabla::io::internal {
namespace {

using Json = nlohmann::json;

constexpr int kVersion = 1;

Json number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return value;
}

// Reads fields of the state, naming the file and the field in every error.
class Reader {
 public:
  explicit Reader(const std::string& path) : path_(path) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    detail::throw_error(
        detail::str("load_checkpoint: ", path_, ": training state: '", field, "' ", what));
  }
  const Json& member(const Json& object, const std::string& key, const std::string& field) const {
    const auto it = object.find(key);
    if (it == object.end()) fail(field, "is missing");
    return *it;
  }
  double real(const Json& value, const std::string& field) const {
    if (value.is_number()) return value.get<double>();
    if (value.is_string()) {
      const std::string text = value.get<std::string>();
      if (text == "nan") return std::numeric_limits<double>::quiet_NaN();
      if (text == "inf") return std::numeric_limits<double>::infinity();
      if (text == "-inf") return -std::numeric_limits<double>::infinity();
    }
    fail(field, "is " + data::internal::json_excerpt(value) + ", expected a number");
  }
  int64_t count(const Json& value, const std::string& field) const {
    if (value.is_number_unsigned() && value.get<uint64_t>() <= uint64_t{1} << 62) {
      return static_cast<int64_t>(value.get<uint64_t>());
    }
    fail(field, "is " + data::internal::json_excerpt(value) + ", expected a count >= 0");
  }
  const Json& array(const Json& value, const std::string& field) const {
    if (!value.is_array()) {
      fail(field, "is " + data::internal::json_excerpt(value) + ", expected an array");
    }
    return value;
  }
  const Json& object(const Json& value, const std::string& field) const {
    if (!value.is_object()) {
      fail(field, "is " + data::internal::json_excerpt(value) + ", expected an object");
    }
    return value;
  }
  std::vector<double> reals(const Json& value, const std::string& field) const {
    std::vector<double> out;
    for (const Json& item : array(value, field)) out.push_back(real(item, field + "[]"));
    return out;
  }

 private:
  const std::string& path_;
};

}  // namespace

std::string training_state_to_json(const train::TrainingState& state) {
  Json json = Json::object();
  json["version"] = kVersion;
  json["epoch"] = state.epoch;
  json["step"] = state.step;
  json["global_step"] = state.global_step;
  json["processes"] = state.processes;
  json["seen"] = state.seen;
  json["loss_sum"] = number(state.loss_sum);
  json["output_sums"] = Json::array();
  for (double sum : state.output_sums) json["output_sums"].push_back(number(sum));
  json["metrics"] = Json::array();
  for (const auto& output : state.metrics) {
    Json metrics = Json::array();
    for (const std::vector<double>& metric : output) {
      Json values = Json::array();
      for (double value : metric) values.push_back(number(value));
      metrics.push_back(std::move(values));
    }
    json["metrics"].push_back(std::move(metrics));
  }
  json["history"] = {{"epoch", state.history.epoch}, {"logs", Json::object()}};
  for (const auto& [name, values] : state.history.history) {
    Json list = Json::array();
    for (double value : values) list.push_back(number(value));
    json["history"]["logs"][name] = std::move(list);
  }
  json["generator"] = state.generator;
  json["callbacks"] = Json::array();
  for (const auto& values : state.callbacks) {
    Json object = Json::object();
    for (const auto& [name, value] : values) object[name] = number(value);
    json["callbacks"].push_back(std::move(object));
  }
  return json.dump();
}

train::TrainingState training_state_from_json(const std::string& text, const std::string& path) {
  const Reader read(path);
  Json json;
  try {
    json = data::internal::parse_json(text);
  } catch (const data::internal::JsonError& e) {
    detail::throw_error(detail::str("load_checkpoint: ", path, ": training state: ", e.what()));
  }
  read.object(json, "(the state)");
  const Json& version = read.member(json, "version", "version");
  if (!version.is_number_integer() || version.get<int64_t>() != kVersion) {
    read.fail("version", "is " + data::internal::json_excerpt(version) + "; this nabla reads " +
                             "version " + std::to_string(kVersion));
  }
  train::TrainingState state;
  state.epoch = read.count(read.member(json, "epoch", "epoch"), "epoch");
  state.step = read.count(read.member(json, "step", "step"), "step");
  state.global_step = read.count(read.member(json, "global_step", "global_step"), "global_step");
  // Written since data-parallel training; older checkpoints come from one process.
  if (json.contains("processes")) {
    state.processes = read.count(json["processes"], "processes");
    if (state.processes < 1) read.fail("processes", "is 0; expected at least 1");
  }
  state.seen = read.count(read.member(json, "seen", "seen"), "seen");
  state.loss_sum = read.real(read.member(json, "loss_sum", "loss_sum"), "loss_sum");
  state.output_sums = read.reals(read.member(json, "output_sums", "output_sums"), "output_sums");
  for (const Json& output : read.array(read.member(json, "metrics", "metrics"), "metrics")) {
    auto& metrics = state.metrics.emplace_back();
    for (const Json& metric : read.array(output, "metrics[]")) {
      metrics.push_back(read.reals(metric, "metrics[][]"));
    }
  }
  const Json& history = read.object(read.member(json, "history", "history"), "history");
  for (const Json& epoch : read.array(read.member(history, "epoch", "history.epoch"), "history")) {
    state.history.epoch.push_back(read.count(epoch, "history.epoch[]"));
  }
  const Json& logs = read.object(read.member(history, "logs", "history.logs"), "history.logs");
  for (const auto& [name, values] : logs.items()) {
    std::vector<double> list = read.reals(values, "history.logs." + name);
    if (list.size() > state.history.epoch.size()) {
      read.fail("history.logs." + name, "holds more values than there are epochs");
    }
    state.history.history[name] = std::move(list);
  }
  for (const Json& word : read.array(read.member(json, "generator", "generator"), "generator")) {
    if (!word.is_number_unsigned()) {
      read.fail("generator[]", "is " + data::internal::json_excerpt(word) + ", expected a u64");
    }
    state.generator.push_back(word.get<uint64_t>());
  }
  if (!state.generator.empty()) {
    try {
      Generator().set_state(state.generator);  // the generator knows its own layout
    } catch (const Error& e) {
      read.fail("generator", e.what());
    }
  }
  for (const Json& values : read.array(read.member(json, "callbacks", "callbacks"), "callbacks")) {
    auto& map = state.callbacks.emplace_back();
    for (const auto& [name, value] : read.object(values, "callbacks[]").items()) {
      map[name] = read.real(value, "callbacks[]." + name);
    }
  }
  return state;
}

}  // namespace nabla::io::internal
