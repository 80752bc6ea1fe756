#include "support/op_test.hpp"

#include <sstream>

namespace nabla::testing {

namespace {

// The JSON value at `path` ("a" or "a/b": nested objects), or nullptr.
const nlohmann::json* resolve(const nlohmann::json& root, const std::string& path) {
  const nlohmann::json* j = &root;
  std::istringstream parts(path);
  for (std::string part; std::getline(parts, part, '/');) {
    if (!j->is_object() || !j->contains(part)) return nullptr;
    j = &j->at(part);
  }
  return j;
}

bool is_tensor(const nlohmann::json* j) {
  return j != nullptr && j->is_object() && j->contains("shape") && j->contains("data");
}

// How a case is replayed: in its stored dtype or converted to one, with contiguous or strided
// inputs.
struct RunMode {
  std::optional<DType> dtype;
  bool strided = false;
};

// One replay: the outputs, and each gradient input's leaf (holding its gradient) and the other
// inputs the op read, after the call (for the "_after" values).
struct Run {
  std::vector<Tensor> outputs;
  std::map<std::string, Tensor> leaves;
  std::map<std::string, Tensor> read;
};

// The inputs that get gradients in this case: none in a case without upstream gradients (a
// forward-only case, e.g. a comparison).
std::vector<std::string> present_grad_inputs(const OpTest& op, const nlohmann::json& data) {
  std::vector<std::string> names;
  bool backward = false;
  for (const OpOutput& output : op.outputs)
    backward = backward || is_tensor(resolve(data, output.grad_name));
  if (!backward) return names;
  for (const std::string& name : op.grad_inputs)
    if (is_tensor(resolve(data, name))) names.push_back(name);
  return names;
}

Tensor leaf_of(Tensor t, const RunMode& mode) {
  if (mode.dtype && is_floating(t.dtype())) t = t.to(*mode.dtype);
  t = mode.strided ? strided_copy(t) : t.clone();
  Tensor leaf = t.detach();
  if (is_floating(leaf.dtype())) leaf.requires_grad_();
  return leaf;
}

Run run_case(const OpTest& op, const nlohmann::json& data, const RunMode& mode) {
  std::map<std::string, Tensor> leaves;
  for (const std::string& name : present_grad_inputs(op, data))
    leaves[name] = leaf_of(tensor_from_json(*resolve(data, name)), mode);
  OpCase c(data, leaves, mode.dtype);
  const OpOutputs result = op.fn(c);
  Run run;
  run.leaves = leaves;
  run.outputs = result.tensors;
  if (run.outputs.size() != op.outputs.size()) {
    ADD_FAILURE() << op.name << " returned " << run.outputs.size() << " outputs, the table row "
                  << "names " << op.outputs.size();
    return run;
  }
  Tensor loss;
  for (size_t i = 0; i < run.outputs.size(); ++i) {
    const Tensor& out = run.outputs[i];
    const nlohmann::json* grad = resolve(data, op.outputs[i].grad_name);
    if (!out.defined() || !out.requires_grad() || !is_tensor(grad)) continue;
    const Tensor term = (out * tensor_from_json(*grad).to(out.dtype())).sum();
    loss = loss.defined() ? loss + term : term;
  }
  if (loss.defined()) loss.backward();
  for (const auto& [key, value] : data.items()) {
    const std::string suffix = "_after";
    if (key.size() <= suffix.size() ||
        key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const std::string name = key.substr(0, key.size() - suffix.size());
    run.read[name] = leaves.count(name) ? leaves.at(name) : c.input(name);
  }
  return run;
}

Tolerance tolerance_for(const OpTest& op, const Run& run) {
  for (const Tensor& out : run.outputs)
    if (out.defined() && out.dtype() == DType::f64) return op.f64;
  return op.f32;
}

// The expected value `key`: from `expected` (a case's "f64" object), else from the case itself.
const nlohmann::json* expected_value(const nlohmann::json& data, const nlohmann::json& expected,
                                     const std::string& key) {
  const nlohmann::json* j = resolve(expected, key);
  return j != nullptr ? j : resolve(data, key);
}

std::string grad_key(const std::string& input) { return "grad_" + input; }

void expect_close(const Tensor& actual, const nlohmann::json* expected, const std::string& what,
                  const Tolerance& tol, bool stored_dtype) {
  SCOPED_TRACE(what);
  if (!actual.defined() || !is_tensor(expected)) {
    ADD_FAILURE() << what << ": " << (actual.defined() ? "computed" : "not computed") << ", "
                  << (is_tensor(expected) ? "in" : "not in") << " the reference";
    return;
  }
  const Tensor want = tensor_from_json(*expected);
  // Run on the stored inputs, an op gives the dtype PyTorch gave, except that a reference may be
  // computed in f64 (sdpa); run in f64, it is compared with f32 values where the case has no f64.
  const bool f64_reference = want.dtype() == DType::f64 && is_floating(actual.dtype());
  if (stored_dtype && !f64_reference) {
    EXPECT_EQ(actual.dtype(), want.dtype());
  }
  EXPECT_ALL_CLOSE(actual, want, tol.rtol, tol.atol);
}

// A replay against the reference values (`expected`: the case, or its "f64" object).
void expect_matches(const OpTest& op, const nlohmann::json& data, const nlohmann::json& expected,
                    const Run& run, bool stored_dtype = true) {
  if (run.outputs.size() != op.outputs.size()) return;  // reported by run_case
  const Tolerance tol = tolerance_for(op, run);
  for (size_t i = 0; i < run.outputs.size(); ++i) {
    const std::string& key = op.outputs[i].name;
    const nlohmann::json* want = expected_value(data, expected, key);
    if (!run.outputs[i].defined() && want == nullptr) continue;  // an output this case lacks
    expect_close(run.outputs[i], want, key, tol, stored_dtype);
  }
  for (const auto& [name, leaf] : run.leaves) {
    if (!leaf.requires_grad()) continue;  // an integer input
    expect_close(leaf.grad(), expected_value(data, expected, grad_key(name)), grad_key(name), tol,
                 stored_dtype);
  }
  for (const auto& [name, value] : run.read)
    expect_close(value, expected_value(data, expected, name + "_after"), name + "_after", tol,
                 stored_dtype);
}

// Two replays of the same inputs at different thread counts.
void expect_same_runs(const Run& a, const Run& b, const std::optional<Tolerance>& tol) {
  auto same = [&](const Tensor& x, const Tensor& y, const std::string& what) {
    SCOPED_TRACE(what + " on 1 and 2 threads");
    ASSERT_EQ(x.defined(), y.defined());
    if (!x.defined()) return;
    if (tol) {
      EXPECT_ALL_CLOSE(y, x, tol->rtol, tol->atol);
    } else {
      EXPECT_ALL_CLOSE(y, x, 0.0, 0.0);  // bit for bit (NaNs in the same places)
    }
  };
  if (a.outputs.size() != b.outputs.size()) return;
  for (size_t i = 0; i < a.outputs.size(); ++i)
    same(a.outputs[i], b.outputs[i], "output " + std::to_string(i));
  for (const auto& [name, leaf] : a.leaves)
    if (leaf.requires_grad()) same(leaf.grad(), b.leaves.at(name).grad(), grad_key(name));
}

void expect_gradcheck(const OpTest& op, const nlohmann::json& data) {
  std::vector<std::string> names;
  std::vector<Tensor> inputs;
  for (const std::string& name : present_grad_inputs(op, data)) {
    // An input the op rewrites in place cannot be perturbed for central differences.
    if (data.contains(name + "_after")) return;
    const Tensor t = tensor_from_json(*resolve(data, name));
    if (!is_floating(t.dtype())) continue;
    names.push_back(name);
    inputs.push_back(leaf_of(t, {DType::f64, false}));
  }
  if (inputs.empty()) return;
  const Function f = [&](const std::vector<Tensor>& in) {
    std::map<std::string, Tensor> prepared;
    for (size_t i = 0; i < names.size(); ++i) prepared[names[i]] = in[i];
    const OpOutputs result = op.fn(OpCase(data, prepared, DType::f64));
    std::vector<Tensor> parts;
    for (const Tensor& out : result.tensors)
      if (out.defined() && is_floating(out.dtype())) parts.push_back(out.flatten());
    return concat(parts, 0);
  };
  SCOPED_TRACE("gradcheck (f64)");
  EXPECT_GRADCHECK(f, inputs, *op.gradcheck);
}

void check_case(const OpTest& op, const nlohmann::json& data) {
  const int threads = get_num_threads();
  set_num_threads(1);
  const Run one = run_case(op, data, {});
  set_num_threads(2);
  const Run two = run_case(op, data, {});
  set_num_threads(threads);
  {
    SCOPED_TRACE("contiguous inputs");
    expect_matches(op, data, data, one);
  }
  expect_same_runs(one, two, op.across_threads);
  {
    SCOPED_TRACE("non-contiguous inputs");
    expect_matches(op, data, data, run_case(op, data, {std::nullopt, true}));
  }
  if (data.contains("f64")) {
    SCOPED_TRACE("f64, against the case's f64 values");
    expect_matches(op, data, data.at("f64"), run_case(op, data, {DType::f64, false}), false);
  }
  for (DType dtype : op.extra_dtypes) {
    SCOPED_TRACE("in " + ::testing::PrintToString(dtype));
    expect_matches(op, data, data, run_case(op, data, {dtype, false}), false);
  }
  if (op.gradcheck) expect_gradcheck(op, data);
}

bool matches(const std::string& key, const std::string& pattern) {
  if (!pattern.empty() && pattern.back() == '*')
    return key.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0;
  return key == pattern || key.rfind(pattern + "/", 0) == 0;
}

}  // namespace

const nlohmann::json* OpCase::find(const std::string& name) const {
  if (const nlohmann::json* j = resolve(data_, name)) return j;
  if (data_.contains("options")) return resolve(data_.at("options"), name);
  return nullptr;
}

Tensor OpCase::input(const std::string& name) const {
  auto it = prepared_.find(name);
  if (it != prepared_.end()) return it->second;
  const nlohmann::json* j = find(name);
  if (!is_tensor(j)) return Tensor();
  Tensor t = tensor_from_json(*j);
  if (dtype_ && is_floating(t.dtype())) t = t.to(*dtype_);
  // Kept, so that an op writing into it (running statistics) is seen by the "_after" check.
  prepared_[name] = t;
  return t;
}

const nlohmann::json& reference_data(const std::string& file) {
  static std::map<std::string, nlohmann::json> loaded;
  auto it = loaded.find(file);
  if (it == loaded.end()) it = loaded.emplace(file, load_reference(file)).first;
  return it->second;
}

int check_ops(const std::string& file, const std::vector<OpTest>& ops) {
  const nlohmann::json& cases = reference_data(file);
  int checked = 0;
  for (const OpTest& op : ops) {
    const std::vector<std::string> patterns =
        op.cases.empty() ? std::vector<std::string>{op.name} : op.cases;
    for (const std::string& pattern : patterns) {
      int matched = 0;
      for (const auto& [key, data] : cases.items()) {
        if (!matches(key, pattern)) continue;
        SCOPED_TRACE(op.name + ": reference case " + key + " (" + file + ".json)");
        check_case(op, data);
        ++matched;
      }
      if (matched == 0)
        ADD_FAILURE() << op.name << ": no reference case named " << pattern << " or " << pattern
                      << "/* in tests/reference/data/" << file << ".json";
      checked += matched;
    }
  }
  return checked;
}

Tensor strided_copy(const Tensor& t) {
  if (t.dim() >= 2) return t.transpose(-1, -2).contiguous().transpose(-1, -2);
  if (t.dim() == 0) return t.clone();
  Tensor storage = zeros({2 * t.numel()}, t.dtype());
  Tensor view = storage.slice(0, 0, 2 * t.numel(), 2);
  NoGradGuard no_grad;
  view.copy_(t);
  return view;
}

}  // namespace nabla::testing
