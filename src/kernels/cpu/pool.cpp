#include "kernels/cpu/pool.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/loop.hpp"
#include "kernels/cpu/avx2.hpp"
#include "kernels/cpu/intrinsics.hpp"
#include "kernels/cpu/scratch.hpp"
#include "kernels/cpu/transpose_tile.hpp"

namespace nabla::kernels::cpu {

namespace {

// Runs plane(p) for every plane, over the thread pool when there is enough work. Each plane is
// computed by one thread alone, so results never depend on the thread count.
template <class F>
void for_each_plane(int64_t planes, int64_t work, F&& plane) {
  parallel_for_if(work >= kParallelThreshold && planes > 1, planes, [&](int64_t p) { plane(p); });
}

// PyTorch's rule: a larger value takes over, a NaN always takes over (so NaN propagates), and of
// equal maxima the first in row-major order stays.
template <class T>
inline bool takes_over(T v, T best) {
  return v > best || v != v;
}

// Rows [begin, end) of window `o` along one axis, clipped to the input.
struct Span {
  int64_t begin, end;
};
inline Span window(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t in) {
  const int64_t start = o * stride - pad;
  return {std::max<int64_t>(start, 0), std::min(start + kernel, in)};
}

// The common 2x2 window with stride 2 and no padding, every window whole (ceil_mode added no
// partial window at the end): each input element is in at most one window.
bool whole_2x2(const Pool2dShape& s) {
  return s.kernel_h == 2 && s.kernel_w == 2 && s.stride_h == 2 && s.stride_w == 2 && s.pad_h == 0 &&
         s.pad_w == 0 && 2 * s.out_h <= s.in_h && 2 * s.out_w <= s.in_w;
}

// 2x2 max pooling as straight-line code over two input rows, in PyTorch's row-major scan order.
// Measured faster than a branch-free version that GCC vectorizes: the output rows of the CNN
// shapes (13, 5) are too short for the vector loop's setup and tails to pay off.
template <class T, bool kIndices>
void max_pool_plane_2x2(const Pool2dShape& s, const T* x, T* y, int32_t* argmax) {
  const int64_t w = s.in_w;
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const T* r0 = x + 2 * oh * w;
    const T* r1 = r0 + w;
    T* yr = y + oh * s.out_w;
    const auto base = static_cast<int32_t>(2 * oh * w);
    for (int64_t ow = 0; ow < s.out_w; ++ow) {
      T best = r0[2 * ow];
      int32_t at = 0;
      const T b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
      if (takes_over(b, best)) best = b, at = 1;
      if (takes_over(c, best)) best = c, at = static_cast<int32_t>(w);
      if (takes_over(d, best)) best = d, at = static_cast<int32_t>(w + 1);
      yr[ow] = best;
      if constexpr (kIndices) argmax[oh * s.out_w + ow] = base + static_cast<int32_t>(2 * ow) + at;
    }
  }
}

// Zeroes what no 2x2 window covers: the last column and row of odd-sized planes (the 2x2
// backward writes every other element once, with no separate zeroing pass).
template <class T>
void zero_uncovered_2x2(const Pool2dShape& s, T* grad_x) {
  for (int64_t h = 0; h < 2 * s.out_h; ++h)
    for (int64_t c = 2 * s.out_w; c < s.in_w; ++c) grad_x[h * s.in_w + c] = 0;
  std::memset(grad_x + 2 * s.out_h * s.in_w, 0, (s.in_h - 2 * s.out_h) * s.in_w * sizeof(T));
}

// 2x2 average: PyTorch's sum in row-major order, divided by 4. These loops vectorize (strided
// loads), measured 7-13x faster than the general loop on the CNN shapes.
template <class T>
void avg_pool_plane_2x2(const Pool2dShape& s, const T* x, T* y) {
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const T* __restrict r0 = x + 2 * oh * s.in_w;
    const T* __restrict r1 = r0 + s.in_w;
    T* __restrict yr = y + oh * s.out_w;
    for (int64_t ow = 0; ow < s.out_w; ++ow)
      yr[ow] = (r0[2 * ow] + r0[2 * ow + 1] + r1[2 * ow] + r1[2 * ow + 1]) / T(4);
  }
}

template <class T>
void avg_pool_plane_backward_2x2(const Pool2dShape& s, const T* grad_y, T* grad_x) {
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    T* __restrict r0 = grad_x + 2 * oh * s.in_w;
    T* __restrict r1 = r0 + s.in_w;
    const T* __restrict gy = grad_y + oh * s.out_w;
    for (int64_t ow = 0; ow < s.out_w; ++ow) {
      const T g = gy[ow] / T(4);
      r0[2 * ow] = r0[2 * ow + 1] = r1[2 * ow] = r1[2 * ow + 1] = g;
    }
  }
  zero_uncovered_2x2(s, grad_x);
}

