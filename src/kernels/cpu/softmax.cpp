#include "kernels/cpu/softmax.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/loop.hpp"
#include "kernels/cpu/intrinsics.hpp"
#include "kernels/cpu/vector_math.hpp"

namespace nabla::kernels::cpu {

namespace {

// Packs of T as wide as the registers (vector_math.hpp); the f32 exp is exp_pack there.
template <class T>
struct Pack {
  typedef T V __attribute__((vector_size(kVectorBytes)));
  static constexpr int64_t kLanes = kVectorBytes / sizeof(T);

  static V broadcast(T x) { return V{} + x; }
  // `lanes` elements from p; the remaining lanes hold `fill`. With AVX-512 a partial pack is one
  // masked load or store: a variable-size copy through memory is a library call and then a
  // store-forwarding stall, which made a 256 x 10 softmax (a 10-class output's) take 24 us, ~90 ns
  // per row.
  static V load(const T* p, int64_t lanes, T fill = 0) {
#if defined(__AVX512F__)
    if (lanes < kLanes) {
      const auto mask = static_cast<uint16_t>((1u << lanes) - 1);
      if constexpr (sizeof(T) == 4) {
        return std::bit_cast<V>(
            _mm512_mask_loadu_ps(std::bit_cast<__m512>(broadcast(fill)), mask, p));
      } else {
        return std::bit_cast<V>(_mm512_mask_loadu_pd(std::bit_cast<__m512d>(broadcast(fill)),
                                                     static_cast<__mmask8>(mask), p));
      }
    }
#endif
    V v = lanes == kLanes ? V{} : broadcast(fill);
    std::memcpy(&v, p, lanes * sizeof(T));
    return v;
  }
  static void store(T* p, V v, int64_t lanes) {
#if defined(__AVX512F__)
    if (lanes < kLanes) {
      const auto mask = static_cast<uint16_t>((1u << lanes) - 1);
      if constexpr (sizeof(T) == 4) {
        _mm512_mask_storeu_ps(p, mask, std::bit_cast<__m512>(v));
      } else {
        _mm512_mask_storeu_pd(p, static_cast<__mmask8>(mask), std::bit_cast<__m512d>(v));
      }
      return;
    }
#endif
    std::memcpy(p, &v, lanes * sizeof(T));
  }
  static V max(V a, V b) { return a > b ? a : b; }  // NaN in a is dropped: exp(NaN) flags it later
  static T sum(V v) {
    T s = 0;
    for (int64_t i = 0; i < kLanes; ++i) s += v[i];
    return s;
  }
  static T max_lane(V v) {
    T m = v[0];
    for (int64_t i = 1; i < kLanes; ++i) m = v[i] > m ? v[i] : m;
    return m;
  }
};

using cpu::exp_pack;  // the f32 one (vector_math.hpp), beside the f64 one below
// f64 is the precision path (gradient checks): the library's exp, lane by lane.
inline Pack<double>::V exp_pack(Pack<double>::V x) {
  for (int64_t i = 0; i < Pack<double>::kLanes; ++i) x[i] = std::exp(x[i]);
  return x;
}

// Calls f(i, lanes) over [0, n) in packs; only the last may have fewer lanes.
template <class T, class F>
void for_packs(int64_t n, F&& f) {
  constexpr int64_t kLanes = Pack<T>::kLanes;
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) f(i, kLanes);
  if (i < n) f(i, n - i);
}

constexpr float kInf = std::numeric_limits<float>::infinity();

// Inner blocks of the [outer, dim, inner] kernels: accumulators for this many columns stay in L1.
constexpr int64_t kBlock = 256;

bool worth_threads(int64_t total, int64_t units) {
  return total >= kParallelThreshold && units > 1;
}

template <class T>
T row_max(const T* x, int64_t n) {
  using P = Pack<T>;
  typename P::V m = P::broadcast(-kInf);
  for_packs<T>(n, [&](int64_t i, int64_t lanes) { m = P::max(P::load(x + i, lanes, -kInf), m); });
  return P::max_lane(m);
}

// Sum of exp(x - shift); with `out`, also stores the exponentials there.
template <class T>
T sum_exp(const T* x, int64_t n, T shift, T* out) {
  using P = Pack<T>;
  typename P::V acc{};
  for_packs<T>(n, [&](int64_t i, int64_t lanes) {
    // Padding lanes read -inf, whose exp adds 0.
    const typename P::V e = exp_pack(P::load(x + i, lanes, -kInf) - shift);
    if (out) P::store(out + i, e, lanes);
    acc += e;
  });
  return P::sum(acc);
}

// One row, start to finish while it is in cache: max, exponentials and their sum, normalize.
template <bool kLog, class T>
void normalize_row(const T* x, int64_t n, T* out) {
  const T m = row_max(x, n);
  if constexpr (kLog) {
    // (x - m) - log(s), not x - (m + log(s)): the entries near the maximum, the ones that matter,
    // then do not lose the low bits of log(s) to the rounding of a large m + log(s).
    const T log_sum = std::log(sum_exp<T>(x, n, m, nullptr));
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = (x[i] - m) - log_sum;
  } else {
    const T inv = T(1) / sum_exp(x, n, m, out);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] *= inv;
  }
}

