// Elementwise math of one tensor (and clamp/where). Backward formulas as in PyTorch's
// derivatives.yaml; saved outputs are captured detached.
#include <cmath>

#include "autograd/node.hpp"
#include "ops/elementwise.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;

Tensor neg(const Tensor& x) {
  if (!is_floating(x.dtype())) return mul(x, scalar_tensor(-1, x.dtype()));
  Tensor out = map1(x, "neg", [](auto v) { return -v; });
  if (needs_grad({x}))
    record("NegBackward", {x}, {out}, [](auto& g) { return std::vector<Tensor>{neg(g[0])}; });
  return out;
}

Tensor exp(const Tensor& x) {
  Tensor out = map1(x, "exp", [](auto v) { return std::exp(v); });
  record_pointwise("ExpBackward", x, out, out.detach(), [](auto g, auto y) { return g * y; });
  return out;
}

Tensor log(const Tensor& x) {
  Tensor out = map1(x, "log", [](auto v) { return std::log(v); });
  record_pointwise("LogBackward", x, out, x, [](auto g, auto v) { return g / v; });
  return out;
}

Tensor sqrt(const Tensor& x) {
  Tensor out = map1(x, "sqrt", [](auto v) { return std::sqrt(v); });
  record_pointwise("SqrtBackward", x, out, out.detach(),
                   [](auto g, auto y) { return g / (2 * y); });
  return out;
}

Tensor rsqrt(const Tensor& x) {
  Tensor out = map1(x, "rsqrt", [](auto v) { return 1 / std::sqrt(v); });
  // d/dx x^(-1/2) = -1/2 * y^3
  record_pointwise("RsqrtBackward", x, out, out.detach(),
                   [](auto g, auto y) { return g * y * y * y * decltype(y)(-0.5); });
  return out;
}

Tensor abs(const Tensor& x) {
  Tensor out = map1(x, "abs", [](auto v) { return std::abs(v); });
  record_pointwise("AbsBackward", x, out, x,
                   [](auto g, auto v) { return v > 0 ? g : (v < 0 ? -g : decltype(g)(0)); });
  return out;
}

Tensor square(const Tensor& x) {
  Tensor out = map1(x, "square", [](auto v) { return v * v; });
  record_pointwise("SquareBackward", x, out, x, [](auto g, auto v) { return 2 * g * v; });
  return out;
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  NABLA_CHECK(!lo || !hi || *lo <= *hi, "clamp: min ", *lo, " is greater than max ", *hi);
  const double l = lo.value_or(-INFINITY), h = hi.value_or(INFINITY);
  Tensor out = map1(x, "clamp", [l, h](auto v) {
    using T = decltype(v);
    return v < T(l) ? T(l) : (v > T(h) ? T(h) : v);
  });
  // Gradient passes where the input is inside [min, max] (inclusive, as PyTorch).
  record_pointwise("ClampBackward", x, out, x, [l, h](auto g, auto v) {
    using T = decltype(v);
    return (v >= T(l) && v <= T(h)) ? g : T(0);
  });
  return out;
}

Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
  NABLA_CHECK(condition.dtype() == DType::boolean, "where: condition must have dtype bool, got ",
              condition.dtype());
  const DType dtype = promote_types(a.dtype(), b.dtype());
  const Shape shape =
      broadcast_shapes(broadcast_shapes(condition.shape(), a.shape(), "where"), b.shape(), "where");
  // Each side keeps its own elements and zeroes the other's; adding them never mixes an
  // infinity or NaN of the unselected side into the result (a mask product would).
  Tensor mask = cast_to(condition, DType::u8);
  Tensor ca = cast_to(a, dtype), cb = cast_to(b, dtype);
  Tensor picked_a = map2(
      expand(ca, shape).detach(), mask, "where",
      [](auto v, auto m) { return m ? v : decltype(v)(0); }, false);
  Tensor out = map2(
      map2(
          expand(cb, shape).detach(), mask, "where",
          [](auto v, auto m) { return m ? decltype(v)(0) : v; }, false),
      picked_a, "where", [](auto v, auto w) { return v + w; }, false);
  if (dtype == DType::boolean) out = cast_to(out, DType::boolean);  // computed as u8
  if (needs_grad({a, b})) {
    record("WhereBackward", {a, b}, {out}, [mask, sa = a.shape(), sb = b.shape()](auto& g) {
      Tensor ga = map2(g[0], mask, "where", [](auto v, auto m) { return m ? v : decltype(v)(0); });
      Tensor gb = map2(g[0], mask, "where", [](auto v, auto m) { return m ? decltype(v)(0) : v; });
      return std::vector<Tensor>{sum_to(ga, sa), sum_to(gb, sb)};
    });
  }
  return out;
}

}  // namespace nabla
