// ONNX models (io::import_onnx, as `nabla import` reads them): checked and converted into a nabla
// graph model, or one error. A model that imports must also run: a small one runs a forward pass
// on zeros (small: at -O0 under ASan a large forward pass would leave no time for mutations).
#include <cstdlib>

#include "fuzz_input.hpp"
#include "nabla/nn.hpp"
#include "nabla/onnx.hpp"
#include "nabla/tensor.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nabla;
  const std::string path = fuzz::write_input(data, size, ".onnx");
  fuzz::expect_only_errors([&] {
    const nn::ModulePtr model = io::import_onnx(path);
    auto* graph = dynamic_cast<nn::Graph*>(model.get());
    if (graph == nullptr || model->num_parameters() > fuzz::kMaxForwardParameters) return;
    std::vector<Tensor> inputs;
    for (const auto& input : graph->inputs()) {
      if (fuzz::forward_elements(input->shape) > fuzz::kMaxForwardElements) return;
      Shape batch = input->shape;
      batch.insert(batch.begin(), 1);
      inputs.push_back(zeros(batch, input->dtype));
    }
    NoGradGuard no_grad;
    model->eval();
    (void)model->forward_multi(inputs);
  });
  return 0;
}
