// The optimizer base: parameters, learning rate, per-parameter state and its (de)serialization,
// and make_optimizer.
#include <algorithm>
#include <cctype>

#include "core/text.hpp"
#include "nabla/optim.hpp"
#include "optim/update.hpp"

namespace nabla::optim {

namespace {
// "3.exp_avg" -> (3, "exp_avg"); false when the key is not of that form.
bool parse_slot_key(const std::string& key, size_t& index, std::string& slot) {
  const size_t dot = key.find('.');
  if (dot == 0 || dot == std::string::npos || dot + 1 == key.size()) return false;
  for (size_t i = 0; i < dot; ++i)
    if (!std::isdigit(static_cast<unsigned char>(key[i]))) return false;
  index = std::stoul(key.substr(0, dot));
  slot = key.substr(dot + 1);
  return true;
}

double scalar_value(const std::string& key, const Tensor& t) {
  NABLA_CHECK(
      t.defined() && t.numel() == 1, "Optimizer::load_state_dict: '", key,
      "' must be a one-element tensor, got ",
      t.defined() ? nabla::detail::str("shape ", t.shape()) : std::string("an undefined tensor"));
  return t.item();
}
}  // namespace

Optimizer::Optimizer(std::vector<Tensor> params, double lr) : lr_(lr) {
  set_parameters(std::move(params));
}

void Optimizer::zero_grad(bool set_to_none) {
  for (Tensor& p : params_) p.zero_grad(set_to_none);
}

void Optimizer::set_lr(double lr) {
  internal::check_option(name(), "learning rate", lr, lr >= 0, "lr >= 0");
  lr_ = lr;
}

void Optimizer::set_parameters(std::vector<Tensor> params) {
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    NABLA_CHECK(p.defined(), "optimizer: parameter ", i, " is an undefined tensor");
    NABLA_CHECK(is_floating(p.dtype()), "optimizer: parameter ", i, " has dtype ", p.dtype(),
                ", expected f32 or f64");
    NABLA_CHECK(p.is_leaf(), "optimizer: parameter ", i, " of shape ", p.shape(),
                " is not a leaf tensor (it was computed by an op; optimize the leaf, or detach())");
  }
  params_ = std::move(params);
  state_.assign(params_.size(), {});
  steps_ = 0;
}

Tensor& Optimizer::slot(size_t i, const std::string& name) {
  Tensor& t = state_[i][name];
  if (!t.defined()) t = zeros(params_[i].shape(), params_[i].dtype());
  return t;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < state_.size(); ++i) {
    for (const auto& [slot_name, value] : state_[i])
      out[std::to_string(i) + "." + slot_name] = value.clone();
  }
  out["step"] = scalar_tensor(static_cast<double>(steps_), DType::f64);
  out["lr"] = scalar_tensor(lr_, DType::f64);
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  // Everything is checked before anything changes, so a bad state dict leaves the optimizer as
  // it was.
  std::vector<std::map<std::string, Tensor>> loaded(params_.size());
  double steps = static_cast<double>(steps_), lr = lr_;
  for (const auto& [key, value] : state) {
    if (key == "step") {
      steps = scalar_value(key, value);
      continue;
    }
    if (key == "lr") {
      lr = scalar_value(key, value);
      internal::check_option(name(), "learning rate", lr, lr >= 0, "lr >= 0");
      continue;
    }
    size_t index = 0;
    std::string slot_name;
    NABLA_CHECK(parse_slot_key(key, index, slot_name), name(),
                "::load_state_dict: unexpected key '", key,
                "' (expected 'step', 'lr' or '<parameter index>.<slot>')");
    NABLA_CHECK(index < params_.size(), name(), "::load_state_dict: '", key,
                "' is state for parameter ", index, ", but the optimizer has ", params_.size(),
                " parameters");
    NABLA_CHECK(value.defined(), name(), "::load_state_dict: '", key, "' is undefined");
    if (slot_name == "step") {
      loaded[index][slot_name] = scalar_tensor(scalar_value(key, value), DType::f64);
      continue;
    }
    const Tensor& p = params_[index];
    NABLA_CHECK(value.shape() == p.shape(), name(), "::load_state_dict: '", key, "' has shape ",
                value.shape(), ", expected ", p.shape(), " (the shape of parameter ", index, ")");
    loaded[index][slot_name] = contiguous_copy(value.detach(), p.dtype());
  }
  state_ = std::move(loaded);
  steps_ = static_cast<int64_t>(steps);
  lr_ = lr;
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name,
                                          const OptimizerSettings& settings) {
  const std::string key = nabla::internal::lowercase(name);
  // Each option struct's own defaults stand unless the setting is given; a setting the
  // optimizer does not have is refused rather than ignored.
  const auto refuse = [&](bool given, const char* setting) {
    NABLA_CHECK(!given, "make_optimizer: ", name, " has no ", setting, " setting");
  };
  const auto set = [](double& field, const std::optional<double>& value) {
    if (value) field = *value;
  };
  const bool rate = settings.lr > 0;
  if (key != "sgd") refuse(settings.nesterov.has_value(), "nesterov");
  if (key != "sgd" && key != "rmsprop") refuse(settings.momentum.has_value(), "momentum");
  if (key == "sgd") {
    SGDOptions o;
    if (rate) o.lr = settings.lr;
    set(o.momentum, settings.momentum);
    set(o.weight_decay, settings.weight_decay);
    o.nesterov = settings.nesterov.value_or(false);
    return std::make_unique<SGD>(o);
  }
  if (key == "adam" || key == "adamw") {
    AdamOptions o{.weight_decay = key == "adamw" ? 1e-2 : 0};
    if (rate) o.lr = settings.lr;
    set(o.weight_decay, settings.weight_decay);
    if (key == "adamw") return std::make_unique<AdamW>(o);
    return std::make_unique<Adam>(o);
  }
  if (key == "rmsprop") {
    RMSpropOptions o;
    if (rate) o.lr = settings.lr;
    set(o.momentum, settings.momentum);
    set(o.weight_decay, settings.weight_decay);
    return std::make_unique<RMSprop>(o);
  }
  if (key == "adagrad") {
    AdagradOptions o;
    if (rate) o.lr = settings.lr;
    set(o.weight_decay, settings.weight_decay);
    return std::make_unique<Adagrad>(o);
  }
  if (key == "ftrl") {
    // FTRL's regularization is its own l1/l2 (FtrlOptions), not a weight decay.
    refuse(settings.weight_decay.has_value(), "weight_decay");
    FtrlOptions o;
    if (rate) o.lr = settings.lr;
    return std::make_unique<Ftrl>(o);
  }
  nabla::detail::throw_error(
      nabla::detail::str("make_optimizer: unknown optimizer '", name,
                         "' (known: sgd, adam, adamw, rmsprop, adagrad, ftrl)"));
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, double lr) {
  OptimizerSettings settings;
  settings.lr = lr;
  return make_optimizer(name, settings);
}

}  // namespace nabla::optim
