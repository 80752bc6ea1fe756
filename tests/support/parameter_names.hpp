// The names of a module's parameters (or of its whole state, buffers too), in order, for tests
// that check what a layer holds.
#pragma once

#include <string>
#include <vector>

#include "nabla/nn.hpp"

namespace nabla::testing {

inline std::vector<std::string> parameter_names(const nn::Module& module) {
  std::vector<std::string> out;
  for (const auto& [name, tensor] : module.named_parameters()) out.push_back(name);
  return out;
}

inline std::vector<std::string> state_names(const nn::Module& module) {
  std::vector<std::string> out;
  for (const auto& [name, tensor] : module.state_dict()) out.push_back(name);
  return out;
}

}  // namespace nabla::testing
