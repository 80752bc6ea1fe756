#include "nn/conv_pool_fusion.hpp"

namespace nabla::nn {

ConvMaxPool find_conv_max_pool(Module* first, Module* second, Module* third) {
  auto* conv = dynamic_cast<Conv*>(first);
  if (conv == nullptr || !conv->fuses_max_pool()) return {};
  bool relu_layer = false;
  if (const auto* act = dynamic_cast<const Activation*>(second);
      act != nullptr && act->name() == "relu" && conv->options().activation.empty()) {
    relu_layer = true;
    second = third;
  }
  const auto* pool = dynamic_cast<const Pool2d*>(second);
  if (pool == nullptr || pool->kind() != PoolKind::max) return {};
  const Pool2dOptions& o = pool->options();
  const bool whole_windows =
      o.stride == pool->kernel_size() && !o.ceil_mode && o.padding == std::vector<int64_t>{0, 0};
  if (!whole_windows) return {};
  return {conv, pool, relu_layer, relu_layer ? size_t{3} : size_t{2}};
}

}  // namespace nabla::nn
