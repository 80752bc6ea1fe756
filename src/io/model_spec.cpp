// JSON model specs: parsing with errors that name the JSON path, building the Sequential, and
// writing a Sequential back as a spec.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "data/file_util.hpp"
#include "nabla/io.hpp"
#include "nabla/optim.hpp"
#include "nabla/train.hpp"

namespace nabla::io {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// One layer of a spec, validated.
struct LayerSpec {
  std::string type;  // as written: Dense, Linear, Flatten, Dropout, Activation, ReLU, ...
  int64_t units = -1;
  int64_t in_features = -1;
  std::string activation;
  bool bias = true;
  std::string kernel_initializer;  // "" = the layer's default
  std::string bias_initializer;
  double rate = 0;
  double scale = 1;  // Rescaling
  double offset = 0;
};

// The layer types and the keys each accepts (besides "type"); aliases are listed together.
struct LayerType {
  const char* name;
  std::vector<const char*> keys;
};
const std::vector<LayerType>& layer_types() {
  static const std::vector<LayerType> kTypes = {
      {"Activation", {"activation", "name"}},
      {"Dense",
       {"units", "out_features", "activation", "use_bias", "bias", "kernel_initializer",
        "bias_initializer", "in_features"}},
      {"Dropout", {"rate", "p"}},
      {"Flatten", {}},
      {"Linear",
       {"units", "out_features", "activation", "use_bias", "bias", "kernel_initializer",
        "bias_initializer", "in_features"}},
      {"ReLU", {}},
      {"Rescaling", {"scale", "offset"}},
      {"Sigmoid", {}},
      {"Softmax", {}},
      {"Tanh", {}},
  };
  return kTypes;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

std::string known_layer_types() {
  std::vector<std::string> names;
  for (const auto& type : layer_types()) names.emplace_back(type.name);
  return join(names);
}

// Reads a parsed spec; every error names the source and the JSON path of the offending field.
class SpecReader {
 public:
  explicit SpecReader(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& message) const {
    detail::throw_error(
        detail::str("model spec ", source_, ": ", path.empty() ? "" : path + ": ", message));
  }

  // Rethrows an Error from a library check (unknown activation, ...) at `path`.
  template <class F>
  void check_with(const std::string& path, F check) const {
    try {
      check();
    } catch (const Error& e) {
      fail(path, e.what());
    }
  }

  void check_keys(const Json& object, const std::string& path, const std::vector<const char*>& keys,
                  const std::string& what) const {
    for (const auto& [key, value] : object.items()) {
      const bool known =
          std::any_of(keys.begin(), keys.end(), [&](const char* k) { return key == k; });
      if (!known) {
        std::vector<std::string> names(keys.begin(), keys.end());
        fail(join_path(path, key), "unknown key for " + what + "; known keys: " + join(names));
      }
    }
  }

  // The value under one of `aliases` (at most one may be present), or null.
  const Json* find(const Json& object, const std::string& path,
                   const std::vector<const char*>& aliases) const {
    const Json* found = nullptr;
    const char* found_name = nullptr;
    for (const char* alias : aliases) {
      const auto it = object.find(alias);
      if (it == object.end()) continue;
      if (found != nullptr) {
        fail(path, detail::str("give either \"", found_name, "\" or \"", alias, "\", not both"));
      }
      found = &*it;
      found_name = alias;
    }
    return found;
  }

  int64_t positive_int(const Json& value, const std::string& path) const {
    if (!value.is_number_integer() || value.get<int64_t>() <= 0) {
      fail(path, "expected a positive integer, got " + value.dump());
    }
    return value.get<int64_t>();
  }

  std::string string(const Json& value, const std::string& path) const {
    if (!value.is_string()) fail(path, "expected a string, got " + value.dump());
    return value.get<std::string>();
  }

  bool boolean(const Json& value, const std::string& path) const {
    if (!value.is_boolean()) fail(path, "expected true or false, got " + value.dump());
    return value.get<bool>();
  }

  // A number in [low, high) (or [low, high] when `inclusive`).
  double number(const Json& value, const std::string& path, double low, double high,
                bool inclusive = false) const {
    const bool ok = value.is_number() && value.get<double>() >= low &&
                    (inclusive ? value.get<double>() <= high : value.get<double>() < high);
    if (!ok) {
      fail(path, detail::str("expected a number in [", low, ", ", high, inclusive ? "]" : ")",
                             ", got ", value.dump()));
    }
    return value.get<double>();
  }

  static std::string join_path(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

 private:
  std::string source_;
};

std::string validated_activation(const SpecReader& reader, const Json& value,
                                 const std::string& path) {
  std::string name = reader.string(value, path);
  // nabla::activation owns the list of names: ask it rather than keep a copy here.
  reader.check_with(path, [&] { activation(zeros({2}), name); });
  return name;
}

std::string validated_initializer(const SpecReader& reader, const Json& value,
                                  const std::string& path) {
  std::string name = reader.string(value, path);
  reader.check_with(path, [&] {
    Generator scratch(0);  // leaves the default generator's stream untouched
    Tensor probe = empty({2, 2});
    nn::init::apply(name, probe, &scratch);
  });
  return name;
}

LayerSpec parse_layer(const SpecReader& reader, const Json& layer, const std::string& path) {
  if (!layer.is_object()) reader.fail(path, "expected a layer object, got " + layer.dump());
  const auto type_it = layer.find("type");
  if (type_it == layer.end()) {
    reader.fail(path, "missing \"type\"; known types: " + known_layer_types());
  }
  LayerSpec spec;
  spec.type = reader.string(*type_it, path + ".type");
  const auto& types = layer_types();
  const auto type = std::find_if(types.begin(), types.end(),
                                 [&](const LayerType& t) { return spec.type == t.name; });
  if (type == types.end()) {
    reader.fail(path + ".type",
                "unknown layer type " + type_it->dump() + "; known types: " + known_layer_types());
  }
  std::vector<const char*> keys = type->keys;
  keys.insert(keys.begin(), "type");
  reader.check_keys(layer, path, keys, "a " + spec.type + " layer");

  const auto at = [&](const char* key) { return SpecReader::join_path(path, key); };
  if (spec.type == "Dense" || spec.type == "Linear") {
    const Json* units = reader.find(layer, path, {"units", "out_features"});
    if (units == nullptr) {
      reader.fail(path, "missing \"units\" (or \"out_features\"): the number of outputs");
    }
    spec.units =
        reader.positive_int(*units, at(layer.contains("units") ? "units" : "out_features"));
    if (const Json* v = reader.find(layer, path, {"activation"})) {
      spec.activation = validated_activation(reader, *v, at("activation"));
    }
    if (const Json* v = reader.find(layer, path, {"use_bias", "bias"})) {
      spec.bias = reader.boolean(*v, at(layer.contains("use_bias") ? "use_bias" : "bias"));
    }
    if (const Json* v = reader.find(layer, path, {"kernel_initializer"})) {
      spec.kernel_initializer = validated_initializer(reader, *v, at("kernel_initializer"));
    }
    if (const Json* v = reader.find(layer, path, {"bias_initializer"})) {
      spec.bias_initializer = validated_initializer(reader, *v, at("bias_initializer"));
    }
    if (const Json* v = reader.find(layer, path, {"in_features"})) {
      spec.in_features = reader.positive_int(*v, at("in_features"));
    }
  } else if (spec.type == "Dropout") {
    const Json* rate = reader.find(layer, path, {"rate", "p"});
    if (rate == nullptr) reader.fail(path, "missing \"rate\" (or \"p\"): the drop probability");
    spec.rate = reader.number(*rate, at(layer.contains("rate") ? "rate" : "p"), 0, 1);
  } else if (spec.type == "Rescaling") {
    const Json* scale = reader.find(layer, path, {"scale"});
    if (scale == nullptr)
      reader.fail(path, "missing \"scale\": the factor inputs are multiplied by");
    spec.scale = reader.number(*scale, at("scale"), -1e30, 1e30, true);
    if (const Json* offset = reader.find(layer, path, {"offset"}))
      spec.offset = reader.number(*offset, at("offset"), -1e30, 1e30, true);
  } else if (spec.type == "Activation") {
    const Json* name = reader.find(layer, path, {"activation", "name"});
    if (name == nullptr) reader.fail(path, "missing \"activation\": the activation's name");
    spec.activation = validated_activation(
        reader, *name, at(layer.contains("activation") ? "activation" : "name"));
  }
  return spec;
}

TrainingSpec parse_training(const SpecReader& reader, const Json& training) {
  const std::string path = "training";
  if (!training.is_object()) reader.fail(path, "expected an object, got " + training.dump());
  reader.check_keys(training, path,
                    {"optimizer", "lr", "learning_rate", "loss", "metrics", "batch_size", "epochs",
                     "validation_split"},
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
  std::vector<LayerSpec> layers;
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
  reader.check_keys(root, "", {"name", "description", "input_shape", "layers", "training"},
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
    parsed.layers.push_back(parse_layer(reader, (*layers)[i], detail::str("layers[", i, "]")));
  }
  if (const Json* v = reader.find(root, "", {"training"}))
    spec.training = parse_training(reader, *v);
  return parsed;
}

nn::ModulePtr make_layer(const LayerSpec& layer) {
  if (layer.type == "Dense" || layer.type == "Linear") {
    nn::LinearOptions options;
    options.in_features = layer.in_features;
    options.bias = layer.bias;
    options.activation = layer.activation;
    if (!layer.kernel_initializer.empty()) options.kernel_initializer = layer.kernel_initializer;
    if (!layer.bias_initializer.empty()) options.bias_initializer = layer.bias_initializer;
    if (layer.type == "Dense") return std::make_shared<nn::Dense>(layer.units, "", options);
    return std::make_shared<nn::Linear>(layer.units, options);
  }
  if (layer.type == "Flatten") return std::make_shared<nn::Flatten>();
  if (layer.type == "Rescaling") return std::make_shared<nn::Rescaling>(layer.scale, layer.offset);
  if (layer.type == "Dropout") return std::make_shared<nn::Dropout>(layer.rate);
  if (layer.type == "Activation") return std::make_shared<nn::Activation>(layer.activation);
  if (layer.type == "ReLU") return nn::ReLU();
  if (layer.type == "Sigmoid") return nn::Sigmoid();
  if (layer.type == "Tanh") return nn::Tanh();
  return nn::Softmax();  // the last type parse_layer accepts
}

std::shared_ptr<nn::Sequential> build(const ParsedSpec& parsed) {
  auto model = std::make_shared<nn::Sequential>();
  for (const LayerSpec& layer : parsed.layers) model->add(make_layer(layer));
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

OrderedJson layer_to_json(const nn::Module& layer, size_t index) {
  OrderedJson out;
  if (const auto* linear = dynamic_cast<const nn::Linear*>(&layer)) {
    const bool keras = dynamic_cast<const nn::Dense*>(&layer) != nullptr;
    out["type"] = keras ? "Dense" : "Linear";
    out[keras ? "units" : "out_features"] = linear->out_features();
    if (!linear->activation().empty()) out["activation"] = linear->activation();
    const bool has_bias = linear->in_features() <= 0 || linear->bias().defined();
    if (!has_bias) out[keras ? "use_bias" : "bias"] = false;
    return out;
  }
  if (dynamic_cast<const nn::Flatten*>(&layer) != nullptr) return OrderedJson{{"type", "Flatten"}};
  if (const auto* rescaling = dynamic_cast<const nn::Rescaling*>(&layer)) {
    return OrderedJson{
        {"type", "Rescaling"}, {"scale", rescaling->scale()}, {"offset", rescaling->offset()}};
  }
  if (const auto* dropout = dynamic_cast<const nn::Dropout*>(&layer)) {
    return OrderedJson{{"type", "Dropout"}, {"rate", dropout->p()}};
  }
  if (const auto* act = dynamic_cast<const nn::Activation*>(&layer)) {
    // The four activations with a layer type of their own are written as that type.
    static const std::vector<std::pair<std::string, std::string>> kOwnType = {
        {"relu", "ReLU"}, {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"}, {"softmax", "Softmax"}};
    for (const auto& [name, type] : kOwnType) {
      if (act->name() == name) return OrderedJson{{"type", type}};
    }
    return OrderedJson{{"type", "Activation"}, {"activation", act->name()}};
  }
  detail::throw_error(
      detail::str("model_to_spec: layer ", index, " (", layer.type_name(),
                  ") cannot be written as a model spec; spec layer types: ", known_layer_types()));
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
    OrderedJson layer = layer_to_json(*model.layers()[i], i);
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
    spec["training"] = std::move(t);
  }
  return spec.dump(2) + "\n";
}

}  // namespace nabla::io
