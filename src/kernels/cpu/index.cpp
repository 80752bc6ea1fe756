#include "kernels/cpu/index.hpp"

#include <cstring>

#include "core/loop.hpp"
#include "core/tensor_impl.hpp"

namespace nabla::kernels::cpu {

template <class T>
void gather(const Shape& shape, int64_t axis, const T* x, const Shape& x_strides,
            const int64_t* index, const Shape& index_strides, T* out) {
  if (shape_numel(shape) == 0) return;
  // The loop walks the index's positions; x moves along every axis but `axis`, where the
  // index value picks the element.
  const int64_t axis_step = x_strides[axis] * static_cast<int64_t>(sizeof(T));
  LoopOperands<3> ops;
  ops.ptrs = {reinterpret_cast<char*>(out), reinterpret_cast<char*>(const_cast<int64_t*>(index)),
              reinterpret_cast<char*>(const_cast<T*>(x))};
  ops.strides = {contiguous_strides(shape), index_strides, x_strides};
  ops.strides[2][axis] = 0;
  for (auto& s : ops.strides[0]) s *= sizeof(T);
  for (auto& s : ops.strides[1]) s *= sizeof(int64_t);
  for (auto& s : ops.strides[2]) s *= sizeof(T);
  for_each_row<3>(
      shape, ops, [axis_step](std::array<char*, 3> p, std::array<int64_t, 3> st, int64_t n) {
        T* o = reinterpret_cast<T*>(p[0]);
        const int64_t* ix = reinterpret_cast<const int64_t*>(p[1]);
        const int64_t si = st[1] / static_cast<int64_t>(sizeof(int64_t));
        if (si == 0) {  // one index for the whole row (index_select): a strided or plain copy
          const char* src = p[2] + ix[0] * axis_step;
          if (st[2] == sizeof(T)) {
            std::memcpy(o, src, n * sizeof(T));
          } else {
            for (int64_t i = 0; i < n; ++i) o[i] = *reinterpret_cast<const T*>(src + i * st[2]);
          }
          return;
        }
        for (int64_t i = 0; i < n; ++i)
          o[i] = *reinterpret_cast<const T*>(p[2] + i * st[2] + ix[i * si] * axis_step);
      });
}

template <class T>
void scatter_add(const Shape& shape, int64_t axis, const T* src, const Shape& src_strides,
                 const int64_t* index, const Shape& index_strides, T* dst,
                 const Shape& dst_strides) {
  const int64_t dims = static_cast<int64_t>(shape.size());
  if (shape_numel(shape) == 0) return;
  // Rows along the last axis, an odometer over the others.
  const int64_t last = dims - 1, n = shape[last];
  const int64_t s_src = src_strides[last], s_ix = index_strides[last];
  const int64_t s_dst = axis == last ? 0 : dst_strides[last], axis_step = dst_strides[axis];
  Shape pos(dims, 0);
  int64_t off_src = 0, off_ix = 0, off_dst = 0;
  const int64_t rows = shape_numel(shape) / n;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < n; ++i)
      dst[off_dst + i * s_dst + index[off_ix + i * s_ix] * axis_step] += src[off_src + i * s_src];
    for (int64_t d = last - 1; d >= 0; --d) {
      const int64_t step_dst = d == axis ? 0 : dst_strides[d];
      off_src += src_strides[d];
      off_ix += index_strides[d];
      off_dst += step_dst;
      if (++pos[d] < shape[d]) break;
      off_src -= src_strides[d] * shape[d];
      off_ix -= index_strides[d] * shape[d];
      off_dst -= step_dst * shape[d];
      pos[d] = 0;
    }
  }
}

template void gather<float>(const Shape&, int64_t, const float*, const Shape&, const int64_t*,
                            const Shape&, float*);
template void gather<double>(const Shape&, int64_t, const double*, const Shape&, const int64_t*,
                             const Shape&, double*);
template void gather<int64_t>(const Shape&, int64_t, const int64_t*, const Shape&, const int64_t*,
                              const Shape&, int64_t*);
template void gather<uint8_t>(const Shape&, int64_t, const uint8_t*, const Shape&, const int64_t*,
                              const Shape&, uint8_t*);
template void gather<bool>(const Shape&, int64_t, const bool*, const Shape&, const int64_t*,
                           const Shape&, bool*);
template void scatter_add<float>(const Shape&, int64_t, const float*, const Shape&, const int64_t*,
                                 const Shape&, float*, const Shape&);
template void scatter_add<double>(const Shape&, int64_t, const double*, const Shape&,
                                  const int64_t*, const Shape&, double*, const Shape&);

}  // namespace nabla::kernels::cpu