// Rows narrower than a pack (a 10-class output's), a block at a time: row by row, each row's
// exponentials are one short dependency chain, and the chains of successive rows barely overlap
// (a 256 x 10 softmax took ~60 ns per row). Here the shifted values x - max of the whole block go
// through exp as one flat run of full packs. Each row's sum is still taken left to right, as
// normalize_row's single pack sums its lanes, so the results are the same bits.
template <bool kLog, class T>
void normalize_narrow_rows(const T* x, int64_t rows, int64_t cols, T* out) {
  using P = Pack<T>;
  constexpr int64_t kBlockValues = 2048;
  const int64_t block_rows = std::max<int64_t>(1, kBlockValues / cols);
  T e[kBlockValues + P::kLanes];
  for (int64_t r0 = 0; r0 < rows; r0 += block_rows) {
    const int64_t n = std::min(block_rows, rows - r0), values = n * cols;
    const T* xb = x + r0 * cols;
    T* ob = out + r0 * cols;
    for (int64_t r = 0; r < n; ++r) {
      T m = -kInf;
      for (int64_t c = 0; c < cols; ++c) m = xb[r * cols + c] > m ? xb[r * cols + c] : m;
      for (int64_t c = 0; c < cols; ++c) ob[r * cols + c] = xb[r * cols + c] - m;
    }
    for_packs<T>(values, [&](int64_t i, int64_t lanes) {
      P::store(e + i, exp_pack(P::load(ob + i, lanes)), lanes);
    });
    for (int64_t r = 0; r < n; ++r) {
      T sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += e[r * cols + c];
      T* orow = ob + r * cols;
      if constexpr (kLog) {
        const T log_sum = std::log(sum);
        for (int64_t c = 0; c < cols; ++c) orow[c] -= log_sum;
      } else {
        const T inv = T(1) / sum;
        for (int64_t c = 0; c < cols; ++c) orow[c] = e[r * cols + c] * inv;
      }
    }
  }
}

template <bool kLog, class T>
void normalize_rows(const T* x, int64_t rows, int64_t cols, T* out) {
  if (cols < Pack<T>::kLanes) {
    const int64_t threads = worth_threads(rows * cols, rows) ? omp_get_max_threads() : 1;
    parallel_for_if(threads > 1, threads, [&](int64_t t) {
      const int64_t begin = rows * t / threads, end = rows * (t + 1) / threads;
      normalize_narrow_rows<kLog>(x + begin * cols, end - begin, cols, out + begin * cols);
    });
    return;
  }
  parallel_for_if(worth_threads(rows * cols, rows), rows,
                  [&](int64_t r) { normalize_row<kLog>(x + r * cols, cols, out + r * cols); });
}

// [outer, dim, inner] with inner > 1: each unit is one outer index and a block of inner columns;
// every loop runs along contiguous columns, so no axis is permuted to the end first.
template <bool kLog, class T>
void normalize_axis(const T* x, int64_t outer, int64_t dim, int64_t inner, T* out) {
  if (inner == 1) return normalize_rows<kLog>(x, outer, dim, out);
  using P = Pack<T>;
  const int64_t blocks = (inner + kBlock - 1) / kBlock, units = outer * blocks;
  parallel_for_if(worth_threads(outer * dim * inner, units), units, [&](int64_t u) {
    const int64_t o = u / blocks, b = (u % blocks) * kBlock, w = std::min(kBlock, inner - b);
    const T* xs = x + o * dim * inner + b;
    T* os = out + o * dim * inner + b;
    T m[kBlock], s[kBlock];
    std::fill_n(m, w, -kInf);
    std::fill_n(s, w, T(0));
    for (int64_t d = 0; d < dim; ++d) {
      for_packs<T>(w, [&](int64_t k, int64_t lanes) {
        P::store(m + k, P::max(P::load(xs + d * inner + k, lanes), P::load(m + k, lanes)), lanes);
      });
    }
    for (int64_t d = 0; d < dim; ++d) {
      for_packs<T>(w, [&](int64_t k, int64_t lanes) {
        const auto e = exp_pack(P::load(xs + d * inner + k, lanes) - P::load(m + k, lanes));
        if constexpr (!kLog) P::store(os + d * inner + k, e, lanes);
        P::store(s + k, P::load(s + k, lanes) + e, lanes);
      });
    }
    for (int64_t k = 0; k < w; ++k) s[k] = kLog ? std::log(s[k]) : T(1) / s[k];
    for (int64_t d = 0; d < dim; ++d) {
      const T* row = xs + d * inner;
      T* orow = os + d * inner;
#pragma omp simd
      for (int64_t k = 0; k < w; ++k) orow[k] = kLog ? (row[k] - m[k]) - s[k] : orow[k] * s[k];
    }
  });
}

