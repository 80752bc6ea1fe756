// Weight initializers with torch.nn.init's formulas, plus Keras's variants reached by their Keras
// names in init::apply (Keras draws its "normal" initializers from a normal truncated at two
// standard deviations, rescaled so that the variance is the intended one).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/dispatch.hpp"
#include "core/tensor_impl.hpp"
#include "nabla/nn.hpp"

namespace nabla::nn::init {

namespace {

Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

// Writes sample() into every element of t, in row-major order, converted to t's dtype.
template <class Sample>
void fill_with(Tensor& t, const char* op, Sample sample) {
  NABLA_CHECK(t.defined(), op, ": undefined tensor");
  NoGradGuard no_grad;
  Tensor work = t.is_contiguous() ? t : make_tensor(t.shape(), t.dtype());
  dispatch_floating(t.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(work.raw_data());
    for (int64_t i = 0; i < work.numel(); ++i) p[i] = static_cast<T>(sample());
  });
  if (!work.is_same(t)) t.copy_(work);
}

// Standard normal truncated to [-2, 2] by rejection: the exact distribution TensorFlow's
// truncated_normal (Keras) draws from.
double truncated_standard_normal(Generator& g) {
  for (;;) {
    const double z = g.next_normal();
    if (std::abs(z) <= 2) return z;
  }
}

// Keras's VarianceScaling with a truncated normal: stddev = sqrt(scale / fan) / 0.8796..., the
// second factor undoing the variance lost by truncating at two standard deviations.
void keras_truncated_normal(Tensor& t, double scale, double fan, Generator* gen) {
  constexpr double kTruncatedStd = .87962566103423978;
  const double stddev = std::sqrt(scale / fan) / kTruncatedStd;
  Generator& g = pick(gen);
  fill_with(t, "init", [&] { return stddev * truncated_standard_normal(g); });
}

double fan_for(const Tensor& t, FanMode mode) {
  auto [fan_in, fan_out] = fans(t);
  return static_cast<double>(mode == FanMode::fan_in ? fan_in : fan_out);
}

// Householder QR of the m x n (m >= n) row-major matrix `a`: returns the m x n Q whose columns
// are flipped so that R's diagonal is positive (PyTorch's sign correction), which makes Q unique.
// Works on column-major copies so that every inner loop runs over contiguous memory (an LSTM's
// [4H, H] recurrent weight is QR'd at construction: strided loops made that take seconds).
std::vector<double> orthonormal_columns(const std::vector<double>& a_rows, int64_t m, int64_t n) {
  std::vector<double> a(m * n);  // a[j * m + i] = A(i, j)
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) a[j * m + i] = a_rows[i * n + j];
  std::vector<std::vector<double>> reflectors(n);
  std::vector<double> r_diag(n, 0);
  for (int64_t k = 0; k < n; ++k) {
    const double* column = &a[k * m];
    double norm = 0;
    for (int64_t i = k; i < m; ++i) norm += column[i] * column[i];
    norm = std::sqrt(norm);
    if (norm == 0) continue;  // a zero column: no reflection, R's diagonal entry is 0
    const double alpha = column[k] > 0 ? -norm : norm;
    std::vector<double> v(column + k, column + m);
    v[0] -= alpha;
    double vnorm = 0;
    for (double x : v) vnorm += x * x;
    vnorm = std::sqrt(vnorm);
    for (double& x : v) x /= vnorm;
    for (int64_t j = k; j < n; ++j) {  // A[k:, k:] -= 2 v (v^T A[k:, k:])
      double* col = &a[j * m];
      double dot = 0;
      for (int64_t i = k; i < m; ++i) dot += v[i - k] * col[i];
      for (int64_t i = k; i < m; ++i) col[i] -= 2 * dot * v[i - k];
    }
    r_diag[k] = alpha;
    reflectors[k] = std::move(v);
  }
  // Q = H_0 H_1 ... H_{n-1} applied to the first n columns of the identity.
  std::vector<double> q(m * n, 0);  // column-major, as `a`
  for (int64_t i = 0; i < n; ++i) q[i * m + i] = 1;
  for (int64_t k = n - 1; k >= 0; --k) {
    const auto& v = reflectors[k];
    if (v.empty()) continue;
    for (int64_t j = 0; j < n; ++j) {
      double* col = &q[j * m];
      double dot = 0;
      for (int64_t i = k; i < m; ++i) dot += v[i - k] * col[i];
      for (int64_t i = k; i < m; ++i) col[i] -= 2 * dot * v[i - k];
    }
  }
  std::vector<double> q_rows(m * n);
  for (int64_t j = 0; j < n; ++j) {
    const double sign = r_diag[j] < 0 ? -1.0 : 1.0;
    for (int64_t i = 0; i < m; ++i) q_rows[i * n + j] = sign * q[j * m + i];
  }
  return q_rows;
}

}  // namespace

std::pair<int64_t, int64_t> fans(const Tensor& weight) {
  NABLA_CHECK(weight.defined() && weight.dim() >= 2,
              "init: fan in and fan out need a weight with at least 2 axes ([out, in, ...]), got ",
              weight.defined() ? detail::str("shape ", weight.shape()) : std::string("undefined"));
  int64_t receptive = 1;
  for (int64_t d = 2; d < weight.dim(); ++d) receptive *= weight.shape()[d];
  return {weight.shape()[1] * receptive, weight.shape()[0] * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity == "identity" ||
      nonlinearity.rfind("conv", 0) == 0)
    return 1;
  if (nonlinearity == "tanh") return 5.0 / 3;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4;
  detail::throw_error(detail::str("calculate_gain: unknown nonlinearity '", nonlinearity,
                                  "' (known: linear, conv1d, conv2d, conv3d, sigmoid, tanh, relu, "
                                  "leaky_relu, selu)"));
}

