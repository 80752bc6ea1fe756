// The Hopfield network: patterns stored by the Hebbian or Storkey rule, recall by asynchronous or
// synchronous updates. The loops are plain C++ on the [N, N] weights: storing is one outer
// product per pattern and a recall touches one row of W per flipped unit, so there is nothing
// here a GEMM would speed up beyond the synchronous step, which uses one.
#include <algorithm>

#include "nabla/energy.hpp"
#include "nabla/ops.hpp"

namespace nabla::nn {
namespace {

const std::vector<std::string> kHopfieldRules = {"hebbian", "storkey"};
const std::vector<std::string> kHopfieldUpdates = {"asynchronous", "synchronous"};

std::string hopfield_choices(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "\"" : ", \"") + name + "\"";
  return out;
}

// +-1 as f32, contiguous and owned: a value >= 0 is +1 (a grey pixel scaled to [0, 1] is not
// meant here; the tasks give +-1 or {0, 1} shifted by 0.5).
Tensor hopfield_spins(const Tensor& x) {
  Tensor out = x.to(DType::f32).contiguous().clone();
  float* p = out.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) p[i] = p[i] >= 0 ? 1.f : -1.f;
  return out;
}

}  // namespace

Hopfield::Hopfield(HopfieldOptions options) : options_(std::move(options)) {
  NABLA_CHECK(std::find(kHopfieldRules.begin(), kHopfieldRules.end(), options_.rule) !=
                  kHopfieldRules.end(),
              "Hopfield: unknown rule \"", options_.rule, "\" (expected ",
              hopfield_choices(kHopfieldRules), ")");
  NABLA_CHECK(std::find(kHopfieldUpdates.begin(), kHopfieldUpdates.end(), options_.update) !=
                  kHopfieldUpdates.end(),
              "Hopfield: unknown update \"", options_.update, "\" (expected ",
              hopfield_choices(kHopfieldUpdates), ")");
  NABLA_CHECK(options_.max_sweeps >= 1, "Hopfield: max_sweeps must be >= 1, got ",
              options_.max_sweeps);
  NABLA_CHECK(options_.patterns >= 1, "Hopfield: patterns must be >= 1, got ", options_.patterns);
  NABLA_CHECK(options_.units == -1 || options_.units >= 2,
              "Hopfield: units must be >= 2 (or -1 to take the input size), got ", options_.units);
  if (options_.units > 0) build(options_.units);
}

void Hopfield::build(int64_t units) {
  weight_ = register_buffer("weight", zeros({units, units}));
  stored_ = register_buffer("stored", zeros({1}, DType::i64));
  options_.units = units;
}

void Hopfield::clear() {
  NABLA_CHECK(weight_.defined(), "Hopfield: clear() before the layer was built");
  std::fill_n(weight_.data<float>(), weight_.numel(), 0.f);
  stored_.data<int64_t>()[0] = 0;
}

int64_t Hopfield::stored() const { return stored_.defined() ? stored_.data<int64_t>()[0] : 0; }
Tensor Hopfield::weight() const { return weight_; }

void Hopfield::store(const Tensor& patterns) {
  NABLA_CHECK(patterns.dim() == 2 && patterns.size(0) >= 1,
              "Hopfield: expected patterns [P, N] with P >= 1, got shape ", patterns.shape());
  if (!weight_.defined()) build(patterns.size(1));
  const int64_t n = options_.units;
  NABLA_CHECK(patterns.size(1) == n, "Hopfield: expected patterns of ", n,
              " units (the network's size), got shape ", patterns.shape());
  const int64_t count = patterns.size(0);
  NABLA_CHECK(stored() + count <= n, "Hopfield: cannot store ", count, " patterns in ", n, " units",
              stored() > 0 ? detail::str(" holding ", stored(), " already") : "",
              ": a Hopfield network holds at most as many patterns as units (the ", options_.rule,
              " rule recalls far fewer: about ", options_.rule == "hebbian" ? "0.138" : "0.25",
              " N = ", static_cast<int64_t>((options_.rule == "hebbian" ? 0.138 : 0.25) * n),
              "); store at most ", n - stored());
  const Tensor spins = hopfield_spins(patterns);
  for (int64_t p = 0; p < count; ++p) {
    const float* pattern = spins.data<float>() + p * n;
    if (options_.rule == "hebbian") {
      store_hebbian(pattern);
    } else {
      store_storkey(pattern);
    }
  }
  stored_.data<int64_t>()[0] += count;
}

void Hopfield::store_hebbian(const float* xi) {
  const int64_t n = options_.units;
  float* w = weight_.data<float>();
  const float scale = 1.f / static_cast<float>(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      if (i != j) w[i * n + j] += scale * xi[i] * xi[j];
    }
  }
}

// Storkey (1997): w_ij += (xi_i xi_j - xi_i h_ji - h_ij xi_j) / N with the local fields
// h_ij = sum_{k != i, j} w_ik xi_k of the weights before the pattern. With a zero diagonal,
// h_ij = h_i - w_ij xi_j, so the update is (xi_i xi_j - xi_i h_j - h_i xi_j + 2 w_ij) / N, and W
// stays symmetric.
void Hopfield::store_storkey(const float* xi) {
  const int64_t n = options_.units;
  float* w = weight_.data<float>();
  const std::vector<double> field = fields(xi);
  const double scale = 1.0 / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) {
    const double hi = field[static_cast<size_t>(i)];
    for (int64_t j = 0; j < n; ++j) {
      if (i == j) continue;
      const double hj = field[static_cast<size_t>(j)];
      const double wij = w[i * n + j];
      w[i * n + j] = static_cast<float>(
          wij + scale * (double{xi[i]} * xi[j] - xi[i] * hj - hi * xi[j] + 2 * wij));
    }
  }
}

