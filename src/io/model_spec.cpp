// JSON model specs: parsing with errors that name the JSON path, building the Sequential, and
// writing a Sequential back as a spec.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

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
using internal::json_excerpt;
using internal::OrderedJson;
using internal::SpecReader;

// One step of "training.augmentation".
data::AugmentationPtr parse_augmentation_step(const SpecReader& reader, const Json& step,
                                              const std::string& path) {
  static const std::map<std::string, std::vector<const char*>> kKeys = {
      {"GaussianNoise", {"stddev", "clip"}},
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
                          json_excerpt(step));
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
      reader.fail(at(key), "expected [low, high], got " + json_excerpt(*it));
    }
    return std::pair<double, double>((*it)[0].get<double>(), (*it)[1].get<double>());
  };
  const auto numbers = [&](const char* key) {
    const auto it = step.find(key);
    if (it == step.end()) reader.fail(path, detail::str("missing \"", key, "\""));
    std::vector<double> out;
    if (it->is_number()) return std::vector<double>{it->get<double>()};
    if (!it->is_array() || it->empty()) {
      reader.fail(at(key), "expected a number or a list of numbers, got " + json_excerpt(*it));
    }
    for (const Json& v : *it) {
      if (!v.is_number()) reader.fail(at(key), "expected numbers, got " + json_excerpt(*it));
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
    } else if (type == "GaussianNoise") {
      const auto stddev = step.find("stddev");
      if (stddev == step.end()) reader.fail(path, "missing \"stddev\": the noise per pixel");
      const auto clip = pair("clip", {-std::numeric_limits<double>::infinity(),
                                      std::numeric_limits<double>::infinity()});
      result = data::gaussian_noise(reader.number(*stddev, at("stddev"), 0, 1e30, true), clip.first,
                                    clip.second);
    } else {
      result = data::normalize(numbers("mean"), numbers("std"));
    }
  });
  return result;
}

