// ONNX nodes that become nabla layers: Gemm and MatMul (+ Add) as Dense, the activations, Conv
// (asymmetric pads as nabla's "same" where they are that), ConvTranspose, Resize (Upsample),
// BatchNormalization, LayerNormalization, pooling, Add or Sum of tensors (a residual) and Concat.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "io/onnx_importer.hpp"

namespace nabla::io::onnx_import {
namespace {

void gemm(Importer& im, const onnx::NodeProto& node) {
  if (attr_int(node, "transA", 0) != 0) refuse(im, node, "transA = 1 is not supported");
  if (attr_float(node, "alpha", 1) != 1.0f || attr_float(node, "beta", 1) != 1.0f) {
    refuse(im, node, "alpha and beta other than 1 are not supported");
  }
  const nn::SymbolicTensor x = im.tensor(node, 0);
  if (x.shape().size() != 1) refuse(im, node, "its input A must be a matrix [N, in]");
  // PyTorch's Linear exports transB = 1, the weight [out, in] as nabla keeps it.
  Tensor w = im.constant(node, 1);
  if (attr_int(node, "transB", 0) == 0) w = w.t().contiguous();
  std::map<std::string, Tensor> weights = {{"weight", w}};
  const bool bias = im.has_input(node, 2);
  if (bias) {
    const Tensor c = im.constant(node, 2);
    if (c.numel() != w.size(0)) refuse(im, node, "its bias C must have one value per output");
    weights["bias"] = c.reshape({w.size(0)});
  }
  const auto layer = std::make_shared<nn::Linear>(
      w.size(0), nn::LinearOptions{.in_features = w.size(1), .bias = bias});
  im.set_tensor(node, call_layer(im, node, layer, {x}, weights));
}

void matmul(Importer& im, const onnx::NodeProto& node) {
  const Value& b = im.value(node, 1);
  if (b.kind != Value::Kind::constant || b.constant.dim() != 2) {
    refuse(im, node, "only x times a constant matrix (a Dense layer) is supported");
  }
  // Pending: an Add of a bias right after it makes the Dense layer's bias (Importer::tensor
  // builds a Dense without one for any other reader).
  Value v;
  v.kind = Value::Kind::matmul;
  v.tensor = im.tensor(node, 0);
  v.constant = b.constant;
  im.set(node, 0, v);
}

void add(Importer& im, const onnx::NodeProto& node) {
  const Value& a = im.value(node, 0);
  const Value& b = im.value(node, 1);
  const bool a_const = a.kind == Value::Kind::constant, b_const = b.kind == Value::Kind::constant;
  const Value& product = a_const ? b : a;
  const Tensor& bias = a_const ? a.constant : b.constant;
  if ((a_const || b_const) && product.kind == Value::Kind::matmul &&
      im.uses(node.input(a_const ? 1 : 0)) == 1 && bias.numel() == product.constant.size(1)) {
    // The bias of the MatMul before it: one Dense layer.
    const auto layer = std::make_shared<nn::Linear>(
        product.constant.size(1), nn::LinearOptions{.in_features = product.constant.size(0)});
    im.set_tensor(node, call_layer(im, node, layer, {product.tensor},
                                   {{"weight", product.constant.t().contiguous()},
                                    {"bias", bias.reshape({product.constant.size(1)})}}));
    return;
  }
  arithmetic(im, node);  // a scalar constant (Rescaling), GELU's 1 + erf, or two tensors
}

// Sum of two or more tensors of one shape (nabla's exporter writes an Add merge as Sum).
void sum(Importer& im, const onnx::NodeProto& node) {
  std::vector<nn::SymbolicTensor> inputs;
  for (int i = 0; i < node.input_size(); ++i) {
    inputs.push_back(im.tensor(node, static_cast<size_t>(i)));
    if (inputs.back().shape() != inputs[0].shape()) {
      refuse(im, node, "broadcasting Sum is not supported");
    }
  }
  im.set_tensor(node, inputs.size() == 1
                          ? inputs[0]
                          : call_layer(im, node, std::make_shared<nn::Merge>(nn::MergeKind::add),
                                       inputs, {}));
}

void activation(Importer& im, const onnx::NodeProto& node, const std::string& name,
                double negative_slope = nn::Activation::kDefaultNegativeSlope) {
  const auto layer = std::make_shared<nn::Activation>(name, negative_slope);
  im.set_tensor(node, call_layer(im, node, layer, {im.tensor(node, 0)}, {}));
}

// Softmax or LogSoftmax (nabla's run over the last axis).
void softmax(Importer& im, const onnx::NodeProto& node, const std::string& name) {
  const nn::SymbolicTensor x = im.tensor(node, 0);
  const auto rank = static_cast<int64_t>(x.shape().size()) + 1;
  // Opset 13 made -1 the default; before, 1 (which on a matrix is the same axis).
  const int64_t axis = attr_int(node, "axis", im.opset() >= 13 ? -1 : 1);
  if (axis != -1 && axis != rank - 1) {
    refuse(im, node, "only a softmax over the last axis is supported");
  }
  activation(im, node, name);
}

void layer_norm(Importer& im, const onnx::NodeProto& node) {
  const nn::SymbolicTensor x = im.tensor(node, 0);
  const auto rank = static_cast<int64_t>(x.shape().size()) + 1;
  int64_t axis = attr_int(node, "axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 1 || axis >= rank) refuse(im, node, "the normalized axes must leave the batch axis");
  if (node.output_size() > 1 && std::any_of(node.output().begin() + 1, node.output().end(),
                                            [&](const std::string& o) { return im.uses(o) > 0; })) {
    refuse(im, node, "the Mean and InvStdDev outputs are not supported");
  }
  const Shape normalized(x.shape().begin() + (axis - 1), x.shape().end());
  std::map<std::string, Tensor> weights = {{"weight", im.constant(node, 1)}};
  // Without B the shift is zero, as nabla's affine LayerNorm starts.
  weights["bias"] = im.has_input(node, 2) ? im.constant(node, 2) : zeros(normalized);
  const auto layer =
      std::make_shared<nn::LayerNorm>(normalized, attr_float(node, "epsilon", 1e-5f), true);
  im.set_tensor(node, call_layer(im, node, layer, {x}, weights));
}

// ONNX's pads [begin..., end...] as nabla's symmetric padding, one value per spatial axis.
std::vector<int64_t> symmetric_pads(const Importer& im, const onnx::NodeProto& node, size_t rank) {
  const std::string auto_pad = attr_string(node, "auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID") {
    refuse(im, node, "auto_pad " + auto_pad + " is not supported (explicit pads are)");
  }
  const std::vector<int64_t> pads = attr_ints(node, "pads", std::vector<int64_t>(2 * rank, 0));
  if (pads.size() != 2 * rank) refuse(im, node, "pads must hold two values per spatial axis");
  std::vector<int64_t> padding(rank);
  for (size_t i = 0; i < rank; ++i) {
    if (pads[i] != pads[rank + i]) refuse(im, node, "asymmetric pads are not supported");
    padding[i] = pads[i];
  }
  return padding;
}

// Whether `pads` are what nabla's "same" padding adds to this input (as Keras and ONNX's
// SAME_UPPER: the odd zero after), the form in which nabla's exporter writes it.
bool is_same_padding(const std::vector<int64_t>& pads, const Shape& sample,
                     const std::vector<int64_t>& kernel, const nn::ConvLayerOptions& o) {
  const size_t rank = kernel.size();
  for (size_t i = 0; i < rank; ++i) {
    const int64_t in = sample[1 + i], stride = o.stride[i];
    const int64_t out = (in + stride - 1) / stride;
    const int64_t total =
        std::max<int64_t>((out - 1) * stride + o.dilation[i] * (kernel[i] - 1) + 1 - in, 0);
    if (pads[i] != total / 2 || pads[rank + i] != total - total / 2) return false;
  }
  return true;
}

void conv(Importer& im, const onnx::NodeProto& node) {
  const nn::SymbolicTensor x = im.tensor(node, 0);
  const Tensor& w = im.constant(node, 1);
  const size_t rank = w.dim() - 2;
  if (rank != 1 && rank != 2) refuse(im, node, "only 1-d and 2-d convolutions are supported");
  const std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  nn::ConvLayerOptions o;
  o.in_channels = x.shape()[0];
  o.stride = attr_ints(node, "strides", std::vector<int64_t>(rank, 1));
  o.dilation = attr_ints(node, "dilations", std::vector<int64_t>(rank, 1));
  const std::vector<int64_t> pads = attr_ints(node, "pads", std::vector<int64_t>(2 * rank, 0));
  const std::string auto_pad = attr_string(node, "auto_pad", "NOTSET");
  const auto half = static_cast<std::ptrdiff_t>(rank);
  if (auto_pad == "SAME_UPPER" ||
      (auto_pad == "NOTSET" && pads.size() == 2 * rank &&
       !std::equal(pads.begin(), pads.begin() + half, pads.begin() + half) &&
       is_same_padding(pads, x.shape(), kernel, o))) {
    // Asymmetric pads that nabla's "same" mode adds to this input size.
    o.padding_mode = "same";
  } else {
    o.padding = symmetric_pads(im, node, rank);
  }
  o.groups = attr_int(node, "group", 1);
  o.bias = im.has_input(node, 2);
  std::map<std::string, Tensor> weights = {{"weight", w}};
  if (o.bias) weights["bias"] = im.constant(node, 2);
  nn::ModulePtr layer;
  if (rank == 2) {
    layer = std::make_shared<nn::Conv2d>(w.size(0), kernel, o);
  } else {
    layer = std::make_shared<nn::Conv1d>(w.size(0), kernel[0], o);
  }
  im.set_tensor(node, call_layer(im, node, layer, {x}, weights));
}

// ConvTranspose2d: the same weight layout [in, out / groups, kH, kW] and output size as PyTorch's.
void conv_transpose(Importer& im, const onnx::NodeProto& node) {
  const nn::SymbolicTensor x = im.tensor(node, 0);
  const Tensor& w = im.constant(node, 1);
  if (w.dim() != 4 || x.shape().size() != 3) {
    refuse(im, node, "only 2-d transposed convolutions of [N, C, H, W] are supported");
  }
  if (!attr_ints(node, "output_shape", {}).empty()) {
    refuse(im, node, "output_shape is not supported (pads and output_padding are)");
  }
  nn::ConvTransposeLayerOptions o;
  o.in_channels = w.size(0);
  o.stride = attr_ints(node, "strides", {1, 1});
  o.dilation = attr_ints(node, "dilations", {1, 1});
  o.output_padding = attr_ints(node, "output_padding", {0, 0});
  o.padding = symmetric_pads(im, node, 2);
  o.groups = attr_int(node, "group", 1);
  o.bias = im.has_input(node, 2);
  std::map<std::string, Tensor> weights = {{"weight", w}};
  if (o.bias) weights["bias"] = im.constant(node, 2);
  const std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  const auto layer = std::make_shared<nn::ConvTranspose2d>(w.size(1) * o.groups, kernel, o);
  im.set_tensor(node, call_layer(im, node, layer, {x}, weights));
}

// Resize of [N, C, H, W] by one scale on H and W (constant scales [1, 1, s, s]) as nabla's
// Upsample: PyTorch's nearest (asymmetric coordinates, floor) or bilinear (pytorch_half_pixel, or
// align_corners).
void resize(Importer& im, const onnx::NodeProto& node) {
  const nn::SymbolicTensor x = im.tensor(node, 0);
  if (x.shape().size() != 3) refuse(im, node, "only [N, C, H, W] inputs are supported");
  if (!im.has_input(node, 2) || im.has_input(node, 3)) {
    refuse(im, node, "only constant scales are supported (not sizes)");
  }
  const std::vector<float> scales = im.constant(node, 2).to_vector<float>();
  if (scales.size() != 4 || scales[0] != 1 || scales[1] != 1 || scales[2] != scales[3]) {
    refuse(im, node, "only scales [1, 1, s, s] (one factor on both spatial axes) are supported");
  }
  const std::string mode = attr_string(node, "mode", "nearest");
  const std::string coordinates = attr_string(node, "coordinate_transformation_mode", "half_pixel");
  nn::ModulePtr layer;
  if (mode == "nearest" && coordinates == "asymmetric" &&
      attr_string(node, "nearest_mode", "round_prefer_floor") == "floor") {
    layer = std::make_shared<nn::Upsample>(scales[2], "nearest");
  } else if (mode == "linear" &&
             (coordinates == "pytorch_half_pixel" || coordinates == "align_corners")) {
    layer = std::make_shared<nn::Upsample>(scales[2], "bilinear", coordinates == "align_corners");
  } else {
    refuse(im, node,
           "only PyTorch's nearest (asymmetric, floor) and bilinear (pytorch_half_pixel or "
           "align_corners) resizing are supported, got mode " +
               mode + " with " + coordinates);
  }
  im.set_tensor(node, call_layer(im, node, layer, {x}, {}));
}

void batch_norm(Importer& im, const onnx::NodeProto& node) {
  const nn::SymbolicTensor x = im.tensor(node, 0);
  if (node.output_size() > 1 && !node.output(1).empty()) {
    refuse(im, node, "the training form (running statistics as outputs) is not supported");
  }
  const Tensor& mean = im.constant(node, 3);
  nn::BatchNormOptions o;
  o.num_features = mean.numel();
  o.eps = attr_float(node, "epsilon", 1e-5f);
  // ONNX's momentum weighs the running value, nabla's (PyTorch's) the new batch statistic.
  o.momentum = 1.0 - attr_float(node, "momentum", 0.9f);
  const auto layer =
      std::make_shared<nn::BatchNorm>(o, x.shape().size() >= 3 ? "BatchNorm2d" : "BatchNorm1d");
  im.set_tensor(node, call_layer(im, node, layer, {x},
                                 {{"weight", im.constant(node, 1)},
                                  {"bias", im.constant(node, 2)},
                                  {"running_mean", mean},
                                  {"running_var", im.constant(node, 4)}}));
}

void pool(Importer& im, const onnx::NodeProto& node, bool max) {
  const nn::SymbolicTensor x = im.tensor(node, 0);
  if (x.shape().size() != 3) refuse(im, node, "only 2-d pooling of [N, C, H, W] is supported");
  if (max && node.output_size() > 1 && !node.output(1).empty()) {
    refuse(im, node, "the Indices output is not supported");
  }
  const std::vector<int64_t> dilations = attr_ints(node, "dilations", {1, 1});
  if (dilations != std::vector<int64_t>{1, 1}) refuse(im, node, "dilations are not supported");
  const std::vector<int64_t> kernel = attr_ints(node, "kernel_shape", {});
  if (kernel.size() != 2) refuse(im, node, "kernel_shape must hold 2 values");
  nn::Pool2dOptions o;
  o.stride = attr_ints(node, "strides", {1, 1});  // ONNX's default is 1, nabla's the kernel
  o.padding = symmetric_pads(im, node, 2);
  o.ceil_mode = attr_int(node, "ceil_mode", 0) != 0;
  if (o.ceil_mode) {
    // PyTorch (and nabla) drop a last window that would start in the right padding; ONNX keeps it.
    for (size_t i = 0; i < 2; ++i) {
      const int64_t in = x.shape()[1 + i], p = o.padding[i], s = o.stride[i];
      const int64_t out = (in + 2 * p - kernel[i] + s - 1) / s + 1;
      if ((out - 1) * s >= in + p) refuse(im, node, "ceil_mode with a last window in the padding");
    }
  }
  o.count_include_pad = attr_int(node, "count_include_pad", 0) != 0;
  const auto layer = std::make_shared<nn::Pool2d>(max ? nn::PoolKind::max : nn::PoolKind::average,
                                                  kernel, o, max ? "MaxPool2d" : "AvgPool2d");
  im.set_tensor(node, call_layer(im, node, layer, {x}, {}));
}

void concat(Importer& im, const onnx::NodeProto& node) {
  const int64_t axis = attr_int(node, "axis", 0);
  if (im.value(node, 0).kind == Value::Kind::ints) {
    // A shape computation (torch's Reshape targets): the values side by side.
    Value v;
    v.kind = Value::Kind::ints;
    for (int i = 0; i < node.input_size(); ++i) {
      const std::vector<int64_t>& part = im.ints(node, static_cast<size_t>(i));
      v.ints.insert(v.ints.end(), part.begin(), part.end());
    }
    v.ints_shape = {static_cast<int64_t>(v.ints.size())};
    im.set(node, 0, v);
    return;
  }
  std::vector<nn::SymbolicTensor> inputs;
  for (int i = 0; i < node.input_size(); ++i)
    inputs.push_back(im.tensor(node, static_cast<size_t>(i)));
  if (axis == 0) refuse(im, node, "joining along the batch axis is not supported");
  const nn::ModulePtr layer = std::make_shared<nn::Concatenate>(axis);
  im.set_tensor(node, inputs.size() == 1 ? inputs[0] : call_layer(im, node, layer, inputs, {}));
}

// torch's AvgPool2d (count_include_pad) exports a Pad before the AveragePool, all zero when the
// pooling has no padding: that one is the identity; any other is refused.
void pad(Importer& im, const onnx::NodeProto& node) {
  if (attr_string(node, "mode", "constant") != "constant") refuse(im, node, "only constant mode");
  const std::vector<int64_t> pads =
      im.has_input(node, 1) ? im.ints(node, 1) : attr_ints(node, "pads", {});
  for (int64_t p : pads) {
    if (p != 0) refuse(im, node, "only a Pad of zero width (the identity) is supported");
  }
  im.set_tensor(node, im.tensor(node, 0));
}

}  // namespace

bool convert_layer_op(Importer& im, const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  if (op == "Gemm") {
    gemm(im, node);
  } else if (op == "MatMul") {
    matmul(im, node);
  } else if (op == "Add") {
    add(im, node);
  } else if (op == "Sum") {
    sum(im, node);
  } else if (op == "Relu" || op == "Sigmoid" || op == "Tanh") {
    activation(im, node, op == "Relu" ? "relu" : op == "Sigmoid" ? "sigmoid" : "tanh");
  } else if (op == "LeakyRelu") {
    // ONNX's default alpha is 0.01, PyTorch's negative_slope. The float attribute is read as its
    // shortest decimal (0.2f as 0.2), so that the spec written from the import reads as written.
    const float alpha = attr_float(node, "alpha", 0.01f);
    char digits[32];
    const auto end = std::to_chars(digits, digits + sizeof(digits), alpha).ptr;
    activation(im, node, "leaky_relu", std::strtod(std::string(digits, end).c_str(), nullptr));
  } else if (op == "Softmax" || op == "LogSoftmax") {
    softmax(im, node, op == "Softmax" ? "softmax" : "log_softmax");
  } else if (op == "Elu") {
    if (attr_float(node, "alpha", 1.0f) != 1.0f) refuse(im, node, "only alpha = 1 is supported");
    activation(im, node, "elu");
  } else if (op == "Softplus") {
    activation(im, node, "softplus");
  } else if (op == "LayerNormalization") {
    layer_norm(im, node);
  } else if (op == "Conv") {
    conv(im, node);
  } else if (op == "BatchNormalization") {
    batch_norm(im, node);
  } else if (op == "MaxPool" || op == "AveragePool") {
    pool(im, node, op == "MaxPool");
  } else if (op == "GlobalAveragePool") {
    const nn::SymbolicTensor x = im.tensor(node, 0);
    if (x.shape().size() != 3) refuse(im, node, "only [N, C, H, W] inputs are supported");
    const auto layer = std::make_shared<nn::AdaptiveAvgPool2d>(std::vector<int64_t>{1, 1});
    im.set_tensor(node, call_layer(im, node, layer, {x}, {}));
  } else if (op == "Concat") {
    concat(im, node);
  } else if (op == "Pad") {
    pad(im, node);
  } else if (op == "ConvTranspose") {
    conv_transpose(im, node);
  } else if (op == "Resize") {
    resize(im, node);
  } else {
    return false;
  }
  return true;
}

}  // namespace nabla::io::onnx_import
