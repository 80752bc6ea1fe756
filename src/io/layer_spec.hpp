// The layers of a JSON model spec: each type (Keras and PyTorch names) with the keys it accepts,
// read into a module, and a module written back as a layer object.
#pragma once

#include <string>

#include "io/spec_reader.hpp"
#include "nabla/nn.hpp"

namespace nabla::io::internal {

// "Activation, AdaptiveAvgPool2d, ...": every layer type, sorted.
std::string known_layer_types();
// Validates the layer object at `path` and creates its (unbuilt) module; errors name the path.
nn::ModulePtr parse_layer(const SpecReader& reader, const Json& layer, const std::string& path);
// The layer object of `layer` (any module parse_layer can create); Error naming `index` and the
// module's type otherwise.
OrderedJson layer_to_json(const nn::Module& layer, size_t index);

}  // namespace nabla::io::internal
