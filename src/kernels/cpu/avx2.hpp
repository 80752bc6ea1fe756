// Small AVX2 helpers shared by the kernels that have AVX2 paths (pooling, the direct
// convolution, register transposes). AVX2 has no mask registers: masks are vectors of all-ones
// or all-zeros lanes.
#pragma once

#if defined(__AVX2__) && !defined(__AVX512F__)

#include <cstdint>

#include "kernels/cpu/intrinsics.hpp"

namespace nabla::kernels::cpu {

// The integer mask of an AVX2 masked load or store that takes the first n of 8 lanes (n <= 0:
// none).
inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The first n of 8 values at p (the others 0), and their store: plain loads and stores for whole
// vectors, masked ones only for the tails. Masked stores are slow on AMD's cores (measured on a
// Zen 3 EPYC: they were most of the direct convolution's weight gradient when used throughout).
inline __m256 load_first(const float* p, int64_t n) {
  if (n >= 8) return _mm256_loadu_ps(p);
  return n > 0 ? _mm256_maskload_ps(p, first_lanes(n)) : _mm256_setzero_ps();
}
inline void store_first(float* p, int64_t n, __m256 v) {
  if (n >= 8) {
    _mm256_storeu_ps(p, v);
  } else if (n > 0) {
    _mm256_maskstore_ps(p, first_lanes(n), v);
  }
}

// Lanes where v takes over best in a max pooling (PyTorch's rule, as the scalar takes_over in
// pool.cpp): larger, or NaN.
inline __m256 takes_over_mask(__m256 v, __m256 best) {
  return _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
}

// An int32 in every lane, as float bits (argmax vectors go through float blends and stores).
inline __m256 int_bits(int32_t i) { return _mm256_castsi256_ps(_mm256_set1_epi32(i)); }

}  // namespace nabla::kernels::cpu

#endif