#if defined(__AVX512F__)
// The same for f32 with AVX-512, 16 outputs at a time: permutes split each pair of input rows into
// even and odd columns, which are compared in the scalar code's order with its NaN rule; masked
// loads and stores cover row ends, so any width takes this path.
template <bool kIndices>
void max_pool_plane_2x2_avx512(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  const int64_t w = s.in_w;
  const __m512i twice_lane =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i even = twice_lane, odd = _mm512_add_epi32(twice_lane, _mm512_set1_epi32(1));
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const float* r0 = x + 2 * oh * w;
    const float* r1 = r0 + w;
    for (int64_t ow = 0; ow < s.out_w; ow += 16) {
      const auto n = static_cast<uint32_t>(std::min<int64_t>(16, s.out_w - ow));
      // The window columns 2 ow ... 2 (ow + n) - 1, in two registers of up to 16.
      const auto lo_mask = static_cast<__mmask16>(n >= 8 ? 0xFFFFu : (1u << (2 * n)) - 1);
      const auto hi_mask = static_cast<__mmask16>(n > 8 ? (1u << (2 * n - 16)) - 1 : 0u);
      auto columns = [&](const float* row, __m512& evens, __m512& odds) {
        const __m512 lo = _mm512_maskz_loadu_ps(lo_mask, row + 2 * ow);
        const __m512 hi = _mm512_maskz_loadu_ps(hi_mask, row + 2 * ow + 16);
        evens = _mm512_permutex2var_ps(lo, even, hi);
        odds = _mm512_permutex2var_ps(lo, odd, hi);
      };
      __m512 best, b, c, d;
      columns(r0, best, b);
      columns(r1, c, d);
      __m512i at = _mm512_setzero_si512();
      auto take = [&](__m512 v, int64_t offset) {
        const __mmask16 over =
            _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        best = _mm512_mask_mov_ps(best, over, v);
        if constexpr (kIndices)
          at = _mm512_mask_mov_epi32(at, over, _mm512_set1_epi32(static_cast<int32_t>(offset)));
      };
      take(b, 1);
      take(c, w);
      take(d, w + 1);
      const auto out_mask = static_cast<__mmask16>((1u << n) - 1);
      _mm512_mask_storeu_ps(y + oh * s.out_w + ow, out_mask, best);
      if constexpr (kIndices) {
        const auto base = static_cast<int32_t>(2 * oh * w + 2 * ow);
        const __m512i index =
            _mm512_add_epi32(_mm512_add_epi32(_mm512_set1_epi32(base), at), twice_lane);
        _mm512_mask_storeu_epi32(argmax + oh * s.out_w + ow, out_mask, index);
      }
    }
  }
}

