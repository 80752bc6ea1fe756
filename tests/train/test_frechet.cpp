// The Fréchet distance of the GAN tasks (train/statistics.hpp): zero for one set against itself,
// the closed forms of diagonal and 2 x 2 covariances (rotated, so that they do not commute),
// symmetry, and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "train/statistics.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::train::internal::frechet_distance;

namespace {

// Sample mean and covariance (divided by N - 1) of 2-d rows, in double.
struct Moments2 {
  double m[2] = {0, 0};
  double s[2][2] = {{0, 0}, {0, 0}};
};
Moments2 moments2(const std::vector<double>& rows) {
  Moments2 out;
  const auto n = static_cast<double>(rows.size() / 2);
  for (size_t i = 0; i < rows.size(); i += 2) {
    out.m[0] += rows[i] / n;
    out.m[1] += rows[i + 1] / n;
  }
  for (size_t i = 0; i < rows.size(); i += 2) {
    const double d[2] = {rows[i] - out.m[0], rows[i + 1] - out.m[1]};
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) out.s[a][b] += d[a] * d[b] / (n - 1);
  }
  return out;
}

std::vector<double> random_rows(int64_t n, uint64_t seed, double angle, double sx, double sy,
                                double dx, double dy) {
  Generator gen(seed);
  std::vector<double> rows;
  for (int64_t i = 0; i < n; ++i) {
    const double x = gen.next_normal() * sx, y = gen.next_normal() * sy;
    rows.push_back(std::cos(angle) * x - std::sin(angle) * y + dx);
    rows.push_back(std::sin(angle) * x + std::cos(angle) * y + dy);
  }
  return rows;
}

Tensor as_tensor(const std::vector<double>& rows) {
  return from_vector(rows, {static_cast<int64_t>(rows.size() / 2), 2});
}

}  // namespace

TEST(Frechet, ZeroForTheSameSet) {
  Generator gen(3);
  const Tensor a = randn({200, 16}, DType::f64, &gen);
  EXPECT_NEAR(frechet_distance(a, a), 0.0, 1e-8);
}

// The covariances are formed from the rows as f32 (summed in double): agreement to 1e-6.
TEST(Frechet, ClosedFormOfTwoByTwoCovariances) {
  // For 2 x 2 positive definite S1, S2: tr (S1 S2)^(1/2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2)).
  const std::vector<double> a = random_rows(500, 1, 0.0, 1.0, 0.5, 0, 0);
  const std::vector<double> b = random_rows(400, 2, 0.6, 2.0, 0.7, 1.5, -0.5);
  const Moments2 p = moments2(a), q = moments2(b);
  double product_trace = 0;
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 2; ++k) product_trace += p.s[i][k] * q.s[k][i];
  const double det_p = p.s[0][0] * p.s[1][1] - p.s[0][1] * p.s[1][0];
  const double det_q = q.s[0][0] * q.s[1][1] - q.s[0][1] * q.s[1][0];
  const double expected = (p.m[0] - q.m[0]) * (p.m[0] - q.m[0]) +
                          (p.m[1] - q.m[1]) * (p.m[1] - q.m[1]) + p.s[0][0] + p.s[1][1] +
                          q.s[0][0] + q.s[1][1] -
                          2 * std::sqrt(product_trace + 2 * std::sqrt(det_p * det_q));
  EXPECT_NEAR(frechet_distance(as_tensor(a), as_tensor(b)), expected, 1e-6 * (1 + expected));
  // Symmetric in its arguments.
  EXPECT_NEAR(frechet_distance(as_tensor(b), as_tensor(a)), expected, 1e-6 * (1 + expected));
}

TEST(Frechet, DiagonalCovariancesGiveTheSumOverAxes) {
  // Axis-aligned data: sum over axes of (m_a - m_b)^2 + (sigma_a - sigma_b)^2.
  const std::vector<double> a = random_rows(300, 5, 0.0, 1.0, 3.0, 0, 0);
  const std::vector<double> b = random_rows(300, 6, 0.0, 2.0, 1.0, 1, 2);
  const Moments2 p = moments2(a), q = moments2(b);
  // Exactly the 2 x 2 closed form on the sample moments, and nearly the diagonal one (the sample
  // cross terms are small, not zero).
  double product_trace = 0;
  for (int i = 0; i < 2; ++i)
    for (int k = 0; k < 2; ++k) product_trace += p.s[i][k] * q.s[k][i];
  const double det_p = p.s[0][0] * p.s[1][1] - p.s[0][1] * p.s[1][0];
  const double det_q = q.s[0][0] * q.s[1][1] - q.s[0][1] * q.s[1][0];
  const double general = (p.m[0] - q.m[0]) * (p.m[0] - q.m[0]) +
                         (p.m[1] - q.m[1]) * (p.m[1] - q.m[1]) + p.s[0][0] + p.s[1][1] + q.s[0][0] +
                         q.s[1][1] - 2 * std::sqrt(product_trace + 2 * std::sqrt(det_p * det_q));
  const double diagonal = (p.m[0] - q.m[0]) * (p.m[0] - q.m[0]) +
                          (p.m[1] - q.m[1]) * (p.m[1] - q.m[1]) +
                          std::pow(std::sqrt(p.s[0][0]) - std::sqrt(q.s[0][0]), 2) +
                          std::pow(std::sqrt(p.s[1][1]) - std::sqrt(q.s[1][1]), 2);
  const double fd = frechet_distance(as_tensor(a), as_tensor(b));
  EXPECT_NEAR(fd, general, 1e-6 * (1 + general));
  EXPECT_NEAR(fd, diagonal, 0.05 * diagonal);  // the sample cross terms are small
  // Roughly the population value: (0-1)^2 + (0-2)^2 + (1-2)^2 + (3-1)^2 = 10.
  EXPECT_NEAR(fd, 10.0, 1.5);
}

TEST(Frechet, ErrorsNameTheShapes) {
  EXPECT_EQ(error_message([] {
              frechet_distance(zeros({5, 3}), zeros({5, 4}));
            }),
            "frechet_distance: expected feature rows [N, D] and [M, D], got [5, 3] and [5, 4]");
  EXPECT_EQ(error_message([] {
              frechet_distance(zeros({1, 3}), zeros({5, 3}));
            }),
            "frechet_distance: expected at least 2 rows in each set (a covariance), got 1 and 5");
}
