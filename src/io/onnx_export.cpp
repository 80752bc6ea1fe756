// io::export_onnx: walks the model's layers as Model::summary does (train::internal::layer_graph),
// converts each call to ONNX nodes (onnx_*_layers.cpp), checks the result with ONNX's own checker
// and shape inference, and writes it atomically.
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include "data/file_util.hpp"
#include "io/onnx_builder.hpp"
#include "nabla/onnx.hpp"
#include "train/internal.hpp"
#include "train/layer_graph.hpp"

namespace nabla::io {
namespace {

using onnx_export::GraphBuilder;
using onnx_export::LayerCall;

void add_value_info(onnx::ValueInfoProto& info, const std::string& name, DType dtype,
                    const Shape& shape) {
  info.set_name(name);
  onnx::TypeProto::Tensor& type = *info.mutable_type()->mutable_tensor_type();
  type.set_elem_type(dtype == DType::i64 ? onnx::TensorProto::INT64 : onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto& dims = *type.mutable_shape();
  dims.add_dim()->set_dim_param("N");  // any batch size
  for (size_t i = 1; i < shape.size(); ++i) dims.add_dim()->set_dim_value(shape[i]);
}

// The layer calls of the model in order, with the names of the values they read and write, the
// graph's inputs (name, dtype, shape) and outputs.
struct ModelWalk {
  std::vector<LayerCall> calls;
  std::vector<std::tuple<std::string, DType, Shape>> inputs;
  std::vector<std::string> outputs;
};

ModelWalk walk(const train::Model& model) {
  const std::vector<train::internal::LayerNode> nodes = train::internal::layer_graph(model);
  nn::Module& module = model.module();
  ModelWalk w;
  std::map<std::string, Shape> shapes;  // value name -> shape (batch axis 1)
  auto add_call = [&](nn::Module* layer, const train::internal::LayerNode& node,
                      std::vector<std::string> inputs, std::string output) {
    LayerCall& c = w.calls.emplace_back();
    c.layer = layer;
    c.name = node.name;
    c.inputs = std::move(inputs);
    for (const std::string& in : c.inputs) c.input_shapes.push_back(shapes.at(in));
    c.output = std::move(output);
    c.output_shape = node.output_shape;
    shapes[c.output] = c.output_shape;
  };
  if (auto* graph = dynamic_cast<nn::Graph*>(&module)) {
    // layer_graph lists the graph's own nodes, in the same order.
    for (size_t i = 0; i < nodes.size(); ++i) {
      const nn::GraphNode& g = *graph->nodes()[i];
      if (!g.layer) {
        w.inputs.emplace_back(g.name, g.dtype, nodes[i].output_shape);
        shapes[g.name] = nodes[i].output_shape;
      } else {
        add_call(g.layer.get(), nodes[i], nodes[i].inputs, nodes[i].name);
      }
    }
    for (const auto& output : graph->outputs()) w.outputs.push_back(output->name);
    return w;
  }
  // A Sequential (one node per layer, in order) or a single module: input "input", output
  // "output", each layer writing the value named after it.
  const Shape input_shape = train::internal::with_batch_axis(model.input_shape());
  w.inputs.emplace_back("input", module.input_dtype(), input_shape);
  shapes["input"] = input_shape;
  std::vector<nn::Module*> layers;
  if (auto* sequential = dynamic_cast<nn::Sequential*>(&module)) {
    for (const nn::ModulePtr& layer : sequential->layers()) layers.push_back(layer.get());
  } else {
    layers.push_back(&module);
  }
  NABLA_CHECK(!nodes.empty(), "export_onnx: the model has no layers");
  NABLA_CHECK(layers.size() == nodes.size(), "export_onnx: ", layers.size(), " layers but ",
              nodes.size(), " layer nodes");
  std::string previous = "input";
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string output = i + 1 == nodes.size() ? "output" : nodes[i].name;
    add_call(layers[i], nodes[i], {previous}, output);
    previous = output;
  }
  w.outputs.push_back(previous);
  return w;
}

onnx::ModelProto to_onnx(const train::Model& model, const std::string& path,
                         const OnnxExportOptions& options) {
  onnx::ModelProto proto;
  proto.set_ir_version(kOnnxIrVersion);
  proto.set_producer_name("nabla");
  onnx::OperatorSetIdProto& opset = *proto.add_opset_import();
  opset.set_domain("");
  opset.set_version(kOnnxOpset);
  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name(!options.graph_name.empty() ? options.graph_name
                 : !model.name().empty()     ? model.name()
                                             : "nabla_model");
  GraphBuilder builder(graph);

  const ModelWalk w = walk(model);
  std::map<std::string, Shape> output_shapes;
  for (const auto& [name, dtype, shape] : w.inputs) {
    add_value_info(*graph.add_input(), name, dtype, shape);
    output_shapes[name] = shape;
  }
  std::vector<std::string> unsupported;
  for (const LayerCall& call : w.calls) {
    try {
      onnx_export::convert_layer(call, builder);
    } catch (const onnx_export::Unsupported& e) {
      unsupported.push_back(detail::str(call.name, " (", call.layer->type_name(), "): ", e.what()));
    }
    output_shapes[call.output] = call.output_shape;
  }
  if (!unsupported.empty()) {
    std::string list;
    for (const std::string& u : unsupported) list += (list.empty() ? "" : "; ") + u;
    detail::throw_error(detail::str("export_onnx: ", path, ": ", unsupported.size(),
                                    unsupported.size() == 1 ? " layer has" : " layers have",
                                    " no ONNX form: ", list));
  }
  for (const std::string& name : w.outputs) {
    add_value_info(*graph.add_output(), name, DType::f32, output_shapes.at(name));
  }
  return proto;
}

}  // namespace

bool onnx_export_available() { return true; }

void export_onnx(const train::Model& model, const std::string& path,
                 const OnnxExportOptions& options) {
  NABLA_CHECK(model.built(), "export_onnx: ", path,
              ": the model is not built (its input shape is unknown); call build() or fit() first");
  nn::Module& module = model.module();
  const bool was_training = module.is_training();
  module.eval();  // the parts a converter runs for their shapes must not touch running stats
  onnx::ModelProto proto;
  try {
    proto = to_onnx(model, path, options);
  } catch (...) {
    module.train(was_training);
    throw;
  }
  module.train(was_training);
  // ONNX's own checks: the checker (operators, attributes, names, opset) and strict shape
  // inference, whose result (every intermediate shape) stays in the file for viewers.
  try {
    onnx::checker::check_model(proto);
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
    onnx::checker::check_model(proto);
  } catch (const std::exception& e) {
    detail::throw_error(
        detail::str("export_onnx: ", path, ": the ONNX checker refused the model: ", e.what()));
  }
  std::string bytes;
  NABLA_CHECK(proto.SerializeToString(&bytes), "export_onnx: ", path,
              ": the model could not be serialized (over protobuf's 2 GiB limit?)");
  data::internal::AtomicFile file(path, "export_onnx");
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace nabla::io
