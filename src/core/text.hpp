// Small text helpers shared by the library's files. Internal.
#pragma once

#include <cctype>
#include <string>

namespace nabla::internal {

// ASCII lower case (names of optimizers, activations, folders), whatever the locale.
inline std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace nabla::internal
