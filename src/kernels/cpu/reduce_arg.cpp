#include "kernels/cpu/reduce_arg.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "core/loop.hpp"

namespace nabla::kernels::cpu {

namespace {
// Whether `v` replaces the current `best`: strictly better (so the first tie stays), and a NaN
// replaces any number (PyTorch propagates NaN through max and min).
template <Extreme kKind, class T>
inline bool better(T v, T best) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v)) return !std::isnan(best);
  }
  if constexpr (kKind == Extreme::max) {
    return v > best;
  } else {
    return v < best;
  }
}

template <Extreme kKind, class T>
void arg_extreme_impl(const T* x, int64_t outer, int64_t len, int64_t inner, T* values,
                      int64_t* indices) {
  // Inner positions in blocks, so that a thread's running extremes stay in L1 across the axis.
  constexpr int64_t kBlock = 512;
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  const int64_t tasks = outer * blocks;
  parallel_for_if(outer * len * inner >= kParallelThreshold && tasks > 1, tasks, [&](int64_t task) {
    const int64_t o = task / blocks, b = (task % blocks) * kBlock;
    const int64_t e = std::min(inner, b + kBlock);
    const T* base = x + o * len * inner;
    T* val = values + o * inner;
    int64_t* idx = indices + o * inner;
    if (inner == 1) {
      T best = base[0];
      int64_t at = 0;
      for (int64_t r = 1; r < len; ++r) {
        if (better<kKind>(base[r], best)) {
          best = base[r];
          at = r;
        }
      }
      val[0] = best;
      idx[0] = at;
      return;
    }
    for (int64_t k = b; k < e; ++k) {
      val[k] = base[k];
      idx[k] = 0;
    }
    for (int64_t r = 1; r < len; ++r) {
      const T* row = base + r * inner;
      for (int64_t k = b; k < e; ++k) {
        if (better<kKind>(row[k], val[k])) {
          val[k] = row[k];
          idx[k] = r;
        }
      }
    }
  });
}

template <Extreme kKind, class T>
T extreme_impl(const T* x, int64_t n) {
  // Fixed chunks combined in order: the same answer on any number of threads.
  constexpr int64_t kChunk = 1 << 14;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<T> partial(chunks);
  parallel_for_if(n >= kParallelThreshold && chunks > 1, chunks, [&](int64_t c) {
    const int64_t b = c * kChunk, e = std::min(n, b + kChunk);
    T best = x[b];
    for (int64_t i = b + 1; i < e; ++i)
      if (better<kKind>(x[i], best)) best = x[i];
    partial[c] = best;
  });
  T best = partial[0];
  for (int64_t c = 1; c < chunks; ++c)
    if (better<kKind>(partial[c], best)) best = partial[c];
  return best;
}
}  // namespace

template <class T>
void arg_extreme(const T* x, int64_t outer, int64_t len, int64_t inner, Extreme kind, T* values,
                 int64_t* indices) {
  if (kind == Extreme::max) {
    arg_extreme_impl<Extreme::max>(x, outer, len, inner, values, indices);
  } else {
    arg_extreme_impl<Extreme::min>(x, outer, len, inner, values, indices);
  }
}

template <class T>
T extreme(const T* x, int64_t n, Extreme kind) {
  return kind == Extreme::max ? extreme_impl<Extreme::max>(x, n) : extreme_impl<Extreme::min>(x, n);
}

#define NABLA_INSTANTIATE(T)                                                                \
  template void arg_extreme<T>(const T*, int64_t, int64_t, int64_t, Extreme, T*, int64_t*); \
  template T extreme<T>(const T*, int64_t, Extreme);
NABLA_INSTANTIATE(float)
NABLA_INSTANTIATE(double)
NABLA_INSTANTIATE(int64_t)
NABLA_INSTANTIATE(uint8_t)
#undef NABLA_INSTANTIATE

}  // namespace nabla::kernels::cpu