void parse_augmentation(const SpecReader& reader, const Json& list, TrainingSpec& spec) {
  const std::string path = "training.augmentation";
  if (!list.is_array()) reader.fail(path, "expected a list of steps, got " + json_excerpt(list));
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
  if (!training.is_object()) reader.fail(path, "expected an object, got " + json_excerpt(training));
  reader.check_keys(training, path,
                    {"optimizer", "lr", "learning_rate", "momentum", "nesterov", "weight_decay",
                     "precision", "loss", "metrics", "batch_size", "epochs", "validation_split",
                     "augmentation", "lr_schedule"},
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
      reader.fail(where, "expected a positive number, got " + json_excerpt(*v));
    }
    spec.lr = v->get<double>();
  }
  if (const Json* v = reader.find(training, path, {"momentum"})) {
    spec.momentum = reader.number(*v, at("momentum"), 0, 1, true);
  }
  if (const Json* v = reader.find(training, path, {"nesterov"})) {
    spec.nesterov = reader.boolean(*v, at("nesterov"));
  }
  if (const Json* v = reader.find(training, path, {"weight_decay"})) {
    spec.weight_decay = reader.number(*v, at("weight_decay"), 0, 1, true);
  }
  // The optimizer checks that it has each setting given, and their combination (nesterov needs
  // momentum).
  reader.check_with(at("optimizer"), [&] { make_optimizer(spec); });
  if (const Json* v = reader.find(training, path, {"precision"})) {
    spec.precision = reader.string(*v, at("precision"));
    reader.check_with(at("precision"), [&] { parse_precision(spec.precision); });
  }
  if (const Json* v = reader.find(training, path, {"loss"})) {
    spec.loss = reader.string(*v, at("loss"));
    reader.check_with(at("loss"), [&] { train::make_loss(spec.loss); });
  }
  if (const Json* v = reader.find(training, path, {"metrics"})) {
    if (!v->is_array())
      reader.fail(at("metrics"), "expected a list of names, got " + json_excerpt(*v));
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

// One entry of a graph spec's "layers": a layer called on the named inputs, or ("shared") one
// more call of a layer listed before.
struct GraphEntry {
  std::string name;
  std::string path;                 // "layers[3]", for errors
  std::vector<std::string> inputs;  // names of inputs or earlier entries
  std::string shared;               // the layer called again, or ""
};

struct GraphInput {
  std::string name;
  Shape shape;
  DType dtype = DType::f32;
};

struct ParsedSpec {
  ModelSpec spec;
  std::vector<nn::ModulePtr> layers;  // created, not built; null for a shared call
  // The graph form ("inputs" at the top level): one entry per layer, and the outputs' names.
  bool graph = false;
  std::vector<GraphInput> inputs;
  std::vector<GraphEntry> entries;
  std::vector<std::string> outputs;
};

// A list of names ("inputs" of a layer, "outputs" of the model), each naming something known.
std::vector<std::string> name_list(const SpecReader& reader, const Json& value,
                                   const std::string& path, const std::set<std::string>& known,
                                   const std::string& what) {
  if (!value.is_array() || value.empty()) {
    reader.fail(path, "expected a non-empty list of names, got " + json_excerpt(value));
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string at = detail::str(path, "[", i, "]");
    names.push_back(reader.string(value[i], at));
    if (known.count(names.back()) == 0) {
      reader.fail(at, "unknown name \"" + names.back() + "\"; " + what);
    }
  }
  return names;
}

void check_graph_name(const SpecReader& reader, const std::string& name, const std::string& path,
                      std::set<std::string>& taken) {
  if (name.empty() || name.find('.') != std::string::npos) {
    reader.fail(path, "expected a non-empty name without '.', got \"" + name + "\"");
  }
  if (!taken.insert(name).second) {
    reader.fail(path, "the name \"" + name + "\" is used twice; names must be unique");
  }
}

// The graph form: "inputs": [{"name", "shape", "dtype"}], layers that name their "inputs", and
// "outputs". Each layer may read only the inputs and the layers listed before it, so a spec can
// hold no cycle.
void parse_graph(const SpecReader& reader, const Json& root, ParsedSpec& parsed) {
  parsed.graph = true;
  std::set<std::string> taken;
  const Json& inputs = root["inputs"];
  if (!inputs.is_array() || inputs.empty()) {
    reader.fail("inputs",
                "expected a non-empty list of {\"name\", \"shape\"}, got " + json_excerpt(inputs));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string path = detail::str("inputs[", i, "]");
    const Json& input = inputs[i];
    if (!input.is_object())
      reader.fail(path, "expected {\"name\", \"shape\"}, got " + json_excerpt(input));
    reader.check_keys(input, path, {"name", "shape", "dtype"}, "a model input");
    GraphInput parsed_input;
    const Json* name = reader.find(input, path, {"name"});
    if (name == nullptr) reader.fail(path, "missing \"name\"");
    parsed_input.name = reader.string(*name, path + ".name");
    check_graph_name(reader, parsed_input.name, path + ".name", taken);
    const Json* shape = reader.find(input, path, {"shape"});
    if (shape == nullptr || !shape->is_array() || shape->empty()) {
      reader.fail(path + ".shape", "expected a list of positive sizes (without the batch axis)");
    }
    for (size_t k = 0; k < shape->size(); ++k) {
      parsed_input.shape.push_back(
          reader.positive_int((*shape)[k], detail::str(path, ".shape[", k, "]")));
    }
    if (const Json* dtype = reader.find(input, path, {"dtype"})) {
      const std::string text = reader.string(*dtype, path + ".dtype");
      if (text != "float32" && text != "int64") {
        reader.fail(path + ".dtype",
                    "expected \"float32\" or \"int64\", got " + json_excerpt(*dtype));
      }
      parsed_input.dtype = text == "int64" ? DType::i64 : DType::f32;
    }
    parsed.inputs.push_back(std::move(parsed_input));
  }
  parsed.spec.input_shape = parsed.inputs[0].shape;
  parsed.spec.num_inputs = parsed.inputs.size();

  const Json& layers = root["layers"];
  std::map<std::string, size_t> layer_calls;  // a layer's name -> its calls so far
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string path = detail::str("layers[", i, "]");
    const Json& layer = layers[i];
    if (!layer.is_object())
      reader.fail(path, "expected a layer object, got " + json_excerpt(layer));
    GraphEntry entry;
    entry.path = path;
    if (const Json* shared = reader.find(layer, path, {"shared"})) {
      reader.check_keys(layer, path, {"name", "shared", "inputs"}, "a shared layer's call");
      entry.shared = reader.string(*shared, path + ".shared");
      const auto found = layer_calls.find(entry.shared);
      if (found == layer_calls.end()) {
        reader.fail(path + ".shared",
                    "no layer named \"" + entry.shared +
                        "\" is listed before; \"shared\" calls an earlier layer again");
      }
      entry.name = entry.shared + "[" + std::to_string(found->second++) + "]";
    }
    const Json* name = reader.find(layer, path, {"name"});
    if (name != nullptr) {
      entry.name = reader.string(*name, path + ".name");
    } else if (entry.shared.empty()) {
      reader.fail(path,
                  "missing \"name\": a layer of a graph spec is named, so that later "
                  "layers and \"outputs\" can refer to it");
    }
    const Json* inputs_of = reader.find(layer, path, {"inputs"});
    if (inputs_of == nullptr) {
      reader.fail(path, "missing \"inputs\": the names of the inputs or earlier layers it reads");
    }
    entry.inputs = name_list(reader, *inputs_of, path + ".inputs", taken,
                             "a layer reads the model's inputs and the layers listed before it");
    check_graph_name(reader, entry.name, path + (name ? ".name" : ""), taken);
    if (entry.shared.empty()) {
      Json plain = layer;
      plain.erase("name");
      plain.erase("inputs");
      parsed.layers.push_back(internal::parse_layer(reader, plain, path));
      layer_calls[entry.name] = 1;
    } else {
      parsed.layers.push_back(nullptr);
    }
    parsed.entries.push_back(std::move(entry));
  }
  const auto outputs = root.find("outputs");
  if (outputs == root.end())
    reader.fail("", "missing \"outputs\": the names of the model's outputs");
  parsed.outputs = name_list(reader, *outputs, "outputs", taken, "outputs name inputs or layers");
}

