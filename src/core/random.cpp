// Random numbers: xoshiro256** seeded through splitmix64, with our own uniform and normal
// transforms so that a seed gives the same numbers on every platform and standard library.
#include <cmath>
#include <cstring>
#include <numbers>

#include "core/dispatch.hpp"
#include "core/tensor_impl.hpp"

namespace nabla {

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

void Generator::manual_seed(uint64_t seed) {
  seed_ = seed;
  uint64_t x = seed;
  for (auto& s : s_) s = splitmix64(x);
  has_spare_ = false;
}

uint64_t Generator::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Generator::next_double() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

int64_t Generator::next_int(int64_t low, int64_t high) {
  return low + static_cast<int64_t>(next_u64() % static_cast<uint64_t>(high - low + 1));
}

double Generator::next_normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1 = next_double(), u2 = next_double();
  if (u1 < 1e-300) u1 = 1e-300;
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(theta);
  has_spare_ = true;
  return r * std::cos(theta);
}

std::vector<uint64_t> Generator::state() const {
  uint64_t spare_bits;
  std::memcpy(&spare_bits, &spare_, sizeof spare_bits);
  return {seed_, s_[0], s_[1], s_[2], s_[3], has_spare_ ? 1u : 0u, spare_bits};
}

void Generator::set_state(const std::vector<uint64_t>& state) {
  NABLA_CHECK(state.size() == 7, "Generator::set_state: expected 7 words, got ", state.size());
  seed_ = state[0];
  for (int i = 0; i < 4; ++i) s_[i] = state[1 + i];
  has_spare_ = state[5] != 0;
  std::memcpy(&spare_, &state[6], sizeof spare_);
}

Generator& default_generator() {
  static Generator gen(0);
  return gen;
}

void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {
Generator& pick(Generator* gen) { return gen ? *gen : default_generator(); }

template <class Sample>
Tensor fill_random(const Shape& shape, DType dtype, const char* op, Sample sample) {
  Tensor t = make_tensor(shape, dtype);
  dispatch_floating(dtype, op, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(sample());
  });
  return t;
}
}  // namespace

Tensor rand(const Shape& shape, DType dtype, Generator* gen) {
  return uniform(shape, 0, 1, dtype, gen);
}
Tensor randn(const Shape& shape, DType dtype, Generator* gen) {
  return normal(shape, 0, 1, dtype, gen);
}
Tensor uniform(const Shape& shape, double low, double high, DType dtype, Generator* gen) {
  NABLA_CHECK(low <= high, "uniform: expected low <= high, got low=", low, ", high=", high);
  Generator& g = pick(gen);
  return fill_random(shape, dtype, "uniform", [&] { return low + (high - low) * g.next_double(); });
}
Tensor normal(const Shape& shape, double mean, double std, DType dtype, Generator* gen) {
  NABLA_CHECK(std >= 0, "normal: expected std >= 0, got ", std);
  Generator& g = pick(gen);
  return fill_random(shape, dtype, "normal", [&] { return mean + std * g.next_normal(); });
}
Tensor bernoulli(const Shape& shape, double p, DType dtype, Generator* gen) {
  NABLA_CHECK(p >= 0 && p <= 1, "bernoulli: expected 0 <= p <= 1, got ", p);
  Generator& g = pick(gen);
  return fill_random(shape, dtype, "bernoulli", [&] { return g.next_double() < p ? 1.0 : 0.0; });
}
Tensor randint(int64_t low, int64_t high, const Shape& shape, Generator* gen) {
  NABLA_CHECK(low < high, "randint: expected low < high, got low=", low, ", high=", high);
  Generator& g = pick(gen);
  Tensor t = make_tensor(shape, DType::i64);
  int64_t* p = t.data<int64_t>();
  const uint64_t range = static_cast<uint64_t>(high - low);
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = low + static_cast<int64_t>(g.next_u64() % range);
  return t;
}
Tensor randperm(int64_t n, Generator* gen) {
  NABLA_CHECK(n >= 0, "randperm: expected n >= 0, got ", n);
  Generator& g = pick(gen);
  Tensor t = arange(0, static_cast<double>(n), 1, DType::i64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[g.next_u64() % (i + 1)]);  // Fisher-Yates
  return t;
}

}  // namespace nabla
