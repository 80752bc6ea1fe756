// Broadcasting binary arithmetic and comparisons. Gradients are summed back to each input's
// shape over the broadcast axes (sum_to).
#include <cmath>
#include <type_traits>

#include "autograd/node.hpp"
#include "ops/elementwise.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;

namespace {
// Integer arithmetic is allowed where it is exact (add, sub, mul, max/min); floating otherwise.
constexpr bool kAnyNumeric = false;
}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  Tensor out =
      alpha == 1 ? map2(
                       a, b, "add", [](auto x, auto y) { return x + y; }, kAnyNumeric)
                 : map2(
                       a, b, "add",
                       [alpha](auto x, auto y) { return x + static_cast<decltype(y)>(alpha) * y; },
                       kAnyNumeric);
  if (needs_grad({a, b})) {
    record("AddBackward", {a, b}, {out}, [sa = a.shape(), sb = b.shape(), alpha](auto& g) {
      return std::vector<Tensor>{sum_to(g[0], sa), sum_to(alpha == 1 ? g[0] : g[0] * alpha, sb)};
    });
  }
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b, double alpha) { return add(a, b, -alpha); }

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = map2(
      a, b, "mul", [](auto x, auto y) { return x * y; }, kAnyNumeric);
  if (needs_grad({a, b})) {
    record("MulBackward", {a, b}, {out}, [a, b](auto& g) {
      return std::vector<Tensor>{a.requires_grad() ? sum_to(mul(g[0], b), a.shape()) : Tensor(),
                                 b.requires_grad() ? sum_to(mul(g[0], a), b.shape()) : Tensor()};
    });
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = map2(a, b, "div", [](auto x, auto y) { return x / y; });
  if (needs_grad({a, b})) {
    record("DivBackward", {a, b}, {out}, [a, b](auto& g) {
      Tensor ga = a.requires_grad() ? sum_to(div(g[0], b), a.shape()) : Tensor();
      Tensor gb;
      if (b.requires_grad())  // d(a/b)/db = -a / b^2
        gb = sum_to(map2(map2(g[0], a, "div", [](auto u, auto v) { return -u * v; }), b, "div",
                         [](auto u, auto v) { return u / (v * v); }),
                    b.shape());
      return std::vector<Tensor>{ga, gb};
    });
  }
  return out;
}

Tensor pow(const Tensor& a, const Tensor& exponent) {
  Tensor out = map2(a, exponent, "pow", [](auto x, auto y) { return std::pow(x, y); });
  if (needs_grad({a, exponent})) {
    record("PowBackward", {a, exponent}, {out}, [a, exponent, o = out.detach()](auto& g) {
      Tensor ga, ge;
      if (a.requires_grad())  // y * x^(y-1)
        ga = sum_to(mul(g[0], map2(a, exponent, "pow",
                                   [](auto x, auto y) {
                                     return y == 0 ? decltype(x)(0) : y * std::pow(x, y - 1);
                                   })),
                    a.shape());
      if (exponent.requires_grad())  // x^y * log(x), 0 where x == 0
        ge = sum_to(mul(g[0], map2(o, a, "pow",
                                   [](auto p, auto x) {
                                     return x == 0 ? decltype(x)(0) : p * std::log(x);
                                   })),
                    exponent.shape());
      return std::vector<Tensor>{ga, ge};
    });
  }
  return out;
}

Tensor pow(const Tensor& a, double exponent) {
  return pow(a, scalar_tensor(exponent, is_floating(a.dtype()) ? a.dtype() : DType::f32));
}

namespace {
template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  return false;
}

// Gradient of max/min flows to the selected input; ties split it evenly, as in PyTorch. A NaN
// on either side is the result, as torch.maximum/minimum.
Tensor select_between(const Tensor& a, const Tensor& b, bool take_max, const char* op,
                      const char* node) {
  Tensor out =
      take_max
          ? map2(
                a, b, op, [](auto x, auto y) { return x >= y || is_nan(x) ? x : y; }, kAnyNumeric)
          : map2(
                a, b, op, [](auto x, auto y) { return x <= y || is_nan(x) ? x : y; }, kAnyNumeric);
  if (needs_grad({a, b})) {
    record(node, {a, b}, {out}, [a, b, take_max](auto& g) {
      auto weight_a = [take_max](auto x, auto y) {
        using T = decltype(x);
        if (x == y) return T(0.5);
        return (take_max ? x > y : x < y) ? T(1) : T(0);
      };
      Tensor wa = map2(a, b, "maximum", weight_a);
      return std::vector<Tensor>{sum_to(mul(g[0], wa), a.shape()),
                                 sum_to(mul(g[0], 1.0 - wa), b.shape())};
    });
  }
  return out;
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  return select_between(a, b, true, "maximum", "MaximumBackward");
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  return select_between(a, b, false, "minimum", "MinimumBackward");
}

// ---- comparisons ----
#define NABLA_COMPARISON(name, expr)                                                     \
  Tensor name(const Tensor& a, const Tensor& b) {                                        \
    return map2(                                                                         \
        a, b, #name, [](auto x, auto y) { return expr; }, kAnyNumeric, Result::boolean); \
  }
NABLA_COMPARISON(eq, x == y)
NABLA_COMPARISON(ne, x != y)
NABLA_COMPARISON(lt, x < y)
NABLA_COMPARISON(le, x <= y)
NABLA_COMPARISON(gt, x > y)
NABLA_COMPARISON(ge, x >= y)
#undef NABLA_COMPARISON

// ---- operators ----
namespace {
// A scalar operand takes the tensor's dtype, or f32 when a fractional value meets an integer
// tensor (as PyTorch promotes).
Tensor scalar_like(const Tensor& t, double v) {
  const bool integral = std::floor(v) == v;
  return scalar_tensor(v, is_floating(t.dtype()) || integral ? t.dtype() : DType::f32);
}
}  // namespace

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(a, b)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(a, b)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(a, b)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(a, b)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(b, a), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(b, a), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(b, a), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(b, a), b); }
Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace nabla
