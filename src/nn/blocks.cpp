// Reusable CNN blocks: ResNet's basic residual block and DenseNet-BC's dense block and transition.
#include "nabla/nn.hpp"
#include "nn/layer_util.hpp"

namespace nabla::nn {
namespace {

// conv kxk, "same" padding, no bias (a BatchNorm follows, whose shift makes a bias redundant).
std::shared_ptr<Conv> conv_bn_input(int64_t filters, int64_t kernel, int64_t stride) {
  ConvLayerOptions options;
  options.stride = {stride};
  options.padding_mode = "same";
  options.bias = false;
  return std::make_shared<Conv>(2, filters, std::vector<int64_t>{kernel}, options, "Conv2d");
}

}  // namespace

ResidualBlock::ResidualBlock(int64_t filters, int64_t stride) : filters_(filters), stride_(stride) {
  NABLA_CHECK(filters >= 1, "ResidualBlock: filters must be >= 1, got ", filters);
  NABLA_CHECK(stride >= 1, "ResidualBlock: stride must be >= 1, got ", stride);
  conv1_ = register_module("conv1", conv_bn_input(filters, 3, stride));
  bn1_ = register_module("bn1", BatchNorm2d());
  conv2_ = register_module("conv2", conv_bn_input(filters, 3, 1));
  bn2_ = register_module("bn2", BatchNorm2d());
}

Tensor ResidualBlock::forward(const Tensor& x) {
  internal::check_images("ResidualBlock", x);
  if (!built_) {
    // The projection shortcut is needed only when the shape changes, which the input tells.
    if (stride_ != 1 || x.size(1) != filters_) {
      shortcut_ =
          register_module("shortcut", std::make_shared<Sequential>(std::vector<ModulePtr>{
                                          conv_bn_input(filters_, 1, stride_), BatchNorm2d()}));
    }
    built_ = true;
  }
  const Tensor h = bn2_->forward(conv2_->forward(relu(bn1_->forward(conv1_->forward(x)))));
  const Tensor identity = shortcut_ ? shortcut_->forward(x) : x;
  return relu(h + identity);
}

std::string ResidualBlock::extra_repr() const {
  return detail::str("filters=", filters_, ", stride=", stride_);
}

DenseBlock::DenseBlock(int64_t layers, int64_t growth_rate)
    : num_layers_(layers), growth_rate_(growth_rate) {
  NABLA_CHECK(layers >= 1, "DenseBlock: layers must be >= 1, got ", layers);
  NABLA_CHECK(growth_rate >= 1, "DenseBlock: growth_rate must be >= 1, got ", growth_rate);
  for (int64_t i = 0; i < layers; ++i) {
    // The bottleneck (the "B" of DenseNet-BC) narrows the growing input to 4k channels first.
    auto layer = std::make_shared<Sequential>(
        std::vector<ModulePtr>{BatchNorm2d(), ReLU(), conv_bn_input(4 * growth_rate, 1, 1),
                               BatchNorm2d(), ReLU(), conv_bn_input(growth_rate, 3, 1)});
    layers_.push_back(register_module(detail::str("layer", i + 1), layer));
  }
}

Tensor DenseBlock::forward(const Tensor& x) {
  internal::check_images("DenseBlock", x);
  Tensor features = x;
  for (const auto& layer : layers_) features = concat({features, layer->forward(features)}, 1);
  return features;
}

std::string DenseBlock::extra_repr() const {
  return detail::str("layers=", num_layers_, ", growth_rate=", growth_rate_);
}

TransitionBlock::TransitionBlock(double compression) : compression_(compression) {
  NABLA_CHECK(compression > 0 && compression <= 1,
              "TransitionBlock: compression must be in (0, 1], got ", compression);
}

Tensor TransitionBlock::forward(const Tensor& x) {
  internal::check_images("TransitionBlock", x);
  if (!body_) {
    const auto out_channels =
        std::max<int64_t>(1, static_cast<int64_t>(compression_ * static_cast<double>(x.size(1))));
    body_ = register_module(
        "body", std::make_shared<Sequential>(std::vector<ModulePtr>{
                    BatchNorm2d(), ReLU(), conv_bn_input(out_channels, 1, 1), AvgPool2d({2})}));
  }
  return body_->forward(x);
}

std::string TransitionBlock::extra_repr() const {
  return detail::str("compression=", compression_);
}

}  // namespace nabla::nn
