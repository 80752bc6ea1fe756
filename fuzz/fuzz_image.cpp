// Images: binary PGM and PNG (data::read_image tells them apart by their first bytes).
#include "fuzz_input.hpp"
#include "nabla/data.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = nabla::fuzz::write_input(data, size, ".img");
  nabla::fuzz::expect_only_errors([&] { (void)nabla::data::read_image(path); });
  return 0;
}
