// Shared by the reduction, indexing, joining and view tests: their PyTorch reference cases
// (tests/reference/gen_reduce_index.py).
#pragma once

#include <functional>
#include <string>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/reference.hpp"

namespace nabla::testing {

// tests/reference/data/reduce_index.json, parsed once.
inline const nlohmann::json& reduce_index_reference() {
  static const nlohmann::json cases = load_reference("reduce_index");
  return cases;
}

}  // namespace nabla::testing