void zeros_(Tensor& t) { constant_(t, 0); }
void ones_(Tensor& t) { constant_(t, 1); }
void constant_(Tensor& t, double value) {
  NABLA_CHECK(t.defined(), "init: undefined tensor");
  NoGradGuard no_grad;
  t.fill_(value);
}

void uniform_(Tensor& t, double low, double high, Generator* gen) {
  NABLA_CHECK(low <= high, "init::uniform_: expected low <= high, got low=", low, ", high=", high);
  Generator& g = pick(gen);
  fill_with(t, "init::uniform_", [&] { return low + (high - low) * g.next_double(); });
}

void normal_(Tensor& t, double mean, double std, Generator* gen) {
  NABLA_CHECK(std >= 0, "init::normal_: expected std >= 0, got ", std);
  Generator& g = pick(gen);
  fill_with(t, "init::normal_", [&] { return mean + std * g.next_normal(); });
}

void xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  auto [fan_in, fan_out] = fans(t);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  const double bound = std::sqrt(3.0) * std;
  uniform_(t, -bound, bound, gen);
}

void xavier_normal_(Tensor& t, double gain, Generator* gen) {
  auto [fan_in, fan_out] = fans(t);
  normal_(t, 0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)), gen);
}

void kaiming_uniform_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity,
                      Generator* gen) {
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(fan_for(t, mode));
  const double bound = std::sqrt(3.0) * std;
  uniform_(t, -bound, bound, gen);
}

void kaiming_normal_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity,
                     Generator* gen) {
  normal_(t, 0, calculate_gain(nonlinearity, a) / std::sqrt(fan_for(t, mode)), gen);
}

void lecun_normal_(Tensor& t, Generator* gen) {
  keras_truncated_normal(t, 1.0, fan_for(t, FanMode::fan_in), gen);
}

void orthogonal_(Tensor& t, double gain, Generator* gen) {
  NABLA_CHECK(t.defined() && t.dim() >= 2,
              "init::orthogonal_: expected a tensor with at least 2 axes, got ",
              t.defined() ? detail::str("shape ", t.shape()) : std::string("undefined"));
  const int64_t rows = t.shape()[0];
  const int64_t cols = rows == 0 ? 0 : t.numel() / rows;
  if (rows == 0 || cols == 0) return;
  // As PyTorch: QR of a normal matrix, transposed when it is wide so that Q has orthonormal
  // columns, transposed back after.
  const bool wide = rows < cols;
  const int64_t m = wide ? cols : rows, n = wide ? rows : cols;
  Generator& g = pick(gen);
  std::vector<double> normal(rows * cols);
  for (double& x : normal) x = g.next_normal();
  std::vector<double> a(m * n);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) (wide ? a[c * n + r] : a[r * n + c]) = normal[r * cols + c];
  const std::vector<double> q = orthonormal_columns(a, m, n);
  int64_t index = 0;
  fill_with(t, "init::orthogonal_", [&] {
    const int64_t r = index / cols, c = index % cols;
    ++index;
    return gain * (wide ? q[c * n + r] : q[r * n + c]);
  });
}

void apply(const std::string& name, Tensor& t, Generator* gen) {
  // Keras's default ranges for its plain random initializers.
  constexpr double kKerasRandomScale = 0.05;
  if (name == "zeros") return zeros_(t);
  if (name == "ones") return ones_(t);
  if (name == "glorot_uniform" || name == "xavier_uniform") return xavier_uniform_(t, 1, gen);
  if (name == "xavier_normal") return xavier_normal_(t, 1, gen);
  if (name == "he_uniform" || name == "kaiming_uniform")
    return kaiming_uniform_(t, 0, FanMode::fan_in, "relu", gen);
  if (name == "kaiming_normal") return kaiming_normal_(t, 0, FanMode::fan_in, "relu", gen);
  if (name == "lecun_normal") return lecun_normal_(t, gen);
  if (name == "orthogonal") return orthogonal_(t, 1, gen);
  if (name == "glorot_normal") {
    auto [fan_in, fan_out] = fans(t);
    return keras_truncated_normal(t, 2.0, static_cast<double>(fan_in + fan_out), gen);
  }
  if (name == "he_normal") return keras_truncated_normal(t, 2.0, fan_for(t, FanMode::fan_in), gen);
  if (name == "lecun_uniform") {
    const double bound = std::sqrt(3.0 / fan_for(t, FanMode::fan_in));
    return uniform_(t, -bound, bound, gen);
  }
  if (name == "normal" || name == "random_normal") return normal_(t, 0, kKerasRandomScale, gen);
  if (name == "uniform" || name == "random_uniform")
    return uniform_(t, -kKerasRandomScale, kKerasRandomScale, gen);
  detail::throw_error(detail::str(
      "init: unknown initializer '", name,
      "' (known: zeros, ones, glorot_uniform/xavier_uniform, glorot_normal, xavier_normal, "
      "he_uniform/kaiming_uniform, he_normal, kaiming_normal, lecun_normal, lecun_uniform, "
      "orthogonal, normal/random_normal, uniform/random_uniform)"));
}

}  // namespace nabla::nn::init
