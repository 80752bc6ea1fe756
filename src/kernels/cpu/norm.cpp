#include "kernels/cpu/norm.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/loop.hpp"

namespace nabla::kernels::cpu {

namespace {

// A reduction is split along its batch (row) axis into chunks of about this many elements, so
// that a few channels still spread over the threads; the chunks' partial sums are combined in
// order, and the split depends on the shape alone, not on the thread count.
constexpr int64_t kChunkElements = 1 << 14;
// Bounds the partial-sum buffers ([chunks, c] doubles) for very wide rows.
constexpr int64_t kMaxChunks = 32;

bool worth_threads(int64_t total, int64_t units) {
  return total >= kParallelThreshold && units > 1;
}

struct RowChunks {
  int64_t rows_per_chunk = 1;
  int64_t count = 0;
  int64_t begin(int64_t k) const { return k * rows_per_chunk; }
  int64_t end(int64_t k, int64_t rows) const { return std::min(rows, (k + 1) * rows_per_chunk); }
};

RowChunks split_rows(int64_t rows, int64_t row_elements) {
  if (rows == 0) return {};
  int64_t count = (rows * std::max<int64_t>(row_elements, 1) + kChunkElements - 1) / kChunkElements;
  count = std::clamp<int64_t>(count, 1, std::min(rows, kMaxChunks));
  const int64_t per = (rows + count - 1) / count;
  return {per, (rows + per - 1) / per};
}

// The sums below accumulate in vectors of T, four independent accumulators (a plain loop would
// wait on one add chain), and add the vectors into double totals every kBlock elements: f32 adds
// run at twice the rate of converting to f64, and the rounding error of a block's 16 terms per
// lane stays near 1e-6 relative, whatever the length of the sum.
constexpr int64_t kVectorBytes = 32;
constexpr int64_t kBlock = 512;

template <class T>
struct Pack {
  typedef T V __attribute__((vector_size(kVectorBytes)));
  static constexpr int64_t kLanes = kVectorBytes / sizeof(T);
  static constexpr int64_t kStep = 4 * kLanes;  // elements per iteration

  static V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static double sum(const V (&v)[4]) {
    const V t = (v[0] + v[1]) + (v[2] + v[3]);
    double total = 0;
    for (int64_t i = 0; i < kLanes; ++i) total += static_cast<double>(t[i]);
    return total;
  }
};

// Vector accumulators for two sums, added into double totals before their lanes hold more than
// kBlock / kStep terms each.
template <class T>
struct BlockSums {
  using P = Pack<T>;
  typename P::V a[4] = {}, b[4] = {};
  int64_t pending = 0;  // elements in the vectors
  double total_a = 0, total_b = 0;

