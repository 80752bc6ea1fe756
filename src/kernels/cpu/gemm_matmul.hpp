// The products that gemm (gemm.hpp) hands to oneDNN's matmul primitive instead of its sgemm, with
// gemm's arguments and meaning (alpha and beta honoured):
//   gemm_bf16: inside an Autocast scope for bf16, A and B rounded to bfloat16 (to nearest even, by
//     an AVX512-BF16 loop), the products accumulated and C written in f32. Only for CPUs with bf16
//     (onednn::has_bf16()).
//   gemm_bf16_rounded: the same product of operands already rounded (by round_to_bf16), for
//     callers that round an operand once for several products (a recurrent layer's weights, used
//     at every step, src/ops/rnn.cpp; a dense layer's input and weight, kept for its backward,
//     src/ops/matmul.cpp).
//   gemm_f32_matmul: f32 products with a transposed B (a dense layer's forward, X W^T), which
//     oneDNN's brgemm matmul runs faster than its sgemm on AVX-512 (gemm.cpp says when).
// The last two also take a dense layer's epilogue (bias and relu), applied by the primitive as it
// writes C.
#pragma once

#include <cstdint>

#include "kernels/cpu/gemm.hpp"

namespace nabla::kernels::cpu {

void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc);

void gemm_bf16_rounded(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                       const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb, float beta,
                       float* C, int64_t ldc, const GemmEpilogue<float>& epilogue = {});

void gemm_f32_matmul(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                     const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                     int64_t ldc, const GemmEpilogue<float>& epilogue = {});

}  // namespace nabla::kernels::cpu
