// Lookup of the built-in model presets.
#include <filesystem>

#include "io/builtin_models.hpp"
#include "nabla/io.hpp"

namespace nabla::io {

std::vector<std::string> builtin_model_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : internal::builtin_model_table()) names.push_back(name);
  return names;  // sorted: the table is a std::map
}

std::string builtin_model_spec(const std::string& name) {
  const auto& table = internal::builtin_model_table();
  const auto it = table.find(name);
  if (it != table.end()) return it->second;
  std::string known;
  for (const auto& preset : builtin_model_names()) known += (known.empty() ? "" : ", ") + preset;
  detail::throw_error(detail::str("unknown built-in model \"", name,
                                  "\"; built-in models: ", known.empty() ? "(none)" : known));
}

ModelSpec resolve_model_spec(const std::string& name_or_path) {
  NABLA_CHECK(!name_or_path.empty(), "expected a model: a preset name or a JSON file");
  if (std::filesystem::exists(name_or_path) || name_or_path.ends_with(".json") ||
      name_or_path.find('/') != std::string::npos) {
    return load_model_spec(name_or_path);
  }
  return parse_model_spec(builtin_model_spec(name_or_path), name_or_path);
}

}  // namespace nabla::io
