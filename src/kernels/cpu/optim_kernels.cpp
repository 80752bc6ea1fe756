#include "kernels/cpu/optim_kernels.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/loop.hpp"

namespace nabla::kernels::cpu {

namespace {

// body(begin, end) over [0, n): on the calling thread below kParallelThreshold, else in one
// contiguous block per thread (blocks start on 64-byte boundaries for the vector loads).
template <class Body>
void parallel_blocks(int64_t n, Body body) {
  if (n < kParallelThreshold) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t block = ((n + threads - 1) / threads + 15) / 16 * 16;
    const int64_t b = std::min(n, t * block), e = std::min(n, b + block);
    if (b < e) body(b, e);
  }
}

// The loop-invariant switches of an update become template flags, so each variant compiles to a
// branch-free, vectorized loop.
template <class T, bool kDecay, bool kMomentum, bool kNesterov, bool kFirst>
void sgd_block(int64_t b, int64_t e, T* param, const T* grad, T* buf, const SgdStep& h) {
  const T lr = static_cast<T>(h.lr), wd = static_cast<T>(h.weight_decay);
  const T momentum = static_cast<T>(h.momentum), keep = static_cast<T>(1 - h.dampening);
  for (int64_t i = b; i < e; ++i) {
    T d = grad[i];
    if constexpr (kDecay) d = d + wd * param[i];
    if constexpr (kMomentum) {
      T m;
      if constexpr (kFirst) {
        m = d;
      } else {
        m = buf[i] * momentum + keep * d;
      }
      buf[i] = m;
      if constexpr (kNesterov) {
        d = d + momentum * m;
      } else {
        d = m;
      }
    }
    param[i] = param[i] + (-lr) * d;
  }
}

template <class T, bool kDecay, bool kMomentum>
void sgd_dispatch(int64_t b, int64_t e, T* param, const T* grad, T* buf, const SgdStep& h) {
  if constexpr (!kMomentum) {
    sgd_block<T, kDecay, false, false, false>(b, e, param, grad, buf, h);
  } else if (h.nesterov) {
    if (h.first_step) {
      sgd_block<T, kDecay, true, true, true>(b, e, param, grad, buf, h);
    } else {
      sgd_block<T, kDecay, true, true, false>(b, e, param, grad, buf, h);
    }
  } else if (h.first_step) {
    sgd_block<T, kDecay, true, false, true>(b, e, param, grad, buf, h);
  } else {
    sgd_block<T, kDecay, true, false, false>(b, e, param, grad, buf, h);
  }
}

template <class T, bool kDecoupled, bool kL2, bool kAmsgrad>
void adam_block(int64_t b, int64_t e, T* __restrict__ param, const T* __restrict__ grad,
                T* __restrict__ exp_avg, T* __restrict__ exp_avg_sq, T* __restrict__ max_exp_avg_sq,
                const AdamStep& h) {
  const T scale = static_cast<T>(h.param_scale), wd = static_cast<T>(h.weight_decay);
  const T beta1 = static_cast<T>(h.beta1), beta2 = static_cast<T>(h.beta2);
  const T one_minus_beta1 = static_cast<T>(1 - h.beta1);
  const T one_minus_beta2 = static_cast<T>(1 - h.beta2);
  const T eps = static_cast<T>(h.eps), neg_step = static_cast<T>(-h.step_size);
  const T bc2_sqrt = static_cast<T>(h.bias_correction2_sqrt);
  for (int64_t i = b; i < e; ++i) {
    T p = param[i];
    if constexpr (kDecoupled) p = p * scale;
    T g = grad[i];
    if constexpr (kL2) g = g + wd * p;
    const T m = exp_avg[i] * beta1 + one_minus_beta1 * g;
    T v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    if constexpr (kAmsgrad) {
      v = std::max(max_exp_avg_sq[i], v);
      max_exp_avg_sq[i] = v;
    }
    const T denom = std::sqrt(v) / bc2_sqrt + eps;
    param[i] = p + neg_step * (m / denom);
  }
}

template <class T, bool kCentered, bool kMomentum>
void rmsprop_block(int64_t b, int64_t e, T* param, const T* grad, T* square_avg, T* grad_avg,
                   T* buf, const RmspropStep& h) {
  const T lr = static_cast<T>(h.lr), alpha = static_cast<T>(h.alpha);
  const T one_minus_alpha = static_cast<T>(1 - h.alpha), eps = static_cast<T>(h.eps);
  const T wd = static_cast<T>(h.weight_decay), momentum = static_cast<T>(h.momentum);
  const bool decay = h.weight_decay != 0;
  for (int64_t i = b; i < e; ++i) {
    T g = grad[i];
    if (decay) g = g + wd * param[i];
    const T sq = square_avg[i] * alpha + one_minus_alpha * g * g;
    square_avg[i] = sq;
    T avg;
    if constexpr (kCentered) {
      const T ga = grad_avg[i] * alpha + one_minus_alpha * g;
      grad_avg[i] = ga;
      avg = std::sqrt(sq - ga * ga);
    } else {
      avg = std::sqrt(sq);
    }
    avg = avg + eps;
    if constexpr (kMomentum) {
      const T m = buf[i] * momentum + g / avg;
      buf[i] = m;
      param[i] = param[i] + (-lr) * m;
    } else {
      param[i] = param[i] + (-lr) * (g / avg);
    }
  }
}

}  // namespace

