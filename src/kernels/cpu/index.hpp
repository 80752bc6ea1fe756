// Gather and scatter-add along one axis, the kernels behind gather, index_select, one-hot style
// lookups and their backwards. Indices are i64 and must already be checked to lie in range.
// Shapes have at least one axis; strides are in elements; any layout (transposed, expanded with
// stride 0) is accepted.
#pragma once

#include <cstdint>

#include "nabla/tensor.hpp"

namespace nabla::kernels::cpu {

// For every position p of `shape` (the index's shape): out[p] = x[p with its `axis` coordinate
// replaced by index[p]]. `out` is contiguous.
template <class T>
void gather(const Shape& shape, int64_t axis, const T* x, const Shape& x_strides,
            const int64_t* index, const Shape& index_strides, T* out);

// For every position p of `shape`: dst[p with its `axis` coordinate replaced by index[p]] +=
// src[p]. Runs in row-major order on one thread: indices may repeat, and the sums must not depend
// on the thread count.
template <class T>
void scatter_add(const Shape& shape, int64_t axis, const T* src, const Shape& src_strides,
                 const int64_t* index, const Shape& index_strides, T* dst,
                 const Shape& dst_strides);

}  // namespace nabla::kernels::cpu
