// Principal component analysis, the linear baseline of the autoencoders. The covariance is formed
// by nabla's matmul (oneDNN's sgemm) over chunks of rows, each chunk's product added in double:
// the [N, D] data are never copied whole (60,000 Fashion-MNIST images are 188 MB in f32), and
// sums over many rows keep double precision. Its top k eigenvectors then come from subspace
// iteration: a block of p > k orthonormal vectors multiplied by the covariance and
// re-orthonormalized (Gram-Schmidt) until the Rayleigh-Ritz values of the top k settle. The
// block's extra vectors make the top k converge at the rate lambda_{p+1} / lambda_k rather than
// lambda_{k+1} / lambda_k, which for image spectra (slowly decaying) is the difference between
// tens and thousands of iterations. Each step costs D * D * p multiply-adds (784 x 784 x 64: a
// few milliseconds), far less than a full eigen-decomposition of the D x D matrix.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "nabla/ops.hpp"
#include "nabla/train.hpp"
#include "train/statistics.hpp"

namespace nabla::train {
namespace {

constexpr int64_t kCovarianceChunkRows = 4096;
constexpr int64_t kMaxIterations = 3000;
// Iteration stops when no top-k Ritz value moved by more than this fraction of the largest.
constexpr double kTolerance = 1e-12;

// Rows [begin, end) of x [N, D] as contiguous f32.
Tensor rows_f32(const Tensor& x, int64_t begin, int64_t end) {
  return x.slice(0, begin, end).to(DType::f32).contiguous();
}

Tensor flattened(const Tensor& x, const char* op) {
  NABLA_CHECK(x.defined() && x.dim() >= 2 && x.size(0) > 0, op,
              ": expected samples [N, D] (or [N, ...]), got ", x.defined() ? x.shape() : Shape{});
  return x.reshape({x.size(0), x.numel() / x.size(0)});
}

}  // namespace

namespace internal {
// (Declared in train/statistics.hpp; the Fréchet distance of the GAN tasks uses them too.)
// Eigenvalues and eigenvectors (the columns of `vectors`, row-major n x n) of the symmetric
// matrix `a` (destroyed), by cyclic Jacobi rotations: exact to rounding and simple, for the
// small Rayleigh-Ritz matrices (p x p) of the iteration.
void symmetric_eigen(std::vector<double>& a, int64_t n, std::vector<double>& values,
                     std::vector<double>& vectors) {
  vectors.assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) vectors[i * n + i] = 1;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diagonal = 0;
    for (int64_t i = 0; i < n; ++i) {
      diagonal += a[i * n + i] * a[i * n + i];
      for (int64_t j = i + 1; j < n; ++j) off += a[i * n + j] * a[i * n + j];
    }
    // Off-diagonal norm 1e-13 of the diagonal's: Jacobi converges quadratically, and rounding
    // keeps a floor near 1e-16 that a stricter test would chase for all 100 sweeps.
    if (off <= 1e-26 * diagonal) break;
    for (int64_t p = 0; p < n; ++p) {
      for (int64_t q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (apq == 0) continue;
        // The rotation that zeroes a[p][q] (Numerical Recipes' jacobi, smaller angle).
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int64_t k = 0; k < n; ++k) {
          const double kp = a[k * n + p], kq = a[k * n + q];
          a[k * n + p] = c * kp - s * kq;
          a[k * n + q] = s * kp + c * kq;
        }
        for (int64_t k = 0; k < n; ++k) {
          const double pk = a[p * n + k], qk = a[q * n + k];
          a[p * n + k] = c * pk - s * qk;
          a[q * n + k] = s * pk + c * qk;
        }
        a[p * n + q] = a[q * n + p] = 0;  // what the rotation is for, without the rounding
        for (int64_t k = 0; k < n; ++k) {
          const double kp = vectors[k * n + p], kq = vectors[k * n + q];
          vectors[k * n + p] = c * kp - s * kq;
          vectors[k * n + q] = s * kp + c * kq;
        }
      }
    }
  }
  values.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) values[i] = a[i * n + i];
}
}  // namespace internal

