#include "kernels/cpu/conv_pool_direct.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/avx2.hpp"
#include "kernels/cpu/intrinsics.hpp"
#include "kernels/cpu/scratch.hpp"
#include "kernels/cpu/transpose_tile.hpp"
#include "nabla/error.hpp"

namespace nabla::kernels::cpu {

namespace {

constexpr int kTaps = 9;

// The four positions of a 2x2 window, in the pooling's scan order: (0, 0), (0, 1), (1, 0),
// (1, 1) relative to its top-left output.
constexpr int kDy[4] = {0, 0, 1, 1}, kDx[4] = {0, 1, 0, 1};

// The image with its padding written out as zeros, or x itself without padding; `width` is set
// to the padded row length.
[[maybe_unused]] const float* padded_image(const ConvGeometry& g, const float* x, int64_t& width) {
  width = g.in_w + g.pad_left + g.pad_right;
  if (g.pad_top == 0 && g.pad_bottom == 0 && g.pad_left == 0 && g.pad_right == 0) return x;
  const int64_t height = g.in_h + g.pad_top + g.pad_bottom;
  float* buffer = scratch<float, Scratch::columns>(height * width);
  std::memset(buffer, 0, height * width * sizeof(float));
  for (int64_t h = 0; h < g.in_h; ++h)
    std::memcpy(buffer + (h + g.pad_top) * width + g.pad_left, x + h * g.in_w,
                g.in_w * sizeof(float));
  return buffer;
}

}  // namespace

// Output channels per vector: the kernels below exist for AVX-512 and AVX2.
#if defined(__AVX512F__)
constexpr int64_t kVectorLanes = 16;
#elif defined(__AVX2__)
constexpr int64_t kVectorLanes = 8;
#else
constexpr int64_t kVectorLanes = 0;
#endif

bool direct_conv_pool_applies(const ConvGeometry& g, const Pool2dShape& pool) {
  return kVectorLanes > 0 && g.groups == 1 && g.in_channels == 1 &&
         g.kernel_h * g.kernel_w == kTaps && g.kernel_h == 3 && g.stride_h == 1 &&
         g.stride_w == 1 && g.dilation_h == 1 && g.dilation_w == 1 && g.pad_top >= 0 &&
         g.pad_bottom >= 0 && g.pad_left >= 0 && g.pad_right >= 0 &&
         g.out_channels % std::max<int64_t>(kVectorLanes, 1) == 0 && pool.kernel_h == 2 &&
         pool.kernel_w == 2 && pool.stride_h == 2 && pool.stride_w == 2 && pool.pad_h == 0 &&
         pool.pad_w == 0 && pool.out_h == g.out_h / 2 && pool.out_w == g.out_w / 2;
}

#if defined(__AVX512F__)

namespace {

// The taps' weights of output channels [c0, c0 + 16 kVecs), lane = channel.
template <int kVecs>
void load_weights(const float* weight, int64_t c0, __m512 (&w)[kTaps][kVecs]) {
  const __m512i rows =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(kTaps));
  for (int t = 0; t < kTaps; ++t)
    for (int v = 0; v < kVecs; ++v)
      w[t][v] = _mm512_i32gather_ps(rows, weight + (c0 + 16 * v) * kTaps + t, 4);
}

template <int kVecs>
void forward_group(const ConvGeometry& g, const Pool2dShape& pool, const float* x, int64_t width,
                   const float* weight, const float* bias, bool relu, int64_t c0, float* pooled,
                   int32_t* argmax) {
  constexpr int kLanes = 16 * kVecs;
  __m512 w[kTaps][kVecs];
  load_weights<kVecs>(weight, c0, w);
  __m512 b[kVecs];
  for (int v = 0; v < kVecs; ++v)
    b[v] = bias != nullptr ? _mm512_loadu_ps(bias + c0 + 16 * v) : _mm512_setzero_ps();
  const int64_t pooled_plane = pool.out_h * pool.out_w, row_tiles = (pool.out_w + 15) / 16;
  // A row of windows with the channels in lanes: [16 * row_tiles][kLanes].
  float* best_row = scratch<float, Scratch::window_row>(16 * row_tiles * kLanes);
  int32_t* at_row = scratch<int32_t, Scratch::window_row>(16 * row_tiles * kLanes);
  for (int64_t ph = 0; ph < pool.out_h; ++ph) {
    for (int64_t pw = 0; pw < pool.out_w; ++pw) {
      const int64_t oh = 2 * ph, ow = 2 * pw;
      __m512 acc[4][kVecs];
      for (int p = 0; p < 4; ++p)
        for (int v = 0; v < kVecs; ++v) acc[p][v] = b[v];
      for (int t = 0; t < kTaps; ++t) {
        const float* tap = x + (oh + t / 3) * width + ow + t % 3;
        for (int p = 0; p < 4; ++p) {
          const __m512 xv = _mm512_set1_ps(tap[kDy[p] * width + kDx[p]]);
          for (int v = 0; v < kVecs; ++v) acc[p][v] = _mm512_fmadd_ps(w[t][v], xv, acc[p][v]);
        }
      }
      for (int v = 0; v < kVecs; ++v) {
        // relu as the scalar `v < 0 ? 0 : v` (max(0, NaN) is NaN), then the pooling's rule: a
        // larger value or a NaN takes over, the first of equal maxima stays.
        __m512 best = relu ? _mm512_max_ps(_mm512_setzero_ps(), acc[0][v]) : acc[0][v];
        __m512i at = _mm512_set1_epi32(static_cast<int32_t>(oh * g.out_w + ow));
        for (int p = 1; p < 4; ++p) {
          const __m512 value = relu ? _mm512_max_ps(_mm512_setzero_ps(), acc[p][v]) : acc[p][v];
          const __mmask16 over = _mm512_cmp_ps_mask(value, best, _CMP_GT_OQ) |
                                 _mm512_cmp_ps_mask(value, value, _CMP_UNORD_Q);
          best = _mm512_mask_mov_ps(best, over, value);
          at = _mm512_mask_mov_epi32(
              at, over,
              _mm512_set1_epi32(static_cast<int32_t>((oh + kDy[p]) * g.out_w + ow + kDx[p])));
        }
        _mm512_storeu_ps(best_row + pw * kLanes + 16 * v, best);
        _mm512_storeu_si512(at_row + pw * kLanes + 16 * v, at);
      }
    }
    // The row of windows back into the channels' planes, 16 windows by 16 channels at a time.
    for (int64_t tile = 0; tile < row_tiles; ++tile) {
      const int64_t pw = 16 * tile;
      const auto columns =
          static_cast<__mmask16>((1u << std::min<int64_t>(16, pool.out_w - pw)) - 1);
      for (int v = 0; v < kVecs; ++v) {
        const int64_t o = (c0 + 16 * v) * pooled_plane + ph * pool.out_w + pw;
        transpose_tile_16x16(best_row + pw * kLanes + 16 * v, kLanes, pooled + o, pooled_plane,
                             0xFFFF, columns);
        if (argmax != nullptr) {
          transpose_tile_16x16(reinterpret_cast<const float*>(at_row + pw * kLanes + 16 * v),
                               kLanes, reinterpret_cast<float*>(argmax + o), pooled_plane, 0xFFFF,
                               columns);
        }
      }
    }
  }
}

template <int kVecs>
void weight_grad_group(const ConvGeometry& g, const Pool2dShape& pool, const float* x,
                       int64_t width, const float* grad_pooled, const int32_t* argmax,
                       const float* relu_pooled, int64_t c0, float* partial) {
  constexpr int kLanes = 16 * kVecs;
  __m512 acc[kTaps][kVecs], bias[kVecs];
  for (int v = 0; v < kVecs; ++v) {
    bias[v] = _mm512_setzero_ps();
    for (int t = 0; t < kTaps; ++t) acc[t][v] = _mm512_setzero_ps();
  }
  const int64_t pooled_plane = pool.out_h * pool.out_w, row_tiles = (pool.out_w + 15) / 16;
  // A row of windows' pooled gradients, argmax and pooled relu outputs, channels in lanes.
  float* g_row = scratch<float, Scratch::window_row>(16 * row_tiles * kLanes);
  int32_t* at_row = scratch<int32_t, Scratch::window_row>(16 * row_tiles * kLanes);
  float* kept_row = scratch<float, Scratch::window_mask_row>(16 * row_tiles * kLanes);
  for (int64_t ph = 0; ph < pool.out_h; ++ph) {
    for (int64_t tile = 0; tile < row_tiles; ++tile) {
      const int64_t pw = 16 * tile;
      const auto columns =
          static_cast<__mmask16>((1u << std::min<int64_t>(16, pool.out_w - pw)) - 1);
      for (int v = 0; v < kVecs; ++v) {
        const int64_t o = (c0 + 16 * v) * pooled_plane + ph * pool.out_w + pw;
        const int64_t r = pw * kLanes + 16 * v;
        transpose_tile_16x16(grad_pooled + o, pooled_plane, g_row + r, kLanes, columns);
        transpose_tile_16x16(reinterpret_cast<const float*>(argmax + o), pooled_plane,
                             reinterpret_cast<float*>(at_row + r), kLanes, columns);
        if (relu_pooled != nullptr)
          transpose_tile_16x16(relu_pooled + o, pooled_plane, kept_row + r, kLanes, columns);
      }
    }
    for (int64_t pw = 0; pw < pool.out_w; ++pw) {
      const int64_t oh = 2 * ph, ow = 2 * pw;
      __m512 gv[kVecs];
      __m512i av[kVecs];
      for (int v = 0; v < kVecs; ++v) {
        // `0 + g` as the scatter adds it; 0 where the pooled relu output is not positive.
        gv[v] = _mm512_add_ps(_mm512_loadu_ps(g_row + pw * kLanes + 16 * v), _mm512_setzero_ps());
        if (relu_pooled != nullptr) {
          const __m512 kept = _mm512_loadu_ps(kept_row + pw * kLanes + 16 * v);
          gv[v] =
              _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(kept, _mm512_setzero_ps(), _CMP_GT_OQ), gv[v]);
        }
        av[v] = _mm512_loadu_si512(at_row + pw * kLanes + 16 * v);
      }
      for (int p = 0; p < 4; ++p) {
        // The gradient at this position: the lanes whose argmax it is.
        const auto pos = static_cast<int32_t>((oh + kDy[p]) * g.out_w + ow + kDx[p]);
        __m512 gp[kVecs];
        for (int v = 0; v < kVecs; ++v) {
          gp[v] =
              _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(av[v], _mm512_set1_epi32(pos)), gv[v]);
          bias[v] = _mm512_add_ps(bias[v], gp[v]);
        }
        const float* tap = x + (oh + kDy[p]) * width + ow + kDx[p];
        for (int t = 0; t < kTaps; ++t) {
          const __m512 xv = _mm512_set1_ps(tap[(t / 3) * width + t % 3]);
          for (int v = 0; v < kVecs; ++v) acc[t][v] = _mm512_fmadd_ps(gp[v], xv, acc[t][v]);
        }
      }
    }
  }
  const int64_t cout = g.out_channels;
  for (int v = 0; v < kVecs; ++v) {
    for (int t = 0; t < kTaps; ++t) {
      float* row = partial + t * cout + c0 + 16 * v;
      _mm512_storeu_ps(row, _mm512_add_ps(_mm512_loadu_ps(row), acc[t][v]));
    }
    float* row = partial + kTaps * cout + c0 + 16 * v;
    _mm512_storeu_ps(row, _mm512_add_ps(_mm512_loadu_ps(row), bias[v]));
  }
}

}  // namespace