ParsedSpec parse(const std::string& json_text, const std::string& source) {
  const SpecReader reader(source);
  Json root;
  try {
    root = data::internal::parse_json(json_text);
  } catch (const data::internal::JsonError& e) {
    reader.fail(e.path(), e.message());
  }
  if (!root.is_object())
    reader.fail("",
                "expected a JSON object at the top level, got " + std::string(root.type_name()));
  reader.check_keys(root, "",
                    {"name", "description", "task", "input_shape", "inputs", "outputs", "layers",
                     "training", "data", "word2vec", "tabular"},
                    "a model spec");
  ParsedSpec parsed;
  ModelSpec& spec = parsed.spec;
  spec.json = json_text;
  spec.name = "model";
  if (const Json* v = reader.find(root, "", {"name"})) spec.name = reader.string(*v, "name");
  if (const Json* v = reader.find(root, "", {"task"})) spec.task = reader.string(*v, "task");
  if (const Json* v = reader.find(root, "", {"description"})) {
    spec.description = reader.string(*v, "description");
  }
  if (root.contains("inputs") && root.contains("input_shape")) {
    reader.fail("input_shape",
                "give \"inputs\" (a graph of named layers) or \"input_shape\" "
                "(a sequential list of layers), not both");
  }
  if (root.contains("outputs") && !root.contains("inputs")) {
    reader.fail("outputs", "a graph spec also needs \"inputs\"");
  }
  if (const Json* v = reader.find(root, "", {"input_shape"})) {
    if (!v->is_array() || v->empty()) {
      reader.fail(
          "input_shape",
          "expected a list of positive sizes (without the batch axis), got " + json_excerpt(*v));
    }
    for (size_t i = 0; i < v->size(); ++i) {
      spec.input_shape.push_back(reader.positive_int((*v)[i], detail::str("input_shape[", i, "]")));
    }
  }
  const auto layers = root.find("layers");
  if (layers == root.end()) reader.fail("", "missing \"layers\": the list of layers");
  if (!layers->is_array() || layers->empty()) {
    reader.fail("layers", "expected a non-empty list of layers, got " + json_excerpt(*layers));
  }
  if (root.contains("inputs")) {
    parse_graph(reader, root, parsed);
  } else {
    for (size_t i = 0; i < layers->size(); ++i) {
      parsed.layers.push_back(
          internal::parse_layer(reader, (*layers)[i], detail::str("layers[", i, "]")));
    }
  }
  if (const Json* v = reader.find(root, "", {"training"}))
    spec.training = parse_training(reader, *v);
  if (const Json* v = reader.find(root, "", {"data"})) {
    spec.data = internal::text_task_from_json(reader, *v);
  }
  return parsed;
}