// The backward of that pooling, 16 outputs at a time: each window's four gradients (grad_y at
// its argmax, 0 elsewhere) are interleaved back into the pair of input rows, so that every
// covered element is written once, with no zeroing pass and no scatter. `+ 0` turns a -0
// gradient into +0 as the scalar `0 + g` does; with `positive`, outputs where it is not positive
// give 0 (relu's mask before the pooling).
void max_pool_plane_backward_2x2_avx512(const Pool2dShape& s, const float* grad_y,
                                        const int32_t* argmax, float* grad_x,
                                        const float* positive) {
  const int64_t w = s.in_w;
  const __m512i twice_lane =
      _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  // Interleaving two registers a, b into a0 b0 a1 b1 ...: the first 16 and the last 16.
  const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high =
      _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    float* r0 = grad_x + 2 * oh * w;
    float* r1 = r0 + w;
    for (int64_t ow = 0; ow < s.out_w; ow += 16) {
      const auto n = static_cast<uint32_t>(std::min<int64_t>(16, s.out_w - ow));
      const auto out_mask = static_cast<__mmask16>((1u << n) - 1);
      const int64_t o = oh * s.out_w + ow;
      __m512 g = _mm512_add_ps(_mm512_maskz_loadu_ps(out_mask, grad_y + o), zero);
      if (positive != nullptr) {
        const __m512 p = _mm512_maskz_loadu_ps(out_mask, positive + o);
        g = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(p, zero, _CMP_GT_OQ), g);
      }
      // Each output's argmax relative to its window's first element: 0, 1, w or w + 1.
      const __m512i first = _mm512_add_epi32(
          _mm512_set1_epi32(static_cast<int32_t>(2 * oh * w + 2 * ow)), twice_lane);
      const __m512i at = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(out_mask, argmax + o), first);
      auto at_is = [&](int64_t offset) {
        return _mm512_maskz_mov_ps(
            _mm512_cmpeq_epi32_mask(at, _mm512_set1_epi32(static_cast<int32_t>(offset))), g);
      };
      const auto lo_mask = static_cast<__mmask16>(n >= 8 ? 0xFFFFu : (1u << (2 * n)) - 1);
      const auto hi_mask = static_cast<__mmask16>(n > 8 ? (1u << (2 * n - 16)) - 1 : 0u);
      auto store_row = [&](float* row, __m512 even, __m512 odd) {
        _mm512_mask_storeu_ps(row + 2 * ow, lo_mask, _mm512_permutex2var_ps(even, low, odd));
        _mm512_mask_storeu_ps(row + 2 * ow + 16, hi_mask, _mm512_permutex2var_ps(even, high, odd));
      };
      store_row(r0, at_is(0), at_is(1));
      store_row(r1, at_is(w), at_is(w + 1));
    }
  }
  zero_uncovered_2x2(s, grad_x);
}
#elif defined(__AVX2__)
// The same with AVX2, 8 outputs at a time: shuffles split each pair of input rows into even and
// odd columns, unpacks interleave them back; masked loads and stores cover row ends.
inline __m256 even_columns(__m256 lo, __m256 hi) {  // lo0 lo2 lo4 lo6 hi0 hi2 hi4 hi6
  return _mm256_castpd_ps(_mm256_permute4x64_pd(
      _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
}
inline __m256 odd_columns(__m256 lo, __m256 hi) {
  return _mm256_castpd_ps(_mm256_permute4x64_pd(
      _mm256_castps_pd(_mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));
}

template <bool kIndices>
void max_pool_plane_2x2_avx2(const Pool2dShape& s, const float* x, float* y, int32_t* argmax) {
  const int64_t w = s.in_w;
  const __m256i twice_lane = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const float* r0 = x + 2 * oh * w;
    const float* r1 = r0 + w;
    for (int64_t ow = 0; ow < s.out_w; ow += 8) {
      const int64_t n = std::min<int64_t>(8, s.out_w - ow);
      auto columns = [&](const float* row, __m256& evens, __m256& odds) {
        const __m256 lo = load_first(row + 2 * ow, 2 * n);
        const __m256 hi = load_first(row + 2 * ow + 8, 2 * n - 8);
        evens = even_columns(lo, hi);
        odds = odd_columns(lo, hi);
      };
      __m256 best, b, c, d;
      columns(r0, best, b);
      columns(r1, c, d);
      __m256 at = _mm256_setzero_ps();  // int32 offsets as their bits
      auto take = [&](__m256 v, int64_t offset) {
        const __m256 over = takes_over_mask(v, best);
        best = _mm256_blendv_ps(best, v, over);
        if constexpr (kIndices) {
          at = _mm256_blendv_ps(at, int_bits(static_cast<int32_t>(offset)), over);
        }
      };
      take(b, 1);
      take(c, w);
      take(d, w + 1);
      store_first(y + oh * s.out_w + ow, n, best);
      if constexpr (kIndices) {
        const auto base = static_cast<int32_t>(2 * oh * w + 2 * ow);
        const __m256i index = _mm256_add_epi32(
            _mm256_add_epi32(_mm256_set1_epi32(base), _mm256_castps_si256(at)), twice_lane);
        store_first(reinterpret_cast<float*>(argmax + oh * s.out_w + ow), n,
                    _mm256_castsi256_ps(index));
      }
    }
  }
}

void max_pool_plane_backward_2x2_avx2(const Pool2dShape& s, const float* grad_y,
                                      const int32_t* argmax, float* grad_x, const float* positive) {
  const int64_t w = s.in_w;
  const __m256i twice_lane = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    float* r0 = grad_x + 2 * oh * w;
    float* r1 = r0 + w;
    for (int64_t ow = 0; ow < s.out_w; ow += 8) {
      const int64_t n = std::min<int64_t>(8, s.out_w - ow);
      const int64_t o = oh * s.out_w + ow;
      __m256 g = _mm256_add_ps(load_first(grad_y + o, n), zero);
      if (positive != nullptr)
        g = _mm256_and_ps(_mm256_cmp_ps(load_first(positive + o, n), zero, _CMP_GT_OQ), g);
      const __m256i first = _mm256_add_epi32(
          _mm256_set1_epi32(static_cast<int32_t>(2 * oh * w + 2 * ow)), twice_lane);
      const __m256i at = _mm256_sub_epi32(
          _mm256_castps_si256(load_first(reinterpret_cast<const float*>(argmax + o), n)), first);
      auto at_is = [&](int64_t offset) {
        const __m256i hit = _mm256_cmpeq_epi32(at, _mm256_set1_epi32(static_cast<int32_t>(offset)));
        return _mm256_and_ps(_mm256_castsi256_ps(hit), g);
      };
      auto store_row = [&](float* row, __m256 even, __m256 odd) {
        const __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
        store_first(row + 2 * ow, 2 * n, _mm256_permute2f128_ps(lo, hi, 0x20));
        store_first(row + 2 * ow + 8, 2 * n - 8, _mm256_permute2f128_ps(lo, hi, 0x31));
      };
      store_row(r0, at_is(0), at_is(1));
      store_row(r1, at_is(w), at_is(w + 1));
    }
  }
  zero_uncovered_2x2(s, grad_x);
}
#endif

template <class T, bool kIndices>
void max_pool_plane(const Pool2dShape& s, const T* x, T* y, int32_t* argmax) {
  if (whole_2x2(s)) {
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
      max_pool_plane_2x2_avx512<kIndices>(s, x, y, argmax);
      return;
    }
#elif defined(__AVX2__)
    if constexpr (std::is_same_v<T, float>) {
      max_pool_plane_2x2_avx2<kIndices>(s, x, y, argmax);
      return;
    }
#endif
    max_pool_plane_2x2<T, kIndices>(s, x, y, argmax);
    return;
  }
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const Span rows = window(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h);
    for (int64_t ow = 0; ow < s.out_w; ++ow) {
      const Span cols = window(ow, s.stride_w, s.pad_w, s.kernel_w, s.in_w);
      // Padding is -inf: it never takes over, and an all -inf window reports its first element.
      T best = -std::numeric_limits<T>::infinity();
      int64_t at = rows.begin * s.in_w + cols.begin;
      for (int64_t h = rows.begin; h < rows.end; ++h) {
        const T* row = x + h * s.in_w;
        for (int64_t c = cols.begin; c < cols.end; ++c) {
          if (takes_over(row[c], best)) best = row[c], at = h * s.in_w + c;
        }
      }
      y[oh * s.out_w + ow] = best;
      if constexpr (kIndices) argmax[oh * s.out_w + ow] = static_cast<int32_t>(at);
    }
  }
}

// The divisor PyTorch uses for window `o` along one axis: the window clipped to the padded input
// (count_include_pad) or to the input itself.
inline int64_t avg_extent(int64_t o, int64_t stride, int64_t pad, int64_t kernel, int64_t in,
                          bool count_include_pad) {
  const int64_t start = o * stride - pad;
  const int64_t end = std::min(start + kernel, in + pad);
  if (count_include_pad) return end - start;
  return std::min(end, in) - std::max<int64_t>(start, 0);
}