void direct_conv_pool_forward(const ConvGeometry& g, const Pool2dShape& pool, const float* x,
                              const float* weight, const float* bias, bool relu, float* pooled,
                              int32_t* argmax) {
  int64_t width = 0;
  const float* image = padded_image(g, x, width);
  int64_t c = 0;
  for (; c + 32 <= g.out_channels; c += 32)
    forward_group<2>(g, pool, image, width, weight, bias, relu, c, pooled, argmax);
  if (c < g.out_channels)
    forward_group<1>(g, pool, image, width, weight, bias, relu, c, pooled, argmax);
}

void direct_conv_pool_weight_grad(const ConvGeometry& g, const Pool2dShape& pool, const float* x,
                                  const float* grad_pooled, const int32_t* argmax,
                                  const float* relu_pooled, float* partial) {
  int64_t width = 0;
  const float* image = padded_image(g, x, width);
  int64_t c = 0;
  for (; c + 32 <= g.out_channels; c += 32)
    weight_grad_group<2>(g, pool, image, width, grad_pooled, argmax, relu_pooled, c, partial);
  if (c < g.out_channels)
    weight_grad_group<1>(g, pool, image, width, grad_pooled, argmax, relu_pooled, c, partial);
}

#elif defined(__AVX2__)

namespace {

// The AVX2 kernels: as the AVX-512 ones above, 8 output channels per group (the 9 taps' weights,
// the window's 4 accumulators and a broadcast fill 14 of the 16 registers).

// The taps' weights of output channels [c0, c0 + 8), lane = channel.
void load_weights8(const float* weight, int64_t c0, __m256 (&w)[kTaps]) {
  const __m256i rows =
      _mm256_setr_epi32(0, kTaps, 2 * kTaps, 3 * kTaps, 4 * kTaps, 5 * kTaps, 6 * kTaps, 7 * kTaps);
  for (int t = 0; t < kTaps; ++t) w[t] = _mm256_i32gather_ps(weight + c0 * kTaps + t, rows, 4);
}

void forward_group8(const ConvGeometry& g, const Pool2dShape& pool, const float* x, int64_t width,
                    const float* weight, const float* bias, bool relu, int64_t c0, float* pooled,
                    int32_t* argmax) {
  __m256 w[kTaps];
  load_weights8(weight, c0, w);
  const __m256 b = bias != nullptr ? _mm256_loadu_ps(bias + c0) : _mm256_setzero_ps();
  const __m256 zero = _mm256_setzero_ps();
  const int64_t pooled_plane = pool.out_h * pool.out_w, row_tiles = (pool.out_w + 7) / 8;
  // A row of windows with the channels in lanes: [8 * row_tiles][8].
  float* best_row = scratch<float, Scratch::window_row>(8 * row_tiles * 8);
  int32_t* at_row = scratch<int32_t, Scratch::window_row>(8 * row_tiles * 8);
  for (int64_t ph = 0; ph < pool.out_h; ++ph) {
    for (int64_t pw = 0; pw < pool.out_w; ++pw) {
      const int64_t oh = 2 * ph, ow = 2 * pw;
      __m256 acc[4] = {b, b, b, b};
      for (int t = 0; t < kTaps; ++t) {
        const float* tap = x + (oh + t / 3) * width + ow + t % 3;
        for (int p = 0; p < 4; ++p)
          acc[p] = _mm256_fmadd_ps(w[t], _mm256_set1_ps(tap[kDy[p] * width + kDx[p]]), acc[p]);
      }
      // relu as the scalar `v < 0 ? 0 : v` (max(0, NaN) is NaN), then the pooling's rule.
      __m256 best = relu ? _mm256_max_ps(zero, acc[0]) : acc[0];
      __m256 at = int_bits(static_cast<int32_t>(oh * g.out_w + ow));  // int32 as its bits
      for (int p = 1; p < 4; ++p) {
        const __m256 value = relu ? _mm256_max_ps(zero, acc[p]) : acc[p];
        const __m256 over = takes_over_mask(value, best);
        best = _mm256_blendv_ps(best, value, over);
        at = _mm256_blendv_ps(
            at, int_bits(static_cast<int32_t>((oh + kDy[p]) * g.out_w + ow + kDx[p])), over);
      }
      _mm256_storeu_ps(best_row + pw * 8, best);
      _mm256_storeu_ps(reinterpret_cast<float*>(at_row + pw * 8), at);
    }
    for (int64_t pw = 0; pw < pool.out_w; pw += 8) {
      const int64_t o = c0 * pooled_plane + ph * pool.out_w + pw;
      const int64_t columns = std::min<int64_t>(8, pool.out_w - pw);
      transpose_tile_8x8(best_row + pw * 8, 8, pooled + o, pooled_plane, 8, columns);
      if (argmax != nullptr) {
        transpose_tile_8x8(reinterpret_cast<const float*>(at_row + pw * 8), 8,
                           reinterpret_cast<float*>(argmax + o), pooled_plane, 8, columns);
      }
    }
  }
}

void weight_grad_group8(const ConvGeometry& g, const Pool2dShape& pool, const float* x,
                        int64_t width, const float* grad_pooled, const int32_t* argmax,
                        const float* relu_pooled, int64_t c0, float* partial) {
  const __m256 zero = _mm256_setzero_ps();
  __m256 acc[kTaps], bias = zero;
  for (__m256& a : acc) a = zero;
  const int64_t pooled_plane = pool.out_h * pool.out_w, row_tiles = (pool.out_w + 7) / 8;
  float* g_row = scratch<float, Scratch::window_row>(8 * row_tiles * 8);
  int32_t* at_row = scratch<int32_t, Scratch::window_row>(8 * row_tiles * 8);
  float* kept_row = scratch<float, Scratch::window_mask_row>(8 * row_tiles * 8);
  for (int64_t ph = 0; ph < pool.out_h; ++ph) {
    for (int64_t pw = 0; pw < pool.out_w; pw += 8) {
      const int64_t o = c0 * pooled_plane + ph * pool.out_w + pw;
      const int64_t columns = std::min<int64_t>(8, pool.out_w - pw);
      transpose_tile_8x8(grad_pooled + o, pooled_plane, g_row + pw * 8, 8, columns);
      transpose_tile_8x8(reinterpret_cast<const float*>(argmax + o), pooled_plane,
                         reinterpret_cast<float*>(at_row + pw * 8), 8, columns);
      if (relu_pooled != nullptr)
        transpose_tile_8x8(relu_pooled + o, pooled_plane, kept_row + pw * 8, 8, columns);
    }
    for (int64_t pw = 0; pw < pool.out_w; ++pw) {
      const int64_t oh = 2 * ph, ow = 2 * pw;
      // `0 + g` as the scatter adds it; 0 where the pooled relu output is not positive.
      __m256 gv = _mm256_add_ps(_mm256_loadu_ps(g_row + pw * 8), zero);
      if (relu_pooled != nullptr)
        gv = _mm256_and_ps(_mm256_cmp_ps(_mm256_loadu_ps(kept_row + pw * 8), zero, _CMP_GT_OQ), gv);
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at_row + pw * 8));
      for (int p = 0; p < 4; ++p) {
        // The gradient at this position: the lanes whose argmax it is.
        const auto pos = static_cast<int32_t>((oh + kDy[p]) * g.out_w + ow + kDx[p]);
        const __m256 gp =
            _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(av, _mm256_set1_epi32(pos))), gv);
        bias = _mm256_add_ps(bias, gp);
        const float* tap = x + (oh + kDy[p]) * width + ow + kDx[p];
        for (int t = 0; t < kTaps; ++t)
          acc[t] = _mm256_fmadd_ps(gp, _mm256_set1_ps(tap[(t / 3) * width + t % 3]), acc[t]);
      }
    }
  }
  const int64_t cout = g.out_channels;
  for (int t = 0; t < kTaps; ++t) {
    float* row = partial + t * cout + c0;
    _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), acc[t]));
  }
  float* row = partial + kTaps * cout + c0;
  _mm256_storeu_ps(row, _mm256_add_ps(_mm256_loadu_ps(row), bias));
}

}  // namespace

