// bf16 mixed precision (nabla/autocast.hpp): inside an Autocast scope, products and convolutions
// compute exactly what f64 computes on their operands rounded to bf16 (up to f32 accumulation),
// which the fp32 results measurably do not; gradients too, in the precision of the forward; small
// products, f64 and code outside the scope stay fp32.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/bf16_round.hpp"
#include "kernels/cpu/gemm_matmul.hpp"
#include "nabla/nabla.hpp"
#include "support/errors.hpp"

namespace {

using namespace nabla;

// v rounded to the nearest bf16 (ties to even), as the kernels round (finite values).
double round_bf16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  bits &= 0xffff0000u;
  std::memcpy(&v, &bits, sizeof bits);
  return v;
}

// x rounded to bf16, kept in f64 for the reference computations.
Tensor rounded_to_bf16(const Tensor& x) {
  Tensor out = x.contiguous().to(DType::f64).clone();
  double* p = out.data<double>();
  for (int64_t i = 0; i < out.numel(); ++i) p[i] = round_bf16(static_cast<float>(p[i]));
  return out;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  return max(abs(a.to(DType::f64) - b.to(DType::f64))).item();
}

// `bf16` is within f32 accumulation error of `rounded` (f64 on bf16-rounded operands), and
// `fp32`, the same computation without the scope, is at least ten times farther from it.
void expect_bf16_result(const Tensor& bf16, const Tensor& fp32, const Tensor& rounded,
                        double tolerance) {
  const double error = max_abs_diff(bf16, rounded), fp32_error = max_abs_diff(fp32, rounded);
  EXPECT_LE(error, tolerance);
  EXPECT_GE(fp32_error, 10 * error) << "the result does not look computed in bf16";
}

#define SKIP_WITHOUT_BF16() \
  if (!bf16_supported()) GTEST_SKIP() << "this CPU has no bf16 instructions"

TEST(Autocast, ScopesNestAndRestore) {
  EXPECT_EQ(compute_precision(), Precision::fp32);
  {
    const Autocast outer(Precision::bf16);
    const Precision inside = bf16_supported() ? Precision::bf16 : Precision::fp32;
    EXPECT_EQ(compute_precision(), inside);
    {
      const Autocast off(Precision::fp32);
      EXPECT_EQ(compute_precision(), Precision::fp32);
    }
    EXPECT_EQ(compute_precision(), inside);
  }
  EXPECT_EQ(compute_precision(), Precision::fp32);
}

TEST(Autocast, PrecisionNames) {
  EXPECT_EQ(parse_precision("bf16"), Precision::bf16);
  EXPECT_EQ(parse_precision("bfloat16"), Precision::bf16);
  EXPECT_EQ(parse_precision("fp32"), Precision::fp32);
  EXPECT_EQ(parse_precision("float32"), Precision::fp32);
  EXPECT_STREQ(precision_name(Precision::bf16), "bf16");
  EXPECT_EQ(nabla::testing::error_message([] { parse_precision("fp16"); }),
            "unknown precision \"fp16\": expected fp32 or bf16");
}

// The bf16 product itself, against f64 on the rounded operands: every transpose, padded rows,
// alpha and beta (beta = 0 must not read C), and row lengths that leave tails of the 32-value
// rounding loop.
TEST(Autocast, GemmBf16MatchesRoundedOperands) {
  SKIP_WITHOUT_BF16();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  struct Case {
    int64_t M, N, K;
    float alpha, beta;
  };
  for (const Case c :
       {Case{37, 45, 70, 1.f, 0.f}, Case{64, 128, 33, 0.5f, 1.f}, Case{5, 300, 17, 1.f, 1.f}}) {
    for (const bool trans_a : {false, true}) {
      for (const bool trans_b : {false, true}) {
        SCOPED_TRACE(::testing::Message() << c.M << "x" << c.N << "x" << c.K << " trans_a "
                                          << trans_a << " trans_b " << trans_b);
        const int64_t pad = 3;
        const int64_t a_rows = trans_a ? c.K : c.M, a_cols = trans_a ? c.M : c.K;
        const int64_t b_rows = trans_b ? c.N : c.K, b_cols = trans_b ? c.K : c.N;
        const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = c.N + pad;
        std::vector<float> A(a_rows * lda), B(b_rows * ldb), C(c.M * ldc);
        for (float& v : A) v = dist(rng);
        for (float& v : B) v = dist(rng);
        for (float& v : C) v = c.beta == 0.f ? std::numeric_limits<float>::quiet_NaN() : dist(rng);
        const std::vector<float> C0 = C;
        kernels::cpu::gemm_bf16(trans_a, trans_b, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(),
                                ldb, c.beta, C.data(), ldc);
        for (int64_t i = 0; i < c.M; ++i) {
          for (int64_t j = 0; j < c.N; ++j) {
            double sum = 0;
            for (int64_t k = 0; k < c.K; ++k) {
              sum += round_bf16(trans_a ? A[k * lda + i] : A[i * lda + k]) *
                     round_bf16(trans_b ? B[j * ldb + k] : B[k * ldb + j]);
            }
            const double expected =
                c.alpha * sum + (c.beta == 0.f ? 0.0 : c.beta * C0[i * ldc + j]);
            ASSERT_NEAR(C[i * ldc + j], expected, 1e-5 * c.K) << "at (" << i << ", " << j << ")";
          }
          for (int64_t j = c.N; j < ldc; ++j)  // the padding between rows is left alone
            ASSERT_EQ(std::isnan(C[i * ldc + j]), c.beta == 0.f);
        }
      }
    }
  }
}