template <class T>
void avg_pool_plane(const Pool2dShape& s, bool count_include_pad, const T* x, T* y) {
  if (whole_2x2(s)) {
    avg_pool_plane_2x2(s, x, y);
    return;
  }
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const Span rows = window(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h);
    const int64_t extent_h =
        avg_extent(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h, count_include_pad);
    for (int64_t ow = 0; ow < s.out_w; ++ow) {
      const Span cols = window(ow, s.stride_w, s.pad_w, s.kernel_w, s.in_w);
      if (rows.begin >= rows.end || cols.begin >= cols.end) {
        y[oh * s.out_w + ow] = 0;  // a window entirely in the padding (ceil_mode)
        continue;
      }
      T sum = 0;
      for (int64_t h = rows.begin; h < rows.end; ++h) {
        const T* row = x + h * s.in_w;
        for (int64_t c = cols.begin; c < cols.end; ++c) sum += row[c];
      }
      const int64_t extent_w =
          avg_extent(ow, s.stride_w, s.pad_w, s.kernel_w, s.in_w, count_include_pad);
      y[oh * s.out_w + ow] = sum / static_cast<T>(extent_h * extent_w);
    }
  }
}

template <class T>
void avg_pool_plane_backward(const Pool2dShape& s, bool count_include_pad, const T* grad_y,
                             T* grad_x) {
  if (whole_2x2(s)) {
    avg_pool_plane_backward_2x2(s, grad_y, grad_x);
    return;
  }
  std::memset(grad_x, 0, s.in_h * s.in_w * sizeof(T));
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const Span rows = window(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h);
    const int64_t extent_h =
        avg_extent(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h, count_include_pad);
    for (int64_t ow = 0; ow < s.out_w; ++ow) {
      const Span cols = window(ow, s.stride_w, s.pad_w, s.kernel_w, s.in_w);
      if (rows.begin >= rows.end || cols.begin >= cols.end) continue;
      const int64_t extent_w =
          avg_extent(ow, s.stride_w, s.pad_w, s.kernel_w, s.in_w, count_include_pad);
      const T g = grad_y[oh * s.out_w + ow] / static_cast<T>(extent_h * extent_w);
      for (int64_t h = rows.begin; h < rows.end; ++h) {
        T* row = grad_x + h * s.in_w;
        for (int64_t c = cols.begin; c < cols.end; ++c) row[c] += g;
      }
    }
  }
}

// Adaptive bins, in integer arithmetic as PyTorch: [floor(o * in / out), ceil((o + 1) * in / out)).
inline Span adaptive_bin(int64_t o, int64_t out, int64_t in) {
  return {(o / out) * in + ((o % out) * in) / out, 1 + ((o + 1) * in - 1) / out};
}

template <class T>
void adaptive_avg_plane(const Pool2dShape& s, const T* x, T* y) {
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const Span rows = adaptive_bin(oh, s.out_h, s.in_h);
    for (int64_t ow = 0; ow < s.out_w; ++ow) {
      const Span cols = adaptive_bin(ow, s.out_w, s.in_w);
      T sum = 0;
      for (int64_t h = rows.begin; h < rows.end; ++h) {
        const T* row = x + h * s.in_w;
        for (int64_t c = cols.begin; c < cols.end; ++c) sum += row[c];
      }
      // Divided by each extent in turn, as PyTorch does (not by their product).
      y[oh * s.out_w + ow] =
          sum / static_cast<T>(rows.end - rows.begin) / static_cast<T>(cols.end - cols.begin);
    }
  }
}

template <class T>
void adaptive_avg_plane_backward(const Pool2dShape& s, const T* grad_y, T* grad_x) {
  std::memset(grad_x, 0, s.in_h * s.in_w * sizeof(T));
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const Span rows = adaptive_bin(oh, s.out_h, s.in_h);
    for (int64_t ow = 0; ow < s.out_w; ++ow) {
      const Span cols = adaptive_bin(ow, s.out_w, s.in_w);
      const T g = grad_y[oh * s.out_w + ow] / static_cast<T>(rows.end - rows.begin) /
                  static_cast<T>(cols.end - cols.begin);
      for (int64_t h = rows.begin; h < rows.end; ++h) {
        T* row = grad_x + h * s.in_w;
        for (int64_t c = cols.begin; c < cols.end; ++c) row[c] += g;
      }
    }
  }
}

}  // namespace

template <class T>
void max_pool2d_plane(const Pool2dShape& s, const T* x, T* y, int32_t* argmax) {
  if (argmax) {
    max_pool_plane<T, true>(s, x, y, argmax);
  } else {
    max_pool_plane<T, false>(s, x, y, nullptr);
  }
}

template <class T>
void max_pool2d_backward_plane(const Pool2dShape& s, const T* grad_y, const int32_t* argmax,
                               T* grad_x, const T* positive) {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (whole_2x2(s))
      return max_pool_plane_backward_2x2_avx512(s, grad_y, argmax, grad_x, positive);
  }
#elif defined(__AVX2__)
  if constexpr (std::is_same_v<T, float>) {
    if (whole_2x2(s)) return max_pool_plane_backward_2x2_avx2(s, grad_y, argmax, grad_x, positive);
  }
