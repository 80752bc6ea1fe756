// rnn_layer: outputs, final states and the gradients of every input against PyTorch's nn.LSTM,
// nn.GRU and nn.RNN (tanh, relu), also with a non-contiguous x; gradcheck in f64 for every mode
// w.r.t. x, h0, c0 and all weights and biases, with masks and in reverse; masked (right-padded)
// batches against each sequence run alone; reverse against flipped time; the vectorized f32
// cells and their threaded path on a large step against the same layer in f64; error messages.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/rnn.hpp"
#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/op_test.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::leaf;
using nabla::testing::noncontiguous_leaf;
using nabla::testing::OpCase;
using nabla::testing::OpTest;
using Inputs = std::vector<Tensor>;

namespace {

RnnMode mode_named(const std::string& name) {
  if (name == "lstm") return RnnMode::lstm;
  if (name == "gru") return RnnMode::gru;
  if (name == "rnn_relu") return RnnMode::rnn_relu;
  return RnnMode::rnn_tanh;
}

int64_t gates_of(RnnMode mode) { return mode == RnnMode::lstm ? 4 : mode == RnnMode::gru ? 3 : 1; }

Tensor bool_mask(const std::vector<bool>& values, const Shape& shape) {
  return from_vector(values, shape);
}

// mask[t, n] = t < lengths[n] (right padding), time-major.
Tensor length_mask(const std::vector<int64_t>& lengths, int64_t steps) {
  std::vector<bool> m;
  for (int64_t t = 0; t < steps; ++t)
    for (int64_t len : lengths) m.push_back(t < len);
  return bool_mask(m, {steps, static_cast<int64_t>(lengths.size())});
}

Tensor flip_time(const Tensor& t) {
  std::vector<int64_t> index;
  for (int64_t i = t.size(0) - 1; i >= 0; --i) index.push_back(i);
  return index_select(t, 0, from_vector(index));
}

// One layer of nn.LSTM, nn.GRU and nn.RNN (tanh, relu), with initial states; the other cases of
// rnn.json (stacked, bidirectional, packed) are the recurrent layers' (tests/nn).
const std::vector<OpTest> kRnnTests = {
    {.name = "rnn_layer",
     .fn =
         [](const OpCase& c) {
           RnnLayerResult r = rnn_layer(
               mode_named(c.attr<std::string>("mode")), c.input("x"), c.input("h0"), c.input("c0"),
               c.input("params/weight_ih_l0"), c.input("params/weight_hh_l0"),
               c.input("params/bias_ih_l0"), c.input("params/bias_hh_l0"));
           return nabla::testing::OpOutputs{r.output, r.h_n, r.c_n};
         },
     .grad_inputs = {"x", "h0", "c0", "params/weight_ih_l0", "params/weight_hh_l0",
                     "params/bias_ih_l0", "params/bias_hh_l0"},
     .cases = {"single_lstm", "single_gru", "single_rnn_tanh", "single_rnn_relu"},
     .outputs = {{"out", "grad_out"}, {"h_n", "grad_h"}, {"c_n", "grad_c"}}},
};

// f64 leaves for gradcheck: x [T, N, I] (non-contiguous), h0 [N, H], c0 (LSTM), w_ih, w_hh, b_ih,
// b_hh. Weights are scaled down so that the gates stay away from saturation.
Inputs gradcheck_inputs(RnnMode mode, int64_t steps, int64_t batch, int64_t input, int64_t hidden) {
  const int64_t gh = gates_of(mode) * hidden;
  auto scaled = [](Tensor t, double s) {
    NoGradGuard no_grad;
    Tensor l = (t * s).detach();
    l.requires_grad_();
    return l;
  };
  Inputs in = {noncontiguous_leaf({steps, batch, input}, 1), scaled(leaf({batch, hidden}, 2), 0.5)};
  if (mode == RnnMode::lstm) in.push_back(scaled(leaf({batch, hidden}, 3), 0.5));
  in.push_back(scaled(leaf({gh, input}, 4), 0.5));
  in.push_back(scaled(leaf({gh, hidden}, 5), 0.5));
  in.push_back(scaled(leaf({gh}, 6), 0.3));
  in.push_back(scaled(leaf({gh}, 7), 0.3));
  return in;
}

// Every output of rnn_layer, flattened into one vector.
Tensor run_flat(RnnMode mode, const Inputs& in, const Tensor& mask, bool reverse) {
  const bool lstm = mode == RnnMode::lstm;
  const Tensor c0 = lstm ? in[2] : Tensor();
  const size_t w = lstm ? 3 : 2;
  RnnLayerResult r =
      rnn_layer(mode, in[0], in[1], c0, in[w], in[w + 1], in[w + 2], in[w + 3], mask, reverse);
  Inputs parts = {r.output.flatten(), r.h_n.flatten()};
  if (lstm) parts.push_back(r.c_n.flatten());
  return concat(parts, 0);
}

// One f32 GRU step from a zero state with zero biases: the gates hold sigmoid(x), sigmoid(x) and
// tanh(x) for the h inputs x afterwards.
std::vector<float> gru_gates_of(const std::vector<float>& x) {
  const int64_t h = static_cast<int64_t>(x.size());
  std::vector<float> gates, zero(3 * h, 0.0f), h_new(h), out(h), hn(h);
  for (int k = 0; k < 3; ++k) gates.insert(gates.end(), x.begin(), x.end());
  kernels::cpu::RnnStepForward<float> step;
  step.n = 1;
  step.h = h;
  step.gates = gates.data();
  step.hh = zero.data();
  step.bias = zero.data();
  step.bias_hh = zero.data();
  step.h_prev = zero.data();
  step.h_new = h_new.data();
  step.out = out.data();
  step.hn = hn.data();
  kernels::cpu::rnn_step_forward(kernels::cpu::RnnCell::gru, step);
  return gates;
}

const RnnMode kModes[] = {RnnMode::rnn_tanh, RnnMode::rnn_relu, RnnMode::lstm, RnnMode::gru};

}  // namespace

