// train::pca, the autoencoders' baseline: an exact case (points in a known plane), a case checked
// against numpy's SVD, the reconstruction error it implies, and its errors.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/train.hpp"
#include "support/errors.hpp"

namespace nabla::train {
namespace {

// Four points per offset along two orthonormal directions of R^5, u with spread 3 and v with
// spread 1 and no correlation between them: the principal components are u and v exactly, with
// variances 9 * 4/3 and 1 * 4/3 (four points, divided by N - 1 = 3), about the mean (1, 2, 3, 4,
// 5).
Tensor plane_points() {
  const double u[5] = {0.6, 0.8, 0, 0, 0}, v[5] = {0, 0, 0, 0.8, -0.6};
  const double a[4] = {3, 3, -3, -3}, b[4] = {1, -1, 1, -1};
  std::vector<float> x;
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 5; ++j) x.push_back(static_cast<float>(j + 1 + a[i] * u[j] + b[i] * v[j]));
  }
  return from_vector(x, {4, 5});
}

TEST(PcaTest, FindsTheDirectionsOfAnExactPlane) {
  const PCA fitted = pca(plane_points(), 2);
  ASSERT_EQ(fitted.components.shape(), (Shape{2, 5}));
  ASSERT_EQ(fitted.variances.size(), 2u);
  EXPECT_NEAR(fitted.variances[0], 12.0, 1e-5);
  EXPECT_NEAR(fitted.variances[1], 4.0 / 3.0, 1e-5);
  // Signs: the largest entry of each component is positive (0.8 in u, 0.8 in v).
  const std::vector<float> c = fitted.components.to_vector<float>();
  const std::vector<float> expected = {0.6f, 0.8f, 0, 0, 0, 0, 0, 0, 0.8f, -0.6f};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(c[i], expected[i], 1e-5) << i;
  const std::vector<float> mean = fitted.mean.to_vector<float>();
  for (int j = 0; j < 5; ++j) EXPECT_NEAR(mean[j], j + 1.0, 1e-6);
  // The points lie in the plane: two components reconstruct them exactly.
  const Tensor points = plane_points();
  const std::vector<float> back = fitted.reconstruct(points).to_vector<float>();
  const std::vector<float> original = points.to_vector<float>();
  for (size_t i = 0; i < original.size(); ++i) EXPECT_NEAR(back[i], original[i], 1e-5) << i;
  // One component leaves out v's part: b * v, squared, is 1 per point over 5 values each.
  const std::vector<float> line = pca(points, 1).reconstruct(points).to_vector<float>();
  double squared = 0;
  for (size_t i = 0; i < original.size(); ++i) squared += std::pow(line[i] - original[i], 2);
  EXPECT_NEAR(squared / static_cast<double>(original.size()), 1.0 / 5.0, 1e-6);
  EXPECT_EQ(pca(points, 1).transform(points).shape(), (Shape{4, 1}));
}

// x[i][j] = sin(0.37 i (j + 1)) + 0.1 j cos(0.11 i) + 0.05 j, 200 x 12, rounded to f32. The
// reference numbers are numpy's (1.24):
//   m = x.mean(0); u, s, vt = np.linalg.svd(x - m, full_matrices=False)
//   variances = s[:4]**2 / 199; mse = ((x - m - (x - m) @ vt[:4].T @ vt[:4])**2).mean()
TEST(PcaTest, MatchesNumpysSvd) {
  const int64_t n = 200, d = 12;
  std::vector<float> values;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      const double di = static_cast<double>(i), dj = static_cast<double>(j);
      values.push_back(static_cast<float>(std::sin(0.37 * di * (dj + 1)) +
                                          0.1 * dj * std::cos(0.11 * di) + 0.05 * dj));
    }
  }
  const Tensor x = from_vector(values, {n, d});
  const PCA fitted = pca(x, 4);
  const double numpy_variances[4] = {2.77275427, 0.87481112, 0.87395771, 0.85241985};
  for (int c = 0; c < 4; ++c) EXPECT_NEAR(fitted.variances[c], numpy_variances[c], 1e-5) << c;
  const std::vector<float> back = fitted.reconstruct(x).to_vector<float>();
  double squared = 0;
  for (size_t i = 0; i < values.size(); ++i) squared += std::pow(back[i] - values[i], 2);
  EXPECT_NEAR(squared / static_cast<double>(values.size()), 0.2645661599168002, 1e-5);
  // Orthonormal rows, whatever the seed of the starting block.
  const PCA other = pca(x, 4, 7);
  const std::vector<float> c = other.components.to_vector<float>();
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) {
      double product = 0;
      for (int64_t j = 0; j < d; ++j) product += c[a * d + j] * c[b * d + j];
      EXPECT_NEAR(product, a == b ? 1.0 : 0.0, 1e-5) << a << " " << b;
    }
  }
  for (int k = 0; k < 4; ++k) EXPECT_NEAR(other.variances[k], numpy_variances[k], 1e-5) << k;
}

template <class F>
void expect_pca_error(F&& f, const std::string& part) {
  const std::string message = nabla::testing::error_message(f);
  EXPECT_NE(message.find(part), std::string::npos) << message;
}

TEST(PcaTest, RejectsImpossibleRequests) {
  const Tensor points = plane_points();
  expect_pca_error([&] { pca(points, 6); }, "pca: expected 1 to 5 components");
  expect_pca_error([&] { pca(points, 0); }, "pca: expected 1 to 5 components");
  expect_pca_error([&] { pca(points.slice(0, 0, 1), 1); }, "at least 2 samples");
  expect_pca_error(
      [&] {
        pca(from_vector(std::vector<float>{1, 2, 3}, {3}), 1);
      },
      "pca: expected samples [N, D]");
  expect_pca_error(
      [&] {
        pca(points, 2).transform(zeros({2, 4}));
      },
      "expected samples of 5 values");
}

}  // namespace
}  // namespace nabla::train