// Replays the calls of a graph spec on symbolic tensors; each call builds its layer, so a shape
// mismatch is reported at the layer that meets it.
nn::ModulePtr build_graph(const ParsedSpec& parsed) {
  const SpecReader reader(parsed.spec.name);
  std::map<std::string, nn::SymbolicTensor> values;
  std::map<std::string, nn::ModulePtr> layers;
  std::vector<nn::SymbolicTensor> inputs, outputs;
  for (const GraphInput& input : parsed.inputs) {
    inputs.push_back(nn::Input(input.shape, input.name, input.dtype));
    values[input.name] = inputs.back();
  }
  for (size_t i = 0; i < parsed.entries.size(); ++i) {
    const GraphEntry& entry = parsed.entries[i];
    nn::ModulePtr layer = entry.shared.empty() ? parsed.layers[i] : layers.at(entry.shared);
    if (entry.shared.empty()) {
      layer->set_name(entry.name);
      layers[entry.name] = layer;
    }
    std::vector<nn::SymbolicTensor> args;
    for (const std::string& name : entry.inputs) args.push_back(values.at(name));
    reader.check_with(entry.path + " (" + entry.name + ")",
                      [&] { values[entry.name] = (*layer)(args); });
  }
  for (const std::string& name : parsed.outputs) outputs.push_back(values.at(name));
  std::shared_ptr<nn::Graph> graph;
  reader.check_with(
      "", [&] { graph = std::make_shared<nn::Graph>(inputs, outputs, parsed.spec.name); });
  return graph;
}

nn::ModulePtr build(const ParsedSpec& parsed) {
  if (parsed.graph) return build_graph(parsed);
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
  // A spec is a few kilobytes; 16 MiB leaves room for any graph, while a data set or /dev/zero
  // given by mistake is refused at once instead of read into memory.
  constexpr int64_t kMaxSpecBytes = int64_t{16} << 20;
  return parse_model_spec(data::internal::read_file(path, "model spec", kMaxSpecBytes), path);
}

nn::ModulePtr build_model(const ModelSpec& spec) {
  ParsedSpec parsed = parse(spec.json, spec.name);
  return build(parsed);
}

nn::ModulePtr model_from_spec(const std::string& json_text, const std::string& source_name) {
  return build(parse(json_text, source_name));
}