TEST(RnnLayer, MatchesPyTorchForEveryMode) { nabla::testing::check_ops("rnn", kRnnTests); }

TEST(RnnLayer, GradcheckEveryModeAndInput) {
  for (RnnMode mode : kModes) {
    SCOPED_TRACE(static_cast<int>(mode));
    const Inputs in = gradcheck_inputs(mode, 4, 3, 3, 4);
    EXPECT_GRADCHECK([&](const Inputs& v) { return run_flat(mode, v, Tensor(), false); }, in);
  }
}

TEST(RnnLayer, GradcheckWithMaskForwardAndReverse) {
  // Padding at the end, at the start and a hole in the middle: every pattern carries the state.
  const Tensor mask = bool_mask({true, true, false,  //
                                 true, false, true,  //
                                 false, true, true,  //
                                 true, false, true},
                                {4, 3});
  for (RnnMode mode : kModes) {
    for (bool reverse : {false, true}) {
      SCOPED_TRACE(std::to_string(static_cast<int>(mode)) + (reverse ? " reverse" : ""));
      const Inputs in = gradcheck_inputs(mode, 4, 3, 3, 4);
      EXPECT_GRADCHECK([&](const Inputs& v) { return run_flat(mode, v, mask, reverse); }, in);
    }
  }
}

TEST(RnnLayer, GradcheckWithoutInitialStatesOrBiases) {
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru}) {
    const Inputs all = gradcheck_inputs(mode, 3, 2, 3, 4);
    const size_t w = mode == RnnMode::lstm ? 3 : 2;
    const Inputs in = {all[0], all[w], all[w + 1]};
    EXPECT_GRADCHECK(
        [&](const Inputs& v) {
          RnnLayerResult r = rnn_layer(mode, v[0], Tensor(), Tensor(), v[1], v[2]);
          return concat({r.output.flatten(), r.h_n.flatten()}, 0);
        },
        in);
  }
}

