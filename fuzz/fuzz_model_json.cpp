// The JSON model format: Sequential and graph specs with every layer type of the registry, their
// training and data sections. A spec that parses is built; what it builds must describe itself
// again (io::model_to_spec) in a spec that parses and builds; and a small model with one small
// input runs a forward pass on zeros (small: at -O0 under ASan, the presets' forward passes take
// seconds, and would leave the fuzzer no time for mutations).
#include <cstdlib>

#include "fuzz_input.hpp"
#include "nabla/io.hpp"
#include "nabla/nn.hpp"
#include "nabla/tensor.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nabla;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_errors([&] {
    const io::ModelSpec spec = io::parse_model_spec(text, "fuzz.json");
    const nn::ModulePtr model = io::build_model(spec);
    if (spec.input_shape.empty()) return;
    std::string described;
    try {
      described = io::model_to_spec(*model, spec.name, spec.input_shape);
      (void)io::build_model(io::parse_model_spec(described, "described.json"));
    } catch (const Error&) {
      std::abort();  // a model built from a spec must round-trip
    }
    if (spec.num_inputs != 1 ||
        fuzz::forward_elements(spec.input_shape) > fuzz::kMaxForwardElements ||
        model->num_parameters() > fuzz::kMaxForwardParameters) {
      return;
    }
    Shape batch = spec.input_shape;
    batch.insert(batch.begin(), 1);
    NoGradGuard no_grad;
    model->eval();
    (void)model->forward(zeros(batch));
  });
  return 0;
}
