// The ONNX graph builder and the dispatch from a layer to its family's converter.
#include "io/onnx_builder.hpp"

#include <cstring>

#include "nabla/ops.hpp"

namespace nabla::io::onnx_export {

std::string GraphBuilder::unique(const std::string& name) {
  std::string candidate = name;
  for (int k = 1; used_.count(candidate); ++k) candidate = name + "_" + std::to_string(k);
  used_.insert(candidate);
  return candidate;
}

onnx::NodeProto& GraphBuilder::node(const std::string& op, const std::vector<std::string>& inputs,
                                    const std::vector<std::string>& outputs,
                                    const std::string& name) {
  onnx::NodeProto& n = *graph_.add_node();
  n.set_op_type(op);
  n.set_name(unique(name));
  for (const std::string& in : inputs) n.add_input(in);
  for (const std::string& out : outputs) {
    used_.insert(out);
    n.add_output(out);
  }
  return n;
}

std::string GraphBuilder::value(const std::string& op, const std::vector<std::string>& inputs,
                                const std::string& prefix) {
  const std::string out = unique(prefix + "/" + op);
  node(op, inputs, {out}, out);
  return out;
}

onnx::TensorProto& GraphBuilder::initializer(const std::string& name, int data_type,
                                             const Shape& shape) {
  onnx::TensorProto& t = *graph_.add_initializer();
  t.set_name(unique(name));
  t.set_data_type(data_type);
  for (int64_t d : shape) t.add_dims(d);
  return t;
}

std::string GraphBuilder::floats(const std::string& name, const Shape& shape,
                                 const std::vector<float>& values) {
  onnx::TensorProto& t = initializer(name, onnx::TensorProto::FLOAT, shape);
  // Raw little-endian bytes: the compact form, and exactly the f32 values nabla computes with.
  std::string bytes(values.size() * sizeof(float), '\0');
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  t.set_raw_data(std::move(bytes));
  return t.name();
}

std::string GraphBuilder::weight(const std::string& name, const Tensor& value) {
  const Tensor f32 = value.detach().to(DType::f32).contiguous();
  return floats(name, f32.shape(), f32.to_vector<float>());
}

std::string GraphBuilder::ints(const std::string& name, const std::vector<int64_t>& values) {
  onnx::TensorProto& t =
      initializer(name, onnx::TensorProto::INT64, {static_cast<int64_t>(values.size())});
  for (int64_t v : values) t.add_int64_data(v);
  return t.name();
}

std::string GraphBuilder::bools(const std::string& name, const Shape& shape,
                                const std::vector<bool>& values) {
  onnx::TensorProto& t = initializer(name, onnx::TensorProto::BOOL, shape);
  // ONNX keeps bools in int32_data, one value each.
  for (bool v : values) t.add_int32_data(v ? 1 : 0);
  return t.name();
}

void GraphBuilder::set(onnx::NodeProto& node, const std::string& key, int64_t value) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(key);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(value);
}

void GraphBuilder::set(onnx::NodeProto& node, const std::string& key, float value) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(key);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(value);
}

void GraphBuilder::set(onnx::NodeProto& node, const std::string& key, const std::string& value) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(key);
  a.set_type(onnx::AttributeProto::STRING);
  a.set_s(value);
}

void GraphBuilder::set(onnx::NodeProto& node, const std::string& key,
                       const std::vector<int64_t>& values) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(key);
  a.set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a.add_ints(v);
}

void GraphBuilder::set(onnx::NodeProto& node, const std::string& key,
                       const std::vector<std::string>& values) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(key);
  a.set_type(onnx::AttributeProto::STRINGS);
  for (const std::string& v : values) a.add_strings(v);
}

void emit_activation(GraphBuilder& b, const std::string& activation, const std::string& input,
                     const std::string& output, const std::string& prefix, double negative_slope) {
  const std::string& a = activation;
  if (a.empty() || a == "linear") {
    b.node("Identity", {input}, {output}, prefix + "/Identity");
  } else if (a == "relu" || a == "sigmoid" || a == "tanh" || a == "softplus") {
    // Softplus: nabla returns x itself above x = 20, where log1p(exp(x)) differs from x by
    // at most 2e-9, far below f32's resolution there.
    const std::string op = a == "relu"      ? "Relu"
                           : a == "sigmoid" ? "Sigmoid"
                           : a == "tanh"    ? "Tanh"
                                            : "Softplus";
    b.node(op, {input}, {output}, prefix + "/" + op);
  } else if (a == "softmax" || a == "log_softmax") {
    // nabla's activation softmax is over the last axis; opset 13+ Softmax takes exactly one axis.
    const std::string op = a == "softmax" ? "Softmax" : "LogSoftmax";
    GraphBuilder::set(b.node(op, {input}, {output}, prefix + "/" + op), "axis", int64_t{-1});
  } else if (a == "leaky_relu") {
    GraphBuilder::set(b.node("LeakyRelu", {input}, {output}, prefix + "/LeakyRelu"), "alpha",
                      static_cast<float>(negative_slope));
  } else if (a == "elu") {
    GraphBuilder::set(b.node("Elu", {input}, {output}, prefix + "/Elu"), "alpha", 1.0f);
  } else if (a == "gelu") {
    // Opset 17 has no Gelu (it came in opset 20): nabla's exact form 0.5 x (1 + erf(x / sqrt 2)).
    const std::string scaled =
        b.value("Mul", {input, b.scalar(prefix + ".inv_sqrt2", 0.70710678118654752f)}, prefix);
    const std::string erf = b.value("Erf", {scaled}, prefix);
    const std::string one_plus = b.value("Add", {erf, b.scalar(prefix + ".one", 1.0f)}, prefix);
    const std::string half_x = b.value("Mul", {input, b.scalar(prefix + ".half", 0.5f)}, prefix);
    b.node("Mul", {half_x, one_plus}, {output}, prefix + "/Mul");
  } else {
    throw Unsupported("activation \"" + a + "\" has no ONNX form here");
  }
}

void convert_layer(const LayerCall& call, GraphBuilder& b) {
  if (convert_core_layer(call, b) || convert_cnn_layer(call, b) ||
      convert_sequence_layer(call, b) || convert_attention_layer(call, b)) {
    return;
  }
  throw Unsupported("no ONNX converter for this layer type");
}

std::string convert_part(const LayerCall& call, nn::Module& part, const std::string& part_name,
                         const std::string& input, const Shape& input_shape, Shape& output_shape,
                         GraphBuilder& b, const std::string& output) {
  LayerCall c;
  c.layer = &part;
  c.name = call.name + "." + part_name;
  c.inputs = {input};
  c.input_shapes = {input_shape};
  {
    NoGradGuard no_grad;
    output_shape = part.forward(zeros(input_shape, DType::f32)).shape();
  }
  c.output_shape = output_shape;
  c.output = output.empty() ? c.name : output;
  try {
    convert_layer(c, b);
  } catch (const Unsupported& e) {
    throw Unsupported("its part " + part_name + " (" + part.type_name() + "): " + e.what());
  }
  return c.output;
}

nn::Module& child(const nn::Module& layer, const std::string& name) {
  for (const auto& [child_name, module] : layer.named_children()) {
    if (child_name == name) return *module;
  }
  throw Unsupported("its part \"" + name + "\" is missing (was the model built?)");
}

}  // namespace nabla::io::onnx_export
