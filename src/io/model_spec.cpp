// JSON model specs: parsing with errors that name the JSON path, building the Sequential, and
// writing a Sequential back as a spec.
#include <algorithm>
#include <cmath>
#include <map>

#include "data/file_util.hpp"
#include "io/layer_spec.hpp"
#include "io/spec_reader.hpp"
#include "io/spec_sections.hpp"
#include "nabla/io.hpp"
#include "nabla/optim.hpp"
#include "nabla/train.hpp"

namespace nabla::io {
namespace {

using internal::Json;
using internal::OrderedJson;
using internal::SpecReader;

// One step of "training.augmentation".
data::AugmentationPtr parse_augmentation_step(const SpecReader& reader, const Json& step,
                                              const std::string& path) {
  static const std::map<std::string, std::vector<const char*>> kKeys = {
      {"Normalize", {"mean", "std"}},
      {"RandomCrop", {"padding", "fill"}},
      {"RandomErasing", {"p", "scale", "ratio", "value"}},
      {"RandomFlip", {"horizontal", "vertical", "p"}},
      {"RandomTranslation", {"height_factor", "width_factor", "fill"}},
  };
  std::vector<std::string> known;
  for (const auto& [name, keys] : kKeys) known.push_back(name);
  if (!step.is_object() || !step.contains("type")) {
    reader.fail(path, "expected an object with a \"type\" (" + internal::join(known) + "), got " +
                          step.dump());
  }
  const std::string type = reader.string(step["type"], path + ".type");
  const auto found = kKeys.find(type);
  if (found == kKeys.end()) {
    reader.fail(path + ".type",
                "unknown augmentation \"" + type + "\"; known: " + internal::join(known));
  }
  std::vector<const char*> keys = found->second;
  keys.insert(keys.begin(), "type");
  reader.check_keys(step, path, keys, "a " + type + " step");
  const auto at = [&](const char* key) { return SpecReader::join_path(path, key); };
  const auto number = [&](const char* key, double fallback) {
    const auto it = step.find(key);
    return it == step.end() ? fallback : reader.number(*it, at(key), -1e30, 1e30, true);
  };
  const auto pair = [&](const char* key, std::pair<double, double> fallback) {
    const auto it = step.find(key);
    if (it == step.end()) return fallback;
    if (!it->is_array() || it->size() != 2 || !(*it)[0].is_number() || !(*it)[1].is_number()) {
      reader.fail(at(key), "expected [low, high], got " + it->dump());
    }
    return std::pair<double, double>((*it)[0].get<double>(), (*it)[1].get<double>());
  };
  const auto numbers = [&](const char* key) {
    const auto it = step.find(key);
    if (it == step.end()) reader.fail(path, detail::str("missing \"", key, "\""));
    std::vector<double> out;
    if (it->is_number()) return std::vector<double>{it->get<double>()};
    if (!it->is_array() || it->empty()) {
      reader.fail(at(key), "expected a number or a list of numbers, got " + it->dump());
    }
    for (const Json& v : *it) {
      if (!v.is_number()) reader.fail(at(key), "expected numbers, got " + it->dump());
      out.push_back(v.get<double>());
    }
    return out;
  };
  data::AugmentationPtr result;
  reader.check_with(path, [&] {
    if (type == "RandomCrop") {
      const auto padding = step.find("padding");
      if (padding == step.end()) reader.fail(path, "missing \"padding\": pixels added per side");
      result = data::random_crop(reader.positive_int(*padding, at("padding")), number("fill", 0));
    } else if (type == "RandomFlip") {
      const auto flag = [&](const char* key, bool fallback) {
        const auto it = step.find(key);
        return it == step.end() ? fallback : reader.boolean(*it, at(key));
      };
      result =
          data::random_flip(flag("horizontal", true), flag("vertical", false), number("p", 0.5));
    } else if (type == "RandomTranslation") {
      result = data::random_translation(number("height_factor", 0.1), number("width_factor", 0.1),
                                        number("fill", 0));
    } else if (type == "RandomErasing") {
      const auto scale = pair("scale", {0.02, 0.33});
      const auto ratio = pair("ratio", {0.3, 3.3});
      result = data::random_erasing(number("p", 0.5), scale.first, scale.second, ratio.first,
                                    ratio.second, number("value", 0));
    } else {
      result = data::normalize(numbers("mean"), numbers("std"));
    }
  });
  return result;
}

void parse_augmentation(const SpecReader& reader, const Json& list, TrainingSpec& spec) {
  const std::string path = "training.augmentation";
  if (!list.is_array()) reader.fail(path, "expected a list of steps, got " + list.dump());
  std::vector<data::AugmentationPtr> steps;
  for (size_t i = 0; i < list.size(); ++i) {
    steps.push_back(parse_augmentation_step(reader, list[i], detail::str(path, "[", i, "]")));
  }
  if (steps.empty()) return;
  spec.augmentation = steps.size() == 1 ? steps[0] : data::compose(std::move(steps));
  spec.augmentation_json = list.dump();
}

TrainingSpec parse_training(const SpecReader& reader, const Json& training) {
  const std::string path = "training";
  if (!training.is_object()) reader.fail(path, "expected an object, got " + training.dump());
  reader.check_keys(training, path,
                    {"optimizer", "lr", "learning_rate", "loss", "metrics", "batch_size", "epochs",
                     "validation_split", "augmentation", "lr_schedule"},
                    "\"training\"");
  TrainingSpec spec;
  spec.present = true;
  const auto at = [&](const char* key) { return SpecReader::join_path(path, key); };
  if (const Json* v = reader.find(training, path, {"optimizer"})) {
    spec.optimizer = reader.string(*v, at("optimizer"));
    reader.check_with(at("optimizer"), [&] { optim::make_optimizer(spec.optimizer); });
  }
  if (const Json* v = reader.find(training, path, {"lr", "learning_rate"})) {
    const std::string where = at(training.contains("lr") ? "lr" : "learning_rate");
    if (!v->is_number() || v->get<double>() <= 0 || !std::isfinite(v->get<double>())) {
      reader.fail(where, "expected a positive number, got " + v->dump());
    }
    spec.lr = v->get<double>();
  }
  if (const Json* v = reader.find(training, path, {"loss"})) {
    spec.loss = reader.string(*v, at("loss"));
    reader.check_with(at("loss"), [&] { train::make_loss(spec.loss); });
  }
  if (const Json* v = reader.find(training, path, {"metrics"})) {
    if (!v->is_array()) reader.fail(at("metrics"), "expected a list of names, got " + v->dump());
    spec.metrics.clear();
    for (size_t i = 0; i < v->size(); ++i) {
      const std::string where = detail::str(at("metrics"), "[", i, "]");
      spec.metrics.push_back(reader.string((*v)[i], where));
      reader.check_with(where, [&] { train::make_metric(spec.metrics.back()); });
    }
  }
  if (const Json* v = reader.find(training, path, {"batch_size"})) {
    spec.batch_size = reader.positive_int(*v, at("batch_size"));
  }
  if (const Json* v = reader.find(training, path, {"epochs"})) {
    spec.epochs = reader.positive_int(*v, at("epochs"));
  }
  if (const Json* v = reader.find(training, path, {"validation_split"})) {
    spec.validation_split = reader.number(*v, at("validation_split"), 0, 1);
  }
  if (const Json* v = reader.find(training, path, {"augmentation"})) {
    parse_augmentation(reader, *v, spec);
  }
  if (const Json* v = reader.find(training, path, {"lr_schedule"})) {
    optim::SGD probe(optim::SGDOptions{});  // validates the schedule without a model
    internal::lr_scheduler_from_json(reader, *v, at("lr_schedule"), probe, spec.epochs);
    spec.lr_schedule_json = v->dump();
  }
  return spec;
}

// Line and column of byte `offset` in `text`, for JSON syntax errors.
std::string text_position(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return detail::str("line ", line, ", column ", column);
}

struct ParsedSpec {
  ModelSpec spec;
  std::vector<nn::ModulePtr> layers;  // created, not built
};

ParsedSpec parse(const std::string& json_text, const std::string& source) {
  const SpecReader reader(source);
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::parse_error& e) {
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at line..":
    // keep the part after the position, which says what was unexpected.
    std::string what = e.what();
    const size_t colon = what.find(": ", what.find("parse error"));
    what = colon == std::string::npos ? what : what.substr(colon + 2);
    reader.fail("", "invalid JSON at " + text_position(json_text, e.byte > 0 ? e.byte - 1 : 0) +
                        ": " + what);
  }
  if (!root.is_object())
    reader.fail("",
                "expected a JSON object at the top level, got " + std::string(root.type_name()));
  reader.check_keys(root, "", {"name", "description", "input_shape", "layers", "training", "data"},
                    "a model spec");
  ParsedSpec parsed;
  ModelSpec& spec = parsed.spec;
  spec.json = json_text;
  spec.name = "model";
  if (const Json* v = reader.find(root, "", {"name"})) spec.name = reader.string(*v, "name");
  if (const Json* v = reader.find(root, "", {"description"})) {
    spec.description = reader.string(*v, "description");
  }
  if (const Json* v = reader.find(root, "", {"input_shape"})) {
    if (!v->is_array() || v->empty()) {
      reader.fail("input_shape",
                  "expected a list of positive sizes (without the batch axis), got " + v->dump());
    }
    for (size_t i = 0; i < v->size(); ++i) {
      spec.input_shape.push_back(reader.positive_int((*v)[i], detail::str("input_shape[", i, "]")));
    }
  }
  const auto layers = root.find("layers");
  if (layers == root.end()) reader.fail("", "missing \"layers\": the list of layers");
  if (!layers->is_array() || layers->empty()) {
    reader.fail("layers", "expected a non-empty list of layers, got " + layers->dump());
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    parsed.layers.push_back(
        internal::parse_layer(reader, (*layers)[i], detail::str("layers[", i, "]")));
  }
  if (const Json* v = reader.find(root, "", {"training"}))
    spec.training = parse_training(reader, *v);
  if (const Json* v = reader.find(root, "", {"data"})) {
    spec.data = internal::text_task_from_json(reader, *v);
  }
  return parsed;
}

std::shared_ptr<nn::Sequential> build(const ParsedSpec& parsed) {
  auto model = std::make_shared<nn::Sequential>();
  for (const nn::ModulePtr& layer : parsed.layers) model->add(layer);
  if (!parsed.spec.input_shape.empty()) {
    try {
      model->build(parsed.spec.input_shape);
    } catch (const Error& e) {
      detail::throw_error(detail::str("model spec ", parsed.spec.name,
                                      ": the layers do not accept ", "input_shape ",
                                      parsed.spec.input_shape, ": ", e.what()));
    }
  }
  return model;
}

}  // namespace