  void flush() {
    total_a += P::sum(a);
    total_b += P::sum(b);
    for (int u = 0; u < 4; ++u) a[u] = b[u] = typename P::V{};
    pending = 0;
  }
  void count(int64_t elements) {
    pending += elements;
    if (pending >= kBlock) flush();
  }
};

// sum(x - shift) and sum((x - shift)^2) over `strips` runs of n contiguous elements, `stride`
// apart, added to s1 and s2. `shift` is one of the values, so it is exact in T.
template <class T>
void add_shifted_sums(const T* x, int64_t n, double shift, double& s1, double& s2,
                      int64_t strips = 1, int64_t stride = 0) {
  using P = Pack<T>;
  using V = typename P::V;
  const T k = static_cast<T>(shift);
  BlockSums<T> acc;
  for (int64_t r = 0; r < strips; ++r) {
    const T* xs = x + r * stride;
    int64_t i = 0;
    for (; i + P::kStep <= n; i += P::kStep) {
      for (int u = 0; u < 4; ++u) {
        const V d = P::load(xs + i + u * P::kLanes) - k;
        acc.a[u] += d;
        acc.b[u] += d * d;
      }
      acc.count(P::kStep);
    }
    for (; i + P::kLanes <= n; i += P::kLanes) {
      const V d = P::load(xs + i) - k;
      acc.a[0] += d;
      acc.b[0] += d * d;
    }
    acc.count(i % P::kStep);
    for (; i < n; ++i) {
      const double d = static_cast<double>(xs[i]) - shift;
      acc.total_a += d;
      acc.total_b += d * d;
    }
  }
  acc.flush();
  s1 += acc.total_a;
  s2 += acc.total_b;
}

// sum(dy) and sum(dy * (x - centre)) over `strips` runs of n contiguous elements, `stride` apart,
// added to s1 and s2.
template <class T>
void add_grad_sums(const T* x, const T* dy, int64_t n, double centre, double& s1, double& s2,
                   int64_t strips = 1, int64_t stride = 0) {
  using P = Pack<T>;
  using V = typename P::V;
  // The vectors centre on c, the centre rounded to T, and are corrected exactly at the end:
  // sum(dy * (x - centre)) = sum(dy * (x - c)) + (c - centre) * sum(dy).
  const T c = static_cast<T>(centre);
  BlockSums<T> acc;
  double tail_a = 0, tail_b = 0;
  for (int64_t r = 0; r < strips; ++r) {
    const T* xs = x + r * stride;
    const T* gs = dy + r * stride;
    int64_t i = 0;
    for (; i + P::kStep <= n; i += P::kStep) {
      for (int u = 0; u < 4; ++u) {
        const V g = P::load(gs + i + u * P::kLanes);
        acc.a[u] += g;
        acc.b[u] += g * (P::load(xs + i + u * P::kLanes) - c);
      }
      acc.count(P::kStep);
    }
    for (; i + P::kLanes <= n; i += P::kLanes) {
      const V g = P::load(gs + i);
      acc.a[0] += g;
      acc.b[0] += g * (P::load(xs + i) - c);
    }
    acc.count(i % P::kStep);
    for (; i < n; ++i) {
      const double g = static_cast<double>(gs[i]);
      tail_a += g;
      tail_b += g * (static_cast<double>(xs[i]) - centre);
    }
  }
  acc.flush();
  s1 += acc.total_a + tail_a;
  s2 += acc.total_b + (static_cast<double>(c) - centre) * acc.total_a + tail_b;
}

// Mean and biased variance from sums shifted by `shift` over `count` elements.
void moments_from_sums(double s1, double s2, double shift, int64_t count, double& mean,
                       double& var) {
  const double m = s1 / static_cast<double>(count);
  mean = shift + m;
  var = std::max(0.0, s2 / static_cast<double>(count) - m * m);
}

// Two sums per channel of x as [n, c, s]. The batch rows are split into chunks, and the channels
// into blocks when a small batch gives fewer chunks than the work calls for; a unit of work is
// one (chunk, block) pair. With s > 1, strip(ch, at, rows, u, v) adds the planes of channel ch in
// `rows` consecutive batch rows, the first at element `at` (one channel at a time, so that short
// planes share vector accumulators); with s == 1, row(at, begin, end, u, v) adds the channels
// [begin, end) of the row at `at` into the arrays u, v (vectorized across them).
template <class Strip, class Row>
void channel_sums(int64_t n, int64_t c, int64_t s, Strip strip, Row row, double* out_u,
                  double* out_v) {
  const int64_t total = n * c * s;
  const RowChunks chunks = split_rows(n, c * s);
  const int64_t wanted = std::clamp<int64_t>(total / kChunkElements, 1, kMaxChunks);
  const int64_t blocks =
      std::clamp<int64_t>(wanted / std::max<int64_t>(chunks.count, 1), 1, std::max<int64_t>(c, 1));
  const int64_t per_block = (c + blocks - 1) / blocks, units = chunks.count * blocks;
  std::vector<double> u(chunks.count * c, 0.0), v(chunks.count * c, 0.0);
  parallel_for_if(worth_threads(total, units), units, [&](int64_t unit) {
    const int64_t k = unit / blocks, begin = (unit % blocks) * per_block;
    const int64_t end = std::min(c, begin + per_block);
    double* pu = u.data() + k * c;
    double* pv = v.data() + k * c;
    const int64_t first = chunks.begin(k), rows = chunks.end(k, n) - first;
    if (s == 1) {
      for (int64_t r = first; r < first + rows; ++r) row(r * c, begin, end, pu, pv);
    } else {
      for (int64_t ch = begin; ch < end; ++ch)
        strip(ch, (first * c + ch) * s, rows, pu[ch], pv[ch]);
    }
  });
  for (int64_t ch = 0; ch < c; ++ch) {
    double su = 0, sv = 0;
    for (int64_t k = 0; k < chunks.count; ++k) {
      su += u[k * c + ch];
      sv += v[k * c + ch];
    }
    out_u[ch] = su;
    out_v[ch] = sv;
  }
}

}  // namespace

template <class T>
void channel_moments(const T* x, int64_t n, int64_t c, int64_t s, double* mean, double* var) {
  const int64_t count = n * s;
  // Each channel's sums are shifted by its first value, a sample near its mean.
  std::vector<double> shift(c, 0.0);
  if (count > 0)
    for (int64_t ch = 0; ch < c; ++ch) shift[ch] = static_cast<double>(x[ch * s]);
  const double* k = shift.data();
  std::vector<double> s1(c), s2(c);
  channel_sums(
      n, c, s,
      [&](int64_t ch, int64_t at, int64_t rows, double& u, double& v) {
        add_shifted_sums(x + at, s, k[ch], u, v, rows, c * s);
      },
      [&](int64_t at, int64_t begin, int64_t end, double* u, double* v) {
        const T* xr = x + at;
#pragma omp simd
        for (int64_t j = begin; j < end; ++j) {
          const double d = static_cast<double>(xr[j]) - k[j];
          u[j] += d;
          v[j] += d * d;
        }
      },
      s1.data(), s2.data());
  for (int64_t ch = 0; ch < c; ++ch)
    moments_from_sums(s1[ch], s2[ch], k[ch], count, mean[ch], var[ch]);
}

template <class T>
void channel_grad_sums(const T* x, const T* dy, int64_t n, int64_t c, int64_t s, const double* mean,
                       double* sum_dy, double* sum_dy_xmu) {
  channel_sums(
      n, c, s,
      [&](int64_t ch, int64_t at, int64_t rows, double& u, double& v) {
        add_grad_sums(x + at, dy + at, s, mean[ch], u, v, rows, c * s);
      },
      [&](int64_t at, int64_t begin, int64_t end, double* u, double* v) {
        const T* xr = x + at;
        const T* gr = dy + at;
#pragma omp simd
        for (int64_t j = begin; j < end; ++j) {
          const double g = static_cast<double>(gr[j]);
          u[j] += g;
          v[j] += g * (static_cast<double>(xr[j]) - mean[j]);
        }
      },
      sum_dy, sum_dy_xmu);
}

template <class T>
void row_moments(const T* x, int64_t rows, int64_t cols, double* mean, double* var) {
  parallel_for_if(worth_threads(rows * cols, rows), rows, [&](int64_t r) {
    const T* xr = x + r * cols;
    const double shift = cols > 0 ? static_cast<double>(xr[0]) : 0.0;
    double s1 = 0, s2 = 0;
    add_shifted_sums(xr, cols, shift, s1, s2);
    moments_from_sums(s1, s2, shift, cols, mean[r], var[r]);
  });
}

template <class T>
void plane_grad_sums(const T* x, const T* dy, int64_t planes, int64_t s, const double* centre,
                     int64_t planes_per_centre, double* sum_dy, double* sum_dy_xmu) {
  parallel_for_if(worth_threads(planes * s, planes), planes, [&](int64_t i) {
    double s1 = 0, s2 = 0;
    add_grad_sums(x + i * s, dy + i * s, s, centre[i / planes_per_centre], s1, s2);
    sum_dy[i] = s1;
    sum_dy_xmu[i] = s2;
  });
}

template <class T>
void plane_affine(const T* x, int64_t n, int64_t c, int64_t s, const T* centre, const T* scale,
                  const T* shift, int64_t coef_stride, T* y) {
  if (s == 1) {  // [N, C]: vectorize across the channels of a row
    parallel_for_if(worth_threads(n * c, n), n, [&](int64_t r) {
      const int64_t at = r * coef_stride;
      const T* xr = x + r * c;
      T* yr = y + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j)
        yr[j] = (xr[j] - centre[at + j]) * scale[at + j] + shift[at + j];
    });
    return;
  }
  const int64_t planes = n * c;
  parallel_for_if(worth_threads(planes * s, planes), planes, [&](int64_t i) {
    const int64_t at = (i / c) * coef_stride + i % c;
    const T m = centre[at], a = scale[at], b = shift[at];
    const T* xp = x + i * s;
    T* yp = y + i * s;
#pragma omp simd
    for (int64_t j = 0; j < s; ++j) yp[j] = (xp[j] - m) * a + b;
  });
}

