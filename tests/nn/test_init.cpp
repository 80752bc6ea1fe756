#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.hpp"
#include "nabla/nn.hpp"
#include "support/reference.hpp"

using namespace nabla;
using nabla::testing::load_reference;

namespace {

struct Stats {
  double mean = 0, std = 0, max_abs = 0;
};

Stats stats_of(const Tensor& t) {
  const std::vector<double> v = t.to(DType::f64).to_vector<double>();
  Stats s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) {
    s.std += (x - s.mean) * (x - s.mean);
    s.max_abs = std::max(s.max_abs, std::abs(x));
  }
  s.std = std::sqrt(s.std / static_cast<double>(v.size() - 1));
  return s;
}

// Our sample statistics against the formula's std and PyTorch's sample (both large samples of
// 131072 elements: the sample std is within ~0.5% of the true one).
void expect_stats(const Tensor& t, double formula_std, const nlohmann::json& torch_stats) {
  const Stats s = stats_of(t);
  EXPECT_NEAR(s.mean, 0.0, 0.02 * formula_std);
  EXPECT_NEAR(s.std, formula_std, 0.01 * formula_std);
  EXPECT_NEAR(s.std, torch_stats.at("std").get<double>(), 0.015 * formula_std);
  EXPECT_NEAR(torch_stats.at("std").get<double>(), formula_std, 0.01 * formula_std);
}

Tensor weight(const nlohmann::json& stats) {
  return empty(stats.at("shape").get<Shape>(), DType::f64);
}

}  // namespace

TEST(Init, UniformAndNormalFamiliesMatchPyTorch) {
  const auto ref = load_reference("nn_optim").at("init");
  Generator gen(42);
  const double fan_in = 512, fan_out = 256;
  {
    SCOPED_TRACE("xavier_uniform");
    Tensor w = weight(ref.at("xavier_uniform"));
    nn::init::xavier_uniform_(w, 1, &gen);
    const double bound = std::sqrt(6.0 / (fan_in + fan_out));
    expect_stats(w, bound / std::sqrt(3.0), ref.at("xavier_uniform"));
    EXPECT_LE(stats_of(w).max_abs, bound);
    EXPECT_GT(stats_of(w).max_abs, 0.999 * bound);
  }
  {
    SCOPED_TRACE("xavier_normal");
    Tensor w = weight(ref.at("xavier_normal"));
    nn::init::xavier_normal_(w, 1, &gen);
    expect_stats(w, std::sqrt(2.0 / (fan_in + fan_out)), ref.at("xavier_normal"));
  }
  {
    SCOPED_TRACE("kaiming_uniform_relu");
    Tensor w = weight(ref.at("kaiming_uniform_relu"));
    nn::init::kaiming_uniform_(w, 0, nn::init::FanMode::fan_in, "relu", &gen);
    const double bound = std::sqrt(6.0 / fan_in);
    expect_stats(w, bound / std::sqrt(3.0), ref.at("kaiming_uniform_relu"));
    EXPECT_LE(stats_of(w).max_abs, bound);
  }
  {
    SCOPED_TRACE("kaiming_normal_relu_fan_out");
    Tensor w = weight(ref.at("kaiming_normal_relu_fan_out"));
    nn::init::kaiming_normal_(w, 0, nn::init::FanMode::fan_out, "relu", &gen);
    expect_stats(w, std::sqrt(2.0 / fan_out), ref.at("kaiming_normal_relu_fan_out"));
  }
  {
    SCOPED_TRACE("kaiming_uniform_default");  // PyTorch's nn.nn::Linear default, a = sqrt(5)
    Tensor w = weight(ref.at("kaiming_uniform_default"));
    nn::init::kaiming_uniform_(w, std::sqrt(5.0), nn::init::FanMode::fan_in, "leaky_relu", &gen);
    const double bound = 1 / std::sqrt(fan_in);
    expect_stats(w, bound / std::sqrt(3.0), ref.at("kaiming_uniform_default"));
    EXPECT_LE(stats_of(w).max_abs, bound);
  }
}