// From 2^23 multiply-adds up, each thread runs a block of C with a primitive of its own: blocks
// of columns where B is not transposed (N >= M, K >= 64 here), else of rows. Every transpose,
// padded rows, beta, and the bias-and-relu epilogue whose bias follows the column blocks.
TEST(Autocast, GemmBf16SplitOverThreadsMatchesRoundedOperands) {
  SKIP_WITHOUT_BF16();
  const int threads = get_num_threads();
  set_num_threads(2);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  const int64_t M = 96, N = 784, K = 128, pad = 5;  // 9.6 million multiply-adds
  std::vector<float> bias(N);
  for (float& v : bias) v = dist(rng);
  for (const bool trans_a : {false, true}) {
    for (const bool trans_b : {false, true}) {
      for (const bool epilogue : {false, true}) {
        SCOPED_TRACE(::testing::Message() << "trans_a " << trans_a << " trans_b " << trans_b
                                          << " bias and relu " << epilogue);
        const int64_t a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
        const int64_t b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
        const int64_t lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
        std::vector<float> A(a_rows * lda), B(b_rows * ldb), C(M * ldc);
        for (float& v : A) v = dist(rng);
        for (float& v : B) v = dist(rng);
        for (float& v : C) v = dist(rng);
        const std::vector<float> C0 = C;
        std::vector<uint16_t> A16(A.size()), B16(B.size());
        kernels::cpu::round_to_bf16(A.data(), static_cast<int64_t>(A.size()), A16.data());
        kernels::cpu::round_to_bf16(B.data(), static_cast<int64_t>(B.size()), B16.data());
        // (The epilogue comes with alpha 1, as its callers use it.)
        const float alpha = epilogue ? 1.f : 0.5f, beta = epilogue ? 0.f : 1.f;
        kernels::cpu::gemm_bf16_rounded(trans_a, trans_b, M, N, K, alpha, A16.data(), lda,
                                        B16.data(), ldb, beta, C.data(), ldc,
                                        {epilogue ? bias.data() : nullptr, epilogue});
        for (int64_t i = 0; i < M; ++i) {
          for (int64_t j = 0; j < N; ++j) {
            double sum = 0;
            for (int64_t k = 0; k < K; ++k) {
              sum += round_bf16(trans_a ? A[k * lda + i] : A[i * lda + k]) *
                     round_bf16(trans_b ? B[j * ldb + k] : B[k * ldb + j]);
            }
            double expected = alpha * sum + beta * C0[i * ldc + j];
            if (epilogue) expected = std::max(0.0, expected + bias[j]);
            ASSERT_NEAR(C[i * ldc + j], expected, 1e-5 * K) << "at (" << i << ", " << j << ")";
          }
          for (int64_t j = N; j < ldc; ++j) ASSERT_EQ(C[i * ldc + j], C0[i * ldc + j]);
        }
      }
    }
  }
  set_num_threads(threads);
}

