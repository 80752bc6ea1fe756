// Parameter-free layers: Activation (by name), Rescaling, Flatten and Dropout.
#include <cmath>
#include <map>
#include <sstream>

#include "nabla/nn.hpp"

namespace nabla::nn {

Activation::Activation(std::string name, double negative_slope)
    : name_(std::move(name)), negative_slope_(negative_slope) {
  // Fail at construction, not at the first forward, on an unknown name.
  NoGradGuard no_grad;
  nabla::activation(zeros({1, 1}), name_);
  NABLA_CHECK(std::isfinite(negative_slope), "LeakyReLU: negative_slope must be finite, got ",
              negative_slope);
  NABLA_CHECK(name_ == "leaky_relu" || negative_slope == kDefaultNegativeSlope, "Activation \"",
              name_, "\" has no negative slope (only leaky_relu has one), got ", negative_slope);
}

Tensor Activation::forward(const Tensor& x) {
  if (name_ == "leaky_relu") return nabla::leaky_relu(x, negative_slope_);
  return nabla::activation(x, name_);
}

std::string Activation::extra_repr() const {
  return name_ == "leaky_relu" ? detail::str("negative_slope=", negative_slope_) : "";
}

std::string Activation::type_name() const {
  // PyTorch's class names for the activations nabla::activation knows.
  static const std::map<std::string, std::string> kNames = {{"relu", "ReLU"},
                                                            {"sigmoid", "Sigmoid"},
                                                            {"tanh", "Tanh"},
                                                            {"softmax", "Softmax"},
                                                            {"log_softmax", "LogSoftmax"},
                                                            {"gelu", "GELU"},
                                                            {"elu", "ELU"},
                                                            {"leaky_relu", "LeakyReLU"},
                                                            {"softplus", "Softplus"},
                                                            {"linear", "Identity"},
                                                            {"", "Identity"}};
  auto it = kNames.find(name_);
  return it != kNames.end() ? it->second : name_;
}

std::shared_ptr<Activation> ReLU() { return std::make_shared<Activation>("relu"); }
std::shared_ptr<Activation> Sigmoid() { return std::make_shared<Activation>("sigmoid"); }
std::shared_ptr<Activation> Tanh() { return std::make_shared<Activation>("tanh"); }
std::shared_ptr<Activation> Softmax() { return std::make_shared<Activation>("softmax"); }

Rescaling::Rescaling(double scale, double offset) : scale_(scale), offset_(offset) {
  NABLA_CHECK(std::isfinite(scale) && std::isfinite(offset),
              "Rescaling: scale and offset must be finite, got scale=", scale, ", offset=", offset);
}

Tensor Rescaling::forward(const Tensor& x) {
  const Tensor input = is_floating(x.dtype()) ? x : x.to(DType::f32);
  const Tensor scaled = input * scale_;
  return offset_ == 0 ? scaled : scaled + offset_;
}

std::string Rescaling::extra_repr() const {
  return detail::str("scale=", scale_, ", offset=", offset_);
}

Tensor Flatten::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 1, "Flatten: expected an input with a batch axis, got shape ", x.shape());
  // A batch of scalars becomes [N, 1], as in Keras.
  if (x.dim() == 1) return nabla::unsqueeze(x, 1);
  return nabla::flatten(x, 1, -1);
}

Dropout::Dropout(double p) : p_(p) {
  NABLA_CHECK(p >= 0 && p <= 1, "Dropout: p must be in [0, 1], got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return nabla::dropout(x, p_, training_); }

std::string Dropout::extra_repr() const {
  std::ostringstream os;
  os << "p=" << p_;
  return os.str();
}

}  // namespace nabla::nn
