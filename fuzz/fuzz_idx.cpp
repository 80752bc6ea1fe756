// IDX files, plain and gzip-compressed (data::read_idx opens both through zlib).
#include "fuzz_input.hpp"
#include "nabla/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = nabla::fuzz::write_input(data, size, ".idx");
  nabla::fuzz::expect_only_errors([&] { (void)nabla::data::read_idx(path); });
  return 0;
}
