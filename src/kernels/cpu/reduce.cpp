#include "kernels/cpu/reduce.hpp"

#include <algorithm>

#include "core/loop.hpp"

namespace nabla::kernels::cpu {

template <class T>
void sum_rows_into(const T* x, int64_t rows, int64_t cols, T* out) {
  // Columns in blocks so that a block of accumulators stays in registers/L1 across rows.
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (cols + kBlock - 1) / kBlock;
  parallel_for_if(rows * cols >= kParallelThreshold && blocks > 1, blocks, [&](int64_t blk) {
    const int64_t b = blk * kBlock, e = std::min(cols, b + kBlock);
    T acc[kBlock];
    for (int64_t k = b; k < e; ++k) acc[k - b] = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = x + r * cols;
      for (int64_t k = b; k < e; ++k) acc[k - b] += row[k];
    }
    for (int64_t k = b; k < e; ++k) out[k] = acc[k - b];
  });
}

template <class T>
void sum_trailing(const T* x, int64_t outer, int64_t len, T* out) {
  parallel_for_if(outer * len >= kParallelThreshold && outer > 1, outer, [&](int64_t k) {
    const T* p = x + k * len;
    // Eight independent partial sums in double: vectorizable and accurate for long f32 rows.
    double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t r = 0;
    for (; r + 8 <= len; r += 8)
      for (int j = 0; j < 8; ++j) part[j] += static_cast<double>(p[r + j]);
    double s = 0;
    for (; r < len; ++r) s += static_cast<double>(p[r]);
    for (int j = 0; j < 8; ++j) s += part[j];
    out[k] = static_cast<T>(s);
  });
}

template void sum_rows_into<float>(const float*, int64_t, int64_t, float*);
template void sum_rows_into<double>(const double*, int64_t, int64_t, double*);
template void sum_rows_into<int64_t>(const int64_t*, int64_t, int64_t, int64_t*);
template void sum_trailing<float>(const float*, int64_t, int64_t, float*);
template void sum_trailing<double>(const double*, int64_t, int64_t, double*);
template void sum_trailing<int64_t>(const int64_t*, int64_t, int64_t, int64_t*);

}  // namespace nabla::kernels::cpu