template <class T>
void plane_affine_backward(const T* dy, const T* x, int64_t n, int64_t c, int64_t s,
                           const T* centre, const T* k, const T* p, const T* q, int64_t coef_stride,
                           T* dx) {
  if (s == 1) {
    parallel_for_if(worth_threads(n * c, n), n, [&](int64_t r) {
      const int64_t at = r * coef_stride;
      const T* xr = x + r * c;
      const T* gr = dy + r * c;
      T* out = dx + r * c;
#pragma omp simd
      for (int64_t j = 0; j < c; ++j)
        out[j] = k[at + j] * gr[j] + p[at + j] * (xr[j] - centre[at + j]) + q[at + j];
    });
    return;
  }
  const int64_t planes = n * c;
  parallel_for_if(worth_threads(planes * s, planes), planes, [&](int64_t i) {
    const int64_t at = (i / c) * coef_stride + i % c;
    const T m = centre[at], a = k[at], b = p[at], d = q[at];
    const T* xp = x + i * s;
    const T* gp = dy + i * s;
    T* out = dx + i * s;
#pragma omp simd
    for (int64_t j = 0; j < s; ++j) out[j] = a * gp[j] + b * (xp[j] - m) + d;
  });
}

template <class T>
void layer_norm_forward(const T* x, int64_t rows, int64_t cols, const T* gamma, const T* beta,
                        double eps, T* y, double* mean, double* inv_std) {
  parallel_for_if(worth_threads(rows * cols, rows), rows, [&](int64_t r) {
    const T* xr = x + r * cols;
    T* yr = y + r * cols;
    const double shift = cols > 0 ? static_cast<double>(xr[0]) : 0.0;
    double s1 = 0, s2 = 0, var = 0;
    add_shifted_sums(xr, cols, shift, s1, s2);
    moments_from_sums(s1, s2, shift, cols, mean[r], var);
    inv_std[r] = 1.0 / std::sqrt(var + eps);
    // Normalized while the row is still in cache.
    const T m = static_cast<T>(mean[r]), a = static_cast<T>(inv_std[r]);
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) yr[j] = (xr[j] - m) * a * gamma[j] + beta[j];
  });
}

