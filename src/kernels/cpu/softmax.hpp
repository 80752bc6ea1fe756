// Softmax-family kernels on contiguous data, numerically stable (the maximum of each slice is
// subtracted before exponentiating). The `_rows` kernels normalize each row of a [rows, cols]
// matrix (the last axis; one visit per row, while it is in cache). The `_axis` kernels normalize
// the middle axis of data viewed as [outer, dim, inner], vectorized across `inner`, so that no
// axis needs permuting to the end first; with inner == 1 they are the row kernels.
// Also used by the fused softmax cross-entropy loss.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

// out[r, :] = softmax(x[r, :])
template <class T>
void softmax_rows(const T* x, int64_t rows, int64_t cols, T* out);
// out[r, :] = log_softmax(x[r, :]) = x[r, :] - logsumexp(x[r, :])
template <class T>
void log_softmax_rows(const T* x, int64_t rows, int64_t cols, T* out);
// out[r] = log(sum_c exp(x[r, c])), computed as max + log(sum exp(x - max))
template <class T>
void logsumexp_rows(const T* x, int64_t rows, int64_t cols, T* out);

// Softmax / log-softmax over the middle axis of x viewed as [outer, dim, inner].
template <class T>
void softmax_axis(const T* x, int64_t outer, int64_t dim, int64_t inner, T* out);
template <class T>
void log_softmax_axis(const T* x, int64_t outer, int64_t dim, int64_t inner, T* out);

// Backward, from the saved output y and the output gradient g (both [outer, dim, inner]):
//   softmax:      grad_x = y * (g - sum(g * y, axis))
//   log_softmax:  grad_x = g - exp(y) * sum(g, axis)
template <class T>
void softmax_backward_axis(const T* y, const T* g, int64_t outer, int64_t dim, int64_t inner,
                           T* grad_x);
template <class T>
void log_softmax_backward_axis(const T* y, const T* g, int64_t outer, int64_t dim, int64_t inner,
                               T* grad_x);

}  // namespace nabla::kernels::cpu