TEST(Autocast, LinearForwardAndGradientsInBf16) {
  SKIP_WITHOUT_BF16();
  Generator gen(1);
  // 512 rows, 512 -> 512 features: 2^27 multiply-adds per product, a dense layer large enough
  // for bf16 (2^23 and up), its operands rounded once for the forward and its backward.
  const Tensor x = randn({512, 512}, DType::f32, &gen), w = randn({512, 512}, DType::f32, &gen);
  const Tensor b = randn({512}, DType::f32, &gen), up = randn({512, 512}, DType::f32, &gen);
  auto run = [&](bool bf16) {
    Tensor xi = x.clone().requires_grad_(), wi = w.clone().requires_grad_();
    Tensor y;
    {
      const Autocast scope(bf16 ? Precision::bf16 : Precision::fp32);
      y = linear(xi, wi, b);
    }
    // Outside the scope: the backward runs in the forward's precision all the same.
    (y * up).sum().backward();
    return std::vector<Tensor>{y.detach(), xi.grad(), wi.grad()};
  };
  const std::vector<Tensor> bf16 = run(true), fp32 = run(false);
  const Tensor x16 = rounded_to_bf16(x), w16 = rounded_to_bf16(w), up16 = rounded_to_bf16(up);
  expect_bf16_result(bf16[0], fp32[0], linear(x16, w16, b.to(DType::f64)), 1e-4);
  expect_bf16_result(bf16[1], fp32[1], matmul(up16, w16), 1e-4);
  expect_bf16_result(bf16[2], fp32[2], matmul(up16.transpose(0, 1), x16), 1e-3);
}

TEST(Autocast, SmallProductsAndF64StayExact) {
  Generator gen(2);
  const Tensor a = randn({256, 1024}, DType::f32, &gen), b = randn({1024, 64}, DType::f32, &gen);
  const Tensor a64 = a.to(DType::f64), b64 = b.to(DType::f64);
  const Tensor fp32 = matmul(a, b), f64 = matmul(a64, b64);
  const Autocast scope(Precision::bf16);
  // 16.8 million multiply-adds, but a 256 x 64 output: M N / (M + N) = 51, below the threshold.
  EXPECT_EQ(max_abs_diff(matmul(a, b), fp32), 0.0);
  EXPECT_EQ(max_abs_diff(matmul(a64, b64), f64), 0.0);
  // A dense layer below 2^23 multiply-adds (batch 32, 784 -> 128: 3.2 million) stays f32 too.
  const Tensor x = randn({32, 784}, DType::f32, &gen), w = randn({128, 784}, DType::f32, &gen);
  const Tensor y = linear(x, w, Tensor());
  {
    const Autocast fp32_scope(Precision::fp32);
    EXPECT_EQ(max_abs_diff(linear(x, w, Tensor()), y), 0.0);
  }
}

TEST(Autocast, ConvolutionPassesInBf16) {
  SKIP_WITHOUT_BF16();
  Generator gen(3);
  const Tensor x = randn({8, 32, 12, 12}, DType::f32, &gen);
  const Tensor w = randn({48, 32, 3, 3}, DType::f32, &gen), b = randn({48}, DType::f32, &gen);
  const Tensor up = randn({8, 48, 12, 12}, DType::f32, &gen);
  const ConvOptions options{.padding = {1}};
  auto run = [&](bool bf16) {
    Tensor xi = x.clone().requires_grad_(), wi = w.clone().requires_grad_();
    Tensor bi = b.clone().requires_grad_();
    const Autocast scope(bf16 ? Precision::bf16 : Precision::fp32);
    const Tensor y = conv2d(xi, wi, bi, options);
    (y * up).sum().backward();
    return std::vector<Tensor>{y.detach(), xi.grad(), wi.grad(), bi.grad()};
  };
  const std::vector<Tensor> bf16 = run(true), fp32 = run(false);
  // The reference: each pass in f64 on the operands that pass rounds (the forward's input and
  // weight; the input gradient's output gradient and weight; the weight and bias gradients' input
  // and output gradient).
  auto reference = [&](const Tensor& xr, const Tensor& wr, const Tensor& upr) {
    Tensor xi = xr.clone().requires_grad_(), wi = wr.clone().requires_grad_();
    Tensor bi = b.to(DType::f64).requires_grad_();
    const Tensor y = conv2d(xi, wi, bi, options);
    (y * upr).sum().backward();
    return std::vector<Tensor>{y.detach(), xi.grad(), wi.grad(), bi.grad()};
  };
  const std::vector<Tensor> rounded =
      reference(rounded_to_bf16(x), rounded_to_bf16(w), rounded_to_bf16(up));
  expect_bf16_result(bf16[0], fp32[0], rounded[0], 1e-4);
  expect_bf16_result(bf16[1], fp32[1], rounded[1], 1e-4);
  expect_bf16_result(bf16[2], fp32[2], rounded[2], 2e-3);  // sums over 8 x 144 positions
  // The bias gradient sums the output gradient as the weight gradient's pass reads it: in bf16.
  expect_bf16_result(bf16[3], fp32[3], rounded[3], 2e-3);
}

