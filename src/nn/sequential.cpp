// Sequential: layers applied in order, named "0", "1", ... as in PyTorch.
#include "nabla/nn.hpp"

namespace nabla::nn {

Sequential::Sequential(std::vector<ModulePtr> layers) {
  for (auto& layer : layers) add(std::move(layer));
}

Sequential& Sequential::add(ModulePtr layer) {
  NABLA_CHECK(layer != nullptr, "Sequential::add: layer ", layers_.size(), " is null");
  register_child(std::to_string(layers_.size()), layer);
  layers_.push_back(std::move(layer));
  return *this;
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& layer : layers_) y = layer->forward(y);
  return y;
}

}  // namespace nabla::nn
