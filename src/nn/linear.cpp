// Linear (PyTorch) / Dense (Keras): y = activation(x W^T + b), built at the first forward when the
// input size is not given.
#include "nabla/nn.hpp"
#include "nn/int8_layer.hpp"

namespace nabla::nn {

Linear::Linear(int64_t out_features, LinearOptions options)
    : out_features_(out_features), options_(std::move(options)) {
  NABLA_CHECK(out_features >= 1, type_name(), ": out_features must be >= 1, got ", out_features);
  NABLA_CHECK(options_.in_features == -1 || options_.in_features >= 1, type_name(),
              ": in_features must be >= 1 (or -1 to infer it at the first forward), got ",
              options_.in_features);
  if (options_.in_features > 0) build_parameters(options_.in_features, DType::f32);
}

void Linear::build_parameters(int64_t in_features, DType dtype) {
  Tensor weight = empty({out_features_, in_features}, dtype);
  init::apply(options_.kernel_initializer, weight);
  Tensor bias;
  if (options_.bias) {
    bias = empty({out_features_}, dtype);
    init::apply(options_.bias_initializer, bias);
  }
  weight_ = register_parameter("weight", weight);
  if (bias.defined()) bias_ = register_parameter("bias", bias);
  options_.in_features = in_features;
}

Tensor Linear::forward(const Tensor& x) {
  // relu runs inside the product's pass (linear_relu, or the int8 kernel); other activations
  // after it.
  const bool relu = options_.activation == "relu";
  bool relu_applied = false;
  const Tensor y = affine(x, relu, &relu_applied);
  if (options_.activation.empty() || relu_applied) return y;
  return nabla::activation(y, options_.activation);
}

Tensor Linear::logits(const Tensor& x) {
  bool relu_applied = false;
  return affine(x, false, &relu_applied);
}

Tensor Linear::affine(const Tensor& x, bool relu, bool* relu_applied) {
  NABLA_CHECK(x.dim() >= 1, type_name(), ": expected an input with at least 1 axis, got shape ",
              x.shape());
  if (!weight_.defined()) {
    build_parameters(x.size(-1), is_floating(x.dtype()) ? x.dtype() : DType::f32);
  } else {
    NABLA_CHECK(x.size(-1) == options_.in_features, type_name(), ": expected input with ",
                options_.in_features, " features (last axis), got shape ", x.shape());
  }
  *relu_applied = relu;
  if (!int8_runs(*this, is_training(), x, weight_)) {
    return relu ? nabla::linear_relu(x, weight_, bias_) : nabla::linear(x, weight_, bias_);
  }
  // [M, K] rows are the int8 kernel's dense geometry: M 1x1 images of K channels (it runs them on
  // oneDNN's int8 matmul).
  const int64_t k = options_.in_features, m = x.numel() / k;
  Shape out_shape = x.shape();
  out_shape.back() = out_features_;
  return int8_forward(*int8_state(), {.batch = m, .in_channels = k, .out_channels = out_features_},
                      x, weight_, bias_, relu, out_shape);
}

std::string Linear::extra_repr() const {
  std::string s =
      "in_features=" +
      (options_.in_features > 0 ? std::to_string(options_.in_features) : std::string("None")) +
      ", out_features=" + std::to_string(out_features_) +
      ", bias=" + (options_.bias ? "True" : "False");
  if (!options_.activation.empty()) s += ", activation=" + options_.activation;
  return s;
}

Tensor Linear::weight() const { return weight_; }
Tensor Linear::bias() const { return bias_; }

namespace {
LinearOptions with_activation(LinearOptions options, const std::string& activation) {
  if (!activation.empty()) options.activation = activation;
  return options;
}
}  // namespace

Dense::Dense(int64_t units, const std::string& activation, LinearOptions options)
    : Linear(units, with_activation(std::move(options), activation)) {}

}  // namespace nabla::nn
