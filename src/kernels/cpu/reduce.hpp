// Sum reductions over contiguous data viewed as 2-d. Each output is computed by one thread in a
// fixed order, so results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

// out[k] = sum_r x[r * cols + k]  (reduce the leading axis; vectorized over k)
template <class T>
void sum_rows_into(const T* x, int64_t rows, int64_t cols, T* out);
// out[k] = sum_r x[k * len + r]  (reduce the trailing axis)
template <class T>
void sum_trailing(const T* x, int64_t outer, int64_t len, T* out);

}  // namespace nabla::kernels::cpu