void direct_conv_pool_forward(const ConvGeometry& g, const Pool2dShape& pool, const float* x,
                              const float* weight, const float* bias, bool relu, float* pooled,
                              int32_t* argmax) {
  int64_t width = 0;
  const float* image = padded_image(g, x, width);
  for (int64_t c = 0; c < g.out_channels; c += 8)
    forward_group8(g, pool, image, width, weight, bias, relu, c, pooled, argmax);
}

void direct_conv_pool_weight_grad(const ConvGeometry& g, const Pool2dShape& pool, const float* x,
                                  const float* grad_pooled, const int32_t* argmax,
                                  const float* relu_pooled, float* partial) {
  int64_t width = 0;
  const float* image = padded_image(g, x, width);
  for (int64_t c = 0; c < g.out_channels; c += 8)
    weight_grad_group8(g, pool, image, width, grad_pooled, argmax, relu_pooled, c, partial);
}

#else  // without AVX-512 or AVX2 no convolution takes these kernels

void direct_conv_pool_forward(const ConvGeometry&, const Pool2dShape&, const float*, const float*,
                              const float*, bool, float*, int32_t*) {
  detail::throw_error("conv2d: the direct convolution with pooling needs AVX-512 or AVX2");
}
void direct_conv_pool_weight_grad(const ConvGeometry&, const Pool2dShape&, const float*,
                                  const float*, const int32_t*, const float*, float*) {
  detail::throw_error("conv2d: the direct convolution with pooling needs AVX-512 or AVX2");
}

#endif

}  // namespace nabla::kernels::cpu
