#include "kernels/cpu/loss.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/loop.hpp"
#include "kernels/cpu/softmax.hpp"

namespace nabla::kernels::cpu {

namespace {

// ---------------------------------------------------------------- pointwise losses

// log(1 + exp(-x)) without overflow.
template <class T>
T softplus_neg(T x) {
  return std::log1p(std::exp(-std::abs(x))) + std::max(-x, T(0));
}

template <class T>
T sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <PointwiseLoss K, class T>
T loss_value(T x, T t, T p, T delta) {
  const T d = x - t;
  if constexpr (K == PointwiseLoss::mse) {
    return d * d;
  } else if constexpr (K == PointwiseLoss::l1) {
    return std::abs(d);
  } else if constexpr (K == PointwiseLoss::huber) {
    const T a = std::abs(d);
    return a < delta ? T(0.5) * d * d : delta * (a - T(0.5) * delta);
  } else {  // (1 - t) x + (1 + (p - 1) t) log(1 + exp(-x)), in its stable form
    return (T(1) - t) * x + (T(1) + (p - T(1)) * t) * softplus_neg(x);
  }
}

template <class T>
struct LossGrads {
  T x, t, p;
};

template <PointwiseLoss K, class T>
LossGrads<T> loss_grads(T x, T t, T p, T delta) {
  const T d = x - t;
  if constexpr (K == PointwiseLoss::mse) {
    return {T(2) * d, T(-2) * d, T(0)};
  } else if constexpr (K == PointwiseLoss::l1) {
    const T s = T((d > 0) - (d < 0));
    return {s, -s, T(0)};
  } else if constexpr (K == PointwiseLoss::huber) {
    const T c = std::clamp(d, -delta, delta);
    return {c, -c, T(0)};
  } else {
    const T sp = softplus_neg(x);
    return {(p * t + T(1) - t) * sigmoid(x) - p * t, (p - T(1)) * sp - x, t * sp};
  }
}

// Calls f.template operator()<K>() with the loss kind as a compile-time constant.
template <class F>
void with_kind(PointwiseLoss kind, F&& f) {
  switch (kind) {
    case PointwiseLoss::mse:
      return f.template operator()<PointwiseLoss::mse>();
    case PointwiseLoss::l1:
      return f.template operator()<PointwiseLoss::l1>();
    case PointwiseLoss::huber:
      return f.template operator()<PointwiseLoss::huber>();
    case PointwiseLoss::bce_with_logits:
      return f.template operator()<PointwiseLoss::bce_with_logits>();
  }
}

// Elements per partial sum: the split into chunks is fixed, whatever the thread count.
constexpr int64_t kSumChunk = 4096;

}  // namespace

template <class T>
void pointwise_loss(const PointwiseLossArgs& args, const T* x, const T* t, const T* pos_weight,
                    T* out) {
  const T delta = static_cast<T>(args.delta);
  const int64_t n = args.n;
  with_kind(args.kind, [&]<PointwiseLoss K>() {
    parallel_for_if(n >= kParallelThreshold, n, [&](int64_t i) {
      out[i] = loss_value<K>(x[i], t[i], pos_weight ? pos_weight[i] : T(1), delta);
    });
  });
}

template <class T>
double pointwise_loss_sum(const PointwiseLossArgs& args, const T* x, const T* t,
                          const T* pos_weight) {
  const T delta = static_cast<T>(args.delta);
  const int64_t n = args.n, chunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  with_kind(args.kind, [&]<PointwiseLoss K>() {
    parallel_for_if(n >= kParallelThreshold, chunks, [&](int64_t c) {
      double s = 0;
      for (int64_t i = c * kSumChunk, e = std::min(n, i + kSumChunk); i < e; ++i)
        s += static_cast<double>(
            loss_value<K>(x[i], t[i], pos_weight ? pos_weight[i] : T(1), delta));
      partial[c] = s;
    });
  });
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

template <class T>
void pointwise_loss_backward(const PointwiseLossArgs& args, const T* x, const T* t,
                             const T* pos_weight, const T* g, int64_t g_stride, T scale, T* grad_x,
                             T* grad_t, T* grad_pos_weight) {
  const T delta = static_cast<T>(args.delta);
  const int64_t n = args.n;
  with_kind(args.kind, [&]<PointwiseLoss K>() {
    parallel_for_if(n >= kParallelThreshold, n, [&](int64_t i) {
      const LossGrads<T> d = loss_grads<K>(x[i], t[i], pos_weight ? pos_weight[i] : T(1), delta);
      const T s = scale * g[i * g_stride];
      if (grad_x) grad_x[i] = d.x * s;
      if (grad_t) grad_t[i] = d.t * s;
      if (grad_pos_weight) grad_pos_weight[i] = d.p * s;
    });
  });
}

// ---------------------------------------------------------------- class-index losses

namespace {

// Scores per block of rows handled together: the block's logits and probabilities stay in L2
// between the softmax and the loss that reads them back.
constexpr int64_t kClassBlock = 8192;

template <class T>
T class_weight(const ClassLossArgs& args, int64_t c) {
  return args.weight ? static_cast<const T*>(args.weight)[c] : T(1);
}

template <class T>
double weight_sum(const ClassLossArgs& args) {
  double s = 0;
  for (int64_t c = 0; c < args.classes; ++c) s += class_weight<T>(args, c);
  return s;
}

// Calls f(first_outer, end_outer) over blocks of outer indices, on threads when large.
template <class F>
void for_outer_blocks(const ClassLossArgs& args, F&& f) {
  const int64_t per_outer = std::max<int64_t>(args.classes * args.inner, 1);
  const int64_t block = std::max<int64_t>(1, kClassBlock / per_outer);
  const int64_t blocks = (args.outer + block - 1) / block;
  const bool threads = args.outer * per_outer >= kParallelThreshold && blocks > 1;
  parallel_for_if(threads, blocks,
                  [&](int64_t b) { f(b * block, std::min(args.outer, (b + 1) * block)); });
}

// The loss of one row whose logits and probabilities are read with stride `inner`. The
// log-sum-exp comes from the largest probability, lse = x_m - log p_m: p_m >= 1/C, so its log is
// accurate and no second exponential pass is needed.
template <class T>
double cross_entropy_row(const ClassLossArgs& args, const T* x, const T* p, int64_t y,
                         double sum_weights) {
  const int64_t C = args.classes, stride = args.inner;
  const double eps = args.label_smoothing;
  int64_t m = 0;
  double weighted_logits = 0;
  for (int64_t c = 0; c < C; ++c) {
    const T v = x[c * stride];
    if (v > x[m * stride]) m = c;
    if (eps > 0) weighted_logits += static_cast<double>(class_weight<T>(args, c)) * v;
  }
  const double lse =
      static_cast<double>(x[m * stride]) - std::log(static_cast<double>(p[m * stride]));
  double loss = (1 - eps) * class_weight<T>(args, y) * (lse - static_cast<double>(x[y * stride]));
  if (eps > 0) loss += eps / static_cast<double>(C) * (sum_weights * lse - weighted_logits);
  return loss;
}

}  // namespace

template <class T>
void softmax_cross_entropy(const ClassLossArgs& args, const T* logits, T* probs, double* row_loss) {
  const int64_t C = args.classes, inner = args.inner, per_outer = C * inner;
  const double sum_weights = weight_sum<T>(args);
  for_outer_blocks(args, [&](int64_t begin, int64_t end) {
    softmax_axis(logits + begin * per_outer, end - begin, C, inner, probs + begin * per_outer);
    for (int64_t o = begin; o < end; ++o) {
      for (int64_t s = 0; s < inner; ++s) {
        const int64_t r = o * inner + s, y = args.labels[r];
        row_loss[r] = y == args.ignore_index
                          ? 0.0
                          : cross_entropy_row(args, logits + o * per_outer + s,
                                              probs + o * per_outer + s, y, sum_weights);
      }
    }
  });
}

template <class T>
void softmax_cross_entropy_backward(const ClassLossArgs& args, const T* probs, const T* scale,
                                    int64_t scale_stride, T* grad) {
  const int64_t C = args.classes, inner = args.inner, per_outer = C * inner;
  const T eps = static_cast<T>(args.label_smoothing);
  const T smooth = eps / static_cast<T>(C);
  const T sum_weights = static_cast<T>(weight_sum<T>(args));
  for_outer_blocks(args, [&](int64_t begin, int64_t end) {
    // Per position: the factor of p (a) and the upstream gradient (g), zero on ignored rows.
    std::vector<T> a(inner), g(inner);
    for (int64_t o = begin; o < end; ++o) {
      const int64_t* labels = args.labels + o * inner;
      for (int64_t s = 0; s < inner; ++s) {
        const bool ignored = labels[s] == args.ignore_index;
        g[s] = ignored ? T(0) : scale[(o * inner + s) * scale_stride];
        a[s] =
            ignored ? T(0) : (T(1) - eps) * class_weight<T>(args, labels[s]) + smooth * sum_weights;
      }
      const T* p = probs + o * per_outer;
      T* out = grad + o * per_outer;
      for (int64_t c = 0; c < C; ++c) {
        const T smooth_c = smooth * class_weight<T>(args, c);
#pragma omp simd
        for (int64_t s = 0; s < inner; ++s)
          out[c * inner + s] = g[s] * (p[c * inner + s] * a[s] - smooth_c);
      }
      for (int64_t s = 0; s < inner; ++s) {
        const int64_t y = labels[s];
        if (y == args.ignore_index) {
          for (int64_t c = 0; c < C; ++c) out[c * inner + s] = T(0);
        } else {
          out[y * inner + s] -= g[s] * (T(1) - eps) * class_weight<T>(args, y);
        }
      }
    }
  });
}

template <class T>
void nll(const ClassLossArgs& args, const T* log_probs, double* row_loss) {
  const int64_t inner = args.inner, per_outer = args.classes * inner;
  for (int64_t o = 0; o < args.outer; ++o) {
    for (int64_t s = 0; s < inner; ++s) {
      const int64_t r = o * inner + s, y = args.labels[r];
      row_loss[r] = y == args.ignore_index
                        ? 0.0
                        : -static_cast<double>(class_weight<T>(args, y)) *
                              static_cast<double>(log_probs[o * per_outer + y * inner + s]);
    }
  }
}

template <class T>
void nll_backward(const ClassLossArgs& args, const T* scale, int64_t scale_stride, T* grad) {
  const int64_t inner = args.inner, per_outer = args.classes * inner;
  std::fill(grad, grad + args.outer * per_outer, T(0));
  for (int64_t o = 0; o < args.outer; ++o) {
    for (int64_t s = 0; s < inner; ++s) {
      const int64_t r = o * inner + s, y = args.labels[r];
      if (y != args.ignore_index)
        grad[o * per_outer + y * inner + s] = -class_weight<T>(args, y) * scale[r * scale_stride];
    }
  }
}

#define NABLA_INSTANTIATE_LOSS(T)                                                                  \
  template void pointwise_loss<T>(const PointwiseLossArgs&, const T*, const T*, const T*, T*);     \
  template double pointwise_loss_sum<T>(const PointwiseLossArgs&, const T*, const T*, const T*);   \
  template void pointwise_loss_backward<T>(const PointwiseLossArgs&, const T*, const T*, const T*, \
                                           const T*, int64_t, T, T*, T*, T*);                      \
  template void softmax_cross_entropy<T>(const ClassLossArgs&, const T*, T*, double*);             \
  template void softmax_cross_entropy_backward<T>(const ClassLossArgs&, const T*, const T*,        \
                                                  int64_t, T*);                                    \
  template void nll<T>(const ClassLossArgs&, const T*, double*);                                   \
  template void nll_backward<T>(const ClassLossArgs&, const T*, int64_t, T*);
NABLA_INSTANTIATE_LOSS(float)
NABLA_INSTANTIATE_LOSS(double)
#undef NABLA_INSTANTIATE_LOSS

}  // namespace nabla::kernels::cpu
