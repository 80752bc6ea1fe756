// safetensors files, and checkpoints: a file whose metadata holds a model spec is also rebuilt
// into a model with its weights loaded (io::load_model), as `nabla evaluate` does; one that also
// holds a training state (a full checkpoint) is loaded as `nabla train --resume` loads it, into
// the compiled model with its optimizer (Model::load_checkpoint).
#include "fuzz_input.hpp"
#include "nabla/io.hpp"
#include "nabla/train.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nabla;
  const std::string path = fuzz::write_input(data, size, ".safetensors");
  fuzz::expect_only_errors([&] {
    const io::SafeTensors file = io::load_safetensors(path);
    if (file.metadata.count(io::kModelSpecKey) == 0) return;
    if (file.metadata.count(io::kTrainingStateKey) == 0) {
      (void)io::load_model(path);
      return;
    }
    train::Model model = train::Model::load(path);
    if (model.compiled()) (void)model.load_checkpoint(path);
  });
  return 0;
}
