// Rounding f32 values to bfloat16 (to nearest even, as oneDNN's reorders round) with
// AVX512-BF16's vcvtne2ps2bf16, 32 values per instruction, for the operands of oneDNN's bf16
// kernels inside an Autocast scope (gemm_matmul.cpp, conv.cpp). oneDNN's reorder primitive does
// the same at about 0.3 ns per value on the AVX-512 EPYC, which was most of the time of a bf16
// product of the MLP's size (docs/architecture.md). Only for CPUs with bf16
// (onednn::has_bf16()); a bf16 value is its 16 bits in a uint16_t.
#pragma once

#include <cstdint>

#include "core/uninitialized_buffer.hpp"

namespace nabla::kernels::cpu {

// One run of n values, on the calling thread.
void round_row_to_bf16(const float* src, int64_t n, uint16_t* dst);

// n values, on the thread pool when there are many.
void round_to_bf16(const float* src, int64_t n, uint16_t* dst);

// n values rounded into a new buffer.
UninitializedBuffer<uint16_t> rounded_to_bf16(const float* src, int64_t n);

}  // namespace nabla::kernels::cpu
