// The f32 GEMM (oneDNN's sgemm or, with a transposed B, K >= 256 and 16 rows or more on AVX-512,
// its matmul primitive, which computes C^T when the rows are at most half the columns; behind
// nabla's BLAS-style wrapper) against the f64 loop: every transpose,
// padded leading dimensions, alpha and beta (beta = 0 must not read C), shapes from a single
// element to several cache blocks (small ones run on the calling thread alone), and calls from
// inside a parallel region (as the convolutions make them, one image per thread).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/gemm.hpp"

namespace {

using nabla::kernels::cpu::gemm;

struct Case {
  bool trans_a, trans_b;
  int64_t M, N, K;
  float alpha, beta;
  int64_t pad = 0;  // extra elements per stored row, so that ld > the row length
};

// Checks gemm(case) on random data against the f64 product of the same values.
void check(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  const int64_t a_rows = c.trans_a ? c.K : c.M, a_cols = c.trans_a ? c.M : c.K;
  const int64_t b_rows = c.trans_b ? c.N : c.K, b_cols = c.trans_b ? c.K : c.N;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.N + c.pad;
  std::vector<float> A(a_rows * lda), B(b_rows * ldb), C(c.M * ldc);
  for (float& v : A) v = dist(rng);
  for (float& v : B) v = dist(rng);
  for (float& v : C) v = c.beta == 0.f ? std::numeric_limits<float>::quiet_NaN() : dist(rng);
  std::vector<double> A64(A.begin(), A.end()), B64(B.begin(), B.end()), C64(C.begin(), C.end());
  if (c.beta == 0.f) std::fill(C64.begin(), C64.end(), 0.0);  // beta = 0: C is never read
  gemm(c.trans_a, c.trans_b, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(),
       ldc);
  gemm(c.trans_a, c.trans_b, c.M, c.N, c.K, double(c.alpha), A64.data(), lda, B64.data(), ldb,
       double(c.beta), C64.data(), ldc);
  const double tolerance = 1e-5 * std::sqrt(static_cast<double>(c.K)) * 4;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      ASSERT_NEAR(C[i * ldc + j], C64[i * ldc + j], tolerance)
          << "at (" << i << ", " << j << ") for M=" << c.M << " N=" << c.N << " K=" << c.K
          << " trans_a=" << c.trans_a << " trans_b=" << c.trans_b;
    }
    for (int64_t j = c.N; j < ldc; ++j)  // the padding between rows is left alone
      ASSERT_EQ(std::isnan(C[i * ldc + j]), c.beta == 0.f);
  }
}

TEST(Gemm, MatchesDoublePrecisionOverShapesAndTransposes) {
  const std::vector<Case> shapes = {
      {false, false, 1, 1, 1, 1.f, 0.f},        {false, false, 6, 16, 7, 1.f, 0.f},
      {false, false, 5, 15, 3, 1.f, 0.f},       {false, false, 7, 17, 257, 1.f, 0.f},
      {false, false, 32, 128, 784, 1.f, 0.f},   {false, false, 150, 40, 300, 0.5f, 0.f},
      {false, false, 64, 121, 288, 1.f, 1.f},   {false, false, 13, 3100, 9, 1.f, 0.f},
      {false, false, 97, 33, 513, 2.f, -1.5f},  {false, false, 300, 300, 300, 1.f, 0.f},
      {false, false, 16, 300, 260, 2.f, -1.5f},
  };
  uint32_t seed = 0;
  for (const Case& shape : shapes) {
    for (int t = 0; t < 4; ++t) {
      Case c = shape;
      c.trans_a = t & 1;
      c.trans_b = t & 2;
      check(c, seed++);
      c.pad = 3;
      check(c, seed++);
    }
  }
}

TEST(Gemm, RunsOneProductPerThreadInsideAParallelRegion) {
  // Large enough that gemm would split over the team if it were not inside one already.
  // (GoogleTest's assertions are thread-safe where pthreads are.)
#pragma omp parallel for num_threads(2)
  for (int task = 0; task < 8; ++task) {
    const Case c{task % 2 == 1, task % 3 == 1, 130, 140, 150, 1.f, task % 2 == 0 ? 0.f : 1.f};
    check(c, 100 + task);
  }
}

// Small products run with the thread count set to one for the call: it is restored after.
TEST(Gemm, LeavesTheThreadCountAsItWas) {
  const int threads = omp_get_max_threads();
  omp_set_num_threads(2);
  check({false, true, 16, 10, 64, 1.f, 0.f}, 200);  // 10240 multiply-adds: serial
  EXPECT_EQ(omp_get_max_threads(), 2);
  check({false, true, 64, 200, 300, 1.f, 1.f}, 201);  // oneDNN's matmul on AVX-512
  EXPECT_EQ(omp_get_max_threads(), 2);
  omp_set_num_threads(threads);
}

TEST(Gemm, EmptyInnerDimensionScalesTheOutput) {
  std::vector<float> C = {1.f, 2.f, 3.f, 4.f};
  gemm(false, false, 2, 2, 0, 1.f, nullptr, 1, nullptr, 2, 0.5f, C.data(), 2);
  EXPECT_EQ(C, (std::vector<float>{0.5f, 1.f, 1.5f, 2.f}));
}

}  // namespace