// A recurrent layer in bf16 rounds its weights once per pass and each step's state and gate
// gradients as they come; the cells, the states and every sum stay f32. A two-step tanh RNN
// against f64 on the operands each product rounds, with the batch in two row slices of 20 (two
// threads). The backward runs outside the scope, in the forward's precision.
TEST(Autocast, RecurrentLayerPassesInBf16) {
  SKIP_WITHOUT_BF16();
  const int threads = get_num_threads();
  set_num_threads(2);
  Generator gen(6);
  const int64_t batch = 40, input = 24, hidden = 32;
  const Tensor x = randn({2, batch, input}, DType::f32, &gen);
  const Tensor w_ih = randn({hidden, input}, DType::f32, &gen) * 0.3;
  const Tensor w_hh = randn({hidden, hidden}, DType::f32, &gen) * 0.3;
  const Tensor b = randn({hidden}, DType::f32, &gen) * 0.1;
  const Tensor up = randn({2, batch, hidden}, DType::f32, &gen);
  auto run = [&](bool bf16) {
    Tensor xi = x.clone().requires_grad_(), wi = w_ih.clone().requires_grad_();
    Tensor wh = w_hh.clone().requires_grad_(), bi = b.clone().requires_grad_();
    RnnLayerResult r;
    {
      const Autocast scope(bf16 ? Precision::bf16 : Precision::fp32);
      r = rnn_layer(RnnMode::rnn_tanh, xi, Tensor(), Tensor(), wi, wh, bi, Tensor(), Tensor(),
                    false);
    }
    (r.output * up).sum().backward();
    return std::vector<Tensor>{r.output.detach(), xi.grad(), wi.grad(), wh.grad(), bi.grad()};
  };
  const std::vector<Tensor> bf16 = run(true), fp32 = run(false);
  set_num_threads(threads);

  // The reference, in f64: forward h1 = tanh(x0 Wi^T + b), h2 = tanh(x1 Wi^T + h1 Wh^T + b);
  // backward dg1 = up1 (1 - h2^2), dg0 = (up0 + dg1 Wh) (1 - h1^2); every product's operands
  // rounded.
  const Tensor r_wi = rounded_to_bf16(w_ih), r_wh = rounded_to_bf16(w_hh);
  const Tensor b64 = b.to(DType::f64), x0 = rounded_to_bf16(x.select(0, 0)),
               x1 = rounded_to_bf16(x.select(0, 1));
  const Tensor up0 = up.select(0, 0).to(DType::f64), up1 = up.select(0, 1).to(DType::f64);
  const Tensor h1 = tanh(matmul(x0, r_wi.transpose(0, 1)) + b64);
  const Tensor r_h1 = rounded_to_bf16(h1);
  const Tensor h2 =
      tanh(matmul(x1, r_wi.transpose(0, 1)) + matmul(r_h1, r_wh.transpose(0, 1)) + b64);
  const Tensor dg1 = rounded_to_bf16(up1 * (1.0 - h2 * h2));
  const Tensor dg0 = rounded_to_bf16((up0 + matmul(dg1, r_wh)) * (1.0 - h1 * h1));
  const Tensor dx = stack({matmul(dg0, r_wi), matmul(dg1, r_wi)}, 0);
  const Tensor dw_ih = matmul(dg0.transpose(0, 1), x0) + matmul(dg1.transpose(0, 1), x1);
  const Tensor dw_hh = matmul(dg1.transpose(0, 1), r_h1);
  const Tensor db = sum(dg0, {0}) + sum(dg1, {0});
  expect_bf16_result(bf16[0], fp32[0], stack({h1, h2}, 0), 1e-4);
  expect_bf16_result(bf16[1], fp32[1], dx, 1e-4);
  expect_bf16_result(bf16[2], fp32[2], dw_ih, 1e-3);
  expect_bf16_result(bf16[3], fp32[3], dw_hh, 1e-3);
  expect_bf16_result(bf16[4], fp32[4], db, 1e-3);
}

