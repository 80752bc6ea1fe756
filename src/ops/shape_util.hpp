// Shape logic shared by every op: axis normalization, broadcasting, dtype promotion. Lives once.
#pragma once

#include "core/tensor_impl.hpp"
#include "nabla/ops.hpp"

namespace nabla {

// Maps a possibly negative axis into [0, dim), or throws naming the op and the shape.
int64_t normalize_axis(int64_t axis, int64_t dim, const char* op, const Shape& shape);
// Sorted, unique, normalized axes; empty `axes` means all of them.
Axes normalize_axes(const Axes& axes, int64_t dim, const char* op, const Shape& shape);
// NumPy broadcasting of two shapes, or an Error naming the op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Strides (in elements) reading `t` as if broadcast to `shape` (0 on repeated axes).
Shape broadcast_strides_to(const Tensor& t, const Shape& shape, const char* op);
// The dtype two operands are computed in (bool < u8 < i64 < f32 < f64).
DType promote_types(DType a, DType b);
// `t` converted to `dtype` (no copy when it already is); differentiable between floating types.
Tensor cast_to(const Tensor& t, DType dtype);
// Shape after reducing `axes` (normalized), keeping them as size 1 when keepdim.
Shape reduced_shape(const Shape& shape, const Axes& axes, bool keepdim);

}  // namespace nabla
