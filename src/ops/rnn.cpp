// rnn_layer: one recurrent layer in one direction, with PyTorch's weights and gate order, as one
// autograd node. The batch is cut into row slices, one per thread (for_row_slices), and each
// thread carries its slice through the whole pass. Forward: the input projection of the slice's
// rows of every step is one GEMM into the gate buffer; each step adds h_{t-1} @ W_hh^T with one
// GEMM (GRU: into a scratch matrix, since its n gate scales the recurrent part by r) and one fused
// kernel pass computes the gates and the new state. The activations, the states [T+1, N, H] (and
// LSTM's cells, GRU's W_hn h + b_hn) stay in buffers for backward, which runs backpropagation
// through time: per step one fused pass for the gate gradients and one GEMM for dL/dh_{t-1}; then,
// still per slice, dx is one GEMM and dW_ih, dW_hh and the bias gradients one GEMM together
// (weight_grad_share), whose slice shares are summed.
//
// The state buffer holds h0 and the state after every step, ordered by time so that the states
// the steps read (h_{t-1}) form one [T, N, H] block: forward direction, slot 0 is h0 and slot t+1
// the state after step t; reverse, slot T is h0 and slot t the state after step t (which step t-1
// then reads).
//
// bf16 (an f32 layer inside an Autocast scope for bf16, on CPUs with it): every product takes
// bfloat16 operands and accumulates in f32, as PyTorch's autocast runs its LSTM in bf16. The
// weights are rounded once per pass (not per step), each step's h_{t-1} and gate gradients as the
// step makes them (the gate gradients kept rounded for dx and the weight gradients); the cells,
// the states, the gate activations and every sum stay f32. On the Zen 5 EPYC the bench LSTM's
// layer ran 1.19x faster so (forward 1.12-1.14 -> 0.95-1.00 ms, backward 1.81-1.84 -> 1.51-1.55).
#include "kernels/cpu/rnn.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "core/loop.hpp"
#include "core/uninitialized_buffer.hpp"
#include "kernels/cpu/bf16_round.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/gemm_matmul.hpp"
#include "nabla/autocast.hpp"
#include "nabla/ops.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;
namespace cpu = kernels::cpu;

namespace {

constexpr const char* kRnnOp = "rnn_layer";

cpu::RnnCell cell_of(RnnMode mode) {
  switch (mode) {
    case RnnMode::lstm:
      return cpu::RnnCell::lstm;
    case RnnMode::gru:
      return cpu::RnnCell::gru;
    case RnnMode::rnn_relu:
      return cpu::RnnCell::rnn_relu;
    case RnnMode::rnn_tanh:
      break;
  }
  return cpu::RnnCell::rnn_tanh;
}

const char* mode_description(RnnMode mode) {
  switch (mode) {
    case RnnMode::lstm:
      return "lstm (4 gates: i, f, g, o)";
    case RnnMode::gru:
      return "gru (3 gates: r, z, n)";
    case RnnMode::rnn_relu:
      return "rnn_relu (1 gate)";
    case RnnMode::rnn_tanh:
      break;
  }
  return "rnn_tanh (1 gate)";
}

struct Geometry {
  int64_t steps = 0, batch = 0, input = 0, hidden = 0, gates = 1;
  cpu::RnnCell cell = cpu::RnnCell::rnn_tanh;
  bool reverse = false;