#endif
  const int64_t out_plane = s.out_h * s.out_w;
  std::memset(grad_x, 0, s.in_h * s.in_w * sizeof(T));  // the plane stays in cache for the scatter
  if (positive == nullptr) {
    for (int64_t o = 0; o < out_plane; ++o) grad_x[argmax[o]] += grad_y[o];
  } else {  // 0 + 0 where masked: the bits of relu's mask after the scatter, without a branch
    for (int64_t o = 0; o < out_plane; ++o)
      grad_x[argmax[o]] += positive[o] > T(0) ? grad_y[o] : T(0);
  }
}

template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int32_t* argmax) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  const int64_t work = s.planes * std::max(in_plane, out_plane * s.kernel_h * s.kernel_w);
  for_each_plane(s.planes, work, [&](int64_t p) {
    max_pool2d_plane(s, x + p * in_plane, y + p * out_plane,
                     argmax ? argmax + p * out_plane : nullptr);
  });
}

template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* grad_y, const int32_t* argmax, T* grad_x,
                         const T* positive) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  for_each_plane(s.planes, s.planes * in_plane, [&](int64_t p) {
    max_pool2d_backward_plane(s, grad_y + p * out_plane, argmax + p * out_plane,
                              grad_x + p * in_plane, positive ? positive + p * out_plane : nullptr);
  });
}

namespace {

// The shape goes by value into the per-block functions, so that the compiler keeps its sizes in
// registers (through the parallel loop's captured reference it reloaded them at every position).

#if defined(__AVX512F__)
// One block of 16 channels of one image (xb: [H, W, 16]) into the channels' planes of y and
// argmax (the first channel's): a window's 16 channels in one vector, compared and moved under
// masks in max_pool_plane's order and rule; each row of windows goes to the planes through 16x16
// register transposes (scalar strided copies and their branches were most of the time).
void max_pool_block16(const Pool2dShape s, const float* xb, float* y, int32_t* argmax) {
  const int64_t in_w = s.in_w, out_w = s.out_w, out_plane = s.out_h * s.out_w;
  const int64_t tiles = (out_w + 15) / 16;
  float* best_row = scratch<float, Scratch::window_row>(16 * tiles * 16);
  int32_t* at_row = scratch<int32_t, Scratch::window_row>(16 * tiles * 16);
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const Span rows = window(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h);
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const Span cols = window(ow, s.stride_w, s.pad_w, s.kernel_w, in_w);
      __m512 best = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
      __m512i at = _mm512_set1_epi32(static_cast<int32_t>(rows.begin * in_w + cols.begin));
      for (int64_t h = rows.begin; h < rows.end; ++h) {
        for (int64_t c = cols.begin; c < cols.end; ++c) {
          const auto pos = static_cast<int32_t>(h * in_w + c);
          const __m512 v = _mm512_loadu_ps(xb + pos * 16);
          const __mmask16 over =
              _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
          best = _mm512_mask_mov_ps(best, over, v);
          at = _mm512_mask_mov_epi32(at, over, _mm512_set1_epi32(pos));
        }
      }
      _mm512_storeu_ps(best_row + ow * 16, best);
      _mm512_storeu_si512(at_row + ow * 16, at);
    }
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t ow = 16 * tile, o = oh * out_w + ow;
      const auto columns = static_cast<__mmask16>((1u << std::min<int64_t>(16, out_w - ow)) - 1);
      transpose_tile_16x16(best_row + ow * 16, 16, y + o, out_plane, 0xFFFF, columns);
      if (argmax != nullptr) {
        transpose_tile_16x16(reinterpret_cast<const float*>(at_row + ow * 16), 16,
                             reinterpret_cast<float*>(argmax + o), out_plane, 0xFFFF, columns);
      }
    }
  }
}

