// Shared by the reduction, indexing, joining and view tests: their PyTorch reference cases
// (tests/reference/gen_reduce_index.py) and the message of an expected Error.
#pragma once

#include <functional>
#include <string>

#include "nabla/nabla.hpp"
#include "support/reference.hpp"

namespace nabla::testing {

// tests/reference/data/reduce_index.json, parsed once.
inline const nlohmann::json& reduce_index_reference() {
  static const nlohmann::json cases = load_reference("reduce_index");
  return cases;
}

// The message of the nabla::Error that `f` throws, or a marker that fails any text comparison.
inline std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error thrown)";
}

}  // namespace nabla::testing
