// Elementwise loops over raw pointers and element strides. The functor is inlined into a tight
// loop on contiguous rows so that the compiler vectorizes it (AVX2/AVX-512 with -march=native).
#pragma once

#include "core/loop.hpp"
#include "core/tensor_impl.hpp"

namespace nabla::kernels::cpu {

// out[i] = f(a[i]) for n contiguous elements.
template <class R, class T, class F>
void unary(int64_t n, R* out, const T* a, F f) {
  if (n < kParallelThreshold) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i]);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = f(a[i]);
}

// x = relu(x) for n contiguous values; `v < 0 ? 0 : v` keeps NaN and -0, as the relu op does.
template <class T>
void relu_in_place(T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] < T(0) ? T(0) : x[i];
}

// out = f(a, b) over `shape`; out contiguous, a and b given with broadcast element strides.
template <class R, class A, class B, class F>
void binary(const Shape& shape, R* out, const A* a, const Shape& a_strides, const B* b,
            const Shape& b_strides, F f) {
  LoopOperands<3> ops;
  ops.ptrs = {reinterpret_cast<char*>(out), reinterpret_cast<char*>(const_cast<A*>(a)),
              reinterpret_cast<char*>(const_cast<B*>(b))};
  ops.strides = {contiguous_strides(shape), a_strides, b_strides};
  for (auto& s : ops.strides[0]) s *= sizeof(R);
  for (auto& s : ops.strides[1]) s *= sizeof(A);
  for (auto& s : ops.strides[2]) s *= sizeof(B);
  for_each_row<3>(shape, ops, [&f](std::array<char*, 3> p, std::array<int64_t, 3> st, int64_t n) {
    R* o = reinterpret_cast<R*>(p[0]);
    const A* x = reinterpret_cast<const A*>(p[1]);
    const B* y = reinterpret_cast<const B*>(p[2]);
    if (st[1] == sizeof(A) && st[2] == sizeof(B)) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (st[1] == sizeof(A) && st[2] == 0) {
      const B v = *y;
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], v);
    } else if (st[1] == 0 && st[2] == sizeof(B)) {
      const A v = *x;
      for (int64_t i = 0; i < n; ++i) o[i] = f(v, y[i]);
    } else {
      const int64_t sa = st[1] / static_cast<int64_t>(sizeof(A));
      const int64_t sb = st[2] / static_cast<int64_t>(sizeof(B));
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i * sa], y[i * sb]);
    }
  });
}

}  // namespace nabla::kernels::cpu
