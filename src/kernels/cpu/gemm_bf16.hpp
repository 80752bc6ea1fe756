// The bf16 form of gemm (gemm.hpp) that gemm runs inside an Autocast scope (nabla/autocast.hpp):
// A and B rounded to bfloat16 (to nearest even, by an AVX512-BF16 loop), the products
// accumulated and C written in f32 by oneDNN's bf16 matmul primitive. Same arguments and meaning
// as gemm; alpha and beta are honoured. Only for CPUs with bf16 (onednn::has_bf16()).
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc);

}  // namespace nabla::kernels::cpu
