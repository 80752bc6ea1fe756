// Inverted dropout, as torch.nn.functional.dropout: when training, each element is kept with
// probability 1 - p and scaled by 1/(1-p), so that evaluation needs no rescaling.
#include "autograd/node.hpp"
#include "ops/elementwise.hpp"

namespace nabla {

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  NABLA_CHECK(p >= 0 && p <= 1, "dropout: probability p must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  // The mask holds 0 or the scale, so that forward and backward are one multiply each. p == 1
  // drops everything (scale 0 rather than 1/0, which would turn 0 * inf into NaN).
  const double keep = 1 - p;
  const double scale = p == 1 ? 0.0 : 1.0 / keep;
  Generator& g = gen ? *gen : default_generator();
  Tensor mask = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    T* m = mask.data<T>();
    const T kept = static_cast<T>(scale);
    // One draw per element in row-major order: a seed gives the same mask at any thread count.
    for (int64_t i = 0; i < mask.numel(); ++i) m[i] = g.next_double() < keep ? kept : T(0);
  });
  auto times = [](auto v, auto m) { return v * m; };
  Tensor out = map2(x, mask, "dropout", times);
  if (autograd::needs_grad({x})) {
    autograd::record("DropoutBackward", {x}, {out}, [mask, times](auto& grads) {
      return std::vector<Tensor>{map2(grads[0], mask, "dropout", times)};
    });
  }
  return out;
}

}  // namespace nabla
