// The layer registry behind layer_spec.cpp: LayerArgs reads one layer object's keys; a LayerEntry
// says which JSON type names a layer has (Keras's and PyTorch's), which keys it accepts, how to
// make its module and how to write the module back. Each family file adds its entries
// (core_layer_spec.cpp: dense, activations, dropout, reshaping, merges; cnn_layer_spec.cpp:
// convolution, pooling, normalization, resampling, CNN blocks; sequence_layer_spec.cpp:
// embeddings, recurrent layers, attention, Transformer, seq2seq), so that reading and writing a
// type are declared side by side and nothing else lists layer types.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/spec_reader.hpp"
#include "nabla/nn.hpp"

namespace nabla::io::internal {

// Reads the keys of one layer object; errors name the JSON path of the key as written.
class LayerArgs {
 public:
  LayerArgs(const SpecReader& reader, const Json& object, std::string path)
      : reader_(reader), object_(object), path_(std::move(path)) {}

  const SpecReader& reader() const { return reader_; }
  const std::string& path() const { return path_; }

  // The value under one of `aliases` (at most one present) or null; `key_path` gets its path.
  const Json* find(const std::vector<const char*>& aliases, std::string* key_path = nullptr) const {
    const Json* value = reader_.find(object_, path_, aliases);
    if (value != nullptr && key_path != nullptr) {
      for (const char* alias : aliases) {
        if (object_.contains(alias)) *key_path = SpecReader::join_path(path_, alias);
      }
    }
    return value;
  }

  const Json& require(const std::vector<const char*>& aliases, const std::string& what,
                      std::string* key_path) const {
    const Json* value = find(aliases, key_path);
    if (value == nullptr) {
      std::string names = detail::str("\"", aliases[0], "\"");
      if (aliases.size() > 1) names += detail::str(" (or \"", aliases[1], "\")");
      reader_.fail(path_, "missing " + names + ": " + what);
    }
    return *value;
  }

  int64_t positive_int(const std::vector<const char*>& aliases, const std::string& what) const {
    std::string at;
    const Json& value = require(aliases, what, &at);
    return reader_.positive_int(value, at);
  }
  int64_t positive_int_or(const std::vector<const char*>& aliases, int64_t fallback) const {
    std::string at;
    const Json* value = find(aliases, &at);
    return value ? reader_.positive_int(*value, at) : fallback;
  }
  double number_or(const std::vector<const char*>& aliases, double low, double high,
                   double fallback, bool inclusive = false) const {
    std::string at;
    const Json* value = find(aliases, &at);
    return value ? reader_.number(*value, at, low, high, inclusive) : fallback;
  }
  bool boolean_or(const std::vector<const char*>& aliases, bool fallback) const {
    std::string at;
    const Json* value = find(aliases, &at);
    return value ? reader_.boolean(*value, at) : fallback;
  }
  std::string string_or(const std::vector<const char*>& aliases,
                        const std::vector<std::string>& allowed, std::string fallback) const {
    std::string at;
    const Json* value = find(aliases, &at);
    if (value == nullptr) return fallback;
    std::string text = reader_.string(*value, at);
    if (std::find(allowed.begin(), allowed.end(), text) == allowed.end()) {
      reader_.fail(at, "expected one of " + join(allowed) + ", got " + json_excerpt(*value));
    }
    return text;
  }
  std::string activation_or_empty() const {
    std::string at;
    const Json* value = find({"activation"}, &at);
    return value ? validated_activation(reader_, *value, at) : "";
  }
  std::string initializer_or(const char* key, std::string fallback) const {
    std::string at;
    const Json* value = find({key}, &at);
    return value ? validated_initializer(reader_, *value, at) : fallback;
  }

