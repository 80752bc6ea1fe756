// ONNX forms of the core layers: Dense/Linear, activations, Rescaling, Flatten, Reshape, dropout
// (the identity at inference), the merges of graph models (Add, Subtract, Multiply, Average,
// Maximum, Minimum, Concatenate), a Sequential nested as a layer, and the highway layer.
#include "io/onnx_builder.hpp"
#include "nabla/ops.hpp"

namespace nabla::io::onnx_export {
namespace {

void convert_linear(const LayerCall& c, const nn::Linear& l, GraphBuilder& b) {
  const bool has_activation = !l.activation().empty() && l.activation() != "linear";
  const std::string affine = has_activation ? b.fresh(c.name, "affine") : c.output;
  if (c.input_shapes[0].size() == 2) {
    // [N, in] x [out, in]^T + b: Gemm with transB reads nabla's (PyTorch's) weight layout as is.
    std::vector<std::string> inputs = {c.inputs[0], b.weight(c.name + ".weight", l.weight())};
    if (l.bias().defined()) inputs.push_back(b.weight(c.name + ".bias", l.bias()));
    GraphBuilder::set(b.node("Gemm", inputs, {affine}, c.name + "/Gemm"), "transB", int64_t{1});
  } else {
    // [N, ..., in]: Gemm takes matrices only, so MatMul with the weight stored transposed.
    const std::string w = b.weight(c.name + ".weight_t", l.weight().t());
    if (l.bias().defined()) {
      const std::string product = b.value("MatMul", {c.inputs[0], w}, c.name);
      b.node("Add", {product, b.weight(c.name + ".bias", l.bias())}, {affine}, c.name + "/Add");
    } else {
      b.node("MatMul", {c.inputs[0], w}, {affine}, c.name + "/MatMul");
    }
  }
  if (has_activation) emit_activation(b, l.activation(), affine, c.output, c.name);
}

// A chain of layers inside one layer (a Sequential used as a block), each part on the one before.
void convert_chain(const LayerCall& c, const nn::Sequential& chain, GraphBuilder& b) {
  const auto parts = chain.named_children();
  if (parts.empty()) b.node("Identity", {c.inputs[0]}, {c.output}, c.name + "/Identity");
  std::string value = c.inputs[0];
  Shape shape = c.input_shapes[0];
  for (size_t i = 0; i < parts.size(); ++i) {
    value = convert_part(c, *parts[i].second, parts[i].first, value, Shape(shape), shape, b,
                         i + 1 == parts.size() ? c.output : "");
  }
}

void convert_merge(const LayerCall& c, const nn::Merge& m, GraphBuilder& b) {
  const std::string prefix = c.name + "/";
  switch (m.kind()) {
    case nn::MergeKind::add:
      b.node("Sum", c.inputs, {c.output}, prefix + "Sum");
      return;
    case nn::MergeKind::average:
      b.node("Mean", c.inputs, {c.output}, prefix + "Mean");
      return;
    case nn::MergeKind::maximum:
      b.node("Max", c.inputs, {c.output}, prefix + "Max");
      return;
    case nn::MergeKind::minimum:
      b.node("Min", c.inputs, {c.output}, prefix + "Min");
      return;
    case nn::MergeKind::subtract:
      b.node("Sub", c.inputs, {c.output}, prefix + "Sub");
      return;
    case nn::MergeKind::multiply: {
      // Mul is binary: a left-to-right product of the inputs.
      std::string product = c.inputs[0];
      for (size_t i = 1; i + 1 < c.inputs.size(); ++i) {
        product = b.value("Mul", {product, c.inputs[i]}, c.name);
      }
      b.node("Mul", {product, c.inputs.back()}, {c.output}, prefix + "Mul");
      return;
    }
  }
}

// Highway: H and T as the Linear layers they are, then x + T (H - x).
void convert_highway(const LayerCall& c, const nn::Highway& h, GraphBuilder& b) {
  LayerCall part = c;
  part.name = c.name + ".transform";
  part.output = b.fresh(c.name, "transform");
  convert_linear(part, *h.transform(), b);
  const std::string transform = part.output;
  part.name = c.name + ".gate";
  part.output = b.fresh(c.name, "gate");
  convert_linear(part, *h.gate(), b);
  const std::string change = b.value("Sub", {transform, c.inputs[0]}, c.name);
  const std::string gated = b.value("Mul", {part.output, change}, c.name);
  b.node("Add", {c.inputs[0], gated}, {c.output}, c.name + "/Add");
}

}  // namespace

bool convert_core_layer(const LayerCall& c, GraphBuilder& b) {
  nn::Module* layer = c.layer;
  if (auto* linear = dynamic_cast<nn::Linear*>(layer)) {
    convert_linear(c, *linear, b);
  } else if (auto* activation = dynamic_cast<nn::Activation*>(layer)) {
    emit_activation(b, activation->name(), c.inputs[0], c.output, c.name,
                    activation->negative_slope());
  } else if (auto* rescaling = dynamic_cast<nn::Rescaling*>(layer)) {
    const std::string scale = b.scalar(c.name + ".scale", static_cast<float>(rescaling->scale()));
    if (rescaling->offset() == 0) {
      b.node("Mul", {c.inputs[0], scale}, {c.output}, c.name + "/Mul");
    } else {
      const std::string scaled = b.value("Mul", {c.inputs[0], scale}, c.name);
      const std::string offset =
          b.scalar(c.name + ".offset", static_cast<float>(rescaling->offset()));
      b.node("Add", {scaled, offset}, {c.output}, c.name + "/Add");
    }
  } else if (dynamic_cast<nn::Flatten*>(layer)) {
    // ONNX's Flatten(axis=1) gives [N, 1] for a batch of scalars, as nabla's.
    GraphBuilder::set(b.node("Flatten", {c.inputs[0]}, {c.output}, c.name + "/Flatten"), "axis",
                      int64_t{1});
  } else if (auto* reshape = dynamic_cast<nn::Reshape*>(layer)) {
    // 0 copies the (dynamic) batch axis; the layer's own -1, if any, stays.
    std::vector<int64_t> target = {0};
    target.insert(target.end(), reshape->target_shape().begin(), reshape->target_shape().end());
    b.node("Reshape", {c.inputs[0], b.ints(c.name + ".shape", target)}, {c.output},
           c.name + "/Reshape");
  } else if (auto* permute = dynamic_cast<nn::Permute*>(layer)) {
    std::vector<int64_t> perm = {0};
    perm.insert(perm.end(), permute->dims().begin(), permute->dims().end());
    GraphBuilder::set(b.node("Transpose", {c.inputs[0]}, {c.output}, c.name + "/Transpose"), "perm",
                      perm);
  } else if (dynamic_cast<nn::Dropout*>(layer) || dynamic_cast<nn::Dropout2d*>(layer)) {
    // The exported model is the inference form, where dropout passes its input through.
    b.node("Identity", {c.inputs[0]}, {c.output}, c.name + "/Identity");
  } else if (auto* merge = dynamic_cast<nn::Merge*>(layer)) {
    convert_merge(c, *merge, b);
  } else if (auto* concat = dynamic_cast<nn::Concatenate*>(layer)) {
    GraphBuilder::set(b.node("Concat", c.inputs, {c.output}, c.name + "/Concat"), "axis",
                      concat->axis());
  } else if (auto* sequential = dynamic_cast<nn::Sequential*>(layer)) {
    convert_chain(c, *sequential, b);
  } else if (auto* highway = dynamic_cast<nn::Highway*>(layer)) {
    convert_highway(c, *highway, b);
  } else {
    return false;
  }
  return true;
}

}  // namespace nabla::io::onnx_export