namespace {

double dot(const double* a, const double* b, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

// Orthonormalizes the `rows` vectors of length d in place (modified Gram-Schmidt, run twice:
// "twice is enough" for orthogonality to rounding). A vector left with (almost) nothing of its
// own -- the covariance has lower rank than the block -- is replaced by a random one, so that the
// block keeps spanning `rows` dimensions.
void orthonormalize(std::vector<double>& vectors, int64_t rows, int64_t d, Generator& gen) {
  for (int64_t j = 0; j < rows; ++j) {
    double* v = vectors.data() + j * d;
    for (int attempt = 0;; ++attempt) {
      const double before = std::sqrt(dot(v, v, d));
      for (int pass = 0; pass < 2; ++pass) {
        for (int64_t i = 0; i < j; ++i) {
          const double* u = vectors.data() + i * d;
          const double r = dot(u, v, d);
          for (int64_t l = 0; l < d; ++l) v[l] -= r * u[l];
        }
      }
      const double norm = std::sqrt(dot(v, v, d));
      if (norm > 1e-10 * before && norm > 0) {
        for (int64_t l = 0; l < d; ++l) v[l] /= norm;
        break;
      }
      NABLA_CHECK(attempt < 10, "pca: cannot find ", rows, " orthogonal directions in ", d,
                  " dimensions");
      for (int64_t l = 0; l < d; ++l) v[l] = gen.next_normal();
    }
  }
}

// out = vectors * matrix, for `rows` vectors of length d and a symmetric d x d matrix (so that
// the inner loop runs along the matrix's rows).
void times_symmetric(const std::vector<double>& vectors, int64_t rows, const std::vector<double>& m,
                     int64_t d, std::vector<double>& out) {
  out.assign(static_cast<size_t>(rows * d), 0.0);
  for (int64_t j = 0; j < rows; ++j) {
    const double* v = vectors.data() + j * d;
    double* o = out.data() + j * d;
    for (int64_t l = 0; l < d; ++l) {
      const double weight = v[l];
      const double* row = m.data() + l * d;
      for (int64_t i = 0; i < d; ++i) o[i] += weight * row[i];
    }
  }
}

// Row i of the result is sum_j basis[j][i] * vectors[j]: the vectors rotated by the Ritz basis.
std::vector<double> rotate(const std::vector<double>& basis, const std::vector<double>& vectors,
                           int64_t rows, int64_t d) {
  std::vector<double> out(static_cast<size_t>(rows * d), 0.0);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < rows; ++j) {
      const double w = basis[j * rows + i];
      const double* v = vectors.data() + j * d;
      double* o = out.data() + i * d;
      for (int64_t l = 0; l < d; ++l) o[l] += w * v[l];
    }
  }
  return out;
}

}  // namespace

namespace internal {
// The mean of the rows of x [N, D] and their covariance (D x D, divided by N - 1), in double.
void mean_and_covariance(const Tensor& x, std::vector<double>& mean,
                         std::vector<double>& covariance) {
  const int64_t n = x.size(0), d = x.size(1);
  mean.assign(static_cast<size_t>(d), 0.0);
  for (int64_t begin = 0; begin < n; begin += kCovarianceChunkRows) {
    const Tensor chunk = rows_f32(x, begin, std::min(n, begin + kCovarianceChunkRows));
    const float* p = chunk.data<float>();
    for (int64_t r = 0; r < chunk.size(0); ++r) {
      for (int64_t i = 0; i < d; ++i) mean[i] += p[r * d + i];
    }
  }
  for (double& m : mean) m /= static_cast<double>(n);
  const Tensor mean_f32 = from_vector(std::vector<float>(mean.begin(), mean.end()), {d});
  covariance.assign(static_cast<size_t>(d * d), 0.0);
  for (int64_t begin = 0; begin < n; begin += kCovarianceChunkRows) {
    const Tensor centered =
        rows_f32(x, begin, std::min(n, begin + kCovarianceChunkRows)) - mean_f32;
    const Tensor product = matmul(transpose(centered, 0, 1), centered).contiguous();
    const float* p = product.data<float>();
    for (int64_t i = 0; i < d * d; ++i) covariance[i] += p[i];
  }
  for (double& c : covariance) c /= static_cast<double>(n - 1);
}

}  // namespace internal

