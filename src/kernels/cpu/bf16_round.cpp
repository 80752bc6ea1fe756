#include "kernels/cpu/bf16_round.hpp"

#include <algorithm>

#include "core/loop.hpp"
#include "kernels/cpu/intrinsics.hpp"

namespace nabla::kernels::cpu {

// (The parallel loop stays outside this function: clang does not give OpenMP's outlined body
// the target features.)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void round_row_to_bf16(
    const float* src, int64_t n, uint16_t* dst) {
  int64_t c = 0;
  for (; c + 32 <= n; c += 32) {
    const __m512bh pair = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + c + 16),  // upper half
                                              _mm512_loadu_ps(src + c));
    _mm512_storeu_si512(dst + c, reinterpret_cast<const __m512i&>(pair));
  }
  for (; c < n; c += 16) {
    const int64_t left = n - c;
    const __mmask16 mask = left >= 16 ? 0xffff : static_cast<__mmask16>((1u << left) - 1);
    const __m256bh half = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, src + c));
    _mm256_mask_storeu_epi16(dst + c, mask, reinterpret_cast<const __m256i&>(half));
  }
}

void round_to_bf16(const float* src, int64_t n, uint16_t* dst) {
  constexpr int64_t kChunk = 1 << 14;  // values per task, a multiple of 32
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for_if(chunks > 1, chunks, [&](int64_t i) {
    round_row_to_bf16(src + i * kChunk, std::min(kChunk, n - i * kChunk), dst + i * kChunk);
  });
}

UninitializedBuffer<uint16_t> rounded_to_bf16(const float* src, int64_t n) {
  UninitializedBuffer<uint16_t> out(n);
  round_to_bf16(src, n, out.data());
  return out;
}

}  // namespace nabla::kernels::cpu
