// Kernels over the spatial axes of contiguous NCHW data, one [H, W] plane per (sample, channel):
// pooling windows (max, average, adaptive average) and resampling along one axis (padding,
// nearest and linear interpolation). Each takes pointers and sizes, knows nothing of autograd,
// and follows PyTorch 1.13's CPU kernels in what it computes (window bounds, divisors, tie
// breaking, NaN propagation). Planes are independent, so work is split over planes on the
// OpenMP pool above a size threshold and results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

// Window geometry of a 2-d pooling: `planes` = N * C planes of [in_h, in_w] pooled to
// [out_h, out_w]. Output (oh, ow) covers rows oh * stride_h - pad_h + [0, kernel_h) and columns
// likewise, clipped to the input.
struct Pool2dShape {
  int64_t planes = 0;
  int64_t in_h = 0, in_w = 0;
  int64_t out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
};

// y = the maximum of each window (padding counts as -inf; NaN wins; the first of equal maxima
// wins) and argmax = its position h * in_w + w inside the plane, for the backward.
template <class T>
void max_pool2d_forward(const Pool2dShape& s, const T* x, T* y, int32_t* argmax);
// grad_x = 0, then grad_x[argmax] += grad_y for each output; with `positive`, only for outputs
// where positive[o] > 0: the gradient of relu before the pooling, whose mask at the argmax is the
// pooled relu output itself (a convolution with a fused relu and max pooling).
template <class T>
void max_pool2d_backward(const Pool2dShape& s, const T* grad_y, const int32_t* argmax, T* grad_x,
                         const T* positive = nullptr);

// One plane of each, for a kernel that pools an output it has just computed while it is in cache
// (a convolution with a fused max pooling, kernels/cpu/conv.cpp). argmax may be null.
template <class T>
void max_pool2d_plane(const Pool2dShape& s, const T* x, T* y, int32_t* argmax);
template <class T>
void max_pool2d_backward_plane(const Pool2dShape& s, const T* grad_y, const int32_t* argmax,
                               T* grad_x, const T* positive = nullptr);

// Max pooling read from, and its gradient written to, the blocked layout of oneDNN's f32
// convolutions, [N, C / block, H, W, block] (nChw16c, nChw8c): what a convolution with a fused
// max pooling runs on its blocked output, with no reorder to NCHW; one vector holds a position's
// channels. y, argmax, grad_y and `positive` are NCHW as for max_pool2d_forward and
// max_pool2d_backward (argmax: h * in_w + w); s.planes = N * channels, channels a multiple of
// block, block <= 16. The backward needs windows that do not overlap (stride >= window, as the
// fused pooling's): it writes each window's positions once instead of adding.
void max_pool2d_forward_blocked(const Pool2dShape& s, int64_t channels, int64_t block,
                                const float* x, float* y, int32_t* argmax);
void max_pool2d_backward_blocked(const Pool2dShape& s, int64_t channels, int64_t block,
                                 const float* grad_y, const int32_t* argmax, float* grad_x,
                                 const float* positive = nullptr);
inline constexpr int64_t kMaxPoolBlock = 16;

// y = the sum of each window divided by the window's size clipped to the padded input
// (count_include_pad) or to the input (not count_include_pad), as PyTorch.
template <class T>
void avg_pool2d_forward(const Pool2dShape& s, bool count_include_pad, const T* x, T* y);
// grad_x = each output's grad_y spread evenly (the same divisor) over its window.
template <class T>
void avg_pool2d_backward(const Pool2dShape& s, bool count_include_pad, const T* grad_y, T* grad_x);

// Adaptive average pooling: output (oh, ow) averages rows [floor(oh * in_h / out_h),
// ceil((oh + 1) * in_h / out_h)) and columns likewise. Only planes, in_* and out_* of `s` are used.
template <class T>
void adaptive_avg_pool2d_forward(const Pool2dShape& s, const T* x, T* y);
template <class T>
void adaptive_avg_pool2d_backward(const Pool2dShape& s, const T* grad_y, T* grad_x);

// Resampling of the middle axis of data viewed as [outer, in_len, inner] to [outer, out_len,
// inner]. Padding (any mode) and nearest interpolation copy one source slice per output position;
// linear interpolation blends two. 2-d interpolation is two passes, the last axis first, which
// adds in PyTorch's order.

// y[o] = x[index[o]], or `fill` where index[o] is -1 (constant padding). A copy, so it serves
// every dtype (f32, f64, i64, u8, bool); the others are f32 and f64.
template <class T>
void gather_axis(const int64_t* index, int64_t outer, int64_t in_len, int64_t out_len,
                 int64_t inner, T fill, const T* x, T* y);
// grad_x = 0, then grad_x[index[o]] += grad_y[o] (none where index[o] is -1).
template <class T>
void gather_axis_backward(const int64_t* index, int64_t outer, int64_t in_len, int64_t out_len,
                          int64_t inner, const T* grad_y, T* grad_x);

// The two taps of each output position of a linear interpolation.
template <class T>
struct LerpTaps {
  const int64_t* index0;
  const int64_t* index1;
  const T* weight0;
  const T* weight1;
};
// y[o] = weight0[o] * x[index0[o]] + weight1[o] * x[index1[o]]
template <class T>
void lerp_axis(const LerpTaps<T>& taps, int64_t outer, int64_t in_len, int64_t out_len,
               int64_t inner, const T* x, T* y);
// grad_x = 0, then grad_x[index_k[o]] += weight_k[o] * grad_y[o] for both taps.
template <class T>
void lerp_axis_backward(const LerpTaps<T>& taps, int64_t outer, int64_t in_len, int64_t out_len,
                        int64_t inner, const T* grad_y, T* grad_x);

}  // namespace nabla::kernels::cpu
