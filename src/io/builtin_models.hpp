// The built-in model presets, generated at configure time from models/*.json. Internal.
#pragma once

#include <map>
#include <string>

namespace nabla::io::internal {
// Preset name (the file name without .json) -> JSON text.
const std::map<std::string, std::string>& builtin_model_table();
}  // namespace nabla::io::internal
