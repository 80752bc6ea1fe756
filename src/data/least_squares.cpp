// Closed-form linear least squares by Householder QR (nabla/tabular.hpp): the baseline of
// regression on tabular data. QR rather than the normal equations: it works on x itself, whose
// condition number is the square root of x^T x's, so nearly collinear features lose half as many
// digits.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/tensor_impl.hpp"
#include "nabla/error.hpp"
#include "nabla/tabular.hpp"

namespace nabla::data {

Tensor least_squares(const Tensor& x, const Tensor& y) {
  NABLA_CHECK(x.dim() == 2, "least_squares: x must be [n, p], got ", x.shape());
  NABLA_CHECK(y.dim() == 1 && y.shape()[0] == x.shape()[0], "least_squares: y must be [",
              x.shape()[0], "] like x's rows, got ", y.shape());
  const int64_t n = x.shape()[0], p = x.shape()[1];
  NABLA_CHECK(p >= 1 && n >= p, "least_squares: x ", x.shape(),
              " needs at least as many rows as columns");
  // Column-major copy of x in f64; b holds y and becomes Q^T y.
  const std::vector<double> xs = x.to(DType::f64).contiguous().to_vector<double>();
  std::vector<double> b = y.to(DType::f64).contiguous().to_vector<double>();
  std::vector<double> a(static_cast<size_t>(n * p));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < p; ++j) a[j * n + i] = xs[i * p + j];
  }
  double largest = 0;
  for (int64_t j = 0; j < p; ++j) {
    double norm = 0;
    for (int64_t i = 0; i < n; ++i) norm += a[j * n + i] * a[j * n + i];
    largest = std::max(largest, std::sqrt(norm));
  }
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t k = 0; k < p; ++k) {
    double* column = &a[k * n];
    double norm = 0;
    for (int64_t i = k; i < n; ++i) norm += column[i] * column[i];
    norm = std::sqrt(norm);
    NABLA_CHECK(norm > 1e-12 * largest && largest > 0, "least_squares: the columns of x ",
                x.shape(), " are linearly dependent (column ", k,
                " is a combination of the ones before it); drop or merge columns");
    // Householder vector v = column[k:] + sign * norm * e1, reflecting column[k:] onto the axis.
    const double alpha = column[k] > 0 ? -norm : norm;
    for (int64_t i = k; i < n; ++i) v[i] = column[i];
    v[k] -= alpha;
    double vv = 0;
    for (int64_t i = k; i < n; ++i) vv += v[i] * v[i];
    auto reflect = [&](double* target) {
      double dot = 0;
      for (int64_t i = k; i < n; ++i) dot += v[i] * target[i];
      const double scale = 2 * dot / vv;
      for (int64_t i = k; i < n; ++i) target[i] -= scale * v[i];
    };
    for (int64_t j = k; j < p; ++j) reflect(&a[j * n]);
    reflect(b.data());
    NABLA_CHECK(std::abs(column[k]) > 1e-10 * largest, "least_squares: the columns of x ",
                x.shape(), " are linearly dependent (column ", k,
                " is a combination of the ones before it); drop or merge columns");
  }
  // Back substitution in R w = (Q^T y)[:p].
  Tensor w = make_tensor({p}, DType::f64);
  double* out = w.data<double>();
  for (int64_t k = p - 1; k >= 0; --k) {
    double sum = b[k];
    for (int64_t j = k + 1; j < p; ++j) sum -= a[j * n + k] * out[j];
    out[k] = sum / a[k * n + k];
  }
  return w;
}

}  // namespace nabla::data