PCA pca(const Tensor& x, int64_t components, uint64_t seed) {
  const NoGradGuard no_grad;
  const Tensor rows = flattened(x, "pca");
  const int64_t n = rows.size(0), d = rows.size(1);
  NABLA_CHECK(components >= 1 && components <= d, "pca: expected 1 to ", d,
              " components for samples of ", d, " values, got ", components);
  NABLA_CHECK(n >= 2, "pca: expected at least 2 samples to estimate a covariance, got ", n);
  std::vector<double> mean, covariance;
  internal::mean_and_covariance(rows, mean, covariance);

  const int64_t block = std::min(d, 2 * components);
  Generator gen(seed);
  std::vector<double> q(static_cast<size_t>(block * d));
  for (double& v : q) v = gen.next_normal();
  orthonormalize(q, block, d, gen);
  std::vector<double> z, ritz(static_cast<size_t>(block * block)), values, basis, previous;
  PCA result;
  for (int64_t iteration = 1;; ++iteration) {
    times_symmetric(q, block, covariance, d, z);
    for (int64_t i = 0; i < block; ++i) {
      for (int64_t j = i; j < block; ++j) {
        const double v = 0.5 * (dot(q.data() + i * d, z.data() + j * d, d) +
                                dot(q.data() + j * d, z.data() + i * d, d));
        ritz[i * block + j] = ritz[j * block + i] = v;
      }
    }
    internal::symmetric_eigen(ritz, block, values, basis);
    // Largest first: sort the eigenpairs by value.
    std::vector<int64_t> order(static_cast<size_t>(block));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return values[a] > values[b]; });
    std::vector<double> sorted_values(static_cast<size_t>(block)),
        sorted_basis(static_cast<size_t>(block * block));
    for (int64_t c = 0; c < block; ++c) {
      sorted_values[c] = values[order[c]];
      for (int64_t r = 0; r < block; ++r) sorted_basis[r * block + c] = basis[r * block + order[c]];
    }
    bool settled = !previous.empty();
    for (int64_t i = 0; settled && i < components; ++i) {
      settled =
          std::abs(sorted_values[i] - previous[i]) <= kTolerance * std::max(sorted_values[0], 0.0);
    }
    previous = sorted_values;
    // With the whole space in the block (block == d) one step is exact.
    if (settled || block == d || iteration == kMaxIterations) {
      const std::vector<double> vectors = rotate(sorted_basis, q, block, d);
      std::vector<float> flat(static_cast<size_t>(components * d));
      for (int64_t c = 0; c < components; ++c) {
        const double* v = vectors.data() + c * d;
        const int64_t largest =
            std::max_element(v, v + d,
                             [](double a, double b) { return std::abs(a) < std::abs(b); }) -
            v;
        const double sign = v[largest] < 0 ? -1.0 : 1.0;
        for (int64_t l = 0; l < d; ++l) flat[c * d + l] = static_cast<float>(sign * v[l]);
        result.variances.push_back(std::max(sorted_values[c], 0.0));
      }
      result.components = from_vector(flat, {components, d});
      result.mean = from_vector(std::vector<float>(mean.begin(), mean.end()), {d});
      result.iterations = iteration;
      return result;
    }
    q = rotate(sorted_basis, z, block, d);
    orthonormalize(q, block, d, gen);
  }
}

Tensor PCA::transform(const Tensor& x) const {
  const NoGradGuard no_grad;
  const Tensor rows = flattened(x, "PCA::transform");
  NABLA_CHECK(components.defined() && rows.size(1) == components.size(1),
              "PCA::transform: expected samples of ", components.defined() ? components.size(1) : 0,
              " values (the fitted data's), got shape ", x.shape());
  return matmul(rows.to(DType::f32) - mean, transpose(components, 0, 1));
}

Tensor PCA::reconstruct(const Tensor& x) const {
  const NoGradGuard no_grad;
  return matmul(transform(x), components) + mean;
}

}  // namespace nabla::train