  int64_t gate_width() const { return gates * hidden; }
  int64_t state_size() const { return batch * hidden; }
  // Slots of the state buffer a step reads and writes (see the file comment).
  int64_t prev_slot(int64_t t) const { return reverse ? t + 1 : t; }
  int64_t next_slot(int64_t t) const { return reverse ? t : t + 1; }
  int64_t initial_slot() const { return reverse ? steps : 0; }
  int64_t final_slot() const { return reverse ? 0 : steps; }
  // The step the k-th iteration of the forward runs.
  int64_t step_at(int64_t k) const { return reverse ? steps - 1 - k : k; }
};

void check_dtype(const Tensor& t, const char* name, const Tensor& x) {
  if (!t.defined()) return;
  NABLA_CHECK(t.dtype() == x.dtype(), kRnnOp, ": ", name, " has dtype ", t.dtype(),
              " but x has dtype ", x.dtype(), "; expected the same dtype");
}

void check_shape(const Tensor& t, const char* name, const Shape& expected,
                 const std::string& what) {
  if (!t.defined()) return;
  NABLA_CHECK(t.shape() == expected, kRnnOp, ": ", name, " of shape ", t.shape(),
              " does not match ", what, "; expected shape ", expected);
}

Geometry check_arguments(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                         const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                         const Tensor& b_hh, const Tensor& mask) {
  NABLA_CHECK(x.defined() && w_ih.defined() && w_hh.defined(), kRnnOp,
              ": x, w_ih and w_hh must be defined tensors");
  NABLA_CHECK(x.dim() == 3, kRnnOp, ": expected x of shape [T, N, I] (3 axes), got shape ",
              x.shape());
  NABLA_CHECK(is_floating(x.dtype()), kRnnOp, ": expected a floating x (f32 or f64), got dtype ",
              x.dtype());
  NABLA_CHECK(w_hh.dim() == 2, kRnnOp, ": expected w_hh of shape [G*H, H] (2 axes), got shape ",
              w_hh.shape());
  Geometry g;
  g.cell = cell_of(mode);
  g.gates = cpu::rnn_gate_count(g.cell);
  g.steps = x.size(0);
  g.batch = x.size(1);
  g.input = x.size(2);
  g.hidden = w_hh.size(1);
  const std::string mode_text = std::string("mode ") + mode_description(mode);
  check_shape(w_hh, "w_hh", {g.gate_width(), g.hidden},
              detail::str(mode_text, " with hidden size ", g.hidden, " (its second axis)"));
  check_shape(w_ih, "w_ih", {g.gate_width(), g.input},
              detail::str(mode_text, ", hidden size ", g.hidden, " and x of shape ", x.shape()));
  const std::string gates_text = detail::str(mode_text, " with hidden size ", g.hidden);
  check_shape(b_ih, "b_ih", {g.gate_width()}, gates_text);
  check_shape(b_hh, "b_hh", {g.gate_width()}, gates_text);
  const std::string state_text =
      detail::str("x of shape ", x.shape(), " and hidden size ", g.hidden, " ([N, H])");
  check_shape(h0, "h0", {g.batch, g.hidden}, state_text);
  NABLA_CHECK(!c0.defined() || mode == RnnMode::lstm, kRnnOp,
              ": c0 is a cell state, used by mode lstm only; got one (shape ", c0.shape(), ") for ",
              mode_text);
  check_shape(c0, "c0", {g.batch, g.hidden}, state_text);
  const std::initializer_list<std::pair<const Tensor&, const char*>> named = {
      {w_ih, "w_ih"}, {w_hh, "w_hh"}, {b_ih, "b_ih"}, {b_hh, "b_hh"}, {h0, "h0"}, {c0, "c0"}};
  for (const auto& [t, name] : named) check_dtype(t, name, x);
  if (mask.defined()) {
    NABLA_CHECK(mask.dtype() == DType::boolean, kRnnOp, ": expected a bool mask, got dtype ",
                mask.dtype());
    check_shape(mask, "mask", {g.steps, g.batch},
                detail::str("x of shape ", x.shape(), " ([T, N])"));
  }
  return g;
}

Tensor contiguous_as(const Tensor& t, DType dtype) {
  return t.is_contiguous() && t.dtype() == dtype ? t : contiguous_copy(t, dtype);
}

// What the forward keeps for backward; released with the node.
struct Saved {
  Geometry geo;
  Tensor x, w_ih, w_hh;  // contiguous
  Tensor gates;          // [T*N, G*H] activations, laid out by slice (slice_row)
  Tensor states;         // [T+1, N, H], see the file comment
  Tensor cells;          // LSTM: [T+1, N, H], slots as states
  Tensor tanh_cells;     // LSTM: [T, N, H]
  Tensor hn;             // GRU: [T, N, H] W_hn h_{t-1} + b_hn
  Tensor mask;           // [T, N] bool, contiguous; undefined: no padding
  int64_t slices = 1;    // the row slices the gate buffers are laid out by (slice_row)
  // bf16 (the forward ran inside an Autocast scope for bf16): the weights rounded once per pass,
  // [G*H, I] and [G*H, H] as w_ih and w_hh; see the bf16 paragraph of the file comment.
  bool bf16 = false;
  UninitializedBuffer<uint16_t> w_ih16, w_hh16;
};

template <class T>
std::vector<T> bias_values(const Tensor& b, int64_t size) {
  if (!b.defined()) return std::vector<T>(size, T(0));
  return contiguous_as(b, dtype_of<T>()).template to_vector<T>();
}

// Copies an optional [N, H] state into slot `slot` of a [T+1, N, H] buffer (zeros if undefined).
template <class T>
void put_state(Tensor& buffer, int64_t slot, const Tensor& state, int64_t size) {
  T* dst = buffer.data<T>() + slot * size;
  if (!state.defined()) {
    std::fill_n(dst, size, T(0));
    return;
  }
  const Tensor s = contiguous_as(state, dtype_of<T>());
  std::copy_n(s.data<T>(), size, dst);
}

template <class T>
Tensor state_copy(const Tensor& buffer, int64_t slot, const Geometry& g) {
  Tensor out = make_tensor({g.batch, g.hidden}, dtype_of<T>());
  std::copy_n(buffer.data<T>() + slot * g.state_size(), g.state_size(), out.data<T>());
  return out;
}

// The recurrence in parallel over slices of the batch: body(i, r0, n) carries slice i, rows
// [r0, r0 + n), through every step with single-threaded products and cell passes, so the threads
// meet once per pass instead of at each step's product and cell pass (four times per step): on the
// Zen 5 EPYC the bench LSTM's epoch took 4.8-5.9 s on one thread, 3.9-4.2 s on two with the threads
// sharing each step, 3.2-3.7 s with slices. A slice keeps at least kMinSliceRows rows for its
// products to stay efficient. A row's values may depend on its slice's size (sgemm's results can
// vary with the row count), so they may differ between thread counts, and repeat at a given one.
int64_t slice_count(int64_t batch) {
  constexpr int64_t kMinSliceRows = 16;
  return std::clamp<int64_t>(batch / kMinSliceRows, 1,
                             omp_in_parallel() ? 1 : omp_get_max_threads());
}

int64_t slice_begin(int64_t batch, int64_t slices, int64_t i) { return batch * i / slices; }

// Runs body for each of `slices` slices (the forward's count, which backward must reuse since the
// gate buffers are laid out by slice), one thread per slice where the threads are there.
template <class F>
void for_row_slices(int64_t batch, int64_t slices, const F& body) {
  auto run = [&](int64_t i) {
    const int64_t r0 = slice_begin(batch, slices, i), r1 = slice_begin(batch, slices, i + 1);
    if (r1 > r0) body(i, r0, r1 - r0);
  };
  if (slices == 1) return run(0);
  on_each_thread(slices, [&](int64_t t, int64_t count) {
    for (int64_t i = t; i < slices; i += count) run(i);
  });
}

// The gate buffers (pre-activations and their gradients, [T*N, G*H] in all) are laid out by slice:
// slice i's rows of every step form one contiguous [T, n, G*H] block starting at row r0 * T, so a
// thread's products over all steps are single GEMMs over the rows it wrote itself. (On the Zen 5
// VM, whose two vCPUs are far apart, reading rows the other thread wrote made the second thread's
// share 18% slower.) With one slice this is the [T, N, G*H] order.
int64_t slice_row(int64_t r0, int64_t n, int64_t steps, int64_t t) { return r0 * steps + t * n; }

template <class T>
RnnLayerResult run_forward(Saved& s, const Tensor& h0, const Tensor& c0, const Tensor& b_ih,
                           const Tensor& b_hh) {
  const Geometry& g = s.geo;
  const DType dtype = dtype_of<T>();
  const int64_t gw = g.gate_width(), size = g.state_size();
  const bool lstm = g.cell == cpu::RnnCell::lstm, gru = g.cell == cpu::RnnCell::gru;
  s.gates = make_tensor({g.steps * g.batch, gw}, dtype);
  T* gates = s.gates.data<T>();
  // RNN and LSTM add both biases before the nonlinearity, so the kernel adds their sum; GRU keeps
  // b_hh apart for its n gate.
  std::vector<T> bias = bias_values<T>(b_ih, gw), bias_hh = bias_values<T>(b_hh, gw);
  if (!gru)
    for (int64_t j = 0; j < gw; ++j) bias[j] += bias_hh[j];

  s.states = make_tensor({g.steps + 1, g.batch, g.hidden}, dtype);
  put_state<T>(s.states, g.initial_slot(), h0, size);
  if (lstm) {
    s.cells = make_tensor({g.steps + 1, g.batch, g.hidden}, dtype);
    put_state<T>(s.cells, g.initial_slot(), c0, size);
    s.tanh_cells = make_tensor({g.steps, g.batch, g.hidden}, dtype);
  }
  Tensor hh;
  if (gru) {
    s.hn = make_tensor({g.steps, g.batch, g.hidden}, dtype);
    hh = zeros({g.batch, gw}, dtype);
  }
  Tensor out = make_tensor({g.steps, g.batch, g.hidden}, dtype);
  T* states = s.states.data<T>();
  const T* x = s.x.data<T>();
  const T* w_hh = s.w_hh.data<T>();
  const bool* mask = s.mask.defined() ? s.mask.data<bool>() : nullptr;

  if constexpr (std::is_same_v<T, float>) {
    s.bf16 = compute_precision() == Precision::bf16;
    if (s.bf16) {
      s.w_ih16 = cpu::rounded_to_bf16(s.w_ih.data<T>(), gw * g.input);
      s.w_hh16 = cpu::rounded_to_bf16(w_hh, gw * g.hidden);
    }
  }
  // W_hh^T [H, G*H], transposed once for all steps: sgemm ran h W_hh^T from it as a plain product
  // 3-50% faster than with its B operand transposed (Zen 5 EPYC, one thread, medians of 15
  // interleaved rounds, us: 32 x 512 x 128, the bench LSTM's slice, 24.6 -> 21.7; 16 x 512 x 128
  // 14.6 -> 10.4; 64 x 1536 x 512 566 -> 503; faster in all 48 shapes of 8-64 rows, H 64-512,
  // 1, 3 and 4 gates, on one thread and on two). The bench LSTM layer's forward on two threads:
  // 1343-1355 -> 1287-1290 us (medians of 98 interleaved passes, twice); on one, even.
  UninitializedBuffer<T> w_hh_t;
  if (!s.bf16) {
    w_hh_t = UninitializedBuffer<T>(g.hidden * gw);
    cpu::transpose(w_hh, gw, g.hidden, g.hidden, w_hh_t.data(), gw);
  }
  // Each thread carries its own rows of the batch through every step (row slices), so the
  // threads never meet inside the recurrence.
  s.slices = slice_count(g.batch);
  for_row_slices(g.batch, s.slices, [&](int64_t, int64_t r0, int64_t n) {
    const int64_t r0h = r0 * g.hidden;
    T* slice_gates = gates + slice_row(r0, n, g.steps, 0) * gw;
    // The input projection of the slice's rows of every step, one GEMM: x's rows gathered into
    // step order first unless the slice is the whole batch.
    const T* slice_x = x;
    UninitializedBuffer<T> gathered;
    if (n < g.batch) {
      gathered = UninitializedBuffer<T>(g.steps * n * g.input);
      for (int64_t t = 0; t < g.steps; ++t)
        std::copy_n(x + (t * g.batch + r0) * g.input, n * g.input,
                    gathered.data() + t * n * g.input);
      slice_x = gathered.data();
    }
    UninitializedBuffer<uint16_t> h16;  // bf16: the step's h_{t-1} rounded
    if constexpr (std::is_same_v<T, float>) {
      if (s.bf16) {
        const UninitializedBuffer<uint16_t> x16 =
            cpu::rounded_to_bf16(slice_x, g.steps * n * g.input);
        cpu::gemm_bf16_rounded(false, true, g.steps * n, gw, g.input, 1.f, x16.data(), g.input,
                               s.w_ih16.data(), g.input, 0.f, slice_gates, gw);
        h16 = UninitializedBuffer<uint16_t>(n * g.hidden);
      }
    }
    if (!s.bf16)
      cpu::gemm(false, true, g.steps * n, gw, g.input, T(1), slice_x, g.input, s.w_ih.data<T>(),
                g.input, T(0), slice_gates, gw);
    // h_{t-1} W_hh^T into `into` (beta 0) or added to it (beta 1).
    auto recurrent = [&](const T* h_prev, T beta, T* into) {
      if constexpr (std::is_same_v<T, float>) {
        if (s.bf16) {
          cpu::round_to_bf16(h_prev, n * g.hidden, h16.data());
          cpu::gemm_bf16_rounded(false, true, n, gw, g.hidden, 1.f, h16.data(), g.hidden,
                                 s.w_hh16.data(), g.hidden, beta, into, gw);
          return;
        }
      }
      cpu::gemm(false, false, n, gw, g.hidden, T(1), h_prev, g.hidden, w_hh_t.data(), gw, beta,
                into, gw);
    };
    for (int64_t k = 0; k < g.steps; ++k) {
      const int64_t t = g.step_at(k);
      T* gates_t = slice_gates + t * n * gw;
      const T* h_prev = states + g.prev_slot(t) * size + r0h;
      // Without h0 the first step's recurrent term is zero: no GEMM (and GRU's scratch is zeros).
      if (k > 0 || h0.defined()) {
        if (gru) {
          recurrent(h_prev, T(0), hh.data<T>() + r0 * gw);
        } else {
          recurrent(h_prev, T(1), gates_t);
        }
      }
      cpu::RnnStepForward<T> step;
      step.n = n;
      step.h = g.hidden;
      step.gates = gates_t;
      step.bias = bias.data();
      step.h_prev = h_prev;
      step.h_new = states + g.next_slot(t) * size + r0h;
      step.out = out.data<T>() + t * size + r0h;
      step.mask = mask ? mask + t * g.batch + r0 : nullptr;
      if (lstm) {
        step.c_prev = s.cells.data<T>() + g.prev_slot(t) * size + r0h;
        step.c_new = s.cells.data<T>() + g.next_slot(t) * size + r0h;
        step.tanh_c = s.tanh_cells.data<T>() + t * size + r0h;
      }
      if (gru) {
        step.hh = hh.data<T>() + r0 * gw;
        step.bias_hh = bias_hh.data();
        step.hn = s.hn.data<T>() + t * size + r0h;
      }
      cpu::rnn_step_forward(g.cell, step);
    }
  });
  RnnLayerResult result;
  result.output = out;
  result.h_n = state_copy<T>(s.states, g.final_slot(), g);
  if (lstm) result.c_n = state_copy<T>(s.cells, g.final_slot(), g);
  return result;
}

// Which of the inputs {x, h0, c0, w_ih, w_hh, b_ih, b_hh} get a gradient.
using Wants = std::array<bool, 7>;

// The weight and bias gradients are sums over all T*N rows: dW_ih = dG^T X, dW_hh = dH^T H_prev
// (dH, the recurrent side's gate gradients, is dG except for GRU), db_ih and db_hh the column sums
// of dG and dH. Each slice computes its share with one GEMM from a transposed operand stacked as
//   rows [0, I)               X^T           (times dG)
//   row  I                    ones          (times dG: db_ih)
//   rows [I+1, I+1+H)         H_prev^T      (times dG, or dH for GRU)
//   row  I+1+H (GRU only)     ones          (times dH: db_hh)
// so that RNN and LSTM read their gate gradients once for all four, and sgemm's slow transposed
// first operand is avoided (the stacked operand is the small side). The shares are summed after.
struct WeightGradRows {
  int64_t input, hidden;
  bool gru;
  int64_t ih_ones() const { return input; }
  int64_t hh_begin() const { return input + 1; }
  int64_t hh_ones() const { return input + 1 + hidden; }
  int64_t total() const { return input + 1 + hidden + (gru ? 1 : 0); }
};

// Slice share [rows.total(), G*H] of the weight and bias gradients into `share`. bf16: dg16 and
// dh16 are slice_dg and slice_dh rounded.
template <class T>
void weight_grad_share(const Saved& s, const WeightGradRows& rows, int64_t r0, int64_t n,
                       const T* slice_dg, const T* slice_dh, const uint16_t* dg16,
                       const uint16_t* dh16, T* share) {
  const Geometry& g = s.geo;
  const int64_t gw = g.gate_width(), k = g.steps * n;
  const UninitializedBuffer<T> stacked(rows.total() * k);
  // The states the steps read, h_{t-1} in time order, are one block of the state buffer.
  const T* h_prev = s.states.data<T>() + (g.reverse ? g.state_size() : 0);
  for (int64_t t = 0; t < g.steps; ++t) {
    const int64_t at = t * g.batch + r0;
    cpu::transpose(s.x.data<T>() + at * g.input, n, g.input, g.input, stacked.data() + t * n, k);
    cpu::transpose(h_prev + at * g.hidden, n, g.hidden, g.hidden,
                   stacked.data() + rows.hh_begin() * k + t * n, k);
  }
  std::fill_n(stacked.data() + rows.ih_ones() * k, k, T(1));
  if (rows.gru) std::fill_n(stacked.data() + rows.hh_ones() * k, k, T(1));
  // share rows [first, first + count) = stacked rows [first, first + count) times d.
  auto product = [&](int64_t first, int64_t count, const T* d, const uint16_t* d16) {
    if constexpr (std::is_same_v<T, float>) {
      if (s.bf16) {
        const UninitializedBuffer<uint16_t> v16 =
            cpu::rounded_to_bf16(stacked.data() + first * k, count * k);
        cpu::gemm_bf16_rounded(false, false, count, gw, k, 1.f, v16.data(), k, d16, gw, 0.f,
                               share + first * gw, gw);
        return;
      }
    }
    cpu::gemm(false, false, count, gw, k, T(1), stacked.data() + first * k, k, d, gw, T(0),
              share + first * gw, gw);
  };
  if (rows.gru) {
    product(0, rows.hh_begin(), slice_dg, dg16);
    product(rows.hh_begin(), rows.hidden + 1, slice_dh, dh16);
  } else {
    product(0, rows.total(), slice_dg, dg16);
  }
}

template <class T>
std::vector<Tensor> run_backward(const Saved& s, const Wants& wants, const Tensor& grad_out,
                                 const Tensor& grad_h, const Tensor& grad_c) {
  const Geometry& g = s.geo;
  const DType dtype = dtype_of<T>();
  const int64_t gw = g.gate_width(), size = g.state_size();
  const bool lstm = g.cell == cpu::RnnCell::lstm, gru = g.cell == cpu::RnnCell::gru;
  // The running state gradients, updated in place from dL/dh_T down to dL/dh_0.
  Tensor dh = contiguous_copy(grad_h, dtype);
  Tensor dc = lstm ? contiguous_copy(grad_c, dtype) : Tensor();
  // Gate gradients, laid out by slice as the gates (slice_row).
  Tensor dgates = make_tensor({g.steps * g.batch, gw}, dtype);
  Tensor dhh = gru ? make_tensor({g.steps * g.batch, gw}, dtype) : dgates;
  const Tensor dout = contiguous_as(grad_out, dtype);
  const bool* mask = s.mask.defined() ? s.mask.data<bool>() : nullptr;
  const T* w_hh = s.w_hh.data<T>();
  std::vector<Tensor> grads(7);
  if (wants[0]) grads[0] = make_tensor({g.steps, g.batch, g.input}, dtype);
  const bool weights = wants[3] || wants[4] || wants[5] || wants[6];
  const WeightGradRows rows{g.input, g.hidden, gru};
  Tensor shares = weights ? make_tensor({s.slices, rows.total(), gw}, dtype) : Tensor();

  for_row_slices(g.batch, s.slices, [&](int64_t i, int64_t r0, int64_t n) {
    const int64_t r0h = r0 * g.hidden, first = slice_row(r0, n, g.steps, 0);
    T* slice_dg = dgates.data<T>() + first * gw;
    T* slice_dh = dhh.data<T>() + first * gw;
    // bf16: the recurrent side's gate gradients rounded as each step makes them (for dL/dh_{t-1}
    // and, with the stacked operand, dW_hh); the input side's (dg16) are the same but for GRU's.
    UninitializedBuffer<uint16_t> dh16, gru_dg16;
    const uint16_t* dg16 = nullptr;
    if (s.bf16) dh16 = UninitializedBuffer<uint16_t>(g.steps * n * gw);
    for (int64_t k = g.steps - 1; k >= 0; --k) {
      const int64_t t = g.step_at(k);
      cpu::RnnStepBackward<T> step;
      step.n = n;
      step.h = g.hidden;
      step.gates = s.gates.data<T>() + (first + t * n) * gw;
      step.h_prev = s.states.data<T>() + g.prev_slot(t) * size + r0h;
      step.dout = dout.data<T>() + t * size + r0h;
      step.dh = dh.data<T>() + r0h;
      step.dgates = slice_dg + t * n * gw;
      step.dhh = slice_dh + t * n * gw;
      step.mask = mask ? mask + t * g.batch + r0 : nullptr;
      if (lstm) {
        step.c_prev = s.cells.data<T>() + g.prev_slot(t) * size + r0h;
        step.tanh_c = s.tanh_cells.data<T>() + t * size + r0h;
        step.dc = dc.data<T>() + r0h;
      }
      if (gru) step.hn = s.hn.data<T>() + t * size + r0h;
      cpu::rnn_step_backward(g.cell, step);
      // dL/dh_{t-1} += dL/d(h_{t-1} W_hh^T) @ W_hh; the first step's only matters for h0.
      if constexpr (std::is_same_v<T, float>) {
        if (s.bf16) {
          uint16_t* dh16_t = dh16.data() + t * n * gw;
          cpu::round_to_bf16(step.dhh, n * gw, dh16_t);
          if (k > 0 || wants[1])
            cpu::gemm_bf16_rounded(false, false, n, g.hidden, gw, 1.f, dh16_t, gw, s.w_hh16.data(),
                                   g.hidden, 1.f, step.dh, g.hidden);
          continue;
        }
      }
      if (k > 0 || wants[1])
        cpu::gemm(false, false, n, g.hidden, gw, T(1), step.dhh, gw, w_hh, g.hidden, T(1), step.dh,
                  g.hidden);
    }
    if constexpr (std::is_same_v<T, float>) {
      if (s.bf16) {
        if (gru) gru_dg16 = cpu::rounded_to_bf16(slice_dg, g.steps * n * gw);
        dg16 = gru ? gru_dg16.data() : dh16.data();
      }
    }
    if (wants[0]) {
      // dx = dG @ W_ih over the slice's rows in one GEMM, then put back in step order (one block
      // per step) unless the slice is the whole batch.
      T* dx = grads[0].data<T>();
      UninitializedBuffer<T> slice_dx;
      if (n < g.batch) slice_dx = UninitializedBuffer<T>(g.steps * n * g.input);
      T* into = n < g.batch ? slice_dx.data() : dx;
      if constexpr (std::is_same_v<T, float>) {
        if (s.bf16)
          cpu::gemm_bf16_rounded(false, false, g.steps * n, g.input, gw, 1.f, dg16, gw,
                                 s.w_ih16.data(), g.input, 0.f, into, g.input);
      }
      if (!s.bf16)
        cpu::gemm(false, false, g.steps * n, g.input, gw, T(1), slice_dg, gw, s.w_ih.data<T>(),
                  g.input, T(0), into, g.input);
      if (n < g.batch)
        for (int64_t t = 0; t < g.steps; ++t)
          std::copy_n(into + t * n * g.input, n * g.input, dx + (t * g.batch + r0) * g.input);
    }
    if (weights)
      weight_grad_share(s, rows, r0, n, slice_dg, slice_dh, dg16, dh16.data(),
                        shares.data<T>() + i * rows.total() * gw);
  });

  if (wants[1]) grads[1] = dh;
  if (wants[2]) grads[2] = dc;
  if (!weights) return grads;
  // The slices' shares summed in slice order, then transposed into PyTorch's [G*H, width].
  T* total = shares.data<T>();
  const int64_t share_size = rows.total() * gw;
  for (int64_t i = 1; i < s.slices; ++i) {
    const T* share = total + i * share_size;
    for (int64_t j = 0; j < share_size; ++j) total[j] += share[j];
  }
  auto transposed = [&](int64_t first_row, int64_t width) {
    Tensor grad = make_tensor({gw, width}, dtype);
    cpu::transpose(total + first_row * gw, width, gw, gw, grad.data<T>(), width);
    return grad;
  };
  auto row = [&](int64_t r) {
    Tensor grad = make_tensor({gw}, dtype);
    std::copy_n(total + r * gw, gw, grad.data<T>());
    return grad;
  };
  if (wants[3]) grads[3] = transposed(0, g.input);
  if (wants[4]) grads[4] = transposed(rows.hh_begin(), g.hidden);
  if (wants[5]) grads[5] = row(rows.ih_ones());
  if (wants[6]) grads[6] = row(gru ? rows.hh_ones() : rows.ih_ones());
  return grads;
}

}  // namespace

