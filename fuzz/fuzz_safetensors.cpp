// safetensors files, and checkpoints: a file whose metadata holds a model spec is also rebuilt
// into a model with its weights loaded (io::load_model), as `nabla evaluate` does.
#include "fuzz_input.hpp"
#include "nabla/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = nabla::fuzz::write_input(data, size, ".safetensors");
  nabla::fuzz::expect_only_errors([&] {
    const nabla::io::SafeTensors file = nabla::io::load_safetensors(path);
    if (file.metadata.count(nabla::io::kModelSpecKey) != 0) (void)nabla::io::load_model(path);
  });
  return 0;
}
