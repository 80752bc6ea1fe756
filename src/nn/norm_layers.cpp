// Normalization layers: BatchNorm (PyTorch's BatchNorm1d/2d, Keras's BatchNormalization),
// LayerNorm and GroupNorm. Sizes are inferred at the first forward unless given.
#include "nabla/nn.hpp"
#include "nn/layer_util.hpp"

namespace nabla::nn {
using internal::param_dtype;

BatchNorm::BatchNorm(BatchNormOptions options, std::string type_name)
    : options_(options), type_name_(std::move(type_name)) {
  NABLA_CHECK(options_.eps > 0, type_name_, ": eps must be > 0, got ", options_.eps);
  NABLA_CHECK(options_.momentum >= 0 && options_.momentum <= 1, type_name_,
              ": momentum must be in [0, 1], got ", options_.momentum);
  NABLA_CHECK(options_.num_features == -1 || options_.num_features >= 1, type_name_,
              ": num_features must be >= 1 (or -1 to infer it), got ", options_.num_features);
  if (options_.num_features > 0) build_parameters(options_.num_features, DType::f32);
}

void BatchNorm::build_parameters(int64_t num_features, DType dtype) {
  if (options_.affine) {
    weight_ = register_parameter("weight", ones({num_features}, dtype));
    bias_ = register_parameter("bias", zeros({num_features}, dtype));
  }
  running_mean_ = register_buffer("running_mean", zeros({num_features}, dtype));
  running_var_ = register_buffer("running_var", ones({num_features}, dtype));
  num_batches_tracked_ = register_buffer("num_batches_tracked", zeros({}, DType::i64));
  options_.num_features = num_features;
}

Tensor BatchNorm::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 2, type_name_, ": expected input [N, C] or [N, C, *], got shape ",
              x.shape());
  if (!running_mean_.defined()) build_parameters(x.size(1), param_dtype(x));
  NABLA_CHECK(x.size(1) == options_.num_features, type_name_, ": expected input with ",
              options_.num_features, " channels (axis 1), got shape ", x.shape());
  // A frozen layer (set_trainable(false)) normalizes with its running statistics and keeps
  // them, as Keras's: fine-tuning on new data must not move what the frozen layers learned.
  const bool batch_statistics = training_ && trainable_;
  if (batch_statistics) {
    int64_t& batches = *num_batches_tracked_.data<int64_t>();
    ++batches;
  }
  return nabla::batch_norm(x, running_mean_, running_var_, weight_, bias_, batch_statistics,
                           options_.momentum, options_.eps);
}

std::string BatchNorm::extra_repr() const {
  return detail::str(options_.num_features > 0 ? std::to_string(options_.num_features) : "None",
                     ", eps=", options_.eps, ", momentum=", options_.momentum,
                     options_.affine ? "" : ", affine=False");
}

std::shared_ptr<BatchNorm> BatchNorm2d(int64_t num_features, double eps, double momentum) {
  return std::make_shared<BatchNorm>(
      BatchNormOptions{.num_features = num_features, .eps = eps, .momentum = momentum});
}

std::shared_ptr<BatchNorm> BatchNormalization(double momentum, double epsilon) {
  // Keras's momentum is the weight of the old running value; PyTorch's that of the new batch.
  return std::make_shared<BatchNorm>(BatchNormOptions{.eps = epsilon, .momentum = 1 - momentum},
                                     "BatchNormalization");
}

LayerNorm::LayerNorm(Shape normalized_shape, double eps, bool elementwise_affine,
                     std::string type_name)
    : normalized_shape_(std::move(normalized_shape)),
      eps_(eps),
      affine_(elementwise_affine),
      type_name_(std::move(type_name)) {
  NABLA_CHECK(eps > 0, type_name_, ": eps must be > 0, got ", eps);
  for (int64_t size : normalized_shape_) {
    NABLA_CHECK(size >= 1, type_name_, ": normalized_shape sizes must be >= 1, got ",
                normalized_shape_);
  }
  if (!normalized_shape_.empty()) build_parameters(normalized_shape_, DType::f32);
}

void LayerNorm::build_parameters(const Shape& normalized_shape, DType dtype) {
  normalized_shape_ = normalized_shape;
  if (affine_) {
    weight_ = register_parameter("weight", ones(normalized_shape, dtype));
    bias_ = register_parameter("bias", zeros(normalized_shape, dtype));
  }
  built_ = true;
}

Tensor LayerNorm::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 1, type_name_, ": expected an input with at least 1 axis, got shape ",
              x.shape());
  if (!built_) build_parameters({x.size(-1)}, param_dtype(x));
  return nabla::layer_norm(x, normalized_shape_, weight_, bias_, eps_);
}

std::string LayerNorm::extra_repr() const {
  return detail::str(built_ ? detail::str(normalized_shape_) : std::string("None"), ", eps=", eps_,
                     affine_ ? "" : ", elementwise_affine=False");
}

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, double eps, bool affine)
    : num_groups_(num_groups), num_channels_(-1), eps_(eps), affine_(affine) {
  NABLA_CHECK(num_groups >= 1, "GroupNorm: num_groups must be >= 1, got ", num_groups);
  NABLA_CHECK(eps > 0, "GroupNorm: eps must be > 0, got ", eps);
  NABLA_CHECK(num_channels == -1 || num_channels >= 1,
              "GroupNorm: num_channels must be >= 1 (or -1 to infer it), got ", num_channels);
  if (num_channels > 0) build_parameters(num_channels, DType::f32);
}

void GroupNorm::build_parameters(int64_t num_channels, DType dtype) {
  NABLA_CHECK(num_channels % num_groups_ == 0, "GroupNorm: num_groups (", num_groups_,
              ") must divide the channel count (", num_channels, ")");
  if (affine_) {
    weight_ = register_parameter("weight", ones({num_channels}, dtype));
    bias_ = register_parameter("bias", zeros({num_channels}, dtype));
  }
  num_channels_ = num_channels;
}

Tensor GroupNorm::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 2, "GroupNorm: expected input [N, C, *], got shape ", x.shape());
  if (num_channels_ < 0) build_parameters(x.size(1), param_dtype(x));
  NABLA_CHECK(x.size(1) == num_channels_, "GroupNorm: expected input with ", num_channels_,
              " channels (axis 1), got shape ", x.shape());
  return nabla::group_norm(x, num_groups_, weight_, bias_, eps_);
}

std::string GroupNorm::extra_repr() const {
  return detail::str(num_groups_, ", ", num_channels_ > 0 ? std::to_string(num_channels_) : "None",
                     ", eps=", eps_, affine_ ? "" : ", affine=False");
}

}  // namespace nabla::nn
