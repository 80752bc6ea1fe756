// Normalization kernels (batch, group and layer norm) on contiguous data.
//
// Batch and group norm see x as [n, c, s] (s: the product of the spatial axes, 1 for [N, C]).
// Statistics are one pass of sums shifted by one sample of each set, so that
// E[(x-k)^2] - E[x-k]^2 does not cancel; they accumulate in short vector blocks of T added into
// double totals, as accurate as two passes for f32 data. The normalizing pass and the input
// gradient are each one fused affine pass (y = (x - centre) * scale + shift,
// dx = k * dy + p * (x - centre) + q with per-plane coefficients; centring first keeps f32 exact
// when |mean| >> std), so a training step reads x twice forward and x, dy twice backward. Every
// sum is split into chunks fixed by the shape alone and combined in order, so results do not
// depend on the thread count.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

// ---- batch norm: per channel over the n and s axes ----
// Mean and biased variance of each channel.
template <class T>
void channel_moments(const T* x, int64_t n, int64_t c, int64_t s, double* mean, double* var);
// sum_dy[ch] = sum(dy), sum_dy_xmu[ch] = sum(dy * (x - mean[ch])) over each channel.
template <class T>
void channel_grad_sums(const T* x, const T* dy, int64_t n, int64_t c, int64_t s, const double* mean,
                       double* sum_dy, double* sum_dy_xmu);

// ---- group and layer norm: per contiguous row ----
// Mean and biased variance of each of `rows` rows of `cols` contiguous elements.
template <class T>
void row_moments(const T* x, int64_t rows, int64_t cols, double* mean, double* var);
// For each plane i of s contiguous elements (planes = n * c): sum_dy[i] = sum(dy) and
// sum_dy_xmu[i] = sum(dy * (x - centre[i / planes_per_centre])).
template <class T>
void plane_grad_sums(const T* x, const T* dy, int64_t planes, int64_t s, const double* centre,
                     int64_t planes_per_centre, double* sum_dy, double* sum_dy_xmu);

// ---- fused affine passes over x as [n, c, s] ----
// The coefficients of plane (i, j) are at [i * coef_stride + j]: coef_stride 0 shares them across
// the batch (batch norm), coef_stride c gives each sample its own (group norm).
// y = (x - centre) * scale + shift
template <class T>
void plane_affine(const T* x, int64_t n, int64_t c, int64_t s, const T* centre, const T* scale,
                  const T* shift, int64_t coef_stride, T* y);
// dx = k * dy + p * (x - centre) + q
template <class T>
void plane_affine_backward(const T* dy, const T* x, int64_t n, int64_t c, int64_t s,
                           const T* centre, const T* k, const T* p, const T* q, int64_t coef_stride,
                           T* dx);

// ---- layer norm: rows of `cols`, gamma and beta per column ----
// y = (x - mean) * inv_std * gamma + beta per row; writes each row's mean and inv_std.
template <class T>
void layer_norm_forward(const T* x, int64_t rows, int64_t cols, const T* gamma, const T* beta,
                        double eps, T* y, double* mean, double* inv_std);
// From the saved mean and inv_std: dx (null: not needed) and dgamma, dbeta (null: not needed),
// the latter summed over the rows.
template <class T>
void layer_norm_backward(const T* x, const T* dy, int64_t rows, int64_t cols, const double* mean,
                         const double* inv_std, const T* gamma, T* dx, T* dgamma, T* dbeta);

}  // namespace nabla::kernels::cpu
