// Fused optimizer updates on raw contiguous arrays: one pass reads the parameter, its gradient and
// the optimizer state and writes them back, so a step touches each byte once instead of once per
// PyTorch sub-operation. The element formulas keep PyTorch 1.13's operation order so that f64
// results agree to rounding. Hyperparameters arrive in double and are converted to T once, as
// PyTorch converts Python scalars to the tensor's type. Also the reductions and in-place scalings
// behind gradient clipping.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

struct SgdStep {
  double lr = 0;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool first_step = false;  // the momentum buffer starts as a copy of the (decayed) gradient
};
// momentum_buffer: null when momentum == 0.
template <class T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buffer, const SgdStep& h);

struct AdamStep {
  double param_scale = 1;   // AdamW's decoupled decay: 1 - lr * weight_decay
  double weight_decay = 0;  // Adam's L2 term added to the gradient
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double step_size = 0;              // lr / (1 - beta1^t)
  double bias_correction2_sqrt = 1;  // sqrt(1 - beta2^t)
};
// max_exp_avg_sq: null unless amsgrad.
template <class T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                 const AdamStep& h);

struct RmspropStep {
  double lr = 0;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
};
// grad_avg: null unless centered; momentum_buffer: null unless momentum > 0.
template <class T>
void rmsprop_update(int64_t n, T* param, const T* grad, T* square_avg, T* grad_avg,
                    T* momentum_buffer, const RmspropStep& h);

struct AdagradStep {
  double lr = 0;  // already decayed: lr / (1 + (t - 1) * lr_decay)
  double weight_decay = 0;
  double eps = 1e-10;
};
template <class T>
void adagrad_update(int64_t n, T* param, const T* grad, T* sum, const AdagradStep& h);

// sum |x|^p accumulated in double over fixed chunks (the result does not depend on the thread
// count); p = infinity gives max |x|.
template <class T>
double abs_pow_sum(int64_t n, const T* x, double p);
// x *= factor
template <class T>
void scale(int64_t n, T* x, double factor);
// x = clamp(x, -limit, limit)
template <class T>
void clamp_abs(int64_t n, T* x, double limit);

}  // namespace nabla::kernels::cpu
