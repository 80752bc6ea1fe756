// Module: the registry of parameters, buffers and submodules that every layer and model shares,
// with PyTorch's naming (dotted paths in registration order), state dicts and printing.
#include <algorithm>
#include <functional>
#include <set>
#include <sstream>

#include "core/tensor_impl.hpp"
#include "nabla/nn.hpp"
#include "nn/layer_util.hpp"

namespace nabla::nn {

namespace {

using Named = std::vector<std::pair<std::string, Tensor>>;

// Appends `prefix + name` for every entry; `seen` drops a tensor registered twice (PyTorch
// yields a shared parameter once).
void append_named(const Named& entries, const std::string& prefix, Named& out,
                  std::set<const TensorImpl*>* seen) {
  for (const auto& [name, t] : entries) {
    if (seen && !seen->insert(t.impl()).second) continue;
    out.emplace_back(prefix + name, t);
  }
}

// Prefixes every line after the first with `spaces` spaces (PyTorch's _addindent).
std::string indent_tail(const std::string& text, int spaces) {
  std::string out;
  for (char c : text) {
    out += c;
    if (c == '\n') out.append(spaces, ' ');
  }
  return out;
}

void collect_modes(Module& m, std::vector<std::pair<Module*, bool>>& out) {
  out.emplace_back(&m, m.is_training());
  for (const auto& [name, child] : m.named_children()) collect_modes(*child, out);
}

}  // namespace

namespace {
// A name for a new entry of `kind` ("parameter", "buffer", "submodule"): non-empty, no '.', since
// dots separate path components, and not yet used among `entries`.
template <class Entries>
void check_new_name(const std::string& owner, const char* kind, const std::string& name,
                    const Entries& entries) {
  NABLA_CHECK(!name.empty() && name.find('.') == std::string::npos, owner, ": invalid ", kind,
              " name '", name, "' (expected a non-empty name without '.')");
  for (const auto& entry : entries) {
    NABLA_CHECK(entry.first != name, owner, ": a ", kind, " named '", name,
                "' is already registered");
  }
}
}  // namespace

void Module::register_child(const std::string& name, std::shared_ptr<Module> module) {
  NABLA_CHECK(module != nullptr, type_name(), ": cannot register a null module as '", name, "'");
  check_new_name(type_name(), "submodule", name, children_);
  children_.emplace_back(name, std::move(module));
}

void Module::remove_child(const std::string& name) {
  const auto it = std::find_if(children_.begin(), children_.end(),
                               [&](const auto& child) { return child.first == name; });
  NABLA_CHECK(it != children_.end(), type_name(), ": no submodule named '", name, "'");
  children_.erase(it);
}

Tensor& Module::register_parameter(const std::string& name, Tensor value) {
  NABLA_CHECK(value.defined(), type_name(), ": parameter '", name, "' is an undefined tensor");
  check_new_name(type_name(), "parameter", name, parameters_);
  value.requires_grad_(trainable_);
  parameters_.emplace_back(name, std::move(value));
  return parameters_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor value) {
  NABLA_CHECK(value.defined(), type_name(), ": buffer '", name, "' is an undefined tensor");
  check_new_name(type_name(), "buffer", name, buffers_);
  buffers_.emplace_back(name, std::move(value));
  return buffers_.back().second;
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters(bool recurse) const {
  Named out;
  std::set<const TensorImpl*> seen;
  append_named(parameters_, "", out, &seen);
  if (recurse) {
    for (const auto& [name, child] : children_) {
      Named sub = child->named_parameters(true);
      append_named(sub, name + ".", out, &seen);
    }
  }
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers(bool recurse) const {
  Named out;
  std::set<const TensorImpl*> seen;
  append_named(buffers_, "", out, &seen);
  if (recurse) {
    for (const auto& [name, child] : children_) {
      Named sub = child->named_buffers(true);
      append_named(sub, name + ".", out, &seen);
    }
  }
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters(recurse)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

StateDict Module::state_dict() const {
  // Values share storage with the module (as in PyTorch): clone them to keep a snapshot.
  StateDict out;
  Named all;
  append_named(parameters_, "", all, nullptr);
  append_named(buffers_, "", all, nullptr);
  for (const auto& [name, t] : all) out[name] = t.detach();
  for (const auto& [name, child] : children_) {
    for (const auto& [key, t] : child->state_dict()) out[name + '.' + key] = t;
  }
  return out;
}

void Module::load_state_dict(const StateDict& state, bool strict) {
  StateDict own = state_dict();
  // All checks first: a failed load changes nothing.
  std::vector<std::string> missing, unexpected;
  for (const auto& [key, target] : own) {
    auto it = state.find(key);
    if (it == state.end()) {
      missing.push_back(key);
      continue;
    }
    NABLA_CHECK(it->second.defined(), "load_state_dict: '", key, "' is an undefined tensor");
    NABLA_CHECK(it->second.shape() == target.shape(), "load_state_dict: shape mismatch for '", key,
                "': the state dict has ", it->second.shape(), ", the model has ", target.shape());
  }
  for (const auto& [key, value] : state)
    if (!own.count(key)) unexpected.push_back(key);
  if (strict && (!missing.empty() || !unexpected.empty())) {
    std::ostringstream msg;
    msg << "load_state_dict: the state dict does not match the " << type_name() << " model:";
    auto list = [&msg](const char* what, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      msg << " " << what << " key(s)";
      for (size_t i = 0; i < keys.size(); ++i) msg << (i ? ", '" : " '") << keys[i] << "'";
      msg << ";";
    };
    list("missing", missing);
    list("unexpected", unexpected);
    msg << " (pass strict=false to load the matching keys only)";
    detail::throw_error(msg.str());
  }
  // In place, so that optimizers holding the parameters keep working.
  NoGradGuard no_grad;
  for (auto& [key, target] : own) {
    auto it = state.find(key);
    if (it != state.end()) target.copy_(it->second.detach());
  }
}

namespace {
// Gives `t`'s TensorImpl -- shared by every handle to it -- a converted contiguous storage.
void convert_in_place(const Tensor& t, DType dtype) {
  if (!t.defined() || t.dtype() == dtype || !is_floating(t.dtype())) return;
  const Tensor converted = contiguous_copy(t, dtype);
  TensorImpl* impl = t.impl();
  impl->storage = converted.impl()->storage;
  impl->dtype = dtype;
  impl->strides = converted.strides();
  impl->offset = 0;
}
}  // namespace

Module& Module::to(DType dtype) {
  NABLA_CHECK(is_floating(dtype), type_name(), ".to: expected a floating dtype (f32 or f64), got ",
              dtype);
  for (const auto& [name, p] : named_parameters()) {
    convert_in_place(p, dtype);
    convert_in_place(p.grad(), dtype);
  }
  for (const auto& [name, b] : named_buffers()) convert_in_place(b, dtype);
  return *this;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::set_trainable(bool trainable) {
  trainable_ = trainable;
  for (auto& [name, p] : parameters_) {
    p.requires_grad_(trainable);
    if (!trainable) p.zero_grad(/*set_to_none=*/true);  // no stale gradient reaches an optimizer
  }
  for (auto& [name, child] : children_) child->set_trainable(trainable);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) p.zero_grad(set_to_none);
}

namespace internal {
Tensor probe(Module& module, const std::function<Tensor()>& run) {
  // Every module's own mode is restored afterwards (children may differ from their parent).
  std::vector<std::pair<Module*, bool>> modes;
  collect_modes(module, modes);
  auto restore = [&modes] {
    for (auto& [m, mode] : modes) m->train(mode);
  };
  Tensor out;
  try {
    module.eval();
    NoGradGuard no_grad;
    out = run();
  } catch (...) {
    restore();
    throw;
  }
  restore();
  return out;
}
}  // namespace internal

Shape Module::build(const Shape& input_shape) {
  Shape shape{1};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  return internal::probe(*this, [&] { return forward(zeros(shape, input_dtype())); }).shape();
}

Tensor Module::forward_multi(const std::vector<Tensor>& inputs) {
  NABLA_CHECK(inputs.size() == 1, type_name(), ": expected one input, got ", inputs.size());
  return forward(inputs[0]);
}

Module& Module::set_name(std::string name) {
  NABLA_CHECK(!name.empty() && name.find('.') == std::string::npos, type_name(),
              ": invalid layer name '", name, "' (expected a non-empty name without '.')");
  name_ = std::move(name);
  return *this;
}

std::string Module::to_string() const {
  std::vector<std::string> lines;
  const std::string extra = extra_repr();
  size_t extra_lines = 0;
  if (!extra.empty()) {
    std::istringstream in(extra);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    extra_lines = lines.size();
  }
  for (const auto& [name, child] : children_)
    lines.push_back("(" + name + "): " + indent_tail(child->to_string(), 2));
  std::string out = type_name() + "(";
  if (extra_lines == 1 && children_.empty()) {
    out += lines[0];
  } else if (!lines.empty()) {
    out += "\n";
    for (const auto& line : lines) out += "  " + line + "\n";
  }
  return out + ")";
}

}  // namespace nabla::nn
