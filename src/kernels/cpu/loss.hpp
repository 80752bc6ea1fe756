// Loss kernels on contiguous data. Two families:
// - pointwise losses (mse, l1, huber, binary cross-entropy with logits): one pass computing the
//   per-element loss or its sum, and one pass computing the gradients of input, target and
//   pos_weight together;
// - class-index losses over scores viewed as [outer, classes, inner] (inner = the product of the
//   spatial axes after the class axis, 1 for [N, C]); a "row" is one (outer, inner) position and
//   labels are [outer, inner]. Softmax cross-entropy is fused: one visit per block of rows
//   computes the softmax probabilities (kept for the backward) and the loss.
// Sums run over fixed chunks added in a fixed order, so results do not depend on the thread count.
// Labels are assumed valid (checked by the op, which can name the offending one).
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

enum class PointwiseLoss : uint8_t { mse, l1, huber, bce_with_logits };

struct PointwiseLossArgs {
  PointwiseLoss kind;
  double delta = 1.0;  // huber
  int64_t n = 0;       // elements
};

// out[i] = loss(x[i], t[i]) (pos_weight: per element, or null for 1; bce_with_logits only).
template <class T>
void pointwise_loss(const PointwiseLossArgs& args, const T* x, const T* t, const T* pos_weight,
                    T* out);
// sum_i loss(x[i], t[i]), accumulated in double.
template <class T>
double pointwise_loss_sum(const PointwiseLossArgs& args, const T* x, const T* t,
                          const T* pos_weight);
// grad_*[i] = d loss(x[i], t[i]) / d* * scale * g[i * g_stride] (g_stride 0: one scalar g).
// Null outputs are skipped; grad_pos_weight is per element (the op sums it over broadcast axes).
template <class T>
void pointwise_loss_backward(const PointwiseLossArgs& args, const T* x, const T* t,
                             const T* pos_weight, const T* g, int64_t g_stride, T scale, T* grad_x,
                             T* grad_t, T* grad_pos_weight);

struct ClassLossArgs {
  int64_t outer = 0, classes = 0, inner = 1;
  const int64_t* labels = nullptr;  // [outer, inner]
  const void* weight = nullptr;     // [classes] of the scores' dtype, or null for all ones
  int64_t ignore_index = -100;      // rows with this label contribute nothing
  double label_smoothing = 0.0;     // cross-entropy only
};

// Softmax cross-entropy from logits: probs = softmax over the class axis, and for each row
//   row_loss = (1 - eps) * w[y] * -log p[y] + eps / C * sum_c w[c] * -log p[c]
// (0 for ignored rows), as torch.nn.functional.cross_entropy with label smoothing eps.
template <class T>
void softmax_cross_entropy(const ClassLossArgs& args, const T* logits, T* probs, double* row_loss);
// grad = g_r * (p * a_r - eps / C * w - (1 - eps) * w[y] * onehot(y)), a_r = (1 - eps) * w[y] +
// eps / C * sum(w), with g_r = scale[r * scale_stride]; 0 on ignored rows.
template <class T>
void softmax_cross_entropy_backward(const ClassLossArgs& args, const T* probs, const T* scale,
                                    int64_t scale_stride, T* grad);

// Negative log-likelihood: row_loss = -w[y] * log_probs[y] (0 for ignored rows).
template <class T>
void nll(const ClassLossArgs& args, const T* log_probs, double* row_loss);
// grad = -w[y] * g_r at the label of each row, 0 elsewhere.
template <class T>
void nll_backward(const ClassLossArgs& args, const T* scale, int64_t scale_stride, T* grad);

}  // namespace nabla::kernels::cpu
