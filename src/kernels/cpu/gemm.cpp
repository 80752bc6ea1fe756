#include "kernels/cpu/gemm.hpp"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/loop.hpp"
#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/gemm_matmul.hpp"
#include "kernels/cpu/onednn.hpp"
#include "kernels/cpu/serial_scope.hpp"
#include "nabla/autocast.hpp"
#include "nabla/error.hpp"

namespace nabla::kernels::cpu {

namespace {
// C = beta * C, without reading C when beta == 0 (it may be uninitialized).
template <class T>
void scale_output(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    T* row = C + i * ldc;
    if (beta == T(0)) {
      std::fill(row, row + N, T(0));
    } else if (beta != T(1)) {
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
    }
  }
}
// Inside an Autocast scope for bf16, on the calling thread itself (the products that kernels run
// one per pool thread, small ones per image or matrix, stay f32 on every thread alike), and only
// where it pays: rounding the operands to bf16 touches K (M + N) values for M N K multiply-adds
// that the bf16 kernel runs about twice as fast, so the product must have M N / (M + N) of 256 or
// more (on the AVX-512 EPYC: a 1024-cube product 1.6x faster with the rounding, a 256 x 784 x 128
// one 8% slower; docs/architecture.md, "bf16 mixed precision").
constexpr int64_t kBf16MinHarmonic = 256;

// oneDNN's sgemm splits even small products over every thread, and below about a million
// multiply-adds the split costs more than it saves, worst for the skinny products of a 10-class
// output layer (Zen 5 EPYC, 2 threads against 1: 256 x 128 x 10 17 against 3.7 us, 256 x 10 x 128
// 8.1 against 6.5, 10 x 128 x 256 7.4 against 4.5; at 2^20 the two are even). Such products run
// on the calling thread alone.
constexpr int64_t kSerialMacs = int64_t{1} << 20;

// oneDNN's sgemm is slow with a transposed B (X W^T, a dense layer's forward), where its brgemm
// matmul primitive ran every product measured with K >= 256 and 16 rows or more as fast or
// faster (Zen 5 EPYC, 2 threads: 256 x 128 x 784 181 -> 136 us, 64 x 128 x 1600 105 -> 77,
// 64 x 1024 x 1024 1519 -> 423, 16 x 128 x 784 29 -> 22, 2048 x 128 x 256 even; 1 thread: 272 ->
// 252, 189 -> 142, 1016 -> 790) and lost with K below (1792 x 512 x 28 173 -> 187, 64 x 512 x 128
// 37 -> 44) and with few rows, where its per-call cost dominates (batch 1: 1 x 128 x 784 4.8 ->
// 11.4 us, 1 x 512 x 1024 29 -> 79; 8 rows even). Other transposes were even or slower. Without
// AVX-512 oneDNN's f32 matmul is its sgemm.
constexpr int64_t kMatmulMinK = 256, kMatmulMinRows = 16;

bool f32_matmul_pays(bool trans_a, bool trans_b, int64_t M, int64_t K) {
  return trans_b && !trans_a && K >= kMatmulMinK && M >= kMatmulMinRows && !omp_in_parallel() &&
         onednn::has_avx512();
}

bool in_bf16(int64_t M, int64_t N) {
  return M * N >= kBf16MinHarmonic * (M + N) && !omp_in_parallel() &&
         compute_precision() == Precision::bf16;
}
}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.f) {  // oneDNN rejects K == 0; the product is empty
    scale_output(M, N, beta, C, ldc);
    return;
  }
  if (in_bf16(M, N)) {
    gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const SerialScope serial(M * N * K < kSerialMacs);
  if (f32_matmul_pays(trans_a, trans_b, M, K)) {
    gemm_f32_matmul(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha,
                                          A, lda, B, ldb, beta, C, ldc);
  NABLA_CHECK(status == dnnl_success, "gemm: oneDNN sgemm failed with status ",
              static_cast<int>(status), " for M=", M, ", N=", N, ", K=", K, ", lda=", lda,
              ", ldb=", ldb, ", ldc=", ldc, ", trans_a=", trans_a, ", trans_b=", trans_b);
}

template <class T>
void gemm_epilogue(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A,
                   int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc,
                   const GemmEpilogue<T>& epilogue) {
  if constexpr (std::is_same_v<T, float>) {
    if (M > 0 && N > 0 && K > 0 && !in_bf16(M, N) && f32_matmul_pays(trans_a, trans_b, M, K)) {
      const SerialScope serial(M * N * K < kSerialMacs);
      gemm_f32_matmul(trans_a, trans_b, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc, epilogue);
      return;
    }
  }
  // Elsewhere in passes of its own: C starts as the bias (beta = 1), relu goes over it after.
  T beta = T(0);
  if (epilogue.bias != nullptr) {
    for (int64_t r = 0; r < M; ++r) std::copy(epilogue.bias, epilogue.bias + N, C + r * ldc);
    beta = T(1);
  }
  gemm(trans_a, trans_b, M, N, K, T(1), A, lda, B, ldb, beta, C, ldc);
  if (!epilogue.relu) return;
  parallel_for_if(M * N >= kParallelThreshold && M > 1, M,
                  [&](int64_t r) { relu_in_place(C + r * ldc, N); });
}

template void gemm_epilogue<float>(bool, bool, int64_t, int64_t, int64_t, const float*, int64_t,
                                   const float*, int64_t, float*, int64_t,
                                   const GemmEpilogue<float>&);
template void gemm_epilogue<double>(bool, bool, int64_t, int64_t, int64_t, const double*, int64_t,
                                    const double*, int64_t, double*, int64_t,
                                    const GemmEpilogue<double>&);

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
          const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
          int64_t ldc) {
  if (M == 0 || N == 0) return;
  scale_output(M, N, beta, C, ldc);
  if (K == 0 || alpha == 0.0) return;
  // Panels of op(B) are packed row-major so that the inner loop streams both B and C rows
  // contiguously whatever the transposes; kKc x kNc doubles stay in L2 across all rows of C.
  constexpr int64_t kKc = 256, kNc = 512;
  std::vector<double> panel(static_cast<size_t>(std::min(K, kKc) * std::min(N, kNc)));
  for (int64_t jc = 0; jc < N; jc += kNc) {
    const int64_t nc = std::min(kNc, N - jc);
    for (int64_t pc = 0; pc < K; pc += kKc) {
      const int64_t kc = std::min(kKc, K - pc);
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t j = 0; j < nc; ++j)
          panel[p * nc + j] = trans_b ? B[(jc + j) * ldb + pc + p] : B[(pc + p) * ldb + jc + j];
      parallel_for_if(M * nc * kc >= (1 << 18), M, [&](int64_t i) {
        double* c = C + i * ldc + jc;
        for (int64_t p = 0; p < kc; ++p) {
          const double a = alpha * (trans_a ? A[(pc + p) * lda + i] : A[i * lda + pc + p]);
          const double* b = panel.data() + p * nc;
          for (int64_t j = 0; j < nc; ++j) c[j] += a * b[j];
        }
      });
    }
  }
}

}  // namespace nabla::kernels::cpu