template <class T>
void layer_norm_backward(const T* x, const T* dy, int64_t rows, int64_t cols, const double* mean,
                         const double* inv_std, const T* gamma, T* dx, T* dgamma, T* dbeta) {
  const bool params = dgamma != nullptr || dbeta != nullptr;
  const RowChunks chunks = split_rows(rows, cols);
  // Per chunk of rows, partial column sums of dy * xhat and dy, combined in order below.
  std::vector<double> part_gamma(params ? chunks.count * cols : 0, 0.0);
  std::vector<double> part_beta(params ? chunks.count * cols : 0, 0.0);
  const double n = static_cast<double>(cols);
  parallel_for_if(worth_threads(rows * cols, chunks.count), chunks.count, [&](int64_t k) {
    for (int64_t r = chunks.begin(k); r < chunks.end(k, rows); ++r) {
      const T* xr = x + r * cols;
      const T* gr = dy + r * cols;
      const double m = mean[r], inv = inv_std[r];
      if (dx != nullptr) {
        // dxhat = dy * gamma; dx = inv * (dxhat - sum(dxhat) / n - xhat * sum(dxhat * xhat) / n)
        //    = (inv * gamma) * dy + p * (x - mean) + q
        double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
        for (int64_t j = 0; j < cols; ++j) {
          const double g = static_cast<double>(gr[j]) * static_cast<double>(gamma[j]);
          a += g;
          b += g * (static_cast<double>(xr[j]) - m);
        }
        const T tp = static_cast<T>(-inv * inv * inv * b / n), tq = static_cast<T>(-inv * a / n);
        const T tinv = static_cast<T>(inv), tm = static_cast<T>(m);
        T* out = dx + r * cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j)
          out[j] = tinv * gamma[j] * gr[j] + tp * (xr[j] - tm) + tq;
      }
      if (params) {
        double* pg = part_gamma.data() + k * cols;
        double* pb = part_beta.data() + k * cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; ++j) {
          const double g = static_cast<double>(gr[j]);
          pg[j] += g * (static_cast<double>(xr[j]) - m) * inv;
          pb[j] += g;
        }
      }
    }
  });
  if (!params) return;
  for (int64_t j = 0; j < cols; ++j) {
    double sg = 0, sb = 0;
    for (int64_t k = 0; k < chunks.count; ++k) {
      sg += part_gamma[k * cols + j];
      sb += part_beta[k * cols + j];
    }
    if (dgamma != nullptr) dgamma[j] = static_cast<T>(sg);
    if (dbeta != nullptr) dbeta[j] = static_cast<T>(sb);
  }
}

#define NABLA_NORM_INSTANTIATE(T)                                                                  \
  template void channel_moments<T>(const T*, int64_t, int64_t, int64_t, double*, double*);         \
  template void channel_grad_sums<T>(const T*, const T*, int64_t, int64_t, int64_t, const double*, \
                                     double*, double*);                                            \
  template void row_moments<T>(const T*, int64_t, int64_t, double*, double*);                      \
  template void plane_grad_sums<T>(const T*, const T*, int64_t, int64_t, const double*, int64_t,   \
                                   double*, double*);                                              \
  template void plane_affine<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*, const T*, \
                                int64_t, T*);                                                      \
  template void plane_affine_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, const T*,  \
                                         const T*, const T*, const T*, int64_t, T*);               \
  template void layer_norm_forward<T>(const T*, int64_t, int64_t, const T*, const T*, double, T*,  \
                                      double*, double*);                                           \
  template void layer_norm_backward<T>(const T*, const T*, int64_t, int64_t, const double*,        \
                                       const double*, const T*, T*, T*, T*);
NABLA_NORM_INSTANTIATE(float)
NABLA_NORM_INSTANTIATE(double)
#undef NABLA_NORM_INSTANTIATE

}  // namespace nabla::kernels::cpu
