// nabla::Error, the one exception type of the library, and NABLA_CHECK, the one way to raise it.
// Messages say what was wrong, the offending value or shape, and what was expected.
#pragma once

#include <cstdint>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace nabla {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Shape = std::vector<int64_t>;

// Prints a shape as PyTorch does in messages: [2, 3].
std::ostream& operator<<(std::ostream& os, const Shape& shape);

namespace detail {
[[noreturn]] void throw_error(const std::string& message);

template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail
}  // namespace nabla

// NABLA_CHECK(cond, parts...): throws nabla::Error with the parts streamed together.
#define NABLA_CHECK(cond, ...)                                                    \
  do {                                                                            \
    if (!(cond)) ::nabla::detail::throw_error(::nabla::detail::str(__VA_ARGS__)); \
  } while (0)
