// Shared by the fuzz targets (fuzz_init.cpp is linked into each): the readers under test take
// paths, so each input is written to a file first; and a reader may reject an input only with
// nabla::Error. Anything else (a crash, a sanitizer report, another exception escaping, an
// allocation beyond libFuzzer's limit) is a finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "nabla/error.hpp"
#include "nabla/tensor.hpp"

namespace nabla::fuzz {

// One file per process, rewritten for each input. `suffix` matters to readers that look at the
// name (".json").
inline std::string write_input(const uint8_t* data, size_t size, const std::string& suffix = "") {
  static const std::string dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
  }();
  const std::string path =
      dir + "/nabla-fuzz-" + std::to_string(static_cast<long>(getpid())) + suffix;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// Targets that build models run a forward pass only on small ones: at -O0 under ASan a large
// forward pass takes seconds and would leave the fuzzer no time for mutations.
inline constexpr int64_t kMaxForwardElements = 4096;
inline constexpr int64_t kMaxForwardParameters = 100000;
// The elements of one sample of `shape`, or kMaxForwardElements + 1 once past it (no overflow).
inline int64_t forward_elements(const Shape& shape) {
  int64_t count = 1;
  for (const int64_t d : shape) {
    if (d <= 0 || count > kMaxForwardElements / d) return kMaxForwardElements + 1;
    count *= d;
  }
  return count;
}

// Runs `read`; a nabla::Error is the reader rejecting the input, which is fine.
template <typename Read>
void expect_only_errors(Read&& read) {
  try {
    read();
  } catch (const Error&) {
  }
}

}  // namespace nabla::fuzz
