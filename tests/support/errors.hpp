// The message of the nabla::Error a piece of code throws, for tests that assert message text.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "nabla/error.hpp"

namespace nabla::testing {

// The message of the nabla::Error that `f` throws; a test failure (and "") when it throws none.
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a nabla::Error";
  return "";
}

}  // namespace nabla::testing