TEST(RnnLayer, MaskedBatchEqualsEachSequenceAlone) {
  const std::vector<int64_t> lengths = {4, 2, 3};
  const int64_t steps = 4, batch = 3, input = 3, hidden = 5;
  const Tensor mask = length_mask(lengths, steps);
  for (RnnMode mode : kModes) {
    for (bool reverse : {false, true}) {
      SCOPED_TRACE(std::to_string(static_cast<int>(mode)) + (reverse ? " reverse" : ""));
      NoGradGuard no_grad;
      const bool lstm = mode == RnnMode::lstm;
      const int64_t gh = gates_of(mode) * hidden;
      Generator gen(7);
      const Tensor x = randn({steps, batch, input}, DType::f64, &gen);
      const Tensor h0 = randn({batch, hidden}, DType::f64, &gen) * 0.5;
      const Tensor c0 = lstm ? randn({batch, hidden}, DType::f64, &gen) * 0.5 : Tensor();
      const Tensor w_ih = randn({gh, input}, DType::f64, &gen) * 0.5;
      const Tensor w_hh = randn({gh, hidden}, DType::f64, &gen) * 0.5;
      const Tensor b_ih = randn({gh}, DType::f64, &gen) * 0.3;
      const Tensor b_hh = randn({gh}, DType::f64, &gen) * 0.3;
      RnnLayerResult r = rnn_layer(mode, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mask, reverse);
      for (int64_t n = 0; n < batch; ++n) {
        const int64_t len = lengths[n];
        const Tensor c0_n = lstm ? c0.slice(0, n, n + 1) : Tensor();
        RnnLayerResult alone =
            rnn_layer(mode, x.slice(1, n, n + 1).slice(0, 0, len), h0.slice(0, n, n + 1), c0_n,
                      w_ih, w_hh, b_ih, b_hh, Tensor(), reverse);
        const Tensor real = r.output.slice(1, n, n + 1);
        EXPECT_ALL_CLOSE(real.slice(0, 0, len), alone.output, 1e-12, 1e-12);
        EXPECT_ALL_CLOSE(real.slice(0, len, steps), zeros({steps - len, 1, hidden}, DType::f64), 0,
                         0);
        EXPECT_ALL_CLOSE(r.h_n.slice(0, n, n + 1), alone.h_n, 1e-12, 1e-12);
        if (lstm) {
          EXPECT_ALL_CLOSE(r.c_n.slice(0, n, n + 1), alone.c_n, 1e-12, 1e-12);
        }
      }
    }
  }
}

TEST(RnnLayer, ReverseRunsTimeBackwards) {
  for (RnnMode mode : kModes) {
    SCOPED_TRACE(static_cast<int>(mode));
    NoGradGuard no_grad;
    const Inputs in = gradcheck_inputs(mode, 5, 2, 3, 4);
    const bool lstm = mode == RnnMode::lstm;
    const size_t w = lstm ? 3 : 2;
    const Tensor c0 = lstm ? in[2] : Tensor();
    RnnLayerResult rev =
        rnn_layer(mode, in[0], in[1], c0, in[w], in[w + 1], in[w + 2], in[w + 3], Tensor(), true);
    RnnLayerResult fwd =
        rnn_layer(mode, flip_time(in[0]), in[1], c0, in[w], in[w + 1], in[w + 2], in[w + 3]);
    EXPECT_ALL_CLOSE(rev.output, flip_time(fwd.output), 1e-12, 1e-12);
    EXPECT_ALL_CLOSE(rev.h_n, fwd.h_n, 1e-12, 1e-12);
    if (lstm) {
      EXPECT_ALL_CLOSE(rev.c_n, fwd.c_n, 1e-12, 1e-12);
    }
  }
}

