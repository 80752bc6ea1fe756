// Layer objects of JSON model specs. Each type lists the keys it accepts; Keras's and PyTorch's
// names for the same layer accept both libraries' key names ("filters" or "out_channels",
// "strides" or "stride", "use_bias" or "bias"), so that a spec reads like the model code it comes
// from. Unknown keys are errors, so that typos do not pass silently.
#include "io/layer_spec.hpp"

#include <map>

#include "io/layer_args.hpp"

namespace nabla::io::internal {
namespace {

// Key sets shared by the Keras and PyTorch names of a layer.
const std::vector<const char*> kDenseKeys = {
    "units", "out_features",       "activation",       "use_bias",
    "bias",  "kernel_initializer", "bias_initializer", "in_features"};
const std::vector<const char*> kConvKeys = {
    "filters",    "out_channels",  "kernel_size",        "strides",          "stride",
    "padding",    "dilation_rate", "dilation",           "groups",           "activation",
    "use_bias",   "bias",          "kernel_initializer", "bias_initializer", "in_channels",
    "data_format"};
const std::vector<const char*> kDepthwiseKeys = {
    "kernel_size",        "strides",          "stride",     "padding",  "depth_multiplier",
    "dilation_rate",      "dilation",         "activation", "use_bias", "bias",
    "kernel_initializer", "bias_initializer", "in_channels"};
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

nn::ModulePtr make_dense(const LayerArgs& args, const std::string& type) {
  nn::LinearOptions options;
  const int64_t units = args.positive_int({"units", "out_features"}, "the number of outputs");
  options.activation = args.activation_or_empty();
  options.bias = args.boolean_or({"use_bias", "bias"}, true);
  options.kernel_initializer = args.initializer_or("kernel_initializer", "glorot_uniform");
  options.bias_initializer = args.initializer_or("bias_initializer", "zeros");
  options.in_features = args.positive_int_or({"in_features"}, -1);
  if (type == "Dense") return std::make_shared<nn::Dense>(units, "", options);
  return std::make_shared<nn::Linear>(units, options);
}

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

bool is_keras_name(const std::string& type) {
  // Keras spells dimensions with a capital D ("Conv2D"); PyTorch with a small one ("Conv2d").
  return type.find("1D") != std::string::npos || type.find("2D") != std::string::npos;
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

nn::ModulePtr make_separable(const LayerArgs& args, const std::string&) {
  const int64_t filters = args.positive_int({"filters", "out_channels"}, "the number of filters");
  const auto kernel = args.sizes_required({"kernel_size"}, "the size of the kernel");
  nn::ConvLayerOptions options = conv_options(args, true);
  options.depth_multiplier = args.positive_int_or({"depth_multiplier"}, 1);
  return std::make_shared<nn::SeparableConv2D>(filters, kernel, options);
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

nn::ModulePtr make_layer_norm(const LayerArgs& args, const std::string& type) {
  const bool keras = type == "LayerNormalization";
  const Shape shape = args.sizes_or({"normalized_shape"}, 1, {});
  const double eps = args.number_or({"eps", "epsilon"}, 1e-12, 1, keras ? 1e-3 : 1e-5);
  const bool affine = args.boolean_or({"elementwise_affine"}, true);
  return std::make_shared<nn::LayerNorm>(shape, eps, affine, type);
}

std::map<std::string, LayerType> with_sequence_layers(std::map<std::string, LayerType> types) {
  add_sequence_layer_types(types);
  return types;
}

const std::map<std::string, LayerType>& layer_types() {
  const auto flatten = [](const LayerArgs&, const std::string&) -> nn::ModulePtr {
    return std::make_shared<nn::Flatten>();
  };
  const auto activation_layer = [](const char* name) {
    return [name](const LayerArgs&, const std::string&) -> nn::ModulePtr {
      return std::make_shared<nn::Activation>(name);
    };
  };
  const auto dropout = [](const LayerArgs& args, const std::string& type) -> nn::ModulePtr {
    std::string at;
    const Json& rate = args.require({"rate", "p"}, "the drop probability", &at);
    const double p = args.reader().number(rate, at, 0, 1);
    if (type == "Dropout") return std::make_shared<nn::Dropout>(p);
    return std::make_shared<nn::Dropout2d>(p, type);
  };
  const auto merge = [](nn::MergeKind kind) {
    return [kind](const LayerArgs&, const std::string&) -> nn::ModulePtr {
      return std::make_shared<nn::Merge>(kind);
    };
  };
  static const std::map<std::string, LayerType> kTypes = with_sequence_layers({
      {"Add", {{}, merge(nn::MergeKind::add)}},
      {"Average", {{}, merge(nn::MergeKind::average)}},
      {"Maximum", {{}, merge(nn::MergeKind::maximum)}},
      {"Minimum", {{}, merge(nn::MergeKind::minimum)}},
      {"Multiply", {{}, merge(nn::MergeKind::multiply)}},
      {"Subtract", {{}, merge(nn::MergeKind::subtract)}},
      {"Activation",
       {{"activation", "name"},
        [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
          std::string at;
          const Json& name = args.require({"activation", "name"}, "the activation's name", &at);
          return std::make_shared<nn::Activation>(validated_activation(args.reader(), name, at));
        }}},
      {"AdaptiveAvgPool2d",
       {{"output_size"},
        [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
          return std::make_shared<nn::AdaptiveAvgPool2d>(
              args.sizes_required({"output_size"}, "the output size"));
        }}},
      {"AvgPool2d", {kAvgPoolKeys, make_pool}},
      {"AveragePooling2D", {kAvgPoolKeys, make_pool}},
      {"BatchNorm1d", {kBatchNormKeys, make_batch_norm}},
      {"BatchNorm2d", {kBatchNormKeys, make_batch_norm}},
      {"BatchNormalization", {kBatchNormKeys, make_batch_norm}},
      {"Concatenate",
       {{"axis"},
        [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
          std::string at;
          const Json* axis = args.find({"axis"}, &at);
          if (axis != nullptr && !axis->is_number_integer()) {
            args.reader().fail(at, "expected an integer axis, got " + axis->dump());
          }
          return std::make_shared<nn::Concatenate>(axis ? axis->get<int64_t>() : -1);
        }}},
      {"Conv1D", {kConvKeys, make_conv}},
      {"Conv1d", {kConvKeys, make_conv}},
      {"Conv2D", {kConvKeys, make_conv}},
      {"Conv2DTranspose", {kConvTransposeKeys, make_conv_transpose}},
      {"Conv2d", {kConvKeys, make_conv}},
      {"ConvTranspose2d", {kConvTransposeKeys, make_conv_transpose}},
      {"Dense", {kDenseKeys, make_dense}},
      {"DenseBlock",
       {{"layers", "growth_rate"},
        [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
          return std::make_shared<nn::DenseBlock>(
              args.positive_int({"layers"}, "the number of layers in the block"),
              args.positive_int({"growth_rate"}, "the channels each layer adds"));
        }}},
      {"DepthwiseConv2D", {kDepthwiseKeys, make_depthwise}},
      {"Dropout", {{"rate", "p"}, dropout}},
      {"Dropout2d", {{"rate", "p"}, dropout}},
      {"Flatten", {{}, flatten}},
      {"GlobalAveragePooling2D",
       {{},
        [](const LayerArgs&, const std::string&) -> nn::ModulePtr {
          return std::make_shared<nn::GlobalAveragePooling2D>();
        }}},
      {"GroupNorm",
       {{"num_groups", "num_channels", "eps", "affine"},
        [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
          return std::make_shared<nn::GroupNorm>(
              args.positive_int({"num_groups"}, "the number of channel groups"),
              args.positive_int_or({"num_channels"}, -1), args.number_or({"eps"}, 1e-12, 1, 1e-5),
              args.boolean_or({"affine"}, true));
        }}},
      {"LayerNorm", {{"normalized_shape", "eps", "elementwise_affine"}, make_layer_norm}},
      {"LayerNormalization", {{"epsilon", "eps"}, make_layer_norm}},
      {"Linear", {kDenseKeys, make_dense}},
      {"MaxPool2D", {kPoolKeys, make_pool}},
      {"MaxPool2d", {kPoolKeys, make_pool}},
      {"MaxPooling2D", {kPoolKeys, make_pool}},
      {"ReLU", {{}, activation_layer("relu")}},
      {"Rescaling",
       {{"scale", "offset"},
        [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
          std::string at;
          const Json& scale = args.require({"scale"}, "the factor inputs are multiplied by", &at);
          return std::make_shared<nn::Rescaling>(args.reader().number(scale, at, -1e30, 1e30, true),
                                                 args.number_or({"offset"}, -1e30, 1e30, 0, true));
        }}},
      {"Reshape",
       {{"target_shape", "shape"},
        [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
          std::string at;
          const Json& shape =
              args.require({"target_shape", "shape"}, "the shape after the batch axis", &at);
          return std::make_shared<nn::Reshape>(args.sizes(shape, at, -1));
        }}},
      {"ResidualBlock",
       {{"filters", "strides", "stride"},
        [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
          return std::make_shared<nn::ResidualBlock>(
              args.positive_int({"filters"}, "the number of filters"),
              args.positive_int_or({"strides", "stride"}, 1));
        }}},
      {"SeparableConv2D", {kDepthwiseKeys, make_separable}},
      {"Sigmoid", {{}, activation_layer("sigmoid")}},
      {"Softmax", {{}, activation_layer("softmax")}},
      {"SpatialDropout2D", {{"rate", "p"}, dropout}},
      {"Tanh", {{}, activation_layer("tanh")}},
      {"TransitionBlock",
       {{"compression"},
        [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
          return std::make_shared<nn::TransitionBlock>(
              args.number_or({"compression"}, 1e-9, 1, 0.5, true));
        }}},
      {"UpSampling2D",
       {{"size", "interpolation"},
        [](const LayerArgs& args, const std::string& type) -> nn::ModulePtr {
          return std::make_shared<nn::Upsample>(
              static_cast<double>(args.positive_int_or({"size"}, 2)),
              args.string_or({"interpolation"}, {"nearest", "bilinear"}, "nearest"), false, type);
        }}},
      {"Upsample",
       {{"scale_factor", "mode", "align_corners"},
        [](const LayerArgs& args, const std::string& type) -> nn::ModulePtr {
          return std::make_shared<nn::Upsample>(
              args.number_or({"scale_factor"}, 1e-9, 1e9, 2),
              args.string_or({"mode"}, {"nearest", "bilinear"}, "nearest"),
              args.boolean_or({"align_corners"}, false), type);
        }}},
  });
  return kTypes;
}

}  // namespace

std::string known_layer_types() {
  std::vector<std::string> names;
  for (const auto& [name, type] : layer_types()) names.push_back(name);
  return join(names);
}

nn::ModulePtr parse_layer(const SpecReader& reader, const Json& layer, const std::string& path) {
  if (!layer.is_object()) reader.fail(path, "expected a layer object, got " + layer.dump());
  const auto type_it = layer.find("type");
  if (type_it == layer.end()) {
    reader.fail(path, "missing \"type\"; known types: " + known_layer_types());
  }
  const std::string type = reader.string(*type_it, path + ".type");
  const auto found = layer_types().find(type);
  if (found == layer_types().end()) {
    reader.fail(path + ".type",
                "unknown layer type " + type_it->dump() + "; known types: " + known_layer_types());
  }
  std::vector<const char*> keys = found->second.keys;
  keys.insert(keys.begin(), "type");
  reader.check_keys(layer, path, keys, "a " + type + " layer");
  nn::ModulePtr module;
  // The constructors check what the keys cannot check alone (groups dividing the channels, ...).
  reader.check_with(path,
                    [&] { module = found->second.make(LayerArgs(reader, layer, path), type); });
  return module;
}

namespace {

Json sizes_json(const std::vector<int64_t>& sizes) {
  if (sizes.size() == 1) return sizes[0];
  return sizes;
}

bool all_equal_to(const std::vector<int64_t>& sizes, int64_t value) {
  return std::all_of(sizes.begin(), sizes.end(), [&](int64_t s) { return s == value; });
}

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

}  // namespace

OrderedJson layer_to_json(const nn::Module& layer, size_t index) {
  if (OrderedJson sequence = sequence_layer_to_json(layer); !sequence.is_null()) return sequence;
  const std::string type = layer.type_name();
  if (const auto* linear = dynamic_cast<const nn::Linear*>(&layer)) {
    const bool keras = dynamic_cast<const nn::Dense*>(&layer) != nullptr;
    OrderedJson out{{"type", keras ? "Dense" : "Linear"}};
    out[keras ? "units" : "out_features"] = linear->out_features();
    if (!linear->activation().empty()) out["activation"] = linear->activation();
    const bool has_bias = linear->in_features() <= 0 || linear->bias().defined();
    if (!has_bias) out[keras ? "use_bias" : "bias"] = false;
    return out;
  }
  if (const auto* conv = dynamic_cast<const nn::Conv*>(&layer)) return conv_to_json(*conv);
  if (const auto* sep = dynamic_cast<const nn::SeparableConv2D*>(&layer)) {
    nn::ConvLayerOptions o = sep->options();
    OrderedJson out{{"type", "SeparableConv2D"},
                    {"filters", sep->filters()},
                    {"kernel_size", sizes_json(sep->kernel_size())}};
    if (!all_equal_to(o.stride, 1)) out["strides"] = sizes_json(o.stride);
    out["padding"] = o.padding_mode.empty() ? Json(sizes_json(o.padding)) : Json(o.padding_mode);
    if (o.depth_multiplier != 1) out["depth_multiplier"] = o.depth_multiplier;
    if (!o.activation.empty()) out["activation"] = o.activation;
    if (!o.bias) out["use_bias"] = false;
    return out;
  }
  if (const auto* deconv = dynamic_cast<const nn::ConvTranspose2d*>(&layer)) {
    const auto& o = deconv->options();
    OrderedJson out{{"type", type},
                    {"out_channels", deconv->out_channels()},
                    {"kernel_size", sizes_json(deconv->kernel_size())},
                    {"stride", sizes_json(o.stride)},
                    {"padding", sizes_json(o.padding)},
                    {"output_padding", sizes_json(o.output_padding)},
                    {"dilation", sizes_json(o.dilation)},
                    {"groups", o.groups},
                    {"bias", o.bias}};
    if (!o.activation.empty()) out["activation"] = o.activation;
    return out;
  }
  if (const auto* pool = dynamic_cast<const nn::Pool2d*>(&layer)) {
    const auto& o = pool->options();
    const bool keras = is_keras_name(type);
    OrderedJson out{{"type", type},
                    {keras ? "pool_size" : "kernel_size", sizes_json(pool->kernel_size())}};
    if (o.stride != pool->kernel_size()) out[keras ? "strides" : "stride"] = sizes_json(o.stride);
    if (o.padding_mode == "same") {
      out["padding"] = "same";
    } else {
      if (!all_equal_to(o.padding, 0)) out["padding"] = sizes_json(o.padding);
      if (o.ceil_mode) out["ceil_mode"] = true;
      if (pool->kind() == nn::PoolKind::average && !o.count_include_pad) {
        out["count_include_pad"] = false;
      }
    }
    return out;
  }
  if (const auto* bn = dynamic_cast<const nn::BatchNorm*>(&layer)) {
    const auto& o = bn->options();
    if (type == "BatchNormalization") {
      return OrderedJson{{"type", type}, {"momentum", 1 - o.momentum}, {"epsilon", o.eps}};
    }
    OrderedJson out{{"type", type}, {"eps", o.eps}, {"momentum", o.momentum}};
    if (!o.affine) out["affine"] = false;
    return out;
  }
  if (const auto* ln = dynamic_cast<const nn::LayerNorm*>(&layer)) {
    OrderedJson out{{"type", type}, {type == "LayerNorm" ? "eps" : "epsilon", ln->eps()}};
    if (type == "LayerNorm" && !ln->elementwise_affine()) out["elementwise_affine"] = false;
    return out;
  }
  if (const auto* gn = dynamic_cast<const nn::GroupNorm*>(&layer)) {
    return OrderedJson{{"type", "GroupNorm"},
                       {"num_groups", gn->num_groups()},
                       {"eps", gn->eps()},
                       {"affine", gn->affine()}};
  }
  if (dynamic_cast<const nn::GlobalAveragePooling2D*>(&layer) != nullptr) {
    return OrderedJson{{"type", type}};
  }
  if (const auto* adaptive = dynamic_cast<const nn::AdaptiveAvgPool2d*>(&layer)) {
    return OrderedJson{{"type", type}, {"output_size", sizes_json(adaptive->output_size())}};
  }
  if (const auto* up = dynamic_cast<const nn::Upsample*>(&layer)) {
    if (type == "UpSampling2D") {
      return OrderedJson{{"type", type},
                         {"size", static_cast<int64_t>(up->scale_factor())},
                         {"interpolation", up->mode()}};
    }
    return OrderedJson{{"type", type},
                       {"scale_factor", up->scale_factor()},
                       {"mode", up->mode()},
                       {"align_corners", up->align_corners()}};
  }
  if (const auto* d2 = dynamic_cast<const nn::Dropout2d*>(&layer)) {
    return OrderedJson{{"type", type}, {type == "Dropout2d" ? "p" : "rate", d2->p()}};
  }
  if (const auto* reshape = dynamic_cast<const nn::Reshape*>(&layer)) {
    return OrderedJson{{"type", "Reshape"}, {"target_shape", reshape->target_shape()}};
  }
  if (const auto* block = dynamic_cast<const nn::ResidualBlock*>(&layer)) {
    OrderedJson out{{"type", "ResidualBlock"}, {"filters", block->filters()}};
    if (block->stride() != 1) out["strides"] = block->stride();
    return out;
  }
  if (const auto* block = dynamic_cast<const nn::DenseBlock*>(&layer)) {
    return OrderedJson{{"type", "DenseBlock"},
                       {"layers", block->num_layers()},
                       {"growth_rate", block->growth_rate()}};
  }
  if (const auto* block = dynamic_cast<const nn::TransitionBlock*>(&layer)) {
    return OrderedJson{{"type", "TransitionBlock"}, {"compression", block->compression()}};
  }
  if (dynamic_cast<const nn::Flatten*>(&layer) != nullptr) return OrderedJson{{"type", "Flatten"}};
  if (dynamic_cast<const nn::Merge*>(&layer) != nullptr) return OrderedJson{{"type", type}};
  if (const auto* concat = dynamic_cast<const nn::Concatenate*>(&layer)) {
    return OrderedJson{{"type", "Concatenate"}, {"axis", concat->axis()}};
  }
  if (const auto* rescaling = dynamic_cast<const nn::Rescaling*>(&layer)) {
    return OrderedJson{
        {"type", "Rescaling"}, {"scale", rescaling->scale()}, {"offset", rescaling->offset()}};
  }
  if (const auto* dropout = dynamic_cast<const nn::Dropout*>(&layer)) {
    return OrderedJson{{"type", "Dropout"}, {"rate", dropout->p()}};
  }
  if (const auto* act = dynamic_cast<const nn::Activation*>(&layer)) {
    // The four activations with a layer type of their own are written as that type.
    static const std::vector<std::pair<std::string, std::string>> kOwnType = {
        {"relu", "ReLU"}, {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"}, {"softmax", "Softmax"}};
    for (const auto& [name, own_type] : kOwnType) {
      if (act->name() == name) return OrderedJson{{"type", own_type}};
    }
    return OrderedJson{{"type", "Activation"}, {"activation", act->name()}};
  }
  detail::throw_error(
      detail::str("model_to_spec: layer ", index, " (", type,
                  ") cannot be written as a model spec; spec layer types: ", known_layer_types()));
}

}  // namespace nabla::io::internal
