// General matrix multiply on row-major matrices, BLAS-style:
//   C[M, N] = alpha * op(A)[M, K] @ op(B)[K, N] + beta * C,   op(X) = X or X^T.
// `lda`, `ldb`, `ldc` are the row strides (in elements) of the matrices as stored, so a transposed
// view is passed as its untransposed storage plus a flag rather than copied. With beta == 0, C is
// written without being read (it may hold garbage). f32 goes to oneDNN (in bf16 inside an Autocast
// scope, nabla/autocast.hpp, for products large enough to gain, called outside a parallel region);
// f64 (gradient checks) is a cache-blocked loop.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
          const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
          int64_t ldc);

}  // namespace nabla::kernels::cpu