ModelSpec parse_model_spec(const std::string& json_text, const std::string& source_name) {
  return parse(json_text, source_name).spec;
}

ModelSpec load_model_spec(const std::string& path) {
  return parse_model_spec(data::internal::read_file(path, "model spec"), path);
}

std::shared_ptr<nn::Sequential> build_model(const ModelSpec& spec) {
  ParsedSpec parsed = parse(spec.json, spec.name);
  return build(parsed);
}

std::shared_ptr<nn::Sequential> model_from_spec(const std::string& json_text,
                                                const std::string& source_name) {
  return build(parse(json_text, source_name));
}

std::string model_to_spec(const nn::Sequential& model, const std::string& name,
                          const Shape& input_shape, const TrainingSpec* training) {
  OrderedJson spec;
  spec["name"] = name;
  if (!input_shape.empty()) spec["input_shape"] = input_shape;
  OrderedJson layers = OrderedJson::array();
  for (size_t i = 0; i < model.layers().size(); ++i) {
    OrderedJson layer = internal::layer_to_json(*model.layers()[i], i);
    // Without an input shape the rebuilt model could not create its weights before loading
    // them, so the known input sizes are written out.
    const auto* linear = dynamic_cast<const nn::Linear*>(model.layers()[i].get());
    if (input_shape.empty() && linear != nullptr && linear->in_features() > 0) {
      layer["in_features"] = linear->in_features();
    }
    layers.push_back(std::move(layer));
  }
  spec["layers"] = std::move(layers);
  if (training != nullptr) {
    OrderedJson t;
    t["optimizer"] = training->optimizer;
    if (training->lr > 0) t["lr"] = training->lr;
    t["loss"] = training->loss;
    t["metrics"] = training->metrics;
    t["batch_size"] = training->batch_size;
    t["epochs"] = training->epochs;
    if (training->validation_split > 0) t["validation_split"] = training->validation_split;
    if (!training->augmentation_json.empty()) {
      t["augmentation"] = OrderedJson::parse(training->augmentation_json);
    }
    if (!training->lr_schedule_json.empty()) {
      t["lr_schedule"] = OrderedJson::parse(training->lr_schedule_json);
    }
    spec["training"] = std::move(t);
  }
  return spec.dump(2) + "\n";
}

}  // namespace nabla::io