TEST(RnnLayer, MissingStatesAndBiasesAreZeros) {
  NoGradGuard no_grad;
  for (RnnMode mode : kModes) {
    const Inputs in = gradcheck_inputs(mode, 3, 2, 3, 4);
    const bool lstm = mode == RnnMode::lstm;
    const size_t w = lstm ? 3 : 2;
    const Tensor z_state = zeros({2, 4}, DType::f64);
    const Tensor z_bias = zeros(in[w + 2].shape(), DType::f64);
    RnnLayerResult a = rnn_layer(mode, in[0], Tensor(), Tensor(), in[w], in[w + 1]);
    RnnLayerResult b = rnn_layer(mode, in[0], z_state, lstm ? z_state : Tensor(), in[w], in[w + 1],
                                 z_bias, z_bias);
    EXPECT_ALL_CLOSE(a.output, b.output, 0, 0);
    EXPECT_ALL_CLOSE(a.h_n, b.h_n, 0, 0);
  }
}

TEST(RnnLayer, NoStepsGiveTheInitialStates) {
  Tensor x = zeros({0, 2, 3}).requires_grad_();
  Tensor h0 = randn({2, 4}).requires_grad_(), c0 = randn({2, 4});
  Tensor w_ih = randn({16, 3}).requires_grad_(), w_hh = randn({16, 4}).requires_grad_();
  RnnLayerResult r = rnn_layer(RnnMode::lstm, x, h0, c0, w_ih, w_hh);
  EXPECT_EQ(r.output.shape(), (Shape{0, 2, 4}));
  EXPECT_ALL_CLOSE(r.h_n, h0, 0, 0);
  EXPECT_ALL_CLOSE(r.c_n, c0, 0, 0);
  (r.h_n * 3).sum().backward();
  EXPECT_ALL_CLOSE(h0.grad(), full({2, 4}, 3), 0, 0);
  EXPECT_ALL_CLOSE(w_hh.grad(), zeros({16, 4}), 0, 0);
}

TEST(RnnLayer, PartialGradientsMatchFullOnes) {
  // Only w_hh and h0 need a gradient: the backward skips the rest and must agree.
  const Inputs full = gradcheck_inputs(RnnMode::lstm, 4, 3, 3, 4);
  run_flat(RnnMode::lstm, full, Tensor(), false).sum().backward();
  Tensor h0 = full[1].detach().clone().requires_grad_();
  Tensor w_hh = full[4].detach().clone().requires_grad_();
  RnnLayerResult r = rnn_layer(RnnMode::lstm, full[0].detach(), h0, full[2].detach(),
                               full[3].detach(), w_hh, full[5].detach(), full[6].detach());
  (r.output.sum() + r.h_n.sum() + r.c_n.sum()).backward();
  EXPECT_ALL_CLOSE(h0.grad(), full[1].grad(), 1e-12, 1e-12);
  EXPECT_ALL_CLOSE(w_hh.grad(), full[4].grad(), 1e-12, 1e-12);
}

TEST(RnnLayer, LargeF32StepMatchesF64) {
  // N * G * H above the threading threshold for LSTM and GRU, so that their fused passes run over
  // threads (when there are several), and the vectorized exp/sigmoid/tanh over whole packs.
  const int64_t steps = 3, batch = 96, input = 28, hidden = 128;
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru, RnnMode::rnn_tanh}) {
    SCOPED_TRACE(static_cast<int>(mode));
    const int64_t gh = gates_of(mode) * hidden;
    Generator gen(11);
    const Inputs values = {
        randn({steps, batch, input}, DType::f64, &gen),
        randn({batch, hidden}, DType::f64, &gen) * 0.5, randn({gh, input}, DType::f64, &gen) * 0.2,
        randn({gh, hidden}, DType::f64, &gen) * 0.1, randn({gh}, DType::f64, &gen) * 0.1};
    std::vector<Inputs> grads;
    std::vector<Tensor> outputs;
    for (DType dtype : {DType::f64, DType::f32}) {
      Inputs in;
      for (const Tensor& v : values) {
        Tensor t = v.to(dtype).detach();
        in.push_back(t.requires_grad_());
      }
      RnnLayerResult r = rnn_layer(mode, in[0], in[1], Tensor(), in[2], in[3], in[4], in[4]);
      Generator weights(3);
      (r.output * randn(r.output.shape(), dtype, &weights)).sum().backward();
      outputs.push_back(r.output.to(DType::f64));
      Inputs g;
      for (const Tensor& t : in) g.push_back(t.grad().to(DType::f64));
      grads.push_back(g);
    }
    EXPECT_ALL_CLOSE(outputs[1], outputs[0], 1e-4, 1e-5);
    for (size_t i = 0; i < values.size(); ++i)
      EXPECT_ALL_CLOSE(grads[1][i], grads[0][i], 1e-4, 1e-4);
  }
}

