// The Fréchet distance between two sets of features (see train/statistics.hpp).
#include <algorithm>
#include <cmath>

#include "nabla/ops.hpp"
#include "train/statistics.hpp"

namespace nabla::train::internal {

double frechet_distance(const Tensor& a, const Tensor& b) {
  NABLA_CHECK(a.defined() && b.defined() && a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(1),
              "frechet_distance: expected feature rows [N, D] and [M, D], got ",
              a.defined() ? a.shape() : Shape{}, " and ", b.defined() ? b.shape() : Shape{});
  NABLA_CHECK(a.size(0) >= 2 && b.size(0) >= 2, "frechet_distance: expected at least 2 rows in ",
              "each set (a covariance), got ", a.size(0), " and ", b.size(0));
  const NoGradGuard no_grad;
  const int64_t d = a.size(1);
  std::vector<double> mean_a, cov_a, mean_b, cov_b;
  mean_and_covariance(a, mean_a, cov_a);
  mean_and_covariance(b, mean_b, cov_b);
  double distance = 0;
  for (int64_t i = 0; i < d; ++i) {
    distance +=
        (mean_a[i] - mean_b[i]) * (mean_a[i] - mean_b[i]) + cov_a[i * d + i] + cov_b[i * d + i];
  }
  // R = S_a^(1/2) = V diag(sqrt(lambda)) V^T.
  std::vector<double> values, vectors, work = cov_a;
  symmetric_eigen(work, d, values, vectors);
  std::vector<double> root(static_cast<size_t>(d * d), 0.0);
  for (int64_t k = 0; k < d; ++k) {
    const double s = std::sqrt(std::max(values[k], 0.0));
    if (s == 0) continue;
    for (int64_t i = 0; i < d; ++i) {
      const double vik = vectors[i * d + k] * s;
      for (int64_t j = 0; j < d; ++j) root[i * d + j] += vik * vectors[j * d + k];
    }
  }
  // M = R S_b R, symmetric; tr (S_a S_b)^(1/2) = sum of sqrt of M's eigenvalues.
  std::vector<double> rs(static_cast<size_t>(d * d), 0.0), m(static_cast<size_t>(d * d), 0.0);
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = 0; k < d; ++k) {
      const double r = root[i * d + k];
      if (r == 0) continue;
      for (int64_t j = 0; j < d; ++j) rs[i * d + j] += r * cov_b[k * d + j];
    }
  for (int64_t i = 0; i < d; ++i)
    for (int64_t k = 0; k < d; ++k) {
      const double r = rs[i * d + k];
      if (r == 0) continue;
      for (int64_t j = 0; j < d; ++j) m[i * d + j] += r * root[k * d + j];
    }
  for (int64_t i = 0; i < d; ++i)  // symmetric up to rounding: make it exactly so
    for (int64_t j = i + 1; j < d; ++j)
      m[i * d + j] = m[j * d + i] = 0.5 * (m[i * d + j] + m[j * d + i]);
  symmetric_eigen(m, d, values, vectors);
  double trace_root = 0;
  for (double value : values) trace_root += std::sqrt(std::max(value, 0.0));
  return std::max(0.0, distance - 2 * trace_root);
}

}  // namespace nabla::train::internal
