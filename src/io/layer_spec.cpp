// Layer objects of JSON model specs, read and written through the layer registry: each type lists
// the keys it accepts, and unknown keys are errors, so that typos do not pass silently. The types
// themselves are registered by the family files (core_, cnn_ and sequence_layer_spec.cpp).
#include "io/layer_spec.hpp"

#include "io/layer_args.hpp"

namespace nabla::io::internal {

void LayerRegistry::add(LayerEntry entry) {
  for (const std::string& name : entry.names) {
    NABLA_CHECK(!by_name_.contains(name), "layer registry: type \"", name,
                "\" is registered twice");
  }
  // Entries live behind shared pointers so that by_name_'s pointers survive later additions.
  entries_.push_back(std::make_shared<const LayerEntry>(std::move(entry)));
  for (const std::string& name : entries_.back()->names) by_name_[name] = entries_.back().get();
}

const LayerEntry* LayerRegistry::find(const std::string& type) const {
  const auto it = by_name_.find(type);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> LayerRegistry::names() const {
  std::vector<std::string> names;
  for (const auto& [name, entry] : by_name_) names.push_back(name);
  return names;
}

const LayerRegistry& layer_registry() {
  static const LayerRegistry kRegistry = [] {
    LayerRegistry registry;
    add_core_layer_types(registry);
    add_cnn_layer_types(registry);
    add_sequence_layer_types(registry);
    return registry;
  }();
  return kRegistry;
}

std::string known_layer_types() { return join(layer_registry().names()); }

nn::ModulePtr parse_layer(const SpecReader& reader, const Json& layer, const std::string& path) {
  if (!layer.is_object()) reader.fail(path, "expected a layer object, got " + json_excerpt(layer));
  const auto type_it = layer.find("type");
  if (type_it == layer.end()) {
    reader.fail(path, "missing \"type\"; known types: " + known_layer_types());
  }
  const std::string type = reader.string(*type_it, path + ".type");
  const LayerEntry* entry = layer_registry().find(type);
  if (entry == nullptr) {
    reader.fail(path + ".type", "unknown layer type " + json_excerpt(*type_it) +
                                    "; known types: " + known_layer_types());
  }
  std::vector<const char*> keys = entry->keys;
  keys.insert(keys.begin(), "type");
  reader.check_keys(layer, path, keys, "a " + type + " layer");
  nn::ModulePtr module;
  // The constructors check what the keys cannot check alone (groups dividing the channels, ...).
  reader.check_with(path, [&] { module = entry->make(LayerArgs(reader, layer, path), type); });
  return module;
}

OrderedJson layer_to_json(const nn::Module& layer, size_t index) {
  const std::string type = layer.type_name();
  if (const LayerEntry* entry = layer_registry().find(type); entry != nullptr && entry->write) {
    if (OrderedJson out = entry->write(layer); !out.is_null()) return out;
  }
  detail::throw_error(
      detail::str("model_to_spec: layer ", index, " (", type,
                  ") cannot be written as a model spec; spec layer types: ", known_layer_types()));
}

}  // namespace nabla::io::internal
