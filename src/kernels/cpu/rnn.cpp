#include "kernels/cpu/rnn.hpp"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/loop.hpp"
#include "kernels/cpu/transpose_tile.hpp"
#include "kernels/cpu/vector_math.hpp"

namespace nabla::kernels::cpu {

namespace {

// A cell spends its elementwise time in its nonlinearities (three sigmoids and two tanh per LSTM
// unit and step): the loops work on vector packs (vector_math.hpp) with nabla's own f32 math.
// What a loop body works on: a whole pack (one vector) or, at the end of a row whose length is
// not a multiple of the pack width, one element (a scalar of T: the bodies are written so that
// they compile for both; a partial vector would need a variable-size copy, a library call).
struct Full {};
struct One {};

template <class T>
struct Pack {
  typedef T V __attribute__((vector_size(kVectorBytes)));
  static constexpr int64_t kLanes = kVectorBytes / sizeof(T);

  static V broadcast(T x) { return V{} + x; }
  [[gnu::always_inline]] static V load(const T* p, Full) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  [[gnu::always_inline]] static T load(const T* p, One) { return *p; }
  [[gnu::always_inline]] static void store(T* p, V v, Full) { std::memcpy(p, &v, sizeof v); }
  [[gnu::always_inline]] static void store(T* p, T v, One) { *p = v; }
  static V zero(Full) { return V{}; }
  static T zero(One) { return T(0); }
};
using FloatV = Pack<float>::V;
using DoubleV = Pack<double>::V;

// 1 / (1 + e^-x): a few ulp, down to the smallest results (e^-x overflowing gives exactly 0).
[[gnu::always_inline]] inline FloatV sigmoid_pack(FloatV x) { return 1.0f / (1.0f + exp_pack(-x)); }

// tanh as Eigen's rational approximation: x p(x^2) / q(x^2) with odd degree 13 over even degree
// 6, the input clamped to +-7.9988 (where the ratio reaches 1 in f32) and tanh(x) = x below 4e-4;
// relative error under 3e-7 (measured over every 3rd f32 in [-100, 100]). One division and no exp:
// twice as fast as 1 - 2 / (e^2x + 1), which would also lose the relative accuracy near 0.
[[gnu::always_inline]] inline FloatV tanh_pack(FloatV x) {
  const FloatV bound = Pack<float>::broadcast(7.99881172180175781f);
  FloatV xc = x > bound ? bound : x;  // NaN passes through both selects
  xc = xc < -bound ? -bound : xc;
  const FloatV x2 = xc * xc;
  FloatV p = Pack<float>::broadcast(-2.76076847742355e-16f);
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 + -8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  FloatV q = Pack<float>::broadcast(1.19825839466702e-06f);
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  const FloatV a = x < 0.0f ? -x : x;
  const FloatV ratio = xc * p / q;
  return a < 0.0004f ? x : ratio;
}

// f64 is the precision path (gradient checks): the library's functions, lane by lane; so are the
// scalar tails of rows.
inline float sigmoid_pack(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline double sigmoid_pack(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline float tanh_pack(float x) { return std::tanh(x); }
inline double tanh_pack(double x) { return std::tanh(x); }
inline DoubleV sigmoid_pack(DoubleV x) {
  for (int64_t i = 0; i < Pack<double>::kLanes; ++i) x[i] = sigmoid_pack(x[i]);
  return x;
}
inline DoubleV tanh_pack(DoubleV x) {
  for (int64_t i = 0; i < Pack<double>::kLanes; ++i) x[i] = std::tanh(x[i]);
  return x;
}

template <class V>
V relu_pack(V x) {
  return x > V{} ? x : V{};  // also for a scalar V
}

// Calls f(j, Full{}) for the whole packs of a row of h columns, then f(j, One{}) for the rest. The
// bodies are generic lambdas marked always_inline, so that each kind compiles to straight code.
template <class T, class F>
[[gnu::always_inline]] inline void for_packs(int64_t h, F&& f) {
  constexpr int64_t kLanes = Pack<T>::kLanes;
  int64_t j = 0;
  for (; j + kLanes <= h; j += kLanes) f(j, Full{});
  for (; j < h; ++j) f(j, One{});
}

// Runs row(r) for r in [0, n), over the thread pool when the step has enough work to pay for it
// and the caller is not already one of its threads (a slice of the batch, src/ops/rnn.cpp).
template <class F>
void for_rows(int64_t n, int64_t work, F&& row) {
  if (work >= kParallelThreshold && n > 1 && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < n; ++r) row(r);
  } else {
    for (int64_t r = 0; r < n; ++r) row(r);
  }
}

bool is_real(const bool* mask, int64_t r) { return mask == nullptr || mask[r]; }

// A padded row: the state carries over and the output is zero.
template <class T>
void carry_row(const RnnStepForward<T>& s, int64_t r) {
  const int64_t h = s.h;
  std::copy_n(s.h_prev + r * h, h, s.h_new + r * h);
  std::fill_n(s.out + r * h, h, T(0));
  if (s.c_prev) std::copy_n(s.c_prev + r * h, h, s.c_new + r * h);
}

template <class T>
void lstm_forward_row(const RnnStepForward<T>& s, int64_t r) {
  using P = Pack<T>;
  const int64_t h = s.h;
  T* g = s.gates + r * 4 * h;
  const T* b = s.bias;
  const T* cp = s.c_prev + r * h;
  T *cn = s.c_new + r * h, *tc = s.tanh_c + r * h, *hn = s.h_new + r * h, *out = s.out + r * h;
  for_packs<T>(
      h, [&](int64_t j, auto lanes) __attribute__((always_inline)) {
        auto pre = [&](int64_t k) __attribute__((always_inline)) {
          return P::load(g + k * h + j, lanes) + P::load(b + k * h + j, lanes);
        };
        const auto i = sigmoid_pack(pre(0)), f = sigmoid_pack(pre(1));
        const auto gg = tanh_pack(pre(2)), o = sigmoid_pack(pre(3));
        const auto c = f * P::load(cp + j, lanes) + i * gg;
        const auto t = tanh_pack(c);
        const auto hv = o * t;
        P::store(g + j, i, lanes);
        P::store(g + h + j, f, lanes);
        P::store(g + 2 * h + j, gg, lanes);
        P::store(g + 3 * h + j, o, lanes);
        P::store(cn + j, c, lanes);
        P::store(tc + j, t, lanes);
        P::store(hn + j, hv, lanes);
        P::store(out + j, hv, lanes);
      });
}

// PyTorch's GRU: r = s(x_r + h_r), z = s(x_z + h_z), n = tanh(x_n + r * h_n),
// h' = (1 - z) n + z h, with each x_ and h_ including its own bias.
template <class T>
void gru_forward_row(const RnnStepForward<T>& s, int64_t r) {
  using P = Pack<T>;
  const int64_t h = s.h;
  T* g = s.gates + r * 3 * h;
  const T* hh = s.hh + r * 3 * h;
  const T *bi = s.bias, *bh = s.bias_hh, *hp = s.h_prev + r * h;
  T *hn_saved = s.hn + r * h, *hnew = s.h_new + r * h, *out = s.out + r * h;
  for_packs<T>(
      h, [&](int64_t j, auto lanes) __attribute__((always_inline)) {
        auto x_part = [&](int64_t k) __attribute__((always_inline)) {
          return P::load(g + k * h + j, lanes) + P::load(bi + k * h + j, lanes);
        };
        auto h_part = [&](int64_t k) __attribute__((always_inline)) {
          return P::load(hh + k * h + j, lanes) + P::load(bh + k * h + j, lanes);
        };
        const auto rg = sigmoid_pack(x_part(0) + h_part(0));
        const auto z = sigmoid_pack(x_part(1) + h_part(1));
        const auto hn = h_part(2);
        const auto n = tanh_pack(x_part(2) + rg * hn);
        const auto hv = n + z * (P::load(hp + j, lanes) - n);
        P::store(g + j, rg, lanes);
        P::store(g + h + j, z, lanes);
        P::store(g + 2 * h + j, n, lanes);
        P::store(hn_saved + j, hn, lanes);
        P::store(hnew + j, hv, lanes);
        P::store(out + j, hv, lanes);
      });
}

template <bool kRelu, class T>
void rnn_forward_row(const RnnStepForward<T>& s, int64_t r) {
  using P = Pack<T>;
  const int64_t h = s.h;
  T* g = s.gates + r * h;
  T *hnew = s.h_new + r * h, *out = s.out + r * h;
  for_packs<T>(
      h, [&](int64_t j, auto lanes) __attribute__((always_inline)) {
        const auto pre = P::load(g + j, lanes) + P::load(s.bias + j, lanes);
        const auto a = kRelu ? relu_pack(pre) : tanh_pack(pre);
        P::store(g + j, a, lanes);
        P::store(hnew + j, a, lanes);
        P::store(out + j, a, lanes);
      });
}

// dL/dh_t: the running state gradient plus this step's output gradient.
template <class T, class Lanes>
[[gnu::always_inline]] inline auto state_grad(const RnnStepBackward<T>& s, int64_t r, int64_t j,
                                              Lanes lanes) {
  using P = Pack<T>;
  auto d = P::load(s.dh + r * s.h + j, lanes);
  if (s.dout) d += P::load(s.dout + r * s.h + j, lanes);
  return d;
}

template <class T>
void lstm_backward_row(const RnnStepBackward<T>& s, int64_t r) {
  using P = Pack<T>;
  const int64_t h = s.h;
  const T* g = s.gates + r * 4 * h;
  const T *cp = s.c_prev + r * h, *tc = s.tanh_c + r * h;
  T *dg = s.dgates + r * 4 * h, *dh = s.dh + r * h, *dc = s.dc + r * h;
  for_packs<T>(
      h, [&](int64_t j, auto lanes) __attribute__((always_inline)) {
        const auto dht = state_grad(s, r, j, lanes);
        const auto i = P::load(g + j, lanes), f = P::load(g + h + j, lanes);
        const auto gg = P::load(g + 2 * h + j, lanes), o = P::load(g + 3 * h + j, lanes);
        const auto t = P::load(tc + j, lanes);
        const auto dct = P::load(dc + j, lanes) + dht * o * (T(1) - t * t);
        P::store(dg + j, dct * gg * i * (T(1) - i), lanes);
        P::store(dg + h + j, dct * P::load(cp + j, lanes) * f * (T(1) - f), lanes);
        P::store(dg + 2 * h + j, dct * i * (T(1) - gg * gg), lanes);
        P::store(dg + 3 * h + j, dht * t * o * (T(1) - o), lanes);
        P::store(dc + j, dct * f, lanes);
        P::store(dh + j, P::zero(lanes), lanes);
      });
}

template <class T>
void gru_backward_row(const RnnStepBackward<T>& s, int64_t r) {
  using P = Pack<T>;
  const int64_t h = s.h;
  const T* g = s.gates + r * 3 * h;
  const T *hn = s.hn + r * h, *hp = s.h_prev + r * h;
  T *dg = s.dgates + r * 3 * h, *dhh = s.dhh + r * 3 * h, *dh = s.dh + r * h;
  for_packs<T>(
      h, [&](int64_t j, auto lanes) __attribute__((always_inline)) {
        const auto dht = state_grad(s, r, j, lanes);
        const auto rg = P::load(g + j, lanes), z = P::load(g + h + j, lanes);
        const auto n = P::load(g + 2 * h + j, lanes);
        const auto dn_pre = dht * (T(1) - z) * (T(1) - n * n);
        const auto dr_pre = dn_pre * P::load(hn + j, lanes) * rg * (T(1) - rg);
        const auto dz_pre = dht * (P::load(hp + j, lanes) - n) * z * (T(1) - z);
        P::store(dg + j, dr_pre, lanes);
        P::store(dg + h + j, dz_pre, lanes);
        P::store(dg + 2 * h + j, dn_pre, lanes);
        P::store(dhh + j, dr_pre, lanes);
        P::store(dhh + h + j, dz_pre, lanes);
        P::store(dhh + 2 * h + j, dn_pre * rg, lanes);
        P::store(dh + j, dht * z, lanes);
      });
}

template <bool kRelu, class T>
void rnn_backward_row(const RnnStepBackward<T>& s, int64_t r) {
  using P = Pack<T>;
  const int64_t h = s.h;
  const T* a = s.gates + r * h;
  T *dg = s.dgates + r * h, *dh = s.dh + r * h;
  for_packs<T>(
      h, [&](int64_t j, auto lanes) __attribute__((always_inline)) {
        const auto dht = state_grad(s, r, j, lanes);
        const auto av = P::load(a + j, lanes);
        const auto d = kRelu ? (av > T(0) ? dht : P::zero(lanes)) : dht * (T(1) - av * av);
        P::store(dg + j, d, lanes);
        P::store(dh + j, P::zero(lanes), lanes);
      });
}

}  // namespace

int64_t rnn_gate_count(RnnCell cell) {
  switch (cell) {
    case RnnCell::lstm:
      return 4;
    case RnnCell::gru:
      return 3;
    default:
      return 1;
  }
}

template <class T>
void rnn_step_forward(RnnCell cell, const RnnStepForward<T>& step) {
  const int64_t work = step.n * rnn_gate_count(cell) * step.h;
  for_rows(step.n, work, [&](int64_t r) {
    if (!is_real(step.mask, r)) return carry_row(step, r);
    switch (cell) {
      case RnnCell::lstm:
        return lstm_forward_row(step, r);
      case RnnCell::gru:
        return gru_forward_row(step, r);
      case RnnCell::rnn_relu:
        return rnn_forward_row<true>(step, r);
      case RnnCell::rnn_tanh:
        return rnn_forward_row<false>(step, r);
    }
  });
}

template <class T>
void rnn_step_backward(RnnCell cell, const RnnStepBackward<T>& step) {
  const int64_t gh = rnn_gate_count(cell) * step.h;
  for_rows(step.n, step.n * gh, [&](int64_t r) {
    if (!is_real(step.mask, r)) {
      // The state passed through unchanged: dh and dc stay, no gate saw a gradient.
      std::fill_n(step.dgates + r * gh, gh, T(0));
      if (cell == RnnCell::gru) std::fill_n(step.dhh + r * gh, gh, T(0));
      return;
    }
    switch (cell) {
      case RnnCell::lstm:
        return lstm_backward_row(step, r);
      case RnnCell::gru:
        return gru_backward_row(step, r);
      case RnnCell::rnn_relu:
        return rnn_backward_row<true>(step, r);
      case RnnCell::rnn_tanh:
        return rnn_backward_row<false>(step, r);
    }
  });
}

template <class T>
void transpose(const T* src, int64_t rows, int64_t cols, int64_t src_ld, T* dst, int64_t dst_ld) {
  // Square tiles, so that a tile's source rows and destination rows stay in L1; reading along the
  // source rows measured faster than writing along the destination's.
  constexpr int64_t kTile = 16;
  const int64_t row_tiles = (rows + kTile - 1) / kTile;
  parallel_for_if(rows * cols >= kParallelThreshold && row_tiles > 1, row_tiles, [&](int64_t rt) {
    const int64_t r0 = rt * kTile, r1 = std::min(rows, r0 + kTile);
    for (int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const int64_t c1 = std::min(cols, c0 + kTile);
#if defined(__AVX512F__)
      if constexpr (std::is_same_v<T, float>) {
        if (r1 - r0 == kTile && c1 - c0 == kTile) {
          transpose_tile_16x16(src + r0 * src_ld + c0, src_ld, dst + c0 * dst_ld + r0, dst_ld);
          continue;
        }
      }
#elif defined(__AVX2__)
      if constexpr (std::is_same_v<T, float>) {
        if (r1 - r0 == kTile && c1 - c0 == kTile) {
          for (int64_t r = r0; r < r1; r += 8)
            for (int64_t c = c0; c < c1; c += 8)
              transpose_tile_8x8(src + r * src_ld + c, src_ld, dst + c * dst_ld + r, dst_ld);
          continue;
        }
      }
#endif
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c) dst[c * dst_ld + r] = src[r * src_ld + c];
    }
  });
}

template void rnn_step_forward<float>(RnnCell, const RnnStepForward<float>&);
template void rnn_step_forward<double>(RnnCell, const RnnStepForward<double>&);
template void rnn_step_backward<float>(RnnCell, const RnnStepBackward<float>&);
template void rnn_step_backward<double>(RnnCell, const RnnStepBackward<double>&);
template void transpose<float>(const float*, int64_t, int64_t, int64_t, float*, int64_t);
template void transpose<double>(const double*, int64_t, int64_t, int64_t, double*, int64_t);

}  // namespace nabla::kernels::cpu
