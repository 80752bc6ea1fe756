// Small helpers shared by the layer implementations (internal).
#pragma once

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "nabla/nn.hpp"
#include "nabla/tensor.hpp"

namespace nabla::nn::internal {

// Per-axis settings as Python tuples, for extra_repr and messages: (3, 3), (3,).
inline std::string tuple(const std::vector<int64_t>& values) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < values.size(); ++i) os << (i ? ", " : "") << values[i];
  os << (values.size() == 1 ? ",)" : ")");
  return os.str();
}

// One value stands for every one of `rank` axes.
inline std::vector<int64_t> expanded(std::vector<int64_t> values, int rank) {
  if (values.size() == 1) values.assign(rank, values[0]);
  return values;
}

// Parameters take the input's floating dtype (f32 for integer inputs).
inline DType param_dtype(const Tensor& x) {
  return is_floating(x.dtype()) ? x.dtype() : DType::f32;
}

// 2-d layers take [N, C, H, W]; the error names the layer.
inline void check_images(const std::string& layer, const Tensor& x) {
  NABLA_CHECK(x.dim() == 4, layer, ": expected input [N, C, H, W] (4 axes), got shape ", x.shape());
}

// Runs `run` with `module` in eval mode and without grad (restoring every submodule's mode, also
// on errors): how lazy layers are built and output shapes found before training.
Tensor probe(Module& module, const std::function<Tensor()>& run);

}  // namespace nabla::nn::internal
