// Copies and dtype conversions as differentiable ops.
#include "autograd/node.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;

Tensor cast_to(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = contiguous_copy(t, dtype);
  if (needs_grad({t}) && is_floating(dtype)) {
    record("ToBackward", {t}, {out},
           [from = t.dtype()](auto& g) { return std::vector<Tensor>{cast_to(g[0], from)}; });
  }
  return out;
}

Tensor Tensor::to(DType dtype) const { return cast_to(*this, dtype); }

Tensor Tensor::clone() const {
  Tensor out = contiguous_copy(*this, dtype());
  if (needs_grad({*this})) {
    record("CloneBackward", {*this}, {out}, [](auto& g) { return std::vector<Tensor>{g[0]}; });
  }
  return out;
}

Tensor Tensor::contiguous() const { return is_contiguous() ? *this : clone(); }

}  // namespace nabla