// Its backward into gb ([H, W, 16]): windows do not overlap, so each position of a window gets
// the gradient of the lanes whose argmax it is and 0 in the others, in one store.
void max_pool_block16_backward(const Pool2dShape s, const float* grad_y, const int32_t* argmax,
                               const float* positive, float* gb) {
  const int64_t in_w = s.in_w, out_w = s.out_w, out_plane = s.out_h * s.out_w;
  const int64_t tiles = (out_w + 15) / 16;
  std::memset(gb, 0, s.in_h * in_w * 16 * sizeof(float));  // what no window covers stays 0
  float* g_row = scratch<float, Scratch::window_row>(16 * tiles * 16);
  int32_t* at_row = scratch<int32_t, Scratch::window_row>(16 * tiles * 16);
  float* kept_row = scratch<float, Scratch::window_mask_row>(16 * tiles * 16);
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t ow = 16 * tile, o = oh * out_w + ow;
      const auto columns = static_cast<__mmask16>((1u << std::min<int64_t>(16, out_w - ow)) - 1);
      transpose_tile_16x16(grad_y + o, out_plane, g_row + ow * 16, 16, columns);
      transpose_tile_16x16(reinterpret_cast<const float*>(argmax + o), out_plane,
                           reinterpret_cast<float*>(at_row + ow * 16), 16, columns);
      if (positive != nullptr)
        transpose_tile_16x16(positive + o, out_plane, kept_row + ow * 16, 16, columns);
    }
    const Span rows = window(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h);
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const Span cols = window(ow, s.stride_w, s.pad_w, s.kernel_w, in_w);
      // `0 + g` as the scalar scatter adds it; 0 where masked (relu's mask after the scatter).
      __m512 g = _mm512_add_ps(_mm512_loadu_ps(g_row + ow * 16), zero);
      if (positive != nullptr) {
        g = _mm512_maskz_mov_ps(
            _mm512_cmp_ps_mask(_mm512_loadu_ps(kept_row + ow * 16), zero, _CMP_GT_OQ), g);
      }
      const __m512i at = _mm512_loadu_si512(at_row + ow * 16);
      for (int64_t h = rows.begin; h < rows.end; ++h) {
        for (int64_t c = cols.begin; c < cols.end; ++c) {
          const auto pos = static_cast<int32_t>(h * in_w + c);
          const __mmask16 mine = _mm512_cmpeq_epi32_mask(at, _mm512_set1_epi32(pos));
          _mm512_storeu_ps(gb + pos * 16, _mm512_maskz_mov_ps(mine, g));
        }
      }
    }
  }
}
#elif defined(__AVX2__)
// The same with AVX2 for blocks of 8 channels (oneDNN's AVX2 layout, nChw8c), rows moved through
// 8x8 register transposes.
void max_pool_block8(const Pool2dShape s, const float* xb, float* y, int32_t* argmax) {
  const int64_t in_w = s.in_w, out_w = s.out_w, out_plane = s.out_h * s.out_w;
  const int64_t tiles = (out_w + 7) / 8;
  float* best_row = scratch<float, Scratch::window_row>(8 * tiles * 8);
  int32_t* at_row = scratch<int32_t, Scratch::window_row>(8 * tiles * 8);
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const Span rows = window(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h);
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const Span cols = window(ow, s.stride_w, s.pad_w, s.kernel_w, in_w);
      __m256 best = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
      __m256 at = int_bits(static_cast<int32_t>(rows.begin * in_w + cols.begin));
      for (int64_t h = rows.begin; h < rows.end; ++h) {
        for (int64_t c = cols.begin; c < cols.end; ++c) {
          const auto pos = static_cast<int32_t>(h * in_w + c);
          const __m256 v = _mm256_loadu_ps(xb + pos * 8);
          const __m256 over = takes_over_mask(v, best);
          best = _mm256_blendv_ps(best, v, over);
          at = _mm256_blendv_ps(at, int_bits(pos), over);
        }
      }
      _mm256_storeu_ps(best_row + ow * 8, best);
      _mm256_storeu_ps(reinterpret_cast<float*>(at_row + ow * 8), at);
    }
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t ow = 8 * tile, o = oh * out_w + ow;
      const int64_t columns = std::min<int64_t>(8, out_w - ow);
      transpose_tile_8x8(best_row + ow * 8, 8, y + o, out_plane, 8, columns);
      if (argmax != nullptr) {
        transpose_tile_8x8(reinterpret_cast<const float*>(at_row + ow * 8), 8,
                           reinterpret_cast<float*>(argmax + o), out_plane, 8, columns);
      }
    }
  }
}

void max_pool_block8_backward(const Pool2dShape s, const float* grad_y, const int32_t* argmax,
                              const float* positive, float* gb) {
  const int64_t in_w = s.in_w, out_w = s.out_w, out_plane = s.out_h * s.out_w;
  const int64_t tiles = (out_w + 7) / 8;
  std::memset(gb, 0, s.in_h * in_w * 8 * sizeof(float));  // what no window covers stays 0
  float* g_row = scratch<float, Scratch::window_row>(8 * tiles * 8);
  int32_t* at_row = scratch<int32_t, Scratch::window_row>(8 * tiles * 8);
  float* kept_row = scratch<float, Scratch::window_mask_row>(8 * tiles * 8);
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    for (int64_t tile = 0; tile < tiles; ++tile) {
      const int64_t ow = 8 * tile, o = oh * out_w + ow;
      const int64_t columns = std::min<int64_t>(8, out_w - ow);
      transpose_tile_8x8(grad_y + o, out_plane, g_row + ow * 8, 8, columns);
      transpose_tile_8x8(reinterpret_cast<const float*>(argmax + o), out_plane,
                         reinterpret_cast<float*>(at_row + ow * 8), 8, columns);
      if (positive != nullptr)
        transpose_tile_8x8(positive + o, out_plane, kept_row + ow * 8, 8, columns);
    }
    const Span rows = window(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h);
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const Span cols = window(ow, s.stride_w, s.pad_w, s.kernel_w, in_w);
      // `0 + g` as the scalar scatter adds it; 0 where masked (relu's mask after the scatter).
      __m256 g = _mm256_add_ps(_mm256_loadu_ps(g_row + ow * 8), zero);
      if (positive != nullptr)
        g = _mm256_and_ps(_mm256_cmp_ps(_mm256_loadu_ps(kept_row + ow * 8), zero, _CMP_GT_OQ), g);
      const __m256i at = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at_row + ow * 8));
      for (int64_t h = rows.begin; h < rows.end; ++h) {
        for (int64_t c = cols.begin; c < cols.end; ++c) {
          const auto pos = static_cast<int32_t>(h * in_w + c);
          const __m256i mine = _mm256_cmpeq_epi32(at, _mm256_set1_epi32(pos));
          _mm256_storeu_ps(gb + pos * 8, _mm256_and_ps(_mm256_castsi256_ps(mine), g));
        }
      }
    }
  }
}
#endif