Tensor Hopfield::energy(const Tensor& states) const {
  NABLA_CHECK(weight_.defined(), "Hopfield: energy() before the layer was built");
  const int64_t n = options_.units;
  NABLA_CHECK(states.dim() == 2 && states.size(1) == n, "Hopfield: expected states [B, ", n,
              "], got shape ", states.shape());
  const Tensor s = hopfield_spins(states);
  Tensor out = empty({states.size(0)}, DType::f64);
  const float* w = weight_.data<float>();
  for (int64_t b = 0; b < states.size(0); ++b) {
    const float* x = s.data<float>() + b * n;
    double e = 0;
    for (int64_t i = 0; i < n; ++i) {
      double row = 0;
      for (int64_t j = 0; j < n; ++j) row += double{w[i * n + j]} * x[j];
      e += x[i] * row;
    }
    out.data<double>()[b] = -0.5 * e;
  }
  return out;
}

std::vector<double> Hopfield::fields(const float* s) const {
  const int64_t n = options_.units;
  const float* w = weight_.data<float>();
  std::vector<double> field(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double sum = 0;
    for (int64_t j = 0; j < n; ++j) sum += double{w[i * n + j]} * s[j];
    field[static_cast<size_t>(i)] = sum;
  }
  return field;
}

// Per update of unit i: s_i = sign(h_i) (a zero field keeps it) and, when it flips,
// h_j += 2 s_i w_ji for every j, so the fields stay W s without computing them again. Each flip
// lowers E by 2 |h_i|.
int64_t Hopfield::update_units(float* s, std::vector<double>& field,
                               const std::vector<int64_t>& order) const {
  const int64_t n = options_.units;
  const float* w = weight_.data<float>();
  int64_t flips = 0;
  for (const int64_t i : order) {
    NABLA_CHECK(i >= 0 && i < n, "Hopfield: unit ", i, " is out of range [0, ", n, ")");
    const double h = field[static_cast<size_t>(i)];
    const float next = h > 0 ? 1.f : h < 0 ? -1.f : s[i];
    if (next == s[i]) continue;
    s[i] = next;
    ++flips;
    const float* row = w + i * n;  // W is symmetric: row i is column i
    for (int64_t j = 0; j < n; ++j) field[static_cast<size_t>(j)] += 2.0 * next * row[j];
  }
  return flips;
}

int64_t Hopfield::asynchronous_sweep(Tensor& state, const std::vector<int64_t>& order) const {
  NABLA_CHECK(weight_.defined(), "Hopfield: asynchronous_sweep() before the layer was built");
  const int64_t n = options_.units;
  NABLA_CHECK(state.dim() == 1 && state.size(0) == n && state.dtype() == DType::f32 &&
                  state.is_contiguous(),
              "Hopfield: expected a contiguous f32 state [", n, "], got shape ", state.shape());
  float* s = state.data<float>();
  std::vector<double> field = fields(s);
  return update_units(s, field, order);
}

Tensor Hopfield::synchronous_step(const Tensor& states) const {
  NABLA_CHECK(weight_.defined(), "Hopfield: synchronous_step() before the layer was built");
  const Tensor s = hopfield_spins(states);
  NABLA_CHECK(s.dim() == 2 && s.size(1) == options_.units, "Hopfield: expected states [B, ",
              options_.units, "], got shape ", states.shape());
  Tensor fields;
  {
    NoGradGuard no_grad;
    fields = matmul(s, weight_).contiguous();  // W is symmetric: s W = (W s^T)^T
  }
  Tensor next = s.clone();
  float* out = next.data<float>();
  const float* h = fields.data<float>();
  for (int64_t i = 0; i < next.numel(); ++i) out[i] = h[i] > 0 ? 1.f : h[i] < 0 ? -1.f : out[i];
  return next;
}

Tensor Hopfield::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() == 2, "Hopfield: expected states [B, N], got shape ", x.shape());
  if (!weight_.defined()) build(x.size(1));
  NABLA_CHECK(x.size(1) == options_.units, "Hopfield: expected states of ", options_.units,
              " units, got shape ", x.shape());
  const int64_t n = options_.units;
  Tensor states = hopfield_spins(x);
  if (options_.update == "synchronous") {
    for (int64_t sweep = 0; sweep < options_.max_sweeps; ++sweep) {
      Tensor next = synchronous_step(states);
      const bool settled =
          std::equal(next.data<float>(), next.data<float>() + next.numel(), states.data<float>());
      states = next;
      if (settled) break;
    }
    return states;
  }
  // The same orders for every row (one generator per row, seeded alike), so that a state's
  // recall does not depend on the batch it came in.
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t b = 0; b < states.size(0); ++b) {
    float* row = states.data<float>() + b * n;
    std::vector<double> field = fields(row);  // once per state: the sweeps keep it current
    Generator gen(options_.seed);
    for (int64_t sweep = 0; sweep < options_.max_sweeps; ++sweep) {
      const Tensor permutation = randperm(n, &gen);
      std::copy_n(permutation.data<int64_t>(), n, order.begin());
      if (update_units(row, field, order) == 0) break;
    }
  }
  return states;
}

std::string Hopfield::extra_repr() const {
  return detail::str("units=", options_.units > 0 ? std::to_string(options_.units) : "None",
                     ", rule=", options_.rule, ", update=", options_.update, ", stored=", stored());
}

}  // namespace nabla::nn
