// Inverted dropout, as torch.nn.functional.dropout / dropout2d: when training, each element (or
// each whole channel) is kept with probability 1 - p and scaled by 1/(1-p), so that evaluation
// needs no rescaling.
#include "autograd/node.hpp"
#include "ops/elementwise.hpp"

namespace nabla {

namespace {
// x times a mask of `mask_shape` (x's shape, or [N, C, 1, ...] to drop whole channels) broadcast
// over x. The mask holds 0 or the scale, so that forward and backward are one multiply each.
Tensor drop_with_mask(const Tensor& x, const Shape& mask_shape, double p, Generator* gen,
                      const char* op, const char* node) {
  // p == 1 drops everything (scale 0 rather than 1/0, which would turn 0 * inf into NaN).
  const double keep = 1 - p;
  const double scale = p == 1 ? 0.0 : 1.0 / keep;
  Generator& g = gen ? *gen : default_generator();
  Tensor mask = make_tensor(mask_shape, x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* m = mask.data<T>();
    const T kept = static_cast<T>(scale);
    // One draw per mask element in row-major order: a seed gives the same mask at any thread
    // count.
    for (int64_t i = 0; i < mask.numel(); ++i) m[i] = g.next_double() < keep ? kept : T(0);
  });
  auto times = [](auto v, auto m) { return v * m; };
  Tensor out = map2(x, mask, op, times);
  if (autograd::needs_grad({x})) {
    autograd::record(node, {x}, {out}, [mask, times, op](auto& grads) {
      return std::vector<Tensor>{map2(grads[0], mask, op, times)};
    });
  }
  return out;
}
}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  NABLA_CHECK(p >= 0 && p <= 1, "dropout: probability p must be in [0, 1], got ", p);
  if (!training || p == 0) return x;
  return drop_with_mask(x, x.shape(), p, gen, "dropout", "DropoutBackward");
}

Tensor dropout2d(const Tensor& x, double p, bool training, Generator* gen) {
  NABLA_CHECK(p >= 0 && p <= 1, "dropout2d: probability p must be in [0, 1], got ", p);
  NABLA_CHECK(x.dim() >= 3, "dropout2d: expected input [N, C, *spatial] with at least 3 axes, got ",
              "shape ", x.shape());
  if (!training || p == 0) return x;
  // One draw per (sample, channel), broadcast over the spatial axes.
  Shape mask_shape(x.dim(), 1);
  mask_shape[0] = x.size(0);
  mask_shape[1] = x.size(1);
  return drop_with_mask(x, mask_shape, p, gen, "dropout2d", "Dropout2dBackward");
}

}  // namespace nabla