// The same for any block, one lane at a time.
void max_pool_block(const Pool2dShape s, int64_t block, const float* xb, float* y,
                    int32_t* argmax) {
  const int64_t in_w = s.in_w, out_w = s.out_w, out_plane = s.out_h * s.out_w;
  for (int64_t oh = 0; oh < s.out_h; ++oh) {
    const Span rows = window(oh, s.stride_h, s.pad_h, s.kernel_h, s.in_h);
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const Span cols = window(ow, s.stride_w, s.pad_w, s.kernel_w, in_w);
      for (int64_t l = 0; l < block; ++l) {
        float best = -std::numeric_limits<float>::infinity();
        auto at = static_cast<int32_t>(rows.begin * in_w + cols.begin);
        for (int64_t h = rows.begin; h < rows.end; ++h) {
          for (int64_t c = cols.begin; c < cols.end; ++c) {
            const auto pos = static_cast<int32_t>(h * in_w + c);
            if (takes_over(xb[pos * block + l], best)) best = xb[pos * block + l], at = pos;
          }
        }
        y[l * out_plane + oh * out_w + ow] = best;
        if (argmax != nullptr) argmax[l * out_plane + oh * out_w + ow] = at;
      }
    }
  }
}

void max_pool_block_backward(const Pool2dShape s, int64_t block, const float* grad_y,
                             const int32_t* argmax, const float* positive, float* gb) {
  const int64_t out_plane = s.out_h * s.out_w;
  std::memset(gb, 0, s.in_h * s.in_w * block * sizeof(float));
  for (int64_t l = 0; l < block; ++l) {
    for (int64_t o = 0; o < out_plane; ++o) {
      const int64_t i = l * out_plane + o;
      gb[argmax[i] * block + l] += positive == nullptr || positive[i] > 0.0f ? grad_y[i] : 0.0f;
    }
  }
}

}  // namespace

void max_pool2d_forward_blocked(const Pool2dShape& s, int64_t channels, int64_t block,
                                const float* x, float* y, int32_t* argmax) {
  const int64_t blocks = channels / block, in_plane = s.in_h * s.in_w;
  const int64_t out_plane = s.out_h * s.out_w;
  for_each_plane(s.planes / block, s.planes * in_plane, [&](int64_t nb) {
    const int64_t at = (nb / blocks * channels + nb % blocks * block) * out_plane;
    const float* xb = x + nb * in_plane * block;
    int32_t* a = argmax != nullptr ? argmax + at : nullptr;
#if defined(__AVX512F__)
    if (block == 16) return max_pool_block16(s, xb, y + at, a);
#elif defined(__AVX2__)
    if (block == 8) return max_pool_block8(s, xb, y + at, a);
#endif
    max_pool_block(s, block, xb, y + at, a);
  });
}

void max_pool2d_backward_blocked(const Pool2dShape& s, int64_t channels, int64_t block,
                                 const float* grad_y, const int32_t* argmax, float* grad_x,
                                 const float* positive) {
  const int64_t blocks = channels / block, in_plane = s.in_h * s.in_w;
  const int64_t out_plane = s.out_h * s.out_w;
  for_each_plane(s.planes / block, s.planes * in_plane, [&](int64_t nb) {
    const int64_t at = (nb / blocks * channels + nb % blocks * block) * out_plane;
    const float* p = positive != nullptr ? positive + at : nullptr;
    float* gb = grad_x + nb * in_plane * block;
#if defined(__AVX512F__)
    if (block == 16) return max_pool_block16_backward(s, grad_y + at, argmax + at, p, gb);
#elif defined(__AVX2__)
    if (block == 8) return max_pool_block8_backward(s, grad_y + at, argmax + at, p, gb);
#endif
    max_pool_block_backward(s, block, grad_y + at, argmax + at, p, gb);
  });
}

template <class T>
void avg_pool2d_forward(const Pool2dShape& s, bool count_include_pad, const T* x, T* y) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  const int64_t work = s.planes * std::max(in_plane, out_plane * s.kernel_h * s.kernel_w);
  for_each_plane(s.planes, work, [&](int64_t p) {
    avg_pool_plane(s, count_include_pad, x + p * in_plane, y + p * out_plane);
  });
}

template <class T>
void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, const T* grad_y, T* grad_x) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  const int64_t work = s.planes * std::max(in_plane, out_plane * s.kernel_h * s.kernel_w);
  for_each_plane(s.planes, work, [&](int64_t p) {
    avg_pool_plane_backward(s, count_include_pad, grad_y + p * out_plane, grad_x + p * in_plane);
  });
}

template <class T>
void adaptive_avg_pool2d_forward(const Pool2dShape& s, const T* x, T* y) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  for_each_plane(s.planes, s.planes * std::max(in_plane, out_plane),
                 [&](int64_t p) { adaptive_avg_plane(s, x + p * in_plane, y + p * out_plane); });
}

template <class T>
void adaptive_avg_pool2d_backward(const Pool2dShape& s, const T* grad_y, T* grad_x) {
  const int64_t in_plane = s.in_h * s.in_w, out_plane = s.out_h * s.out_w;
  for_each_plane(s.planes, s.planes * std::max(in_plane, out_plane), [&](int64_t p) {
    adaptive_avg_plane_backward(s, grad_y + p * out_plane, grad_x + p * in_plane);
  });
}