// The two backward formulas share one shape: a sum along the axis, then an elementwise update.
//   softmax:      s = sum(g * y),  grad_x = y * (g - s)
//   log_softmax:  s = sum(g),      grad_x = g - exp(y) * s
template <bool kLog, class V>
V backward_value(V y, V g, V s) {
  if constexpr (kLog) {
    return g - exp_pack(y) * s;
  } else {
    return y * (g - s);
  }
}

template <bool kLog, class T>
void backward_rows(const T* y, const T* g, int64_t rows, int64_t cols, T* grad_x) {
  using P = Pack<T>;
  parallel_for_if(worth_threads(rows * cols, rows), rows, [&](int64_t r) {
    const T* yr = y + r * cols;
    const T* gr = g + r * cols;
    T* out = grad_x + r * cols;
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < cols; ++i) s += kLog ? gr[i] : gr[i] * yr[i];
    const typename P::V sv = P::broadcast(s);
    for_packs<T>(cols, [&](int64_t i, int64_t lanes) {
      P::store(out + i, backward_value<kLog>(P::load(yr + i, lanes), P::load(gr + i, lanes), sv),
               lanes);
    });
  });
}

template <bool kLog, class T>
void backward_axis(const T* y, const T* g, int64_t outer, int64_t dim, int64_t inner, T* grad_x) {
  if (inner == 1) return backward_rows<kLog>(y, g, outer, dim, grad_x);
  using P = Pack<T>;
  const int64_t blocks = (inner + kBlock - 1) / kBlock, units = outer * blocks;
  parallel_for_if(worth_threads(outer * dim * inner, units), units, [&](int64_t u) {
    const int64_t o = u / blocks, b = (u % blocks) * kBlock, w = std::min(kBlock, inner - b);
    const int64_t base = o * dim * inner + b;
    T s[kBlock];
    std::fill_n(s, w, T(0));
    for (int64_t d = 0; d < dim; ++d) {
      const T* yr = y + base + d * inner;
      const T* gr = g + base + d * inner;
#pragma omp simd
      for (int64_t k = 0; k < w; ++k) s[k] += kLog ? gr[k] : gr[k] * yr[k];
    }
    for (int64_t d = 0; d < dim; ++d) {
      const int64_t at = base + d * inner;
      for_packs<T>(w, [&](int64_t k, int64_t lanes) {
        const auto value = backward_value<kLog>(P::load(y + at + k, lanes),
                                                P::load(g + at + k, lanes), P::load(s + k, lanes));
        P::store(grad_x + at + k, value, lanes);
      });
    }
  });
}

}  // namespace

template <class T>
void softmax_rows(const T* x, int64_t rows, int64_t cols, T* out) {
  normalize_rows<false>(x, rows, cols, out);
}
template <class T>
void log_softmax_rows(const T* x, int64_t rows, int64_t cols, T* out) {
  normalize_rows<true>(x, rows, cols, out);
}
template <class T>
void logsumexp_rows(const T* x, int64_t rows, int64_t cols, T* out) {
  parallel_for_if(worth_threads(rows * cols, rows), rows, [&](int64_t r) {
    const T m = row_max(x + r * cols, cols);
    out[r] = m + std::log(sum_exp<T>(x + r * cols, cols, m, nullptr));
  });
}
template <class T>
void softmax_axis(const T* x, int64_t outer, int64_t dim, int64_t inner, T* out) {
  normalize_axis<false>(x, outer, dim, inner, out);
}
template <class T>
void log_softmax_axis(const T* x, int64_t outer, int64_t dim, int64_t inner, T* out) {
  normalize_axis<true>(x, outer, dim, inner, out);
}
template <class T>
void softmax_backward_axis(const T* y, const T* g, int64_t outer, int64_t dim, int64_t inner,
                           T* grad_x) {
  backward_axis<false>(y, g, outer, dim, inner, grad_x);
}
template <class T>
void log_softmax_backward_axis(const T* y, const T* g, int64_t outer, int64_t dim, int64_t inner,
                               T* grad_x) {
  backward_axis<true>(y, g, outer, dim, inner, grad_x);
}

#define NABLA_SOFTMAX_INSTANTIATE(T)                                                         \
  template void softmax_rows<T>(const T*, int64_t, int64_t, T*);                             \
  template void log_softmax_rows<T>(const T*, int64_t, int64_t, T*);                         \
  template void logsumexp_rows<T>(const T*, int64_t, int64_t, T*);                           \
  template void softmax_axis<T>(const T*, int64_t, int64_t, int64_t, T*);                    \
  template void log_softmax_axis<T>(const T*, int64_t, int64_t, int64_t, T*);                \
  template void softmax_backward_axis<T>(const T*, const T*, int64_t, int64_t, int64_t, T*); \
  template void log_softmax_backward_axis<T>(const T*, const T*, int64_t, int64_t, int64_t, T*);
NABLA_SOFTMAX_INSTANTIATE(float)
NABLA_SOFTMAX_INSTANTIATE(double)
#undef NABLA_SOFTMAX_INSTANTIATE

}  // namespace nabla::kernels::cpu
