// ONNX forms of the convolutional layers: Conv1d/2d (groups, depthwise, "same"/"valid"),
// ConvTranspose2d, SeparableConv2D, pooling, BatchNorm, LayerNorm, GroupNorm, Upsample and the CNN
// blocks (ResidualBlock, DenseBlock, TransitionBlock) as the layers they are made of.
#include <algorithm>

#include "io/onnx_builder.hpp"
#include "nabla/ops.hpp"

namespace nabla::io::onnx_export {
namespace {

// A per-axis option (one value for all axes, or one per axis) as `rank` values.
std::vector<int64_t> per_axis(const std::vector<int64_t>& values, size_t rank) {
  if (values.size() == rank) return values;
  return std::vector<int64_t>(rank, values.empty() ? 0 : values[0]);
}

Tensor parameter(const nn::Module& layer, const std::string& name) {
  for (const auto& [n, t] : layer.named_parameters(false)) {
    if (n == name) return t;
  }
  return Tensor();
}

Tensor buffer(const nn::Module& layer, const std::string& name) {
  for (const auto& [n, t] : layer.named_buffers(false)) {
    if (n == name) return t;
  }
  return Tensor();
}

void convert_conv(const LayerCall& c, const nn::Conv& conv, GraphBuilder& b) {
  const nn::ConvLayerOptions& o = conv.options();
  const auto rank = static_cast<size_t>(conv.rank());
  std::string input = c.inputs[0];
  Shape in_shape = c.input_shapes[0];
  if (o.channels_last) {
    // Keras's Conv1D on [N, T, C]: nabla convolves the channels-first view and swaps back.
    const std::string transposed = b.fresh(c.name, "Transpose");
    GraphBuilder::set(b.node("Transpose", {input}, {transposed}, transposed), "perm",
                      std::vector<int64_t>{0, 2, 1});
    input = transposed;
    std::swap(in_shape[1], in_shape[2]);
  }
  const Tensor w = conv.weight();
  const std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  const std::vector<int64_t> stride = per_axis(o.stride, rank);
  const std::vector<int64_t> dilation = per_axis(o.dilation, rank);
  // Explicit pads [begin..., end...] for every mode: "same" is worked out here from the input
  // size as nabla's op does (the odd zero after), so that no auto_pad rule can differ.
  std::vector<int64_t> pads(2 * rank, 0);
  if (o.padding_mode == "same") {
    for (size_t i = 0; i < rank; ++i) {
      const int64_t in = in_shape[2 + i];
      const int64_t out = (in + stride[i] - 1) / stride[i];
      const int64_t total =
          std::max<int64_t>((out - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - in, 0);
      pads[i] = total / 2;
      pads[rank + i] = total - total / 2;
    }
  } else if (o.padding_mode.empty()) {
    const std::vector<int64_t> padding = per_axis(o.padding, rank);
    for (size_t i = 0; i < rank; ++i) pads[i] = pads[rank + i] = padding[i];
  }
  std::vector<std::string> inputs = {input, b.weight(c.name + ".weight", w)};
  if (conv.bias().defined()) inputs.push_back(b.weight(c.name + ".bias", conv.bias()));
  const bool has_activation = !o.activation.empty() && o.activation != "linear";
  const bool transposed_back = o.channels_last;
  const std::string conv_out =
      has_activation || transposed_back ? b.fresh(c.name, "Conv") : c.output;
  onnx::NodeProto& n = b.node("Conv", inputs, {conv_out}, c.name + "/Conv");
  GraphBuilder::set(n, "kernel_shape", kernel);
  GraphBuilder::set(n, "strides", stride);
  GraphBuilder::set(n, "dilations", dilation);
  GraphBuilder::set(n, "pads", pads);
  // Groups from the weight [out, in / groups, *kernel]: depthwise layers set them at the build.
  GraphBuilder::set(n, "group", in_shape[1] / w.size(1));
  std::string result = conv_out;
  if (has_activation) {
    result = transposed_back ? b.fresh(c.name, "activation") : c.output;
    emit_activation(b, o.activation, conv_out, result, c.name);
  }
  if (transposed_back) {
    GraphBuilder::set(b.node("Transpose", {result}, {c.output}, c.name + "/Transpose"), "perm",
                      std::vector<int64_t>{0, 2, 1});
  }
}

void convert_conv_transpose(const LayerCall& c, const nn::ConvTranspose2d& conv, GraphBuilder& b) {
  const nn::ConvTransposeLayerOptions& o = conv.options();
  const Tensor w = parameter(conv, "weight"), bias = parameter(conv, "bias");
  std::vector<std::string> inputs = {c.inputs[0], b.weight(c.name + ".weight", w)};
  if (bias.defined()) inputs.push_back(b.weight(c.name + ".bias", bias));
  const bool has_activation = !o.activation.empty() && o.activation != "linear";
  const std::string out = has_activation ? b.fresh(c.name, "ConvTranspose") : c.output;
  onnx::NodeProto& n = b.node("ConvTranspose", inputs, {out}, c.name + "/ConvTranspose");
  const std::vector<int64_t> padding = per_axis(o.padding, 2);
  // The same weight layout as PyTorch's, [in, out / groups, kH, kW], and the same output size
  // (in - 1) * stride - pads + dilation * (k - 1) + output_padding + 1.
  GraphBuilder::set(n, "kernel_shape",
                    std::vector<int64_t>(w.shape().begin() + 2, w.shape().end()));
  GraphBuilder::set(n, "strides", per_axis(o.stride, 2));
  GraphBuilder::set(n, "dilations", per_axis(o.dilation, 2));
  GraphBuilder::set(n, "pads",
                    std::vector<int64_t>{padding[0], padding[1], padding[0], padding[1]});
  GraphBuilder::set(n, "output_padding", per_axis(o.output_padding, 2));
  GraphBuilder::set(n, "group", o.groups);
  if (has_activation) emit_activation(b, o.activation, out, c.output, c.name);
}

// PyTorch's output length of a pooling window over `in` (ceil_mode drops a last window that
// would start in the right padding); ONNX's ceil_mode keeps it, so such a case is refused.
int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, bool ceil_mode, bool drop_last) {
  const int64_t span = in + 2 * p - k;
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (drop_last && ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

void convert_pool(const LayerCall& c, const nn::Pool2d& pool, GraphBuilder& b) {
  const nn::Pool2dOptions& o = pool.options();
  const std::vector<int64_t>& k = pool.kernel_size();
  const std::vector<int64_t> stride = per_axis(o.stride, 2), padding = per_axis(o.padding, 2);
  const bool average = pool.kind() == nn::PoolKind::average;
  for (size_t i = 0; i < 2; ++i) {
    const int64_t in = c.input_shapes[0][2 + i];
    const int64_t nabla_out = pooled_size(in, k[i], stride[i], padding[i], o.ceil_mode, true);
    if (nabla_out != pooled_size(in, k[i], stride[i], padding[i], o.ceil_mode, false)) {
      throw Unsupported("ceil_mode with a last window in the padding has no ONNX form");
    }
    // A partial last window of ceil_mode counts the positions beyond the padding in PyTorch's
    // count_include_pad average, which ONNX Runtime does not: refused when there is one.
    const bool partial = (nabla_out - 1) * stride[i] + k[i] > in + 2 * padding[i];
    if (average && o.count_include_pad && partial) {
      throw Unsupported("ceil_mode average pooling counting the padding has no ONNX form");
    }
  }
  const std::string op = average ? "AveragePool" : "MaxPool";
  onnx::NodeProto& n = b.node(op, {c.inputs[0]}, {c.output}, c.name + "/" + op);
  GraphBuilder::set(n, "kernel_shape", k);
  GraphBuilder::set(n, "strides", stride);
  GraphBuilder::set(n, "pads",
                    std::vector<int64_t>{padding[0], padding[1], padding[0], padding[1]});
  GraphBuilder::set(n, "ceil_mode", int64_t{o.ceil_mode});
  if (average) GraphBuilder::set(n, "count_include_pad", int64_t{o.count_include_pad});
}

void convert_batch_norm(const LayerCall& c, const nn::BatchNorm& bn, GraphBuilder& b) {
  const Tensor mean = buffer(bn, "running_mean"), var = buffer(bn, "running_var");
  const int64_t channels = mean.numel();
  const Tensor weight = parameter(bn, "weight"), bias = parameter(bn, "bias");
  // Without affine parameters the scale is one and the shift zero.
  const std::string scale = weight.defined() ? b.weight(c.name + ".weight", weight)
                                             : b.weight(c.name + ".ones", ones({channels}));
  const std::string shift = bias.defined() ? b.weight(c.name + ".bias", bias)
                                           : b.weight(c.name + ".zeros", zeros({channels}));
  onnx::NodeProto& n = b.node("BatchNormalization",
                              {c.inputs[0], scale, shift, b.weight(c.name + ".running_mean", mean),
                               b.weight(c.name + ".running_var", var)},
                              {c.output}, c.name + "/BatchNormalization");
  GraphBuilder::set(n, "epsilon", static_cast<float>(bn.options().eps));
  // ONNX's momentum weighs the running value, PyTorch's (nabla's) the new batch statistic.
  GraphBuilder::set(n, "momentum", static_cast<float>(1 - bn.options().momentum));
}

void convert_layer_norm(const LayerCall& c, const nn::LayerNorm& ln, GraphBuilder& b) {
  const Shape& x = c.input_shapes[0];
  const size_t axes = std::max<size_t>(1, ln.normalized_shape().size());
  const Shape normalized(x.end() - static_cast<std::ptrdiff_t>(axes), x.end());
  const Tensor weight = parameter(ln, "weight"), bias = parameter(ln, "bias");
  const std::string scale = weight.defined() ? b.weight(c.name + ".weight", weight)
                                             : b.weight(c.name + ".ones", ones(normalized));
  const std::string shift = bias.defined() ? b.weight(c.name + ".bias", bias)
                                           : b.weight(c.name + ".zeros", zeros(normalized));
  onnx::NodeProto& n = b.node("LayerNormalization", {c.inputs[0], scale, shift}, {c.output},
                              c.name + "/LayerNormalization");
  GraphBuilder::set(n, "axis", -static_cast<int64_t>(axes));
  GraphBuilder::set(n, "epsilon", static_cast<float>(ln.eps()));
}

// Opset 17 has no GroupNormalization (opset 18): the standard lowering, the groups as the
// channels of an InstanceNormalization of [N, G, C/G * spatial] (scale 1, shift 0), reshaped back,
// then the per-channel affine.
void convert_group_norm(const LayerCall& c, const nn::GroupNorm& gn, GraphBuilder& b) {
  const Shape& x = c.input_shapes[0];
  const int64_t groups = gn.num_groups(), channels = x[1];
  const std::string grouped =
      b.value("Reshape", {c.inputs[0], b.ints(c.name + ".grouped_shape", {0, groups, -1})}, c.name);
  const std::string normed = b.fresh(c.name, "InstanceNormalization");
  GraphBuilder::set(b.node("InstanceNormalization",
                           {grouped, b.weight(c.name + ".ones", ones({groups})),
                            b.weight(c.name + ".zeros", zeros({groups}))},
                           {normed}, normed),
                    "epsilon", static_cast<float>(gn.eps()));
  std::vector<int64_t> shape = {0};
  shape.insert(shape.end(), x.begin() + 1, x.end());
  const Tensor weight = parameter(gn, "weight"), bias = parameter(gn, "bias");
  if (!weight.defined()) {
    b.node("Reshape", {normed, b.ints(c.name + ".shape", shape)}, {c.output}, c.name + "/Reshape");
    return;
  }
  const std::string restored =
      b.value("Reshape", {normed, b.ints(c.name + ".shape", shape)}, c.name);
  // weight and bias [C] as [C, 1, ...], broadcasting over the spatial axes.
  Shape per_channel(x.size() - 1, 1);
  per_channel[0] = channels;
  const std::string scaled =
      b.value("Mul", {restored, b.weight(c.name + ".weight", weight.reshape(per_channel))}, c.name);
  b.node("Add", {scaled, b.weight(c.name + ".bias", bias.reshape(per_channel))}, {c.output},
         c.name + "/Add");
}

void convert_adaptive_pool(const LayerCall& c, const nn::AdaptiveAvgPool2d& pool, GraphBuilder& b) {
  const std::vector<int64_t>& out = pool.output_size();
  const int64_t h = c.input_shapes[0][2], w = c.input_shapes[0][3];
  if (out[0] == 1 && out[1] == 1) {
    b.node("GlobalAveragePool", {c.inputs[0]}, {c.output}, c.name + "/GlobalAveragePool");
    return;
  }
  // Equal windows: an average pooling with kernel = stride = in / out; others have no ONNX op.
  if (h % out[0] != 0 || w % out[1] != 0) {
    throw Unsupported("adaptive windows of unequal sizes have no ONNX form");
  }
  onnx::NodeProto& n = b.node("AveragePool", {c.inputs[0]}, {c.output}, c.name + "/AveragePool");
  const std::vector<int64_t> window = {h / out[0], w / out[1]};
  GraphBuilder::set(n, "kernel_shape", window);
  GraphBuilder::set(n, "strides", window);
}

void convert_upsample(const LayerCall& c, const nn::Upsample& up, GraphBuilder& b) {
  const auto s = static_cast<float>(up.scale_factor());
  const std::string scales = b.floats(c.name + ".scales", {4}, {1.0f, 1.0f, s, s});
  onnx::NodeProto& n = b.node("Resize", {c.inputs[0], "", scales}, {c.output}, c.name + "/Resize");
  if (up.mode() == "nearest") {
    // PyTorch's nearest: source index floor(dst / scale).
    GraphBuilder::set(n, "mode", std::string("nearest"));
    GraphBuilder::set(n, "coordinate_transformation_mode", std::string("asymmetric"));
    GraphBuilder::set(n, "nearest_mode", std::string("floor"));
  } else {
    GraphBuilder::set(n, "mode", std::string("linear"));
    GraphBuilder::set(n, "coordinate_transformation_mode",
                      std::string(up.align_corners() ? "align_corners" : "pytorch_half_pixel"));
  }
}

// relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the shortcut being x or conv1x1 - BN.
void convert_residual_block(const LayerCall& c, const nn::ResidualBlock& block, GraphBuilder& b) {
  Shape shape = c.input_shapes[0];
  std::string h = c.inputs[0];
  for (const char* part : {"conv1", "bn1", "relu1", "conv2", "bn2"}) {
    if (std::string(part) == "relu1") {
      h = b.value("Relu", {h}, c.name);
    } else {
      h = convert_part(c, child(block, part), part, h, Shape(shape), shape, b);
    }
  }
  std::string identity = c.inputs[0];
  for (const auto& [name, module] : block.named_children()) {
    if (name == "shortcut") {
      Shape shortcut_shape;
      identity = convert_part(c, *module, name, c.inputs[0], c.input_shapes[0], shortcut_shape, b);
    }
  }
  const std::string sum = b.value("Add", {h, identity}, c.name);
  b.node("Relu", {sum}, {c.output}, c.name + "/Relu");
}

// x = concat(x, layer_k(x)) along the channels, for each of the block's layers.
void convert_dense_block(const LayerCall& c, const nn::DenseBlock& block, GraphBuilder& b) {
  std::string features = c.inputs[0];
  Shape shape = c.input_shapes[0];
  const auto layers = block.named_children();
  for (size_t i = 0; i < layers.size(); ++i) {
    Shape new_shape;
    const std::string grown =
        convert_part(c, *layers[i].second, layers[i].first, features, shape, new_shape, b);
    const std::string joined = i + 1 == layers.size() ? c.output : b.fresh(c.name, "Concat");
    GraphBuilder::set(b.node("Concat", {features, grown}, {joined}, c.name + "/Concat"), "axis",
                      int64_t{1});
    features = joined;
    shape[1] += new_shape[1];
  }
}

}  // namespace

bool convert_cnn_layer(const LayerCall& c, GraphBuilder& b) {
  nn::Module* layer = c.layer;
  if (auto* conv = dynamic_cast<nn::Conv*>(layer)) {
    convert_conv(c, *conv, b);
  } else if (auto* transposed = dynamic_cast<nn::ConvTranspose2d*>(layer)) {
    convert_conv_transpose(c, *transposed, b);
  } else if (auto* separable = dynamic_cast<nn::SeparableConv2D*>(layer)) {
    Shape depthwise_shape, out_shape;
    const std::string depthwise = convert_part(c, child(*separable, "depthwise"), "depthwise",
                                               c.inputs[0], c.input_shapes[0], depthwise_shape, b);
    convert_part(c, child(*separable, "pointwise"), "pointwise", depthwise, depthwise_shape,
                 out_shape, b, c.output);
  } else if (auto* pool = dynamic_cast<nn::Pool2d*>(layer)) {
    convert_pool(c, *pool, b);
  } else if (dynamic_cast<nn::GlobalAveragePooling2D*>(layer)) {
    // Keras's form drops the spatial axes: [N, C, 1, 1] -> [N, C].
    const std::string pooled = b.value("GlobalAveragePool", {c.inputs[0]}, c.name);
    GraphBuilder::set(b.node("Flatten", {pooled}, {c.output}, c.name + "/Flatten"), "axis",
                      int64_t{1});
  } else if (auto* adaptive = dynamic_cast<nn::AdaptiveAvgPool2d*>(layer)) {
    convert_adaptive_pool(c, *adaptive, b);
  } else if (auto* bn = dynamic_cast<nn::BatchNorm*>(layer)) {
    convert_batch_norm(c, *bn, b);
  } else if (auto* ln = dynamic_cast<nn::LayerNorm*>(layer)) {
    convert_layer_norm(c, *ln, b);
  } else if (auto* gn = dynamic_cast<nn::GroupNorm*>(layer)) {
    convert_group_norm(c, *gn, b);
  } else if (auto* up = dynamic_cast<nn::Upsample*>(layer)) {
    convert_upsample(c, *up, b);
  } else if (auto* residual = dynamic_cast<nn::ResidualBlock*>(layer)) {
    convert_residual_block(c, *residual, b);
  } else if (auto* dense = dynamic_cast<nn::DenseBlock*>(layer)) {
    convert_dense_block(c, *dense, b);
  } else if (auto* transition = dynamic_cast<nn::TransitionBlock*>(layer)) {
    Shape out_shape;
    convert_part(c, child(*transition, "body"), "body", c.inputs[0], c.input_shapes[0], out_shape,
                 b, c.output);
  } else {
    return false;
  }
  return true;
}

}  // namespace nabla::io::onnx_export
