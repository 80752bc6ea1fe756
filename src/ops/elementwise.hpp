// The two helpers every elementwise op is written with, forward and backward:
//   map1(x, "exp", [](auto v) { return std::exp(v); })
//   map2(a, b, "mul", [](auto x, auto y) { return x * y; })
// Inputs are promoted to a common dtype, broadcast, and computed by the vectorized kernels.
// map1/map2 do not record autograd: each op records its own backward next to its forward, for
// one-input ops usually with record_pointwise.
#pragma once

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "kernels/cpu/elementwise.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

// f over the elements of a floating tensor (f32/f64), same dtype out.
template <class F>
Tensor map1(const Tensor& x, const char* op, F f) {
  const Tensor in = contiguous_data(x);  // not recorded
  Tensor out = make_tensor(x.shape(), x.dtype());
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::unary(in.numel(), out.data<T>(), in.data<T>(),
                        [&f](T v) { return static_cast<T>(f(v)); });
  });
  return out;
}

enum class Result { same, boolean };

// f over broadcast a and b, computed in their promoted dtype (`floating_only` rejects integers).
template <class F>
Tensor map2(const Tensor& a, const Tensor& b, const char* op, F f, bool floating_only = true,
            Result result = Result::same) {
  DType dtype = promote_types(a.dtype(), b.dtype());
  if (dtype == DType::boolean) dtype = DType::u8;  // bool operands compute as u8
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  const Tensor ca = a.dtype() == dtype ? a : contiguous_copy(a, dtype);
  const Tensor cb = b.dtype() == dtype ? b : contiguous_copy(b, dtype);
  const Shape sa = broadcast_strides_to(ca, shape, op), sb = broadcast_strides_to(cb, shape, op);
  Tensor out = make_tensor(shape, result == Result::boolean ? DType::boolean : dtype);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* pa = static_cast<const T*>(ca.raw_data());
    const T* pb = static_cast<const T*>(cb.raw_data());
    if (result == Result::boolean) {
      kernels::cpu::binary(shape, out.data<bool>(), pa, sa, pb, sb,
                           [&f](T x, T y) { return static_cast<bool>(f(x, y)); });
    } else {
      kernels::cpu::binary(shape, static_cast<T*>(out.raw_data()), pa, sa, pb, sb,
                           [&f](T x, T y) { return static_cast<T>(f(x, y)); });
    }
  };
  if (floating_only) {
    dispatch_floating(dtype, op, run);
  } else {
    dispatch_numeric(dtype, op, run);
  }
  return out;
}

// Records a one-input op whose input gradient is map2(grad, saved, dfn): `saved` is the input or
// the output (detached), whichever the derivative is cheaper from.
template <class D>
void record_pointwise(const char* node, const Tensor& x, const Tensor& out, const Tensor& saved,
                      D dfn) {
  if (!autograd::needs_grad({x})) return;
  autograd::record(node, {x}, {out}, [saved, dfn](auto& g) {
    return std::vector<Tensor>{map2(g[0], saved, "backward", dfn)};
  });
}

// relu's gradient from its output, for the ops that run relu fused into their own output pass
// (convolutions, linear_relu): grad where the output is positive.
inline Tensor relu_grad(const Tensor& grad, const Tensor& relu_out) {
  return map2(grad, relu_out, "relu backward",
              [](auto g, auto out) { return out > 0 ? g : decltype(g)(0); });
}

}  // namespace nabla
