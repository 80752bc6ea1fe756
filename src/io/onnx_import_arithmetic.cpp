// Elementwise arithmetic and reductions as nabla layers: Add, Sub, Mul and Div of a tensor and a
// scalar constant (a chain of them folded into one Rescaling, x * scale + offset: PyTorch's input
// normalizations and scalings), Add, Sub and Mul of two tensors of one shape (the merge layers),
// GELU's erf formula as PyTorch 1.13 and nabla write it (x * 0.5 * (1 + erf(x / sqrt 2))) as
// nabla's GELU, GroupNorm's lowering (Reshape, InstanceNormalization, Reshape back, Mul, Add) as
// nabla's GroupNorm, and ReduceMean/ReduceMax over the axes nabla's pooling layers reduce.
#include <algorithm>
#include <cmath>
#include <optional>

#include "io/onnx_importer.hpp"

namespace nabla::io::onnx_import {
namespace {

constexpr double kInvSqrt2 = 0.70710678118654752;

// The value of a one-element float constant.
std::optional<double> scalar_of(const Value& v) {
  if (v.kind != Value::Kind::constant || v.constant.numel() != 1) return std::nullopt;
  return static_cast<double>(v.constant.reshape({1}).to_vector<float>()[0]);
}

// Equal up to float rounding: the constants of a formula come as f32 (0.70710677 for 1/sqrt 2).
bool near(double a, double b) { return std::abs(a - b) <= 1e-6 * std::max(1.0, std::abs(b)); }

// Input `input` as x * scale + offset: a pending scaled value that only this node reads extends
// (one Rescaling for the chain), anything else starts one.
Value scaled_input(Importer& im, const onnx::NodeProto& node, size_t input) {
  const Value& v = im.value(node, input);
  if (v.kind == Value::Kind::scaled && im.uses(node.input(static_cast<int>(input))) == 1) return v;
  Value out;
  out.kind = Value::Kind::scaled;
  out.tensor = im.tensor(node, input);
  return out;
}

// A pending value of `kind` read only by this node.
bool is_part(const Importer& im, const onnx::NodeProto& node, size_t input, Value::Kind kind) {
  return im.value(node, input).kind == kind && im.uses(node.input(static_cast<int>(input))) == 1;
}

bool same_tensor(const Value& v, const nn::SymbolicTensor& x) {
  return v.kind == Value::Kind::tensor && !v.time_major && v.tensor.node() == x.node();
}

void gelu(Importer& im, const onnx::NodeProto& node, const nn::SymbolicTensor& x) {
  im.set_tensor(node, call_layer(im, node, std::make_shared<nn::Activation>("gelu"), {x}, {}));
}

// The steps of GELU's formula after erf; false when the node is not one of them.
bool gelu_step(Importer& im, const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  for (size_t i = 0; i < 2; ++i) {
    const Value& part = im.value(node, i);
    const Value& other = im.value(node, 1 - i);
    const std::optional<double> c = scalar_of(other);
    Value next = part;
    if (op == "Add" && is_part(im, node, i, Value::Kind::gelu_erf) && c && near(*c, 1)) {
      next.kind = Value::Kind::gelu_one_plus;  // 1 + erf(x / sqrt 2)
    } else if (op == "Mul" && is_part(im, node, i, Value::Kind::gelu_one_plus) &&
               same_tensor(other, part.tensor)) {
      next.kind = Value::Kind::gelu_unhalved;  // x * (1 + erf(x / sqrt 2)), PyTorch's order
    } else if (op == "Mul" && is_part(im, node, i, Value::Kind::gelu_one_plus) &&
               is_part(im, node, 1 - i, Value::Kind::scaled) &&
               other.tensor.node() == part.tensor.node() && near(other.scale, 0.5) &&
               other.offset == 0) {
      gelu(im, node, part.tensor);  // (x * 0.5) * (1 + erf(x / sqrt 2)), nabla's order
      return true;
    } else if (op == "Mul" && is_part(im, node, i, Value::Kind::gelu_unhalved) && c &&
               near(*c, 0.5)) {
      gelu(im, node, part.tensor);
      return true;
    } else {
      continue;
    }
    im.set(node, 0, next);
    return true;
  }
  return false;
}

// InstanceNormalization with scale 1 and bias 0 of Reshape(x, [N, G, -1]): the start of
// GroupNorm's lowering (nabla has no InstanceNorm layer of its own).
void instance_norm(Importer& im, const onnx::NodeProto& node) {
  const nn::SymbolicTensor grouped = im.tensor(node, 0);
  const std::shared_ptr<nn::GraphNode>& producer = grouped.node();
  const auto* reshape = dynamic_cast<const nn::Reshape*>(producer->layer.get());
  const Tensor& scale = im.constant(node, 1);
  const Tensor& bias = im.constant(node, 2);
  const bool identity_affine = max(abs(scale - 1.0)).item() == 0 && max(abs(bias)).item() == 0;
  if (reshape == nullptr || im.uses(node.input(0)) != 1 || producer->inputs.size() != 1 ||
      reshape->target_shape().size() != 2 || reshape->target_shape()[1] != -1 || !identity_affine) {
    refuse(im, node,
           "InstanceNormalization is supported only as GroupNorm's lowering: of Reshape(x, "
           "[N, G, -1]) with scale 1 and bias 0, reshaped back, then the per-channel affine");
  }
  Value v;
  v.kind = Value::Kind::group_norm;
  v.tensor = nn::SymbolicTensor(producer->inputs[0]);
  v.groups = reshape->target_shape()[0];
  v.epsilon = attr_float(node, "epsilon", 1e-5f);
  const Shape& x = v.tensor.shape();
  if (x.size() < 2 || v.groups < 1 || x[0] % v.groups != 0) {
    refuse(im, node, "the groups must divide the channels of an [N, C, ...] input");
  }
  im.set(node, 0, v);
}

// Times the per-channel weight, then plus the bias ([C] or [C, 1, ...]): GroupNorm's affine.
bool group_norm_step(Importer& im, const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  for (size_t i = 0; i < 2; ++i) {
    const Value& part = im.value(node, i);
    const Value& other = im.value(node, 1 - i);
    const Value::Kind kind =
        op == "Mul" ? Value::Kind::group_norm_restored : Value::Kind::group_norm_scaled;
    if ((op != "Mul" && op != "Add") || !is_part(im, node, i, kind) ||
        other.kind != Value::Kind::constant) {
      continue;
    }
    const int64_t channels = part.tensor.shape()[0];
    const Tensor& c = other.constant;
    // PyTorch writes GroupNorm(affine=False) as Mul by 1 and Add of 0: one value for all channels.
    const bool one = c.numel() == 1;
    if (!one && (c.numel() != channels || c.dim() < 1 || c.size(0) != channels)) {
      refuse(im, node, "GroupNorm's weight and bias must hold one value per channel");
    }
    const Tensor per_channel =
        one ? ones({channels}) * scalar_of(other).value() : c.reshape({channels});
    if (op == "Mul") {
      Value next = part;
      next.kind = Value::Kind::group_norm_scaled;
      next.constant = per_channel;
      im.set(node, 0, next);
      return true;
    }
    const auto layer = std::make_shared<nn::GroupNorm>(part.groups, channels, part.epsilon, true);
    im.set_tensor(node, call_layer(im, node, layer, {part.tensor},
                                   {{"weight", part.constant}, {"bias", per_channel}}));
    return true;
  }
  return false;
}

void erf(Importer& im, const onnx::NodeProto& node) {
  const Value& v = im.value(node, 0);
  if (!is_part(im, node, 0, Value::Kind::scaled) || !near(v.scale, kInvSqrt2) || v.offset != 0) {
    refuse(im, node, "Erf is supported only in GELU's formula x * 0.5 * (1 + erf(x / sqrt 2))");
  }
  Value next = v;
  next.kind = Value::Kind::gelu_erf;
  im.set(node, 0, next);
}

// ReduceMean/ReduceMax over time of [N, T, F] (GlobalPooling1D), ReduceMean over the spatial axes
// of [N, C, H, W] (global average pooling, with or without the axes kept).
void reduce(Importer& im, const onnx::NodeProto& node, bool max) {
  const nn::SymbolicTensor x = im.tensor(node, 0);
  const auto rank = static_cast<int64_t>(x.shape().size()) + 1;
  std::vector<int64_t> axes = attr_ints(node, "axes", {});
  for (int64_t& a : axes) a = a < 0 ? a + rank : a;
  std::sort(axes.begin(), axes.end());
  const bool keepdims = attr_int(node, "keepdims", 1) != 0;
  nn::ModulePtr layer;
  if (rank == 3 && axes == std::vector<int64_t>{1} && !keepdims) {
    layer = std::make_shared<nn::GlobalPooling1D>(max);
  } else if (!max && rank == 4 && axes == std::vector<int64_t>{2, 3}) {
    layer = keepdims
                ? nn::ModulePtr(std::make_shared<nn::AdaptiveAvgPool2d>(std::vector<int64_t>{1, 1}))
                : std::make_shared<nn::GlobalAveragePooling2D>();
  } else {
    refuse(im, node,
           "only the mean or maximum over the time axis of [N, T, F] (keepdims = 0) and the mean "
           "over the spatial axes of [N, C, H, W] are supported");
  }
  im.set_tensor(node, call_layer(im, node, layer, {x}, {}));
}

}  // namespace

void arithmetic(Importer& im, const onnx::NodeProto& node) {
  if (gelu_step(im, node) || group_norm_step(im, node)) return;
  const std::string& op = node.op_type();
  const Value& a = im.value(node, 0);
  const Value& b = im.value(node, 1);
  const std::optional<double> ca = scalar_of(a), cb = scalar_of(b);
  if (ca && cb) refuse(im, node, "both operands are constants");
  if (ca || cb) {
    const size_t t = ca ? 1 : 0;  // the tensor's input
    const double c = ca ? *ca : *cb;
    Value v = scaled_input(im, node, t);
    if (op == "Add") {
      v.offset += c;
    } else if (op == "Sub" && t == 0) {  // x - c
      v.offset -= c;
    } else if (op == "Sub") {  // c - x
      v.scale = -v.scale;
      v.offset = c - v.offset;
    } else if (op == "Mul") {
      v.scale *= c;
      v.offset *= c;
    } else if (t == 0) {  // x / c
      v.scale /= c;
      v.offset /= c;
    } else {
      refuse(im, node, "dividing a constant by a tensor is not supported");
    }
    im.set(node, 0, v);
    return;
  }
  if (a.kind == Value::Kind::constant || b.kind == Value::Kind::constant) {
    refuse(im, node,
           "only a scalar constant is supported here (a per-element constant has no nabla layer, "
           "except as the bias of a MatMul)");
  }
  const nn::SymbolicTensor x = im.tensor(node, 0), y = im.tensor(node, 1);
  if (x.shape() != y.shape()) refuse(im, node, "broadcasting between two tensors is not supported");
  if (op == "Div") refuse(im, node, "dividing two tensors has no nabla layer");
  const nn::MergeKind kind = op == "Add"   ? nn::MergeKind::add
                             : op == "Sub" ? nn::MergeKind::subtract
                                           : nn::MergeKind::multiply;
  im.set_tensor(node, call_layer(im, node, std::make_shared<nn::Merge>(kind), {x, y}, {}));
}

bool convert_arithmetic_op(Importer& im, const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  if (op == "Sub" || op == "Mul" || op == "Div") {
    arithmetic(im, node);
  } else if (op == "Erf") {
    erf(im, node);
  } else if (op == "InstanceNormalization") {
    instance_norm(im, node);
  } else if (op == "ReduceMean" || op == "ReduceMax") {
    reduce(im, node, op == "ReduceMax");
  } else {
    return false;
  }
  return true;
}

}  // namespace nabla::io::onnx_import