// From 32 rows up each thread carries its own slice of the batch through every step
// (src/ops/rnn.cpp, for_row_slices): on 2 threads the rows split 20 / 20 here. Outputs, final
// states and every gradient against one thread, with padded rows and in reverse, in f64 to
// rounding and in f32 within sgemm's per-row-count differences; and the same bits when repeated.
TEST(RnnLayer, BatchSlicesMatchOneThread) {
  const int threads = get_num_threads();
  const int64_t steps = 5, batch = 40, input = 7, hidden = 24;
  std::vector<int64_t> lengths(batch);
  for (int64_t n = 0; n < batch; ++n) lengths[n] = 1 + n / 3 % steps;  // differs per slice
  const Tensor mask = length_mask(lengths, steps);
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru, RnnMode::rnn_tanh}) {
    for (DType dtype : {DType::f64, DType::f32}) {
      for (bool reverse : {false, true}) {
        SCOPED_TRACE(::testing::Message()
                     << static_cast<int>(mode) << " " << dtype << (reverse ? " reverse" : ""));
        const bool lstm = mode == RnnMode::lstm;
        const int64_t gh = gates_of(mode) * hidden;
        Generator gen(17);
        const Inputs values = {
            randn({steps, batch, input}, dtype, &gen), randn({batch, hidden}, dtype, &gen) * 0.5,
            randn({batch, hidden}, dtype, &gen) * 0.5, randn({gh, input}, dtype, &gen) * 0.3,
            randn({gh, hidden}, dtype, &gen) * 0.2,    randn({gh}, dtype, &gen) * 0.1};
        std::vector<std::vector<Tensor>> results;
        for (int t : {1, 2, 2}) {
          set_num_threads(t);
          Inputs in;
          for (const Tensor& v : values) in.push_back(v.detach().requires_grad_());
          RnnLayerResult r = rnn_layer(mode, in[0], in[1], lstm ? in[2] : Tensor(), in[3], in[4],
                                       in[5], in[5], mask, reverse);
          Generator weights(5);
          Tensor loss = (r.output * randn(r.output.shape(), dtype, &weights)).sum() +
                        (r.h_n * randn(r.h_n.shape(), dtype, &weights)).sum();
          if (lstm) loss = loss + r.c_n.sum();
          loss.backward();
          std::vector<Tensor> out = {r.output.detach(), r.h_n.detach()};
          if (lstm) out.push_back(r.c_n.detach());
          for (size_t i = 0; i < in.size(); ++i)
            if (lstm || i != 2) out.push_back(in[i].grad());
          results.push_back(out);
        }
        set_num_threads(threads);
        const double tolerance = dtype == DType::f64 ? 1e-12 : 1e-5;
        for (size_t i = 0; i < results[0].size(); ++i) {
          EXPECT_ALL_CLOSE(results[1][i], results[0][i], tolerance, tolerance) << i;
          EXPECT_ALL_CLOSE(results[2][i], results[1][i], 0, 0) << i;
        }
      }
    }
  }
}