template <class T>
void sgd_update(int64_t n, T* param, const T* grad, T* momentum_buffer, const SgdStep& h) {
  // PyTorch skips the decay term when weight_decay is 0 (0 * inf would be nan).
  const bool decay = h.weight_decay != 0, momentum = momentum_buffer != nullptr;
  parallel_blocks(n, [&](int64_t b, int64_t e) {
    if (decay && momentum) {
      sgd_dispatch<T, true, true>(b, e, param, grad, momentum_buffer, h);
    } else if (decay) {
      sgd_dispatch<T, true, false>(b, e, param, grad, momentum_buffer, h);
    } else if (momentum) {
      sgd_dispatch<T, false, true>(b, e, param, grad, momentum_buffer, h);
    } else {
      sgd_dispatch<T, false, false>(b, e, param, grad, momentum_buffer, h);
    }
  });
}

template <class T>
void adam_update(int64_t n, T* param, const T* grad, T* exp_avg, T* exp_avg_sq, T* max_exp_avg_sq,
                 const AdamStep& h) {
  const bool decoupled = h.param_scale != 1, l2 = h.weight_decay != 0;
  const bool amsgrad = max_exp_avg_sq != nullptr;
  parallel_blocks(n, [&](int64_t b, int64_t e) {
    auto run = [&]<bool kDecoupled, bool kL2>() {
      if (amsgrad) {
        adam_block<T, kDecoupled, kL2, true>(b, e, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq,
                                             h);
      } else {
        adam_block<T, kDecoupled, kL2, false>(b, e, param, grad, exp_avg, exp_avg_sq,
                                              max_exp_avg_sq, h);
      }
    };
    if (decoupled && l2) {
      run.template operator()<true, true>();
    } else if (decoupled) {
      run.template operator()<true, false>();
    } else if (l2) {
      run.template operator()<false, true>();
    } else {
      run.template operator()<false, false>();
    }
  });
}

template <class T>
void rmsprop_update(int64_t n, T* param, const T* grad, T* square_avg, T* grad_avg,
                    T* momentum_buffer, const RmspropStep& h) {
  parallel_blocks(n, [&](int64_t b, int64_t e) {
    if (grad_avg && momentum_buffer) {
      rmsprop_block<T, true, true>(b, e, param, grad, square_avg, grad_avg, momentum_buffer, h);
    } else if (grad_avg) {
      rmsprop_block<T, true, false>(b, e, param, grad, square_avg, grad_avg, momentum_buffer, h);
    } else if (momentum_buffer) {
      rmsprop_block<T, false, true>(b, e, param, grad, square_avg, grad_avg, momentum_buffer, h);
    } else {
      rmsprop_block<T, false, false>(b, e, param, grad, square_avg, grad_avg, momentum_buffer, h);
    }
  });
}

template <class T>
void adagrad_update(int64_t n, T* param, const T* grad, T* sum, const AdagradStep& h) {
  const T lr = static_cast<T>(h.lr), wd = static_cast<T>(h.weight_decay);
  const T eps = static_cast<T>(h.eps);
  const bool decay = h.weight_decay != 0;
  parallel_blocks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T g = grad[i];
      if (decay) g = g + wd * param[i];
      const T s = sum[i] + g * g;
      sum[i] = s;
      param[i] = param[i] + (-lr) * (g / (std::sqrt(s) + eps));
    }
  });
}

template <class T>
double abs_pow_sum(int64_t n, const T* x, double p) {
  // Fixed chunks, each summed by one thread, then the partials in order: the same result for
  // any thread count.
  constexpr int64_t kChunk = 1 << 13;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  const bool is_max = std::isinf(p);
  std::vector<double> partial(std::max<int64_t>(chunks, 1), 0.0);
  parallel_for_if(n >= kParallelThreshold, chunks, [&](int64_t c) {
    const int64_t b = c * kChunk, e = std::min(n, b + kChunk);
    double acc = 0;
    if (is_max) {
      for (int64_t i = b; i < e; ++i) acc = std::max(acc, std::abs(static_cast<double>(x[i])));
    } else if (p == 2) {
      for (int64_t i = b; i < e; ++i) acc += static_cast<double>(x[i]) * x[i];
    } else if (p == 1) {
      for (int64_t i = b; i < e; ++i) acc += std::abs(static_cast<double>(x[i]));
    } else {
      for (int64_t i = b; i < e; ++i) acc += std::pow(std::abs(static_cast<double>(x[i])), p);
    }
    partial[c] = acc;
  });
  double total = 0;
  for (double v : partial) total = is_max ? std::max(total, v) : total + v;
  return total;
}

template <class T>
void scale(int64_t n, T* x, double factor) {
  const T f = static_cast<T>(factor);
  parallel_blocks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] = x[i] * f;
  });
}

template <class T>
void clamp_abs(int64_t n, T* x, double limit) {
  const T hi = static_cast<T>(limit), lo = -hi;
  parallel_blocks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) x[i] = std::min(std::max(x[i], lo), hi);
  });
}

#define NABLA_INSTANTIATE_OPTIM_KERNELS(T)                                                \
  template void sgd_update<T>(int64_t, T*, const T*, T*, const SgdStep&);                 \
  template void adam_update<T>(int64_t, T*, const T*, T*, T*, T*, const AdamStep&);       \
  template void rmsprop_update<T>(int64_t, T*, const T*, T*, T*, T*, const RmspropStep&); \
  template void adagrad_update<T>(int64_t, T*, const T*, T*, const AdagradStep&);         \
  template double abs_pow_sum<T>(int64_t, const T*, double);                              \
  template void scale<T>(int64_t, T*, double);                                            \
  template void clamp_abs<T>(int64_t, T*, double);

NABLA_INSTANTIATE_OPTIM_KERNELS(float)
NABLA_INSTANTIATE_OPTIM_KERNELS(double)
#undef NABLA_INSTANTIATE_OPTIM_KERNELS

}  // namespace nabla::kernels::cpu
