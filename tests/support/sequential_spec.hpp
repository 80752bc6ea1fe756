// Specs in the sequential form build an nn::Sequential; tests that look at its layers take it as
// one (io::build_model returns the general nn::ModulePtr, a graph for the graph form).
#pragma once

#include <memory>
#include <string>

#include "nabla/error.hpp"
#include "nabla/io.hpp"

namespace nabla {

inline std::shared_ptr<nn::Sequential> as_sequential(nn::ModulePtr module) {
  auto sequential = std::dynamic_pointer_cast<nn::Sequential>(std::move(module));
  NABLA_CHECK(sequential != nullptr, "expected a Sequential");
  return sequential;
}
inline std::shared_ptr<nn::Sequential> sequential_from_spec(const std::string& json,
                                                            const std::string& name) {
  return as_sequential(io::model_from_spec(json, name));
}
inline std::shared_ptr<nn::Sequential> build_sequential(const io::ModelSpec& spec) {
  return as_sequential(io::build_model(spec));
}

}  // namespace nabla
