// The op-test harness, in the spirit of PyTorch's OpInfo and ggml's test-backend-ops: each op
// family's test declares a table of ops (one OpTest row each) and one generic routine,
// check_ops, replays every PyTorch reference case of every row (tests/reference/data/*.json):
//
//   * the outputs and the input gradients against PyTorch's, for contiguous inputs and again
//     for non-contiguous copies of the same values (the strided kernels);
//   * in f64 as well, against the case's "f64" values, where the case has them;
//   * the f64 gradcheck (central differences) at the case's inputs;
//   * 1 and 2 threads giving the same outputs and gradients (bit for bit unless the row says
//     otherwise, see docs/architecture.md);
//   * and a row whose case names match no case in the data fails: a typo must not pass.
//
// A reference case is a JSON object holding its named input tensors, its attributes (at the top
// level or under "options"), its expected outputs ("out", ...), the upstream gradient of each
// output ("grad_out", ...) and the expected gradient of each input x as "grad_x". Nested names
// ("params/weight_ih_l0") address tensors inside objects; their gradients are under
// "grad_params/weight_ih_l0". An input the op updates in place (running statistics, embedding
// rows renormalized by max_norm) is compared afterwards with "<name>_after".
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nabla/nabla.hpp"
#include "support/gradcheck.hpp"
#include "support/reference.hpp"  // all_close, EXPECT_ALL_CLOSE

namespace nabla::testing {

// One reference case as an op's callable sees it: named inputs and attributes.
class OpCase {
 public:
  OpCase(const nlohmann::json& data, std::map<std::string, Tensor> prepared,
         std::optional<DType> dtype)
      : data_(data), prepared_(std::move(prepared)), dtype_(dtype) {}

  // The input `name` (undefined when the case has none): the harness's leaf for an input that
  // gets a gradient, else the stored tensor (converted to the run's floating dtype, if any).
  Tensor input(const std::string& name) const;
  bool has(const std::string& name) const { return find(name) != nullptr; }

  // An attribute, from "options" or the top level of the case.
  template <class T>
  T attr(const std::string& name) const {
    const nlohmann::json* j = find(name);
    if (j == nullptr) throw Error("reference case has no attribute " + name);
    return j->get<T>();
  }
  template <class T>
  T attr(const std::string& name, T fallback) const {
    const nlohmann::json* j = find(name);
    return j == nullptr ? fallback : j->get<T>();
  }

 private:
  const nlohmann::json* find(const std::string& name) const;

  const nlohmann::json& data_;
  mutable std::map<std::string, Tensor> prepared_;  // inputs read so far, kept for "_after"
  std::optional<DType> dtype_;
};

// What an op returns, in the order of OpTest::outputs; an undefined tensor is an output the op
// does not produce for this case (the case must then not hold it either).
struct OpOutputs {
  OpOutputs(Tensor t) : tensors{std::move(t)} {}  // NOLINT: one output converts implicitly
  OpOutputs(std::initializer_list<Tensor> list) : tensors(list) {}
  std::vector<Tensor> tensors;
};

struct Tolerance {
  double rtol, atol;
};

struct OpOutput {
  std::string name;       // the expected value's key
  std::string grad_name;  // the key of its upstream gradient
};

struct OpTest {
  std::string name;  // for messages; also the default case name
  std::function<OpOutputs(const OpCase&)> fn;
  std::vector<std::string> grad_inputs;  // the inputs that get gradients (absent ones skipped)
  Tolerance f32{1e-5, 1e-6};
  Tolerance f64{1e-10, 1e-12};
  // The reference cases: keys equal to one of these, or starting with it and "/" ("conv2d" matches
  // "conv2d/groups"), or, for an entry ending in '*', starting with what precedes it
  // ("loss/mse_*"); empty means {name}. Each entry must match at least one case.
  std::vector<std::string> cases = {};
  std::vector<OpOutput> outputs = {{"out", "grad_out"}};
  // Also run in these dtypes against the top-level values (sdpa: PyTorch computed them in f64).
  std::vector<DType> extra_dtypes = {};
  // nullopt where central differences do not apply to the reference inputs (say why at the row).
  std::optional<GradcheckOptions> gradcheck = GradcheckOptions{};
  // 1 vs 2 threads: bit-identical (nullopt), or within this tolerance where the kernel splits a
  // sum by the thread count (docs/architecture.md names those kernels).
  std::optional<Tolerance> across_threads = std::nullopt;
};

// tests/reference/data/<file>.json, parsed once per process.
const nlohmann::json& reference_data(const std::string& file);

// Replays every case of every row (see the top of this file); returns the number of cases.
int check_ops(const std::string& file, const std::vector<OpTest>& ops);

// A copy of `t` stored non-contiguously: last two axes transposed, or a 1-d tensor in every other
// element; 0-d tensors are copied as they are.
Tensor strided_copy(const Tensor& t);

}  // namespace nabla::testing
