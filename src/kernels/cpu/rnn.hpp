// Fused recurrent cell kernels: one pass over a step's gate matrix [n, G*h] applies the gate
// nonlinearities and updates the state (forward), or turns the state gradients into the gate
// gradients (backward). The GEMMs around them (input projection, h_{t-1} @ W_hh^T) are the
// caller's; these passes do the elementwise work in between, so a step reads its gates once.
//
// Layouts are row-major and contiguous: gate matrices [n, G*h] (gate blocks of h columns, in
// PyTorch's order: LSTM i, f, g, o; GRU r, z, n; RNN one block), states [n, h]. A row whose mask
// entry is false is a padded step: the state carries over (h_new = h_prev, c_new = c_prev), the
// output row is zero, and backward passes the state gradients through untouched with zero gate
// gradients. f32 uses vectorized exp/sigmoid/tanh (relative error < 1e-6); f64 the library's.
// Rows are split over the OpenMP pool when n * G * h reaches kParallelThreshold.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

enum class RnnCell { rnn_tanh, rnn_relu, lstm, gru };

// Gates per cell: 1 (RNN), 4 (LSTM), 3 (GRU).
int64_t rnn_gate_count(RnnCell cell);

template <class T>
struct RnnStepForward {
  int64_t n = 0, h = 0;
  // In: the pre-activations. RNN/LSTM: x W_ih^T + h_prev W_hh^T (without biases); GRU: the input
  // part x W_ih^T only. Out: the gate activations (RNN: the new hidden value before masking).
  T* gates = nullptr;
  const T* hh = nullptr;       // GRU: h_prev W_hh^T [n, 3h] (no bias)
  const T* bias = nullptr;     // [G*h] or null. RNN/LSTM: b_ih + b_hh; GRU: b_ih
  const T* bias_hh = nullptr;  // GRU: b_hh [3h] or null
  const T* h_prev = nullptr;
  T* h_new = nullptr;
  T* out = nullptr;            // this step's output row block [n, h]: h_new, or zero where masked
  const T* c_prev = nullptr;   // LSTM
  T* c_new = nullptr;          // LSTM
  T* tanh_c = nullptr;         // LSTM: tanh(c_new), saved for backward
  T* hn = nullptr;             // GRU: W_hn h_prev + b_hn, saved for backward
  const bool* mask = nullptr;  // [n], null = every row is a real step
};

template <class T>
struct RnnStepBackward {
  int64_t n = 0, h = 0;
  const T* gates = nullptr;   // the activations the forward saved
  const T* h_prev = nullptr;  // GRU
  const T* c_prev = nullptr;  // LSTM
  const T* tanh_c = nullptr;  // LSTM
  const T* hn = nullptr;      // GRU
  const T* dout = nullptr;    // gradient of this step's output [n, h], or null
  // In: dL/dh_t from the later steps. Out: the part of dL/dh_{t-1} that does not go through
  // W_hh (GRU: dh * z; LSTM/RNN: zero; masked rows: dh itself); the caller adds dhh @ W_hh.
  T* dh = nullptr;
  T* dc = nullptr;      // LSTM: dL/dc_t in, dL/dc_{t-1} out
  T* dgates = nullptr;  // out: gradient of the input-side pre-activations [n, G*h]
  // GRU out: gradient of the recurrent-side pre-activations h_prev W_hh^T + b_hh [n, 3h] (differs
  // from dgates in the n block, which r scales). RNN/LSTM: unused (it equals dgates).
  T* dhh = nullptr;
  const bool* mask = nullptr;
};

template <class T>
void rnn_step_forward(RnnCell cell, const RnnStepForward<T>& step);
template <class T>
void rnn_step_backward(RnnCell cell, const RnnStepBackward<T>& step);

// dst [cols, rows] = src [rows, cols]^T, with row strides src_ld and dst_ld (so a block of a
// larger matrix can be transposed into a block of another). The weight gradients sum over the
// T*N rows of the gate gradients; oneDNN's sgemm is markedly slower with its first operand
// transposed, so they are computed as (X^T) dG from a transposed copy of the small X.
template <class T>
void transpose(const T* src, int64_t rows, int64_t cols, int64_t src_ld, T* dst, int64_t dst_ld);

}  // namespace nabla::kernels::cpu