namespace {

OrderedJson training_json(const TrainingSpec& training) {
  OrderedJson t;
  t["optimizer"] = training.optimizer;
  if (training.lr > 0) t["lr"] = training.lr;
  if (training.momentum) t["momentum"] = *training.momentum;
  if (training.nesterov) t["nesterov"] = *training.nesterov;
  if (training.weight_decay) t["weight_decay"] = *training.weight_decay;
  if (parse_precision(training.precision) != Precision::fp32) t["precision"] = training.precision;
  t["loss"] = training.loss;
  t["metrics"] = training.metrics;
  t["batch_size"] = training.batch_size;
  t["epochs"] = training.epochs;
  if (training.validation_split > 0) t["validation_split"] = training.validation_split;
  if (!training.augmentation_json.empty()) {
    t["augmentation"] = OrderedJson::parse(training.augmentation_json);
  }
  if (!training.lr_schedule_json.empty()) {
    t["lr_schedule"] = OrderedJson::parse(training.lr_schedule_json);
  }
  return t;
}

void write_sequential(const nn::Sequential& model, const Shape& input_shape, OrderedJson& spec) {
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
}

// The graph form of a graph model: each layer's object with its name and inputs.
void graph_to_json(const nn::Graph& graph, OrderedJson& spec) {
  OrderedJson inputs = OrderedJson::array();
  for (const auto& node : graph.inputs()) {
    OrderedJson input{{"name", node->name}, {"shape", node->shape}};
    if (node->dtype == DType::i64) input["dtype"] = "int64";
    inputs.push_back(std::move(input));
  }
  spec["inputs"] = std::move(inputs);
  OrderedJson layers = OrderedJson::array();
  std::map<const nn::Module*, std::string> first_call;
  for (const auto& node : graph.nodes()) {
    if (node->layer == nullptr) continue;
    OrderedJson layer{{"name", node->name}};
    const auto shared = first_call.find(node->layer.get());
    if (shared != first_call.end()) {
      layer["shared"] = shared->second;
    } else {
      first_call[node->layer.get()] = node->name;
      const OrderedJson described = internal::layer_to_json(*node->layer, layers.size());
      for (const auto& [key, value] : described.items()) layer[key] = value;
    }
    std::vector<std::string> names;
    for (const auto& input : node->inputs) names.push_back(input->name);
    layer["inputs"] = names;
    layers.push_back(std::move(layer));
  }
  spec["layers"] = std::move(layers);
  std::vector<std::string> outputs;
  for (const auto& node : graph.outputs()) outputs.push_back(node->name);
  spec["outputs"] = outputs;
}

}  // namespace

std::string model_to_spec(const nn::Module& module, const std::string& name,
                          const Shape& input_shape, const TrainingSpec* training) {
  OrderedJson spec;
  spec["name"] = name;
  if (const auto* graph = dynamic_cast<const nn::Graph*>(&module)) {
    graph_to_json(*graph, spec);
  } else {
    const auto* sequential = dynamic_cast<const nn::Sequential*>(&module);
    NABLA_CHECK(sequential != nullptr, "model_to_spec: a ", module.type_name(),
                " is not a model a spec can describe (a Sequential or a graph model)");
    write_sequential(*sequential, input_shape, spec);
  }

  if (training != nullptr) spec["training"] = training_json(*training);
  return spec.dump(2) + "\n";
}

TrainingSpec merge_training(const TrainingSpec& training, const std::string& overrides,
                            const std::string& source) {
  const SpecReader reader(source);
  Json changes;
  try {
    changes = Json::parse(overrides);
  } catch (const Json::exception& e) {
    reader.fail("training", std::string("expected JSON: ") + e.what());
  }
  if (!changes.is_object()) {
    reader.fail("training",
                "expected an object of training settings, got " + json_excerpt(changes));
  }
  Json merged = Json::parse(training_json(training).dump());
  for (const auto& item : changes.items()) merged[item.key()] = item.value();
  return parse_training(reader, merged);
}

std::string spec_with_training(const ModelSpec& spec, const TrainingSpec& training) {
  // The spec was validated when it was parsed, so its text parses again.
  OrderedJson json = OrderedJson::parse(spec.json);
  if (!spec.input_shape.empty() && !json.contains("inputs")) json["input_shape"] = spec.input_shape;
  json["training"] = training_json(training);
  return json.dump(2) + "\n";
}

}  // namespace nabla::io
