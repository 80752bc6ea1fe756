// CNN layer types of JSON model specs: convolutions, pooling, normalization, resampling, spatial
// dropout and the ResNet/DenseNet blocks. Keras's and PyTorch's names for the same layer accept
// both libraries' key names ("filters" or "out_channels", "strides" or "stride"), and each name
// is written back with its own library's keys.
#include "io/layer_args.hpp"

namespace nabla::io::internal {
namespace {

const std::vector<const char*> kConvKeys = {
    "filters",    "out_channels",  "kernel_size",        "strides",          "stride",
    "padding",    "dilation_rate", "dilation",           "groups",           "activation",
    "use_bias",   "bias",          "kernel_initializer", "bias_initializer", "in_channels",
    "data_format"};
const std::vector<const char*> kDepthwiseKeys = {
    "kernel_size",        "strides",          "stride",     "padding",  "depth_multiplier",
    "dilation_rate",      "dilation",         "activation", "use_bias", "bias",
    "kernel_initializer", "bias_initializer", "in_channels"};
// Keras's SeparableConv2D: the depthwise keys plus the pointwise convolution's filters.
const std::vector<const char*> kSeparableKeys = {
    "filters",          "kernel_size", "strides",    "stride",   "padding", "depth_multiplier",
    "dilation_rate",    "dilation",    "activation", "use_bias", "bias",    "kernel_initializer",
    "bias_initializer", "in_channels"};
const std::vector<const char*> kConvTransposeKeys = {"filters",
                                                     "out_channels",
                                                     "kernel_size",
                                                     "strides",
                                                     "stride",
                                                     "padding",
                                                     "output_padding",
                                                     "dilation_rate",
                                                     "dilation",
                                                     "groups",
                                                     "activation",
                                                     "use_bias",
                                                     "bias",
                                                     "kernel_initializer",
                                                     "bias_initializer",
                                                     "in_channels"};
const std::vector<const char*> kPoolKeys = {"pool_size", "kernel_size", "strides",
                                            "stride",    "padding",     "ceil_mode"};
const std::vector<const char*> kAvgPoolKeys = {
    "pool_size", "kernel_size", "strides", "stride", "padding", "ceil_mode", "count_include_pad"};
const std::vector<const char*> kBatchNormKeys = {"num_features", "eps", "epsilon", "momentum",
                                                 "affine"};

bool is_keras_name(const std::string& type) {
  // Keras spells dimensions with a capital D ("Conv2D"); PyTorch with a small one ("Conv2d").
  return type.find("1D") != std::string::npos || type.find("2D") != std::string::npos;
}

Json sizes_json(const std::vector<int64_t>& sizes) {
  if (sizes.size() == 1) return sizes[0];
  return sizes;
}

bool all_equal_to(const std::vector<int64_t>& sizes, int64_t value) {
  return std::all_of(sizes.begin(), sizes.end(), [&](int64_t s) { return s == value; });
}

// ---- convolutions ----

nn::ConvLayerOptions conv_options(const LayerArgs& args, bool keras) {
  nn::ConvLayerOptions options;
  options.stride = args.sizes_or({"strides", "stride"}, 1, {1});
  options.padding_mode = args.padding(&options.padding, keras ? "valid" : "");
  options.dilation = args.sizes_or({"dilation_rate", "dilation"}, 1, {1});
  options.bias = args.boolean_or({"use_bias", "bias"}, true);
  options.activation = args.activation_or_empty();
  options.kernel_initializer = args.initializer_or("kernel_initializer", "he_normal");
  options.bias_initializer = args.initializer_or("bias_initializer", "zeros");
  options.in_channels = args.positive_int_or({"in_channels"}, -1);
  return options;
}

std::string conv1d_default_format(const std::string& type) {
  return type == "Conv1D" ? "channels_last" : "channels_first";
}

nn::ModulePtr make_conv(const LayerArgs& args, const std::string& type) {
  const int rank = type.find('1') != std::string::npos ? 1 : 2;
  const int64_t filters = args.positive_int({"filters", "out_channels"}, "the number of filters");
  const auto kernel = args.sizes_required({"kernel_size"}, "the size of the kernel");
  nn::ConvLayerOptions options = conv_options(args, is_keras_name(type));
  options.groups = args.positive_int_or({"groups"}, 1);
  // Keras's Conv1D convolves [N, T, C] sequences; images stay channels first in nabla.
  options.channels_last = args.string_or({"data_format"}, {"channels_last", "channels_first"},
                                         conv1d_default_format(type)) == "channels_last";
  return std::make_shared<nn::Conv>(rank, filters, kernel, options, type);
}

nn::ModulePtr make_depthwise(const LayerArgs& args, const std::string& type) {
  const auto kernel = args.sizes_required({"kernel_size"}, "the size of the kernel");
  nn::ConvLayerOptions options = conv_options(args, true);
  options.depth_multiplier = args.positive_int_or({"depth_multiplier"}, 1);
  return std::make_shared<nn::Conv>(2, 1, kernel, options, type);
}

// Conv1D/Conv1d/Conv2D/Conv2d and DepthwiseConv2D (a Conv with a depth multiplier).
OrderedJson conv_to_json(const nn::Conv& conv) {
  const auto& o = conv.options();
  const bool keras = is_keras_name(conv.type_name());
  OrderedJson out{{"type", conv.type_name()}};
  if (o.depth_multiplier == 0) out[keras ? "filters" : "out_channels"] = conv.out_channels();
  out["kernel_size"] = sizes_json(conv.kernel_size());
  if (!all_equal_to(o.stride, 1)) out[keras ? "strides" : "stride"] = sizes_json(o.stride);
  if (!o.padding_mode.empty()) {
    out["padding"] = o.padding_mode;
  } else if (!all_equal_to(o.padding, 0) || keras) {
    out["padding"] = sizes_json(o.padding);
  }
  if (!all_equal_to(o.dilation, 1))
    out[keras ? "dilation_rate" : "dilation"] = sizes_json(o.dilation);
  if (o.depth_multiplier > 0) {
    out["depth_multiplier"] = o.depth_multiplier;
  } else if (o.groups != 1) {
    out["groups"] = o.groups;
  }
  if (!o.activation.empty()) out["activation"] = o.activation;
  if (!o.bias) out[keras ? "use_bias" : "bias"] = false;
  if (o.kernel_initializer != "he_normal") out["kernel_initializer"] = o.kernel_initializer;
  if (o.bias_initializer != "zeros") out["bias_initializer"] = o.bias_initializer;
  const std::string format = o.channels_last ? "channels_last" : "channels_first";
  if (format != conv1d_default_format(conv.type_name())) out["data_format"] = format;
  return out;
}

nn::ModulePtr make_separable(const LayerArgs& args, const std::string&) {
  const int64_t filters = args.positive_int({"filters", "out_channels"}, "the number of filters");
  const auto kernel = args.sizes_required({"kernel_size"}, "the size of the kernel");
  nn::ConvLayerOptions options = conv_options(args, true);
  options.depth_multiplier = args.positive_int_or({"depth_multiplier"}, 1);
  return std::make_shared<nn::SeparableConv2D>(filters, kernel, options);
}

OrderedJson separable_to_json(const nn::SeparableConv2D& sep) {
  const nn::ConvLayerOptions& o = sep.options();
  OrderedJson out{{"type", "SeparableConv2D"},
                  {"filters", sep.filters()},
                  {"kernel_size", sizes_json(sep.kernel_size())}};
  if (!all_equal_to(o.stride, 1)) out["strides"] = sizes_json(o.stride);
  out["padding"] = o.padding_mode.empty() ? Json(sizes_json(o.padding)) : Json(o.padding_mode);
  if (!all_equal_to(o.dilation, 1)) out["dilation_rate"] = sizes_json(o.dilation);
  if (o.depth_multiplier != 1) out["depth_multiplier"] = o.depth_multiplier;
  if (!o.activation.empty()) out["activation"] = o.activation;
  if (!o.bias) out["use_bias"] = false;
  if (o.kernel_initializer != "he_normal") out["kernel_initializer"] = o.kernel_initializer;
  if (o.bias_initializer != "zeros") out["bias_initializer"] = o.bias_initializer;
  return out;
}

nn::ModulePtr make_conv_transpose(const LayerArgs& args, const std::string& type) {
  const int64_t filters = args.positive_int({"filters", "out_channels"}, "the number of filters");
  const auto kernel = args.sizes_required({"kernel_size"}, "the size of the kernel");
  nn::ConvTransposeLayerOptions options;
  options.stride = args.sizes_or({"strides", "stride"}, 1, {1});
  options.padding = args.sizes_or({"padding"}, 0, {0});
  options.output_padding = args.sizes_or({"output_padding"}, 0, {0});
  options.dilation = args.sizes_or({"dilation_rate", "dilation"}, 1, {1});
  options.groups = args.positive_int_or({"groups"}, 1);
  options.bias = args.boolean_or({"use_bias", "bias"}, true);
  options.activation = args.activation_or_empty();
  options.kernel_initializer = args.initializer_or("kernel_initializer", "he_normal");
  options.bias_initializer = args.initializer_or("bias_initializer", "zeros");
  options.in_channels = args.positive_int_or({"in_channels"}, -1);
  return std::make_shared<nn::ConvTranspose2d>(filters, kernel, options, type);
}

OrderedJson conv_transpose_to_json(const nn::ConvTranspose2d& deconv) {
  const auto& o = deconv.options();
  OrderedJson out{{"type", deconv.type_name()},
                  {"out_channels", deconv.out_channels()},
                  {"kernel_size", sizes_json(deconv.kernel_size())},
                  {"stride", sizes_json(o.stride)},
                  {"padding", sizes_json(o.padding)},
                  {"output_padding", sizes_json(o.output_padding)},
                  {"dilation", sizes_json(o.dilation)},
                  {"groups", o.groups},
                  {"bias", o.bias}};
  if (!o.activation.empty()) out["activation"] = o.activation;
  return out;
}

// ---- pooling and resampling ----

nn::ModulePtr make_pool(const LayerArgs& args, const std::string& type) {
  const bool keras = is_keras_name(type);
  // Keras's pool_size defaults to 2; PyTorch's kernel_size is required.
  const auto kernel = keras ? args.sizes_or({"pool_size", "kernel_size"}, 1, {2})
                            : args.sizes_required({"kernel_size", "pool_size"}, "the window size");
  nn::Pool2dOptions options;
  options.stride = args.sizes_or({"strides", "stride"}, 1, {});
  options.padding_mode = args.padding(&options.padding, "");
  options.ceil_mode = args.boolean_or({"ceil_mode"}, false);
  options.count_include_pad = args.boolean_or({"count_include_pad"}, true);
  const bool max = type.find("Max") != std::string::npos;
  return std::make_shared<nn::Pool2d>(max ? nn::PoolKind::max : nn::PoolKind::average, kernel,
                                      options, type);
}

OrderedJson pool_to_json(const nn::Pool2d& pool) {
  const auto& o = pool.options();
  const std::string type = pool.type_name();
  const bool keras = is_keras_name(type);
  OrderedJson out{{"type", type},
                  {keras ? "pool_size" : "kernel_size", sizes_json(pool.kernel_size())}};
  if (o.stride != pool.kernel_size()) out[keras ? "strides" : "stride"] = sizes_json(o.stride);
  if (o.padding_mode == "same") {
    out["padding"] = "same";
  } else {
    if (!all_equal_to(o.padding, 0)) out["padding"] = sizes_json(o.padding);
    if (o.ceil_mode) out["ceil_mode"] = true;
    if (pool.kind() == nn::PoolKind::average && !o.count_include_pad) {
      out["count_include_pad"] = false;
    }
  }
  return out;
}

nn::ModulePtr make_upsampling(const LayerArgs& args, const std::string& type) {
  return std::make_shared<nn::Upsample>(
      static_cast<double>(args.positive_int_or({"size"}, 2)),
      args.string_or({"interpolation"}, {"nearest", "bilinear"}, "nearest"), false, type);
}

nn::ModulePtr make_upsample(const LayerArgs& args, const std::string& type) {
  return std::make_shared<nn::Upsample>(
      args.number_or({"scale_factor"}, 1e-9, 1e9, 2),
      args.string_or({"mode"}, {"nearest", "bilinear"}, "nearest"),
      args.boolean_or({"align_corners"}, false), type);
}

nn::ModulePtr make_dropout2d(const LayerArgs& args, const std::string& type) {
  std::string at;
  const Json& rate = args.require({"rate", "p"}, "the drop probability", &at);
  return std::make_shared<nn::Dropout2d>(args.reader().number(rate, at, 0, 1), type);
}

// ---- normalization ----

nn::ModulePtr make_batch_norm(const LayerArgs& args, const std::string& type) {
  nn::BatchNormOptions options;
  options.num_features = args.positive_int_or({"num_features"}, -1);
  if (type == "BatchNormalization") {
    // Keras's momentum weighs the running value; nabla (as PyTorch) weighs the batch statistic.
    options.momentum = 1 - args.number_or({"momentum"}, 0, 1, 0.99, true);
    options.eps = args.number_or({"epsilon", "eps"}, 1e-12, 1, 1e-3);
  } else {
    options.momentum = args.number_or({"momentum"}, 0, 1, 0.1, true);
    options.eps = args.number_or({"eps", "epsilon"}, 1e-12, 1, 1e-5);
  }
  options.affine = args.boolean_or({"affine"}, true);
  return std::make_shared<nn::BatchNorm>(options, type);
}

OrderedJson batch_norm_to_json(const nn::BatchNorm& bn) {
  const auto& o = bn.options();
  OrderedJson out{{"type", bn.type_name()}};
  if (bn.type_name() == "BatchNormalization") {
    out["momentum"] = 1 - o.momentum;
    out["epsilon"] = o.eps;
  } else {
    out["eps"] = o.eps;
    out["momentum"] = o.momentum;
  }
  if (!o.affine) out["affine"] = false;
  return out;
}

nn::ModulePtr make_layer_norm(const LayerArgs& args, const std::string& type) {
  const bool keras = type == "LayerNormalization";
  const Shape shape = args.sizes_or({"normalized_shape"}, 1, {});
  const double eps = args.number_or({"eps", "epsilon"}, 1e-12, 1, keras ? 1e-3 : 1e-5);
  const bool affine = args.boolean_or({"elementwise_affine"}, true);
  return std::make_shared<nn::LayerNorm>(shape, eps, affine, type);
}

OrderedJson layer_norm_to_json(const nn::LayerNorm& ln) {
  const bool keras = ln.type_name() == "LayerNormalization";
  OrderedJson out{{"type", ln.type_name()}, {keras ? "epsilon" : "eps", ln.eps()}};
  if (!keras && !ln.elementwise_affine()) out["elementwise_affine"] = false;
  return out;
}

nn::ModulePtr make_group_norm(const LayerArgs& args, const std::string&) {
  return std::make_shared<nn::GroupNorm>(
      args.positive_int({"num_groups"}, "the number of channel groups"),
      args.positive_int_or({"num_channels"}, -1), args.number_or({"eps"}, 1e-12, 1, 1e-5),
      args.boolean_or({"affine"}, true));
}

}  // namespace

void add_cnn_layer_types(LayerRegistry& registry) {
  registry.add({{"Conv1D", "Conv1d", "Conv2D", "Conv2d"},
                kConvKeys,
                make_conv,
                writes<nn::Conv>(conv_to_json)});
  registry.add(
      {{"DepthwiseConv2D"}, kDepthwiseKeys, make_depthwise, writes<nn::Conv>(conv_to_json)});
  registry.add({{"SeparableConv2D"},
                kSeparableKeys,
                make_separable,
                writes<nn::SeparableConv2D>(separable_to_json)});
  registry.add({{"Conv2DTranspose", "ConvTranspose2d"},
                kConvTransposeKeys,
                make_conv_transpose,
                writes<nn::ConvTranspose2d>(conv_transpose_to_json)});

  registry.add({{"MaxPool2D", "MaxPool2d", "MaxPooling2D"},
                kPoolKeys,
                make_pool,
                writes<nn::Pool2d>(pool_to_json)});
  registry.add({{"AvgPool2d", "AveragePooling2D"},
                kAvgPoolKeys,
                make_pool,
                writes<nn::Pool2d>(pool_to_json)});
  registry.add({{"GlobalAveragePooling2D"},
                {},
                [](const LayerArgs&, const std::string&) -> nn::ModulePtr {
                  return std::make_shared<nn::GlobalAveragePooling2D>();
                },
                writes<nn::GlobalAveragePooling2D>([](const auto& pool) {
                  return OrderedJson{{"type", pool.type_name()}};
                })});
  registry.add({{"AdaptiveAvgPool2d"},
                {"output_size"},
                [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
                  return std::make_shared<nn::AdaptiveAvgPool2d>(
                      args.sizes_required({"output_size"}, "the output size"));
                },
                writes<nn::AdaptiveAvgPool2d>([](const nn::AdaptiveAvgPool2d& pool) {
                  return OrderedJson{{"type", pool.type_name()},
                                     {"output_size", sizes_json(pool.output_size())}};
                })});
  registry.add({{"UpSampling2D"},
                {"size", "interpolation"},
                make_upsampling,
                writes<nn::Upsample>([](const nn::Upsample& up) {
                  return OrderedJson{{"type", up.type_name()},
                                     {"size", static_cast<int64_t>(up.scale_factor())},
                                     {"interpolation", up.mode()}};
                })});
  registry.add({{"Upsample"},
                {"scale_factor", "mode", "align_corners"},
                make_upsample,
                writes<nn::Upsample>([](const nn::Upsample& up) {
                  return OrderedJson{{"type", up.type_name()},
                                     {"scale_factor", up.scale_factor()},
                                     {"mode", up.mode()},
                                     {"align_corners", up.align_corners()}};
                })});
  registry.add(
      {{"Dropout2d", "SpatialDropout2D"},
       {"rate", "p"},
       make_dropout2d,
       writes<nn::Dropout2d>([](const nn::Dropout2d& dropout) {
         const bool torch = dropout.type_name() == "Dropout2d";
         return OrderedJson{{"type", dropout.type_name()}, {torch ? "p" : "rate", dropout.p()}};
       })});

  registry.add({{"BatchNorm1d", "BatchNorm2d", "BatchNormalization"},
                kBatchNormKeys,
                make_batch_norm,
                writes<nn::BatchNorm>(batch_norm_to_json)});
  registry.add({{"LayerNorm"},
                {"normalized_shape", "eps", "elementwise_affine"},
                make_layer_norm,
                writes<nn::LayerNorm>(layer_norm_to_json)});
  registry.add({{"LayerNormalization"},
                {"epsilon", "eps"},
                make_layer_norm,
                writes<nn::LayerNorm>(layer_norm_to_json)});
  registry.add({{"GroupNorm"},
                {"num_groups", "num_channels", "eps", "affine"},
                make_group_norm,
                writes<nn::GroupNorm>([](const nn::GroupNorm& gn) {
                  return OrderedJson{{"type", "GroupNorm"},
                                     {"num_groups", gn.num_groups()},
                                     {"eps", gn.eps()},
                                     {"affine", gn.affine()}};
                })});

  registry.add({{"ResidualBlock"},
                {"filters", "strides", "stride"},
                [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
                  return std::make_shared<nn::ResidualBlock>(
                      args.positive_int({"filters"}, "the number of filters"),
                      args.positive_int_or({"strides", "stride"}, 1));
                },
                writes<nn::ResidualBlock>([](const nn::ResidualBlock& block) {
                  OrderedJson out{{"type", "ResidualBlock"}, {"filters", block.filters()}};
                  if (block.stride() != 1) out["strides"] = block.stride();
                  return out;
                })});
  registry.add({{"DenseBlock"},
                {"layers", "growth_rate"},
                [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
                  return std::make_shared<nn::DenseBlock>(
                      args.positive_int({"layers"}, "the number of layers in the block"),
                      args.positive_int({"growth_rate"}, "the channels each layer adds"));
                },
                writes<nn::DenseBlock>([](const nn::DenseBlock& block) {
                  return OrderedJson{{"type", "DenseBlock"},
                                     {"layers", block.num_layers()},
                                     {"growth_rate", block.growth_rate()}};
                })});
  registry.add(
      {{"TransitionBlock"},
       {"compression"},
       [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
         return std::make_shared<nn::TransitionBlock>(
             args.number_or({"compression"}, 1e-9, 1, 0.5, true));
       },
       writes<nn::TransitionBlock>([](const nn::TransitionBlock& block) {
         return OrderedJson{{"type", "TransitionBlock"}, {"compression", block.compression()}};
       })});
}

}  // namespace nabla::io::internal
