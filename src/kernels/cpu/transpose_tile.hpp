// Tiles of 32-bit values transposed in registers: 16x16 with AVX-512, 8x8 with AVX2. 32-bit and
// 64-bit interleaves within each 128-bit lane give every lane one column's values of a group of
// rows, then 128-bit lane shuffles gather each column's groups. Used where a kernel turns rows of
// one layout into columns of another (the recurrent weight gradients' transposes, the direct
// convolution's and the blocked pooling's channels-in-lanes rows to and from NCHW planes); about
// 10x the speed of a scalar tile with its strided stores.
#pragma once

#include <cstdint>

#include "kernels/cpu/avx2.hpp"
#include "kernels/cpu/intrinsics.hpp"

namespace nabla::kernels::cpu {

#if defined(__AVX512F__)

// dst[j * dst_stride + i] = src[i * src_stride + j] for i, j < 16. Each source row's load is
// masked to load_mask's columns (the others read as 0, e.g. past the end of a buffer), each
// destination row's store to store_mask's. int32 data goes through as its bits.
inline void transpose_tile_16x16(const float* src, int64_t src_stride, float* dst,
                                 int64_t dst_stride, __mmask16 load_mask = 0xFFFF,
                                 __mmask16 store_mask = 0xFFFF) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_maskz_loadu_ps(load_mask, src + i * src_stride);
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // r[4i + k], lane L: column 4L + k of rows 4i .. 4i + 3.
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  // Column 4L + k is lane L of r[k], r[4 + k], r[8 + k], r[12 + k].
  for (int k = 0; k < 4; ++k) {
    const __m512 even_low = _mm512_shuffle_f32x4(r[k], r[4 + k], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 odd_low = _mm512_shuffle_f32x4(r[k], r[4 + k], _MM_SHUFFLE(3, 1, 3, 1));
    const __m512 even_high = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], _MM_SHUFFLE(2, 0, 2, 0));
    const __m512 odd_high = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], _MM_SHUFFLE(3, 1, 3, 1));
    _mm512_mask_storeu_ps(dst + k * dst_stride, store_mask,
                          _mm512_shuffle_f32x4(even_low, even_high, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_mask_storeu_ps(dst + (8 + k) * dst_stride, store_mask,
                          _mm512_shuffle_f32x4(even_low, even_high, _MM_SHUFFLE(3, 1, 3, 1)));
    _mm512_mask_storeu_ps(dst + (4 + k) * dst_stride, store_mask,
                          _mm512_shuffle_f32x4(odd_low, odd_high, _MM_SHUFFLE(2, 0, 2, 0)));
    _mm512_mask_storeu_ps(dst + (12 + k) * dst_stride, store_mask,
                          _mm512_shuffle_f32x4(odd_low, odd_high, _MM_SHUFFLE(3, 1, 3, 1)));
  }
}

#elif defined(__AVX2__)

// dst[j * dst_stride + i] = src[i * src_stride + j] for i, j < 8. Each source row's load reads its
// first load_columns values (the others read as 0, e.g. past the end of a buffer), each
// destination row's store writes its first store_columns. int32 data goes through as its bits.
inline void transpose_tile_8x8(const float* src, int64_t src_stride, float* dst, int64_t dst_stride,
                               int64_t load_columns = 8, int64_t store_columns = 8) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = load_first(src + i * src_stride, load_columns);
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  // r[4i + k], 128-bit lane L: column 4L + k of rows 4i .. 4i + 3.
  for (int i = 0; i < 2; ++i) {
    r[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int k = 0; k < 4; ++k) {
    store_first(dst + k * dst_stride, store_columns, _mm256_permute2f128_ps(r[k], r[4 + k], 0x20));
    store_first(dst + (4 + k) * dst_stride, store_columns,
                _mm256_permute2f128_ps(r[k], r[4 + k], 0x31));
  }
}

#endif

}  // namespace nabla::kernels::cpu