RnnLayerResult rnn_layer(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                         const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                         const Tensor& b_hh, const Tensor& mask, bool reverse) {
  auto saved = std::make_shared<Saved>();
  saved->geo = check_arguments(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mask);
  saved->geo.reverse = reverse;
  const DType dtype = x.dtype();
  saved->x = contiguous_as(x, dtype);
  saved->w_ih = contiguous_as(w_ih, dtype);
  saved->w_hh = contiguous_as(w_hh, dtype);
  if (mask.defined()) saved->mask = contiguous_as(mask, DType::boolean);
  RnnLayerResult result = dispatch_floating(dtype, kRnnOp, [&](auto tag) {
    return run_forward<decltype(tag)>(*saved, h0, c0, b_ih, b_hh);
  });

  const std::vector<Tensor> inputs = {x, h0, c0, w_ih, w_hh, b_ih, b_hh};
  if (!needs_grad(inputs)) return result;
  Wants wants{};
  for (size_t i = 0; i < inputs.size(); ++i)
    wants[i] = inputs[i].defined() && inputs[i].requires_grad();
  std::vector<Tensor> outputs = {result.output, result.h_n};
  if (result.c_n.defined()) outputs.push_back(result.c_n);
  record(kRnnOp, inputs, outputs, [saved, wants](std::vector<Tensor>& grads) {
    const Tensor grad_c = grads.size() > 2 ? grads[2] : Tensor();
    return dispatch_floating(saved->x.dtype(), "rnn_layer backward", [&](auto tag) {
      return run_backward<decltype(tag)>(*saved, wants, grads[0], grads[1], grad_c);
    });
  });
  return result;
}

}  // namespace nabla