// The gate buffers are laid out by the forward's row slices; a backward run at another thread
// count (or inside a parallel region) must read them by the same slices.
TEST(RnnLayer, BackwardAtAnotherThreadCountMatches) {
  const int threads = get_num_threads();
  const int64_t steps = 4, batch = 48, input = 5, hidden = 16;
  for (RnnMode mode : {RnnMode::lstm, RnnMode::gru}) {
    SCOPED_TRACE(static_cast<int>(mode));
    const int64_t gh = gates_of(mode) * hidden;
    Generator gen(3);
    const Inputs values = {
        randn({steps, batch, input}, DType::f64, &gen), randn({gh, input}, DType::f64, &gen) * 0.3,
        randn({gh, hidden}, DType::f64, &gen) * 0.2, randn({gh}, DType::f64, &gen) * 0.1};
    std::vector<std::vector<Tensor>> results;
    for (const auto& [forward_threads, backward_threads] : {std::pair{2, 2}, {2, 1}, {1, 2}}) {
      Inputs in;
      for (const Tensor& v : values) in.push_back(v.detach().requires_grad_());
      set_num_threads(forward_threads);
      RnnLayerResult r =
          rnn_layer(mode, in[0], Tensor(), Tensor(), in[1], in[2], in[3], in[3], Tensor(), false);
      set_num_threads(backward_threads);
      Generator weights(5);
      (r.output * randn(r.output.shape(), DType::f64, &weights)).sum().backward();
      std::vector<Tensor> out;
      for (const Tensor& t : in) out.push_back(t.grad());
      results.push_back(out);
    }
    set_num_threads(threads);
    for (size_t run = 1; run < results.size(); ++run)
      for (size_t i = 0; i < results[0].size(); ++i)
        EXPECT_ALL_CLOSE(results[run][i], results[0][i], 1e-12, 1e-12) << run << " " << i;
  }
}

TEST(RnnKernels, F32SigmoidAndTanhAreAccurate) {
  // r and z are sigmoids of the inputs, n their tanh: the vectorized f32 functions (and the scalar
  // tail, the width not being a multiple of the pack) against double precision.
  std::vector<float> inputs;
  for (double v = 1e-6; v < 40; v *= 1.013) inputs.insert(inputs.end(), {float(v), float(-v)});
  inputs.insert(inputs.end(), {0.0f, 0.625f, -0.625f, 7.99f, -7.99f, 100.0f, -100.0f});
  const int64_t h = static_cast<int64_t>(inputs.size());
  const std::vector<float> gates = gru_gates_of(inputs);
  double worst_sigmoid = 0, worst_tanh = 0;
  for (int64_t j = 0; j < h; ++j) {
    const double x = inputs[j], s = 1 / (1 + std::exp(-x)), t = std::tanh(x);
    // Below the smallest normal f32 only the absolute error can be small (e^100 overflows, so
    // sigmoid(-100) is 0).
    constexpr double kSmallest = std::numeric_limits<float>::min();
    for (float g : {gates[j], gates[h + j]}) {
      if (s < kSmallest) {
        EXPECT_LT(std::abs(g - s), kSmallest) << x;
      } else {
        worst_sigmoid = std::max(worst_sigmoid, std::abs(g - s) / s);
      }
    }
    const double tanh_error = std::abs(gates[2 * h + j] - t);
    worst_tanh = std::max(worst_tanh, t == 0 ? tanh_error : tanh_error / std::abs(t));
  }
  EXPECT_LT(worst_sigmoid, 1e-6);
  EXPECT_LT(worst_tanh, 1e-6);
  // NaN stays NaN through the vector paths (16 lanes: whole packs on any target).
  for (float g : gru_gates_of(std::vector<float>(16, std::nanf("")))) EXPECT_TRUE(std::isnan(g));
}

