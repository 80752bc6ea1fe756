// Vectorized f32 math shared by the kernels whose time goes into exp (softmax, recurrent cells).
// std::exp is an opaque library call, and a polynomial exp written as scalar code does not
// vectorize either: its range clamps are comparisons, which GCC will not if-convert under the
// default -ftrapping-math. So these loops use GCC vector types explicitly, as wide as the target's
// registers (no ABI change: only internal functions take them).
#pragma once

#include <bit>
#include <cstdint>

namespace nabla::kernels::cpu {

#if defined(__AVX512F__)
inline constexpr int kVectorBytes = 64;
#elif defined(__AVX__)
inline constexpr int kVectorBytes = 32;
#else
inline constexpr int kVectorBytes = 16;
#endif

typedef float FloatVector __attribute__((vector_size(kVectorBytes)));

// Cephes' expf: x = n*ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r, and 2^n built in
// the exponent bits (as two factors, so that results down to subnormals and up to overflow come out
// right); within about 1 ulp of std::exp. exp(-inf) = 0, exp(inf) = inf, NaN stays NaN.
[[gnu::always_inline]] inline FloatVector exp_pack(FloatVector x) {
  typedef int32_t I __attribute__((vector_size(kVectorBytes)));
  const auto splat = [](float v) { return FloatVector{} + v; };
  const FloatVector low = splat(-104.0f), high = splat(89.0f);  // e^-104 rounds to 0
  const FloatVector round = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer
  FloatVector xc = x < low ? low : x;            // NaN passes through both selects
  xc = xc > high ? high : xc;
  const FloatVector t = xc * 1.44269504088896341f + round;
  const FloatVector n = t - round;
  FloatVector r = xc - n * 0.693359375f;  // ln2 in two parts so that n * hi is exact
  r = r - n * -2.12194440e-4f;
  FloatVector p = splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const FloatVector e_r = p * r * r + r + 1.0f;
  const I n_int = std::bit_cast<I>(t) - std::bit_cast<I>(round);
  const I n_half = n_int >> 1, n_rest = n_int - n_half;
  return e_r * std::bit_cast<FloatVector>((n_half + 127) << 23) *
         std::bit_cast<FloatVector>((n_rest + 127) << 23);
}

}  // namespace nabla::kernels::cpu