  // One integer >= minimum, or a list of them ([3] or [3, 3] for a 2-d kernel).
  std::vector<int64_t> sizes(const Json& value, const std::string& at, int64_t minimum) const {
    const auto valid = [&](const Json& v) {
      return v.is_number_integer() && v.get<int64_t>() >= minimum;
    };
    std::vector<int64_t> out;
    if (valid(value)) {
      out.push_back(value.get<int64_t>());
    } else if (value.is_array() && !value.empty() &&
               std::all_of(value.begin(), value.end(), valid)) {
      for (const Json& v : value) out.push_back(v.get<int64_t>());
    } else {
      reader_.fail(at, detail::str("expected an integer >= ", minimum, " or a list of them, got ",
                                   json_excerpt(value)));
    }
    return out;
  }
  std::vector<int64_t> sizes_required(const std::vector<const char*>& aliases,
                                      const std::string& what, int64_t minimum = 1) const {
    std::string at;
    const Json& value = require(aliases, what, &at);
    return sizes(value, at, minimum);
  }
  std::vector<int64_t> sizes_or(const std::vector<const char*>& aliases, int64_t minimum,
                                std::vector<int64_t> fallback) const {
    std::string at;
    const Json* value = find(aliases, &at);
    return value ? sizes(*value, at, minimum) : fallback;
  }

  // "padding": "same", "valid", or sizes. Returns the mode ("" for sizes).
  std::string padding(std::vector<int64_t>* sizes_out, const std::string& fallback_mode) const {
    std::string at;
    const Json* value = find({"padding"}, &at);
    if (value == nullptr) return fallback_mode;
    if (value->is_string()) {
      const std::string mode = value->get<std::string>();
      if (mode != "same" && mode != "valid") {
        reader_.fail(at,
                     "expected \"same\", \"valid\" or padding sizes, got " + json_excerpt(*value));
      }
      return mode;
    }
    *sizes_out = sizes(*value, at, 0);
    return "";
  }

 private:
  const SpecReader& reader_;
  const Json& object_;
  std::string path_;
};

// Makes the (unbuilt) module of a layer object whose type is `type`.
using Factory = std::function<nn::ModulePtr(const LayerArgs&, const std::string& type)>;
// The layer object of a module ("type" first), or null JSON when the module is not of the class
// the entry makes (a custom Module that calls itself "Dense" is not describable).
using Writer = std::function<OrderedJson(const nn::Module&)>;

// One layer type. `names` are both the "type" values it reads and the type_name()s of the modules
// it writes (Dense/Linear, Conv2D/Conv2d, ...).
struct LayerEntry {
  std::vector<std::string> names;
  std::vector<const char*> keys;  // accepted besides "type", in the order errors list them
  Factory make;
  // Empty for a reading form only (Activation, Bidirectional): the modules it makes report a type
  // of their own (GELU, LSTM) and are written by that type's entry.
  Writer write;
};

// A writer for modules of class `Layer`: `write(const Layer&)` gets the module already cast.
template <class Layer, class Write>
Writer writes(Write write) {
  return [write = std::move(write)](const nn::Module& module) -> OrderedJson {
    const auto* layer = dynamic_cast<const Layer*>(&module);
    return layer != nullptr ? OrderedJson(write(*layer)) : OrderedJson();
  };
}

class LayerRegistry {
 public:
  // Error when one of the entry's names is already registered (two families claiming a type).
  void add(LayerEntry entry);
  // The entry reading `type` (and writing modules whose type_name() is `type`), or null.
  const LayerEntry* find(const std::string& type) const;
  // Every registered type name, sorted.
  std::vector<std::string> names() const;

 private:
  std::vector<std::shared_ptr<const LayerEntry>> entries_;
  std::map<std::string, const LayerEntry*> by_name_;
};

// All layer types, registered once on first use.
const LayerRegistry& layer_registry();

// The families, one per file.
void add_core_layer_types(LayerRegistry& registry);
void add_cnn_layer_types(LayerRegistry& registry);
void add_sequence_layer_types(LayerRegistry& registry);

}  // namespace nabla::io::internal
