// The highway layer: y = H(x) T(x) + x (1 - T(x)), computed as x + T(x) (H(x) - x) so that the
// carried input costs one subtraction and one addition.
#include <cmath>

#include "nabla/nn.hpp"
#include "nabla/ops.hpp"

namespace nabla::nn {

Highway::Highway(HighwayOptions options) : options_(std::move(options)) {
  NABLA_CHECK(options_.in_features == -1 || options_.in_features >= 1,
              "Highway: in_features must be >= 1 (or -1 to infer it at the first forward), got ",
              options_.in_features);
  NABLA_CHECK(std::isfinite(options_.transform_bias),
              "Highway: transform_bias must be a finite number, got ", options_.transform_bias);
  {
    NoGradGuard no_grad;  // an unknown activation is an Error at construction, not later
    nabla::activation(zeros({1, 1}), options_.activation);
  }
  if (options_.in_features > 0) build_layers(options_.in_features, DType::f32);
}

void Highway::build_layers(int64_t in_features, DType dtype) {
  LinearOptions transform;
  transform.in_features = in_features;
  transform.activation = options_.activation;
  transform.kernel_initializer = options_.kernel_initializer;
  LinearOptions gate = transform;
  gate.activation = "sigmoid";
  transform_ = register_module("transform", std::make_shared<Linear>(in_features, transform));
  gate_ = register_module("gate", std::make_shared<Linear>(in_features, gate));
  if (dtype != DType::f32) {
    transform_->to(dtype);
    gate_->to(dtype);
  }
  NoGradGuard no_grad;
  Tensor bias = gate_->bias();
  init::constant_(bias, options_.transform_bias);
  options_.in_features = in_features;
}

Tensor Highway::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 1, "Highway: expected an input with at least 1 axis, got shape ",
              x.shape());
  if (!transform_) {
    build_layers(x.size(-1), is_floating(x.dtype()) ? x.dtype() : DType::f32);
  } else {
    NABLA_CHECK(x.size(-1) == options_.in_features, "Highway: expected input with ",
                options_.in_features, " features (last axis), got shape ", x.shape());
  }
  const Tensor h = (*transform_)(x);
  const Tensor t = (*gate_)(x);
  return add(x, mul(t, sub(h, x)));
}

std::string Highway::extra_repr() const {
  return "features=" +
         (options_.in_features > 0 ? std::to_string(options_.in_features) : std::string("None")) +
         ", activation=" + options_.activation +
         ", transform_bias=" + detail::str(options_.transform_bias);
}

}  // namespace nabla::nn