TEST(Init, LecunNormalIsKerasTruncatedNormal) {
  const auto ref = load_reference("nn_optim").at("init").at("lecun_normal");
  Generator gen(7);
  Tensor w = weight(ref);
  nn::init::lecun_normal_(w, &gen);
  // The truncation and Keras's rescaling give back the intended std 1/sqrt(fan_in), with no
  // value beyond two (pre-truncation) standard deviations.
  const double keras_std = std::sqrt(1.0 / 512) / .87962566103423978;
  expect_stats(w, std::sqrt(1.0 / 512), ref);
  EXPECT_LE(stats_of(w).max_abs, 2 * keras_std);
  EXPECT_GT(stats_of(w).max_abs, 0.99 * 2 * keras_std);
  // Keras's names reach Keras's truncated variants, PyTorch's names the plain normals.
  Tensor he = empty({256, 512}, DType::f64), kaiming = empty({256, 512}, DType::f64);
  nn::init::apply("he_normal", he, &gen);
  nn::init::apply("kaiming_normal", kaiming, &gen);
  EXPECT_NEAR(stats_of(he).std, std::sqrt(2.0 / 512), 0.01 * std::sqrt(2.0 / 512));
  EXPECT_LE(stats_of(he).max_abs, 2 * std::sqrt(2.0 / 512) / .87962566103423978);
  EXPECT_GT(stats_of(kaiming).max_abs, 3 * std::sqrt(2.0 / 512));
}

TEST(Init, OrthogonalRowsOrColumnsAreOrthonormal) {
  Generator gen(5);
  for (const Shape& shape : {Shape{64, 128}, Shape{128, 64}, Shape{16, 8, 3, 3}, Shape{5, 5}}) {
    SCOPED_TRACE(detail::str(shape));
    Tensor w = empty(shape, DType::f64);
    nn::init::orthogonal_(w, 2.0, &gen);
    Tensor m = w.reshape({shape[0], -1});
    // The smaller Gram matrix is gain^2 * I.
    Tensor gram = m.size(0) <= m.size(1) ? matmul(m, m.t()) : matmul(m.t(), m);
    const int64_t n = gram.size(0);
    Tensor expected = zeros({n, n}, DType::f64);
    for (int64_t i = 0; i < n; ++i) expected.select(0, i).select(0, i).fill_(4.0);
    EXPECT_ALL_CLOSE(gram, expected, 0, 1e-10);
  }
  // Same seed, same matrix.
  Generator a(9), b(9);
  Tensor wa = empty({6, 4}), wb = empty({6, 4});
  nn::init::orthogonal_(wa, 1, &a);
  nn::init::orthogonal_(wb, 1, &b);
  EXPECT_EQ(wa.to_vector<float>(), wb.to_vector<float>());
}

TEST(Init, FansAndGains) {
  const auto ref = load_reference("nn_optim").at("init");
  for (const char* name : {"fans_conv", "fans_linear"}) {
    const auto& c = ref.at(name);
    auto [fan_in, fan_out] = nn::init::fans(empty(c.at("shape").get<Shape>()));
    EXPECT_EQ(fan_in, c.at("fan_in").get<int64_t>()) << name;
    EXPECT_EQ(fan_out, c.at("fan_out").get<int64_t>()) << name;
  }
  for (const auto& [name, gain] : ref.at("gains").items()) {
    if (name == "leaky_relu_0.2") {
      EXPECT_DOUBLE_EQ(nn::init::calculate_gain("leaky_relu", 0.2), gain.get<double>());
    } else {
      EXPECT_DOUBLE_EQ(nn::init::calculate_gain(name), gain.get<double>()) << name;
    }
  }
  try {
    nn::init::fans(zeros({3}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "init: fan in and fan out need a weight with at least 2 axes "
                 "([out, in, ...]), got shape [3]");
  }
  EXPECT_THROW(nn::init::calculate_gain("swish"), Error);
}

TEST(Init, ApplyByNameIsSeededAndChecked) {
  Generator a(11), b(11);
  Tensor wa = empty({10, 20}), wb = empty({10, 20});
  nn::init::apply("glorot_uniform", wa, &a);
  nn::init::apply("xavier_uniform", wb, &b);
  EXPECT_EQ(wa.to_vector<float>(), wb.to_vector<float>());
  Tensor c = empty({3, 3});
  nn::init::apply("zeros", c);
  EXPECT_EQ(c.to_vector<float>(), std::vector<float>(9, 0.f));
  nn::init::constant_(c, 2.5);
  EXPECT_EQ(c.to_vector<float>(), std::vector<float>(9, 2.5f));
  // A non-contiguous view is filled in place.
  Tensor big = zeros({4, 4});
  Tensor view = big.t();
  nn::init::uniform_(view, 1, 2, &a);
  EXPECT_GE(min(big).item(), 1.0);
  try {
    nn::init::apply("glorot", c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("init: unknown initializer 'glorot' (known: zeros, "),
              std::string::npos)
        << e.what();
  }
}
