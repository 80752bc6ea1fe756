// The UnitNormalization layer: embeddings of unit length, so that Euclidean distances between
// them are a function of their cosine similarity (||a - b||^2 = 2 - 2 cos(a, b)).
#include "nabla/nn.hpp"
#include "nabla/ops.hpp"

namespace nabla::nn {

Tensor UnitNormalization::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 1 && axis_ >= -x.dim() && axis_ < x.dim(), "UnitNormalization: axis ",
              axis_, " is out of range for an input of shape ", x.shape());
  return normalize(x, 2, axis_, 1e-12);
}

}  // namespace nabla::nn