template <class T>
void gather_axis(const int64_t* index, int64_t outer, int64_t in_len, int64_t out_len,
                 int64_t inner, T fill, const T* x, T* y) {
  for_each_plane(outer, outer * out_len * inner, [&](int64_t b) {
    const T* xb = x + b * in_len * inner;
    T* yb = y + b * out_len * inner;
    if (inner == 1) {  // the last axis: an indexed copy
      for (int64_t o = 0; o < out_len; ++o) yb[o] = index[o] < 0 ? fill : xb[index[o]];
      return;
    }
    for (int64_t o = 0; o < out_len; ++o) {
      T* yo = yb + o * inner;
      if (index[o] < 0) {
        std::fill(yo, yo + inner, fill);
      } else {
        std::memcpy(yo, xb + index[o] * inner, inner * sizeof(T));
      }
    }
  });
}

template <class T>
void gather_axis_backward(const int64_t* index, int64_t outer, int64_t in_len, int64_t out_len,
                          int64_t inner, const T* grad_y, T* grad_x) {
  for_each_plane(outer, outer * std::max(in_len, out_len) * inner, [&](int64_t b) {
    T* gx = grad_x + b * in_len * inner;
    const T* gy = grad_y + b * out_len * inner;
    std::memset(gx, 0, in_len * inner * sizeof(T));
    for (int64_t o = 0; o < out_len; ++o) {
      if (index[o] < 0) continue;
      T* dst = gx + index[o] * inner;
      const T* src = gy + o * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
  });
}

template <class T>
void lerp_axis(const LerpTaps<T>& taps, int64_t outer, int64_t in_len, int64_t out_len,
               int64_t inner, const T* x, T* y) {
  const int64_t *i0 = taps.index0, *i1 = taps.index1;
  const T *w0 = taps.weight0, *w1 = taps.weight1;
  for_each_plane(outer, outer * out_len * inner, [&](int64_t b) {
    const T* xb = x + b * in_len * inner;
    T* yb = y + b * out_len * inner;
    if (inner == 1) {
      for (int64_t o = 0; o < out_len; ++o) yb[o] = w0[o] * xb[i0[o]] + w1[o] * xb[i1[o]];
      return;
    }
    for (int64_t o = 0; o < out_len; ++o) {
      const T* x0 = xb + i0[o] * inner;
      const T* x1 = xb + i1[o] * inner;
      const T a = w0[o], c = w1[o];
      T* yo = yb + o * inner;
      for (int64_t i = 0; i < inner; ++i) yo[i] = a * x0[i] + c * x1[i];
    }
  });
}

template <class T>
void lerp_axis_backward(const LerpTaps<T>& taps, int64_t outer, int64_t in_len, int64_t out_len,
                        int64_t inner, const T* grad_y, T* grad_x) {
  const int64_t *i0 = taps.index0, *i1 = taps.index1;
  const T *w0 = taps.weight0, *w1 = taps.weight1;
  for_each_plane(outer, outer * std::max(in_len, out_len) * inner, [&](int64_t b) {
    T* gx = grad_x + b * in_len * inner;
    const T* gy = grad_y + b * out_len * inner;
    std::memset(gx, 0, in_len * inner * sizeof(T));
    for (int64_t o = 0; o < out_len; ++o) {
      T* d0 = gx + i0[o] * inner;
      T* d1 = gx + i1[o] * inner;
      const T* src = gy + o * inner;
      const T a = w0[o], c = w1[o];
      // d0 and d1 may be the same slice (the last input position): two separate passes.
      for (int64_t i = 0; i < inner; ++i) d0[i] += a * src[i];
      for (int64_t i = 0; i < inner; ++i) d1[i] += c * src[i];
    }
  });
}

#define NABLA_POOL_FLOATING(T)                                                                 \
  template void max_pool2d_forward<T>(const Pool2dShape&, const T*, T*, int32_t*);             \
  template void max_pool2d_backward<T>(const Pool2dShape&, const T*, const int32_t*, T*,       \
                                       const T*);                                              \
  template void max_pool2d_plane<T>(const Pool2dShape&, const T*, T*, int32_t*);               \
  template void max_pool2d_backward_plane<T>(const Pool2dShape&, const T*, const int32_t*, T*, \
                                             const T*);                                        \
  template void avg_pool2d_forward<T>(const Pool2dShape&, bool, const T*, T*);                 \
  template void avg_pool2d_backward<T>(const Pool2dShape&, bool, const T*, T*);                \
  template void adaptive_avg_pool2d_forward<T>(const Pool2dShape&, const T*, T*);              \
  template void adaptive_avg_pool2d_backward<T>(const Pool2dShape&, const T*, T*);             \
  template void gather_axis_backward<T>(const int64_t*, int64_t, int64_t, int64_t, int64_t,    \
                                        const T*, T*);                                         \
  template void lerp_axis<T>(const LerpTaps<T>&, int64_t, int64_t, int64_t, int64_t, const T*, \
                             T*);                                                              \
  template void lerp_axis_backward<T>(const LerpTaps<T>&, int64_t, int64_t, int64_t, int64_t,  \
                                      const T*, T*);
NABLA_POOL_FLOATING(float)
NABLA_POOL_FLOATING(double)
#undef NABLA_POOL_FLOATING

// Padding and nearest resizing copy elements, so they serve every dtype.
#define NABLA_GATHER_AXIS(T) \
  template void gather_axis<T>(const int64_t*, int64_t, int64_t, int64_t, int64_t, T, const T*, T*);
NABLA_GATHER_AXIS(float)
NABLA_GATHER_AXIS(double)
NABLA_GATHER_AXIS(int64_t)
NABLA_GATHER_AXIS(uint8_t)
NABLA_GATHER_AXIS(bool)
#undef NABLA_GATHER_AXIS

}  // namespace nabla::kernels::cpu
