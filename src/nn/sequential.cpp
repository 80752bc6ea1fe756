// Sequential: layers applied in order, named "0", "1", ... as in PyTorch.
#include "autograd/anomaly.hpp"
#include "nabla/nn.hpp"
#include "nn/conv_pool_fusion.hpp"

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

ModulePtr Sequential::pop() {
  NABLA_CHECK(!layers_.empty(), "Sequential::pop: there is no layer to remove");
  remove_child(std::to_string(layers_.size() - 1));
  ModulePtr last = std::move(layers_.back());
  layers_.pop_back();
  return last;
}

DType Sequential::input_dtype() const {
  return layers_.empty() ? DType::f32 : layers_.front()->input_dtype();
}

std::string Sequential::layer_name(size_t index) const {
  NABLA_CHECK(index < layers_.size(), "Sequential::layer_name: index ", index, " out of range for ",
              layers_.size(), " layers");
  const std::string base = snake_case(layers_[index]->type_name());
  int64_t before = 0;
  for (size_t i = 0; i < index; ++i) before += snake_case(layers_[i]->type_name()) == base ? 1 : 0;
  return before == 0 ? base : base + "_" + std::to_string(before);
}

namespace {
// The anomaly messages' name of a layer, made only in anomaly mode (when an op records).
std::string describe_layer(const void* sequential, size_t index) {
  return static_cast<const Sequential*>(sequential)->layer_name(index);
}
}  // namespace

Tensor Sequential::forward(const Tensor& x) { return forward_masked(x, Tensor()); }

// Each layer sees the mask the layer before it produced (an Embedding with mask_zero starts one);
// layers that do not override compute_mask end it. A convolution followed by a max pooling (with
// no mask between them) runs as one op, in the convolution's scope.
Tensor Sequential::forward_masked(const Tensor& x, const Tensor& mask) {
  Tensor y = x;
  Tensor m = mask;
  const size_t n = layers_.size();
  for (size_t i = 0; i < n; ++i) {
    const ModulePtr& layer = layers_[i];
    const autograd::LayerScope scope(this, i, describe_layer);
    if (!m.defined()) {
      const ConvMaxPool fused =
          find_conv_max_pool(layer.get(), i + 1 < n ? layers_[i + 1].get() : nullptr,
                             i + 2 < n ? layers_[i + 2].get() : nullptr);
      if (fused.layers > 0) {
        y = fused.forward(y);
        i += fused.layers - 1;
        continue;
      }
    }
    Tensor next = m.defined() ? layer->forward_masked(y, m) : layer->forward(y);
    m = layer->compute_mask(y, m);
    y = std::move(next);
  }
  output_mask_ = m;
  return y;
}

// The output's mask depends on the intermediate activations, so it is the one the last forward
// computed (a parent calls compute_mask right after forward with the same input).
Tensor Sequential::compute_mask(const Tensor&, const Tensor&) const { return output_mask_; }

}  // namespace nabla::nn
