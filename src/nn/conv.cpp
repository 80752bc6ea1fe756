// Convolution layers: Conv (Conv1d/Conv2d/Conv2D, depthwise), ConvTranspose2d and
// SeparableConv2D. Parameters are created at the first forward when in_channels is not given.
#include <sstream>

#include "nabla/nn.hpp"
#include "nn/int8_layer.hpp"
#include "nn/layer_util.hpp"
#include "ops/conv_geometry.hpp"

namespace nabla::nn {
namespace {

using internal::expanded;
using internal::param_dtype;

// Per-axis settings hold one value for every axis or one per axis.
void check_per_axis(const std::string& layer, const char* what, const std::vector<int64_t>& values,
                    int rank, int64_t minimum) {
  NABLA_CHECK(values.size() == 1 || static_cast<int>(values.size()) == rank, layer, ": ", what,
              " needs 1 or ", rank, " values, got ", values.size());
  for (int64_t v : values) {
    NABLA_CHECK(v >= minimum, layer, ": ", what, " must be >= ", minimum, ", got ",
                internal::tuple(values));
  }
}

// The layer's input must be [N, C, *spatial]: checked here so that the error names the layer.
void check_input(const std::string& layer, const Tensor& x, int rank, int64_t in_channels) {
  const char* layout = rank == 1 ? "[N, C, L]" : "[N, C, H, W]";
  NABLA_CHECK(x.dim() == rank + 2, layer, ": expected input ", layout, " (", rank + 2,
              " axes), got shape ", x.shape());
  NABLA_CHECK(in_channels < 0 || x.size(1) == in_channels, layer, ": expected input with ",
              in_channels, " channels (axis 1), got shape ", x.shape());
}

}  // namespace

Conv::Conv(int rank, int64_t out_channels, std::vector<int64_t> kernel_size,
           ConvLayerOptions options, std::string type_name)
    : rank_(rank),
      out_channels_(out_channels),
      kernel_size_(std::move(kernel_size)),
      options_(std::move(options)),
      type_name_(type_name.empty() ? detail::str("Conv", rank, "d") : std::move(type_name)) {
  NABLA_CHECK(rank == 1 || rank == 2, type_name_, ": rank must be 1 or 2, got ", rank);
  NABLA_CHECK(rank == 1 || !options_.channels_last, type_name_,
              ": channels_last is for 1-d convolutions only");
  NABLA_CHECK(options_.depth_multiplier > 0 || out_channels >= 1, type_name_,
              ": out_channels must be >= 1, got ", out_channels);
  check_per_axis(type_name_, "kernel_size", kernel_size_, rank, 1);
  kernel_size_ = expanded(kernel_size_, rank);
  check_per_axis(type_name_, "stride", options_.stride, rank, 1);
  check_per_axis(type_name_, "padding", options_.padding, rank, 0);
  check_per_axis(type_name_, "dilation", options_.dilation, rank, 1);
  NABLA_CHECK(options_.padding_mode.empty() || options_.padding_mode == "same" ||
                  options_.padding_mode == "valid",
              type_name_, ": padding must be \"same\", \"valid\" or numbers, got \"",
              options_.padding_mode, "\"");
  NABLA_CHECK(options_.groups >= 1, type_name_, ": groups must be >= 1, got ", options_.groups);
  NABLA_CHECK(options_.depth_multiplier >= 0, type_name_, ": depth_multiplier must be >= 1, got ",
              options_.depth_multiplier);
  NABLA_CHECK(options_.depth_multiplier == 0 || options_.groups == 1, type_name_,
              ": a depthwise convolution sets groups itself (to in_channels); got groups=",
              options_.groups);
  if (options_.depth_multiplier == 0) {
    NABLA_CHECK(out_channels % options_.groups == 0, type_name_, ": out_channels (", out_channels,
                ") must be divisible by groups (", options_.groups, ")");
  }
  if (!options_.activation.empty()) {
    NoGradGuard no_grad;  // fail now on an unknown activation, not at the first forward
    nabla::activation(zeros({1}), options_.activation);
  }
  if (options_.in_channels > 0) build_parameters(options_.in_channels, DType::f32);
}

void Conv::build_parameters(int64_t in_channels, DType dtype) {
  if (options_.depth_multiplier > 0) {
    options_.groups = in_channels;
    out_channels_ = in_channels * options_.depth_multiplier;
  }
  NABLA_CHECK(in_channels % options_.groups == 0, type_name_, ": input channels (", in_channels,
              ") must be divisible by groups (", options_.groups, ")");
  Shape weight_shape{out_channels_, in_channels / options_.groups};
  weight_shape.insert(weight_shape.end(), kernel_size_.begin(), kernel_size_.end());
  Tensor weight = empty(weight_shape, dtype);
  init::apply(options_.kernel_initializer, weight);
  weight_ = register_parameter("weight", weight);
  if (options_.bias) {
    Tensor bias = empty({out_channels_}, dtype);
    init::apply(options_.bias_initializer, bias);
    bias_ = register_parameter("bias", bias);
  }
  options_.in_channels = in_channels;
}

nabla::ConvOptions Conv::op_options() const {
  nabla::ConvOptions o;
  o.stride = options_.stride;
  // A padding mode computes the padding; the op takes one or the other.
  if (options_.padding_mode.empty()) o.padding = options_.padding;
  o.dilation = options_.dilation;
  o.groups = options_.groups;
  o.padding_mode = options_.padding_mode;
  return o;
}

Tensor Conv::forward(const Tensor& x) {
  if (options_.channels_last) {
    // [N, T, C] sequences (Keras's Conv1D): convolve the channels-first view, then swap back.
    NABLA_CHECK(x.dim() == 3, type_name_, " expects [N, T, C] input (channels last), got ",
                x.shape());
    return forward_channels_first(x.transpose(1, 2)).transpose(1, 2);
  }
  return forward_channels_first(x);
}

bool Conv::fuses_max_pool() const {
  return rank_ == 2 && !options_.channels_last &&
         (options_.activation.empty() || options_.activation == "relu");
}

Tensor Conv::forward_max_pool(const Tensor& x, const std::vector<int64_t>& pool_window, bool relu) {
  NABLA_CHECK(fuses_max_pool(), type_name_,
              ": a max pooling fuses only into a 2-d channels-first convolution with no "
              "activation or relu, this one is ",
              extra_repr());
  NABLA_CHECK(!pool_window.empty(), type_name_, ": forward_max_pool needs a pooling window");
  return forward_channels_first(x, pool_window, relu);
}

// relu (its own, or of a ReLU layer after it) and a max pooling after it run inside the
// convolution's own pass; its other activations after it.
Tensor Conv::forward_channels_first(const Tensor& x, const std::vector<int64_t>& pool_window,
                                    bool relu_after) {
  check_input(type_name_, x, rank_, weight_.defined() ? options_.in_channels : -1);
  if (!weight_.defined()) build_parameters(x.size(1), param_dtype(x));
  const Tensor input = is_floating(x.dtype()) ? x : x.to(weight_.dtype());
  nabla::ConvOptions o = op_options();
  o.fused_relu = options_.activation == "relu" || relu_after;
  Tensor y;
  if (int8_runs(*this, is_training(), input, weight_)) {
    Shape out_shape;
    const auto g = conv_geometry(input, weight_, bias_, o, rank_, type_name_.c_str(), &out_shape);
    y = int8_forward(*int8_state(), g, input, weight_, bias_, o.fused_relu, out_shape);
    return pool_window.empty() ? y : nabla::max_pool2d(y, pool_window);
  }
  o.fused_max_pool = pool_window;
  y = rank_ == 1 ? nabla::conv1d(input, weight_, bias_, o)
                 : nabla::conv2d(input, weight_, bias_, o);
  return options_.activation.empty() || o.fused_relu ? y
                                                     : nabla::activation(y, options_.activation);
}

std::string Conv::extra_repr() const {
  std::ostringstream os;
  os << (options_.in_channels > 0 ? std::to_string(options_.in_channels) : "None") << ", "
     << out_channels_ << ", kernel_size=" << internal::tuple(kernel_size_)
     << ", stride=" << internal::tuple(expanded(options_.stride, rank_));
  if (!options_.padding_mode.empty()) {
    os << ", padding=" << options_.padding_mode;
  } else {
    os << ", padding=" << internal::tuple(expanded(options_.padding, rank_));
  }
  const auto dilation = expanded(options_.dilation, rank_);
  if (dilation != std::vector<int64_t>(rank_, 1)) os << ", dilation=" << internal::tuple(dilation);
  if (options_.groups != 1) os << ", groups=" << options_.groups;
  if (!options_.bias) os << ", bias=False";
  if (!options_.activation.empty()) os << ", activation=" << options_.activation;
  if (options_.channels_last) os << ", channels_last";
  return os.str();
}

namespace {
ConvLayerOptions keras_conv_options(ConvLayerOptions options, const std::string& activation) {
  const bool numeric_padding = options.padding != std::vector<int64_t>{0};
  if (options.padding_mode.empty() && !numeric_padding) options.padding_mode = "valid";
  if (!activation.empty()) options.activation = activation;
  return options;
}
}  // namespace

Conv2D::Conv2D(int64_t filters, std::vector<int64_t> kernel_size, const std::string& activation,
               ConvLayerOptions options)
    : Conv(2, filters, std::move(kernel_size), keras_conv_options(std::move(options), activation),
           "Conv2D") {}

// ---- ConvTranspose2d ----

ConvTranspose2d::ConvTranspose2d(int64_t out_channels, std::vector<int64_t> kernel_size,
                                 ConvTransposeLayerOptions options, std::string type_name)
    : out_channels_(out_channels),
      kernel_size_(std::move(kernel_size)),
      options_(std::move(options)),
      type_name_(std::move(type_name)) {
  NABLA_CHECK(out_channels >= 1, type_name_, ": out_channels must be >= 1, got ", out_channels);
  check_per_axis(type_name_, "kernel_size", kernel_size_, 2, 1);
  kernel_size_ = expanded(kernel_size_, 2);
  check_per_axis(type_name_, "stride", options_.stride, 2, 1);
  check_per_axis(type_name_, "padding", options_.padding, 2, 0);
  check_per_axis(type_name_, "output_padding", options_.output_padding, 2, 0);
  check_per_axis(type_name_, "dilation", options_.dilation, 2, 1);
  NABLA_CHECK(options_.groups >= 1 && out_channels % options_.groups == 0, type_name_,
              ": out_channels (", out_channels, ") must be divisible by groups (", options_.groups,
              ")");
  if (!options_.activation.empty()) {
    NoGradGuard no_grad;
    nabla::activation(zeros({1}), options_.activation);
  }
  if (options_.in_channels > 0) build_parameters(options_.in_channels, DType::f32);
}

void ConvTranspose2d::build_parameters(int64_t in_channels, DType dtype) {
  NABLA_CHECK(in_channels % options_.groups == 0, type_name_, ": input channels (", in_channels,
              ") must be divisible by groups (", options_.groups, ")");
  Tensor weight = empty(
      {in_channels, out_channels_ / options_.groups, kernel_size_[0], kernel_size_[1]}, dtype);
  init::apply(options_.kernel_initializer, weight);
  weight_ = register_parameter("weight", weight);
  if (options_.bias) {
    Tensor bias = empty({out_channels_}, dtype);
    init::apply(options_.bias_initializer, bias);
    bias_ = register_parameter("bias", bias);
  }
  options_.in_channels = in_channels;
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  check_input(type_name_, x, 2, weight_.defined() ? options_.in_channels : -1);
  if (!weight_.defined()) build_parameters(x.size(1), param_dtype(x));
  const Tensor input = is_floating(x.dtype()) ? x : x.to(weight_.dtype());
  ConvTransposeOptions o;
  o.stride = options_.stride;
  o.padding = options_.padding;
  o.output_padding = options_.output_padding;
  o.dilation = options_.dilation;
  o.groups = options_.groups;
  Tensor y = nabla::conv_transpose2d(input, weight_, bias_, o);
  return options_.activation.empty() ? y : nabla::activation(y, options_.activation);
}

std::string ConvTranspose2d::extra_repr() const {
  std::ostringstream os;
  os << (options_.in_channels > 0 ? std::to_string(options_.in_channels) : "None") << ", "
     << out_channels_ << ", kernel_size=" << internal::tuple(kernel_size_)
     << ", stride=" << internal::tuple(expanded(options_.stride, 2))
     << ", padding=" << internal::tuple(expanded(options_.padding, 2));
  const auto output_padding = expanded(options_.output_padding, 2);
  if (output_padding != std::vector<int64_t>{0, 0}) {
    os << ", output_padding=" << internal::tuple(output_padding);
  }
  if (options_.groups != 1) os << ", groups=" << options_.groups;
  if (!options_.bias) os << ", bias=False";
  if (!options_.activation.empty()) os << ", activation=" << options_.activation;
  return os.str();
}

// ---- SeparableConv2D ----

SeparableConv2D::SeparableConv2D(int64_t filters, std::vector<int64_t> kernel_size,
                                 ConvLayerOptions options)
    : filters_(filters), kernel_size_(std::move(kernel_size)), options_(std::move(options)) {
  NABLA_CHECK(options_.groups == 1, "SeparableConv2D: groups is fixed by the layer, got ",
              options_.groups);
  const bool numeric_padding = options_.padding != std::vector<int64_t>{0};
  if (options_.padding_mode.empty() && !numeric_padding) options_.padding_mode = "valid";
  if (options_.depth_multiplier == 0) options_.depth_multiplier = 1;
  ConvLayerOptions depthwise = options_;
  depthwise.bias = false;
  depthwise.activation.clear();
  ConvLayerOptions pointwise;
  pointwise.bias = options_.bias;
  pointwise.activation = options_.activation;
  pointwise.kernel_initializer = options_.kernel_initializer;
  pointwise.bias_initializer = options_.bias_initializer;
  if (options_.in_channels > 0)
    pointwise.in_channels = options_.in_channels * depthwise.depth_multiplier;
  // Named as Keras's weights: depthwise_kernel, pointwise_kernel, bias (as submodules here).
  depthwise_ = register_module(
      "depthwise", std::make_shared<Conv>(2, 1, kernel_size_, depthwise, "DepthwiseConv2D"));
  pointwise_ = register_module(
      "pointwise",
      std::make_shared<Conv>(2, filters, std::vector<int64_t>{1}, pointwise, "Conv2D"));
}

Tensor SeparableConv2D::forward(const Tensor& x) {
  check_input("SeparableConv2D", x, 2, options_.in_channels);
  if (options_.in_channels < 0) options_.in_channels = x.size(1);
  return pointwise_->forward(depthwise_->forward(x));
}

std::string SeparableConv2D::extra_repr() const {
  std::ostringstream os;
  os << (options_.in_channels > 0 ? std::to_string(options_.in_channels) : "None") << ", "
     << filters_ << ", kernel_size=" << internal::tuple(kernel_size_)
     << ", stride=" << internal::tuple(expanded(options_.stride, 2)) << ", padding="
     << (options_.padding_mode.empty() ? internal::tuple(expanded(options_.padding, 2))
                                       : options_.padding_mode);
  if (options_.depth_multiplier != 1) os << ", depth_multiplier=" << options_.depth_multiplier;
  if (!options_.activation.empty()) os << ", activation=" << options_.activation;
  return os.str();
}

}  // namespace nabla::nn
