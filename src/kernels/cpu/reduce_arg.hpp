// Extreme-value reductions (max/min with the index where they occur). NaN wins over any number,
// as in PyTorch, and ties go to the first index. Each output is computed by one thread in a fixed
// order, so results do not depend on the thread count.
#pragma once

#include <cstdint>

namespace nabla::kernels::cpu {

enum class Extreme { max, min };

// For contiguous `x` viewed as [outer, len, inner] (len >= 1): values[o, k] and indices[o, k] are
// the extreme of x[o, :, k] and its first position.
template <class T>
void arg_extreme(const T* x, int64_t outer, int64_t len, int64_t inner, Extreme kind, T* values,
                 int64_t* indices);

// The extreme of n >= 1 contiguous elements.
template <class T>
T extreme(const T* x, int64_t n, Extreme kind);

}  // namespace nabla::kernels::cpu
