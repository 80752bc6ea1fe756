#include "ops/shape_util.hpp"

#include <algorithm>

namespace nabla {

int64_t normalize_axis(int64_t axis, int64_t dim, const char* op, const Shape& shape) {
  const int64_t d = std::max<int64_t>(dim, 1);
  NABLA_CHECK(axis >= -d && axis < d, op, ": axis ", axis,
              " is out of range for a tensor of shape ", shape, " (expected ", -d, " <= axis < ", d,
              ")");
  return axis < 0 ? axis + d : axis;
}

Axes normalize_axes(const Axes& axes, int64_t dim, const char* op, const Shape& shape) {
  Axes out;
  if (axes.empty()) {
    for (int64_t d = 0; d < dim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t a : axes) out.push_back(normalize_axis(a, dim, op, shape));
  std::sort(out.begin(), out.end());
  NABLA_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op,
              ": an axis appears twice in the reduction axes for shape ", shape);
  return out;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    NABLA_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
                " cannot be broadcast together (axis ",
                static_cast<int64_t>(i) - static_cast<int64_t>(n), " has sizes ", da, " and ", db,
                "; expected equal sizes or 1)");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape broadcast_strides_to(const Tensor& t, const Shape& shape, const char* op) {
  const int64_t nd = static_cast<int64_t>(shape.size()), td = t.dim();
  NABLA_CHECK(td <= nd, op, ": cannot broadcast shape ", t.shape(), " to ", shape);
  Shape strides(nd, 0);
  for (int64_t i = 0; i < td; ++i) {
    const int64_t d = nd - td + i;
    if (t.shape()[i] == shape[d]) {
      strides[d] = shape[d] == 1 ? 0 : t.strides()[i];
    } else {
      NABLA_CHECK(t.shape()[i] == 1, op, ": cannot broadcast shape ", t.shape(), " to ", shape);
    }
  }
  return strides;
}

DType promote_types(DType a, DType b) {
  auto rank = [](DType d) {
    switch (d) {
      case DType::boolean:
        return 0;
      case DType::u8:
        return 1;
      case DType::i64:
        return 2;
      case DType::f32:
        return 3;
      case DType::f64:
        return 4;
    }
    return 0;
  };
  return rank(a) >= rank(b) ? a : b;
}

Shape reduced_shape(const Shape& shape, const Axes& axes, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    const bool reduced = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (!reduced)
      out.push_back(shape[d]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

}  // namespace nabla
