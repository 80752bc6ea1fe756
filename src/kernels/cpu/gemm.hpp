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

// What a dense layer applies to its product: a bias, one value per column of C, then relu.
template <class T>
struct GemmEpilogue {
  const T* bias = nullptr;  // none when null
  bool relu = false;
};

// C = relu?(op(A) @ op(B) + bias), C written without being read. Where oneDNN's matmul primitive
// runs the product (gemm.cpp says when) it adds the bias and applies relu as it writes each block
// of C, on the thread that computed it; elsewhere C starts as the bias (beta = 1) and relu is a
// pass of its own. Writing the bias first on the calling thread had cost the bench MLP's first
// layer 14 us at batch 256: the other thread then fetched its half of C from this one's cache.
template <class T>
void gemm_epilogue(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A,
                   int64_t lda, const T* B, int64_t ldb, T* C, int64_t ldc,
                   const GemmEpilogue<T>& epilogue);

}  // namespace nabla::kernels::cpu