// The transpose behind the weight gradients (whole 16x16 f32 tiles in AVX-512 registers, the
// rest and f64 scalar) is exact at every shape: tiles whole, partial in rows, columns or both; and
// between blocks of larger matrices (row strides wider than the block), as the weight gradients
// gather a slice's rows of each step.
TEST(RnnKernels, TransposeIsExact) {
  for (const auto& [rows, cols] :
       {std::pair<int64_t, int64_t>{16, 16}, {1792, 28}, {28, 512}, {128, 512}, {33, 47}, {5, 3}}) {
    for (const int64_t pad : {0, 5}) {
      SCOPED_TRACE(::testing::Message() << rows << " x " << cols << " padded by " << pad);
      const int64_t src_ld = cols + pad, dst_ld = rows + 2 * pad;
      std::vector<float> src(static_cast<size_t>(rows * src_ld)),
          dst(static_cast<size_t>(cols * dst_ld), -1.f);
      for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i);
      kernels::cpu::transpose(src.data(), rows, cols, src_ld, dst.data(), dst_ld);
      std::vector<double> src64(src.begin(), src.end()), dst64(dst.size(), -1.0);
      kernels::cpu::transpose(src64.data(), rows, cols, src_ld, dst64.data(), dst_ld);
      for (int64_t c = 0; c < cols; ++c) {
        for (int64_t r = 0; r < dst_ld; ++r) {
          // Outside the block the destination is untouched.
          const float want = r < rows ? src[r * src_ld + c] : -1.f;
          ASSERT_EQ(dst[c * dst_ld + r], want) << r << ", " << c;
          ASSERT_EQ(dst64[c * dst_ld + r], want) << r << ", " << c;
        }
      }
    }
  }
}

TEST(RnnLayer, Errors) {
  const Tensor x = zeros({5, 3, 4});
  const Tensor w_ih = zeros({24, 4}), w_hh = zeros({24, 6}), b = zeros({24});
  auto lstm = [&](const Tensor& xx, const Tensor& wi, const Tensor& wh, const Tensor& h0 = Tensor(),
                  const Tensor& bias = Tensor(), const Tensor& mask = Tensor()) {
    return error_message(
        [&] { rnn_layer(RnnMode::lstm, xx, h0, Tensor(), wi, wh, bias, bias, mask); });
  };
  EXPECT_NE(lstm(zeros({5, 4}), w_ih, w_hh)
                .find("rnn_layer: expected x of shape [T, N, I] (3 axes), got shape [5, 4]"),
            std::string::npos);
  EXPECT_NE(
      lstm(x, w_ih, zeros({24})).find("expected w_hh of shape [G*H, H] (2 axes), got shape [24]"),
      std::string::npos);
  // A GRU's w_hh [18, 6] given to an LSTM.
  const std::string wrong_gates = lstm(x, zeros({18, 4}), zeros({18, 6}));
  EXPECT_NE(wrong_gates.find("w_hh of shape [18, 6] does not match mode lstm (4 gates: i, f, g, o)"
                             " with hidden size 6"),
            std::string::npos)
      << wrong_gates;
  EXPECT_NE(wrong_gates.find("expected shape [24, 6]"), std::string::npos);
  EXPECT_NE(lstm(x, zeros({24, 5}), w_hh).find("w_ih of shape [24, 5] does not match"),
            std::string::npos);
  EXPECT_NE(lstm(x, w_ih, w_hh, Tensor(), zeros({20})).find("b_ih of shape [20] does not match"),
            std::string::npos);
  EXPECT_NE(lstm(x, w_ih, w_hh, zeros({3, 5})).find("h0 of shape [3, 5] does not match"),
            std::string::npos);
  EXPECT_NE(lstm(x, w_ih, w_hh, Tensor(), b, bool_mask(std::vector<bool>(15, true), {3, 5}))
                .find("mask of shape [3, 5] does not match x of shape [5, 3, 4] ([T, N]); "
                      "expected shape [5, 3]"),
            std::string::npos);
  EXPECT_NE(
      lstm(x, w_ih, w_hh, Tensor(), b, ones({5, 3})).find("expected a bool mask, got dtype f32"),
      std::string::npos);
  EXPECT_NE(lstm(x, w_ih, zeros({24, 6}, DType::f64))
                .find("w_hh has dtype f64 but x has dtype f32; expected the same dtype"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              rnn_layer(RnnMode::gru, x, Tensor(), zeros({3, 6}), zeros({18, 4}), zeros({18, 6}));
            }).find("c0 is a cell state, used by mode lstm only"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              rnn_layer(RnnMode::rnn_tanh, zeros({5, 3, 4}, DType::i64), Tensor(), Tensor(),
                        zeros({6, 4}), zeros({6, 6}));
            }).find("expected a floating x (f32 or f64), got dtype i64"),
            std::string::npos);
}