// LSTM and GRU (whose recurrent and input sides have gate gradients of their own) in bf16: every
// result within bf16's precision of fp32's, and not fp32's.
TEST(Autocast, GatedRecurrentLayersInBf16) {
  SKIP_WITHOUT_BF16();
  const int threads = get_num_threads();
  set_num_threads(2);
  for (const RnnMode mode : {RnnMode::lstm, RnnMode::gru}) {
    SCOPED_TRACE(static_cast<int>(mode));
    const int64_t gates = mode == RnnMode::lstm ? 4 : 3, hidden = 32;
    Generator gen(7);
    const Tensor x = randn({6, 40, 24}, DType::f32, &gen),
                 h0 = randn({40, hidden}, DType::f32, &gen);
    const Tensor w_ih = randn({gates * hidden, 24}, DType::f32, &gen) * 0.2;
    const Tensor w_hh = randn({gates * hidden, hidden}, DType::f32, &gen) * 0.2;
    const Tensor b = randn({gates * hidden}, DType::f32, &gen) * 0.1;
    const Tensor up = randn({6, 40, hidden}, DType::f32, &gen);
    auto run = [&](Precision precision) {
      std::vector<Tensor> in = {x, h0, w_ih, w_hh, b, b};
      for (Tensor& t : in) t = t.clone().requires_grad_();
      const Autocast scope(precision);
      const RnnLayerResult r =
          rnn_layer(mode, in[0], in[1], Tensor(), in[2], in[3], in[4], in[5], Tensor(), false);
      (r.output * up).sum().backward();
      std::vector<Tensor> out = {r.output.detach()};
      for (const Tensor& t : in) out.push_back(t.grad());
      return out;
    };
    const std::vector<Tensor> bf16 = run(Precision::bf16), fp32 = run(Precision::fp32);
    for (size_t i = 0; i < bf16.size(); ++i) {
      SCOPED_TRACE(i);
      const double scale = max(abs(fp32[i])).item(), diff = max_abs_diff(bf16[i], fp32[i]);
      EXPECT_LE(diff, 0.03 * scale);
      EXPECT_GT(diff, 1e-5 * scale) << "the result does not look computed in bf16";
    }
  }
  set_num_threads(threads);
}

// A convolution with a fused relu and max pooling in bf16 keeps oneDNN's blocked layouts as in
// f32 (the pooling reads the blocked f32 output, the input is rounded once for the forward and the
// weight gradient, the output gradient once for both gradient passes): the same values and
// gradients as the unfused layers in the same scope, whose passes round the same operands the
// same way (to nearest even).
TEST(Autocast, FusedConvolutionAndPoolingInBf16IsTheUnfusedLayers) {
  SKIP_WITHOUT_BF16();
  Generator gen(4);
  const Tensor x = randn({8, 32, 12, 12}, DType::f32, &gen);
  const Tensor w = randn({64, 32, 3, 3}, DType::f32, &gen), b = randn({64}, DType::f32, &gen);
  const Tensor up = randn({8, 64, 6, 6}, DType::f32, &gen);
  auto run = [&](bool fused) {
    Tensor xi = x.clone().requires_grad_(), wi = w.clone().requires_grad_();
    Tensor bi = b.clone().requires_grad_();
    const Autocast scope(Precision::bf16);
    const Tensor y =
        fused ? conv2d(xi, wi, bi, {.padding = {1}, .fused_relu = true, .fused_max_pool = {2}})
              : max_pool2d(relu(conv2d(xi, wi, bi, {.padding = {1}})), {2});
    (y * up).sum().backward();
    return std::vector<Tensor>{y.detach(), xi.grad(), wi.grad(), bi.grad()};
  };
  const std::vector<Tensor> fused = run(true), unfused = run(false);
  for (size_t i = 0; i < fused.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_ALL_CLOSE(fused[i], unfused[i], 0, 0);
  }
}

TEST(Autocast, ModelCompiledForBf16TrainsLikeFp32) {
  auto make = [](const std::string& precision) {
    manual_seed(0);
    // The first layer's products at batch 512 are 512 x 512: bf16; the head's stay fp32.
    train::Model model(
        {layers::Flatten(), layers::Dense(512, "relu"), layers::Dense(4, "softmax")});
    model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"},
                  {.precision = precision});
    return model;
  };
  Generator gen(4);
  const Tensor x = randn({2048, 16, 32}, DType::f32, &gen);
  const Tensor y = argmax(sum(x.reshape({2048, 4, 128}), {2}), 1);  // which quarter sums highest
  train::Model bf16 = make("bf16"), fp32 = make("fp32");
  EXPECT_EQ(bf16.precision(), bf16_supported() ? Precision::bf16 : Precision::fp32);
  EXPECT_EQ(fp32.precision(), Precision::fp32);
  const train::FitOptions options{.epochs = 3, .batch_size = 512, .verbose = 0};
  const double loss16 = bf16.fit(x, y, options)["loss"].back();
  const double loss32 = fp32.fit(x, y, options)["loss"].back();
  EXPECT_NEAR(loss16, loss32, 0.02 + 0.02 * loss32);
  EXPECT_EQ(nabla::testing::error_message([] {
              train::Model model({layers::Dense(2)});
              model.compile("adam", "mse", {}, {.precision = "fp16"});
            }),
            "unknown precision \"fp16\": expected fp32 or bf16");
}

}  // namespace
