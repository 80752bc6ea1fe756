// io::import_onnx: reads an ONNX file, checks it (ONNX's checker, the opset, every op type known)
// and turns its nodes, in file order, into layer calls of an nn::Graph (onnx_import_layers.cpp,
// onnx_import_shapes.cpp, onnx_import_recurrent.cpp); the weights come from the initializers and
// Constant nodes.
#include <onnx/checker.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "io/onnx_importer.hpp"
#include "nabla/onnx.hpp"

namespace nabla::io {
namespace onnx_import {

int64_t attr_int(const onnx::NodeProto& node, const std::string& name, int64_t fallback) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return a.i();
  return fallback;
}

float attr_float(const onnx::NodeProto& node, const std::string& name, float fallback) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return a.f();
  return fallback;
}

std::string attr_string(const onnx::NodeProto& node, const std::string& name,
                        const std::string& fallback) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return a.s();
  return fallback;
}

std::vector<int64_t> attr_ints(const onnx::NodeProto& node, const std::string& name,
                               std::vector<int64_t> fallback) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return {a.ints().begin(), a.ints().end()};
  return fallback;
}

const onnx::TensorProto* attr_tensor(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute())
    if (a.name() == name && a.has_t()) return &a.t();
  return nullptr;
}

void refuse(const Importer& im, const onnx::NodeProto& node, const std::string& why) {
  detail::throw_error(detail::str("import_onnx: ", im.path(), ": ", im.where(node), ": ", why));
}

bool is_supported_op(const std::string& op) {
  static const std::set<std::string> kOps = {
      // layers
      "Gemm", "MatMul", "Add", "Sum", "Relu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Elu",
      "Softplus", "LayerNormalization", "LeakyRelu", "Flatten", "Reshape", "Conv",
      "BatchNormalization", "MaxPool", "AveragePool", "GlobalAveragePool", "Concat", "Identity",
      "Dropout", "Pad", "LSTM", "GRU", "Sub", "Mul", "Div", "Erf", "ReduceMean", "ReduceMax",
      "ConvTranspose", "Resize", "InstanceNormalization",
      // constants, shape computations and the layouts around LSTM/GRU
      "Constant", "Shape", "Gather", "Unsqueeze", "Squeeze", "ConstantOfShape", "Transpose",
      "Slice"};
  return kOps.count(op) > 0;
}

void convert_node(Importer& importer, const onnx::NodeProto& node, int index) {
  if (convert_layer_op(importer, node) || convert_shape_op(importer, node) ||
      convert_recurrent_op(importer, node, index) || convert_arithmetic_op(importer, node)) {
    return;
  }
  // check_ops refused every other op type before the conversion began.
  detail::throw_error(
      detail::str("import_onnx: ", importer.path(), ": ", importer.where(node), ": no converter"));
}

namespace {

Shape dims_of(const onnx::TensorProto& t) { return {t.dims().begin(), t.dims().end()}; }

// The number of values of a tensor with these dims; -1 for a negative dimension or a count past
// 2^40 (a damaged file), so that nothing is allocated for it.
int64_t count(const onnx::TensorProto& t) {
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && n > (int64_t{1} << 40) / d)) return -1;
    n *= d;
  }
  return n;
}

// The values of `t` as T (float or int64): its raw data (little-endian, as ONNX stores it) or its
// typed field, checked against its dims before anything is allocated.
template <typename T, typename Typed>
std::vector<T> tensor_values(const onnx::TensorProto& t, const Typed& typed,
                             const std::string& path) {
  const int64_t n = count(t);
  NABLA_CHECK(n >= 0, "import_onnx: ", path, ": tensor '", t.name(), "' has invalid dims");
  NABLA_CHECK(t.data_location() != onnx::TensorProto::EXTERNAL, "import_onnx: ", path, ": tensor '",
              t.name(), "' is stored in an external file, which is not supported");
  if (t.has_raw_data()) {
    NABLA_CHECK(t.raw_data().size() == static_cast<size_t>(n) * sizeof(T), "import_onnx: ", path,
                ": tensor '", t.name(), "' holds ", t.raw_data().size(), " bytes, its dims need ",
                static_cast<size_t>(n) * sizeof(T));
    std::vector<T> values(static_cast<size_t>(n));
    std::memcpy(values.data(), t.raw_data().data(), t.raw_data().size());
    return values;
  }
  NABLA_CHECK(typed.size() == n, "import_onnx: ", path, ": tensor '", t.name(), "' holds ",
              typed.size(), " values, its dims need ", n);
  return std::vector<T>(typed.begin(), typed.end());
}

}  // namespace

Tensor float_tensor(const onnx::TensorProto& t, const std::string& path) {
  NABLA_CHECK(t.data_type() == onnx::TensorProto::FLOAT, "import_onnx: ", path, ": tensor '",
              t.name(), "' has ONNX data type ", t.data_type(), ", expected float (1)");
  return from_vector(tensor_values<float>(t, t.float_data(), path), dims_of(t));
}

std::vector<int64_t> int_values(const onnx::TensorProto& t, const std::string& path) {
  NABLA_CHECK(t.data_type() == onnx::TensorProto::INT64, "import_onnx: ", path, ": tensor '",
              t.name(), "' has ONNX data type ", t.data_type(), ", expected int64 (7)");
  return tensor_values<int64_t>(t, t.int64_data(), path);
}

nn::SymbolicTensor call_layer(Importer& importer, const onnx::NodeProto& node,
                              const nn::ModulePtr& layer,
                              const std::vector<nn::SymbolicTensor>& inputs,
                              const std::map<std::string, Tensor>& weights) {
  nn::SymbolicTensor out;
  try {
    out = inputs.size() == 1 ? (*layer)(inputs[0]) : (*layer)(inputs);
  } catch (const std::exception& e) {
    detail::throw_error(detail::str("import_onnx: ", importer.path(), ": ", importer.where(node),
                                    ": the ", layer->type_name(),
                                    " layer refused its input: ", e.what()));
  }
  std::map<std::string, Tensor> own;
  for (const auto& [name, t] : layer->named_parameters(true)) own[name] = t;
  for (const auto& [name, t] : layer->named_buffers(true)) own[name] = t;
  for (const auto& [name, value] : weights) {
    const auto it = own.find(name);
    NABLA_CHECK(it != own.end(), "import_onnx: ", importer.path(), ": ", importer.where(node),
                ": the ", layer->type_name(), " layer has no tensor '", name, "'");
    NABLA_CHECK(it->second.shape() == value.shape(), "import_onnx: ", importer.path(), ": ",
                importer.where(node), ": ", name, " has shape ", value.shape(), ", the ",
                layer->type_name(), " layer expects ", it->second.shape());
    it->second.copy_(value);
  }
  return out;
}

Importer::Importer(const onnx::ModelProto& model, std::string path)
    : graph_(model.graph()), path_(std::move(path)) {
  for (const auto& o : model.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") opset_ = o.version();
  }
  for (const auto& node : graph_.node()) {
    for (const std::string& in : node.input()) {
      if (!in.empty()) ++uses_[in];  // "" marks an optional input left out
    }
  }
  for (const auto& out : graph_.output()) ++uses_[out.name()];
}

std::string Importer::where(const onnx::NodeProto& node) const {
  return node.op_type() + " node '" + node.name() + "'";
}

int Importer::uses(const std::string& name) const {
  const auto it = uses_.find(name);
  return it == uses_.end() ? 0 : it->second;
}

bool Importer::has_input(const onnx::NodeProto& node, size_t input) const {
  return static_cast<int>(input) < node.input_size() &&
         !node.input(static_cast<int>(input)).empty();
}

const Value& Importer::value(const onnx::NodeProto& node, size_t input) const {
  NABLA_CHECK(has_input(node, input), "import_onnx: ", path_, ": ", where(node), " has no input ",
              input);
  const std::string& name = node.input(static_cast<int>(input));
  const auto it = values_.find(name);
  NABLA_CHECK(it != values_.end(), "import_onnx: ", path_, ": ", where(node), " reads '", name,
              "', which no earlier node, input or initializer gives");
  return it->second;
}

nn::SymbolicTensor Importer::tensor(const onnx::NodeProto& node, size_t input) {
  value(node, input);  // an Error if there is no such value
  return materialize(node.input(static_cast<int>(input)), node);
}

nn::SymbolicTensor Importer::materialize(const std::string& name, const onnx::NodeProto& reader) {
  const Value& v = values_.at(name);
  if (v.kind == Value::Kind::matmul) {
    // No Add took it as its bias: a Dense without one. Weight [in, out] -> nabla's [out, in].
    const auto layer = std::make_shared<nn::Linear>(
        v.constant.size(1), nn::LinearOptions{.in_features = v.constant.size(0), .bias = false});
    Value built;
    built.tensor =
        call_layer(*this, reader, layer, {v.tensor}, {{"weight", v.constant.t().contiguous()}});
    values_[name] = built;
    return built.tensor;
  }
  if (v.kind == Value::Kind::scaled) {
    // No GELU formula took it: x * scale + offset as one Rescaling layer.
    Value built;
    built.tensor = call_layer(*this, reader, std::make_shared<nn::Rescaling>(v.scale, v.offset),
                              {v.tensor}, {});
    values_[name] = built;
    return built.tensor;
  }
  if (v.kind == Value::Kind::group_norm_restored || v.kind == Value::Kind::group_norm_scaled) {
    // No Add (or no Mul) followed: GroupNorm without the shift (or without affine parameters).
    const bool affine = v.kind == Value::Kind::group_norm_scaled;
    const int64_t channels = v.tensor.shape()[0];
    const auto layer = std::make_shared<nn::GroupNorm>(v.groups, channels, v.epsilon, affine);
    std::map<std::string, Tensor> weights;
    if (affine) weights = {{"weight", v.constant}, {"bias", zeros({channels})}};
    Value built;
    built.tensor = call_layer(*this, reader, layer, {v.tensor}, weights);
    values_[name] = built;
    return built.tensor;
  }
  NABLA_CHECK(v.kind != Value::Kind::group_norm, "import_onnx: ", path_, ": ", where(reader),
              " reads '", name,
              "', GroupNorm's InstanceNormalization of [N, G, -1] before it is reshaped back; "
              "nabla's GroupNorm layer computes only the whole lowering");
  NABLA_CHECK(v.kind != Value::Kind::gelu_erf && v.kind != Value::Kind::gelu_one_plus &&
                  v.kind != Value::Kind::gelu_unhalved,
              "import_onnx: ", path_, ": ", where(reader), " reads '", name,
              "', a part of GELU's formula x * 0.5 * (1 + erf(x / sqrt 2)); nabla's GELU layer "
              "computes only the whole formula");
  if (v.kind == Value::Kind::recurrent && v.view == RnnView::y_batch_first) {
    // Every step, batch-first: what nabla's layer gives with return_sequences.
    return recurrent_output(v, true, reader);
  }
  NABLA_CHECK(v.kind == Value::Kind::tensor && !v.time_major, "import_onnx: ", path_, ": ",
              where(reader), " reads '", name, "' ",
              v.kind == Value::Kind::recurrent ? "(an LSTM/GRU output) in a layout"
              : v.time_major                   ? "(a [T, N, F] transpose, which only LSTM/GRU read)"
                                               : "(a constant) as data, which",
              " nabla's layers do not take");
  return v.tensor;
}

const Tensor& Importer::constant(const onnx::NodeProto& node, size_t input) const {
  const Value& v = value(node, input);
  NABLA_CHECK(v.kind == Value::Kind::constant, "import_onnx: ", path_, ": ", where(node),
              ": input '", node.input(static_cast<int>(input)),
              "' must be a float initializer or Constant");
  return v.constant;
}

const std::vector<int64_t>& Importer::ints(const onnx::NodeProto& node, size_t input) const {
  const Value& v = value(node, input);
  NABLA_CHECK(v.kind == Value::Kind::ints, "import_onnx: ", path_, ": ", where(node), ": input '",
              node.input(static_cast<int>(input)),
              "' must be an int64 initializer, Constant or shape computation");
  return v.ints;
}

void Importer::set(const onnx::NodeProto& node, size_t output, Value value) {
  if (static_cast<int>(output) < node.output_size() &&
      !node.output(static_cast<int>(output)).empty()) {
    values_[node.output(static_cast<int>(output))] = std::move(value);
  }
}

void Importer::set_tensor(const onnx::NodeProto& node, nn::SymbolicTensor tensor) {
  Value v;
  v.tensor = std::move(tensor);
  set(node, 0, std::move(v));
}

Value Importer::initializer(const onnx::TensorProto& t) const {
  Value v;
  if (t.data_type() == onnx::TensorProto::INT64) {
    v.kind = Value::Kind::ints;
    v.ints = int_values(t, path_);
    v.ints_shape = dims_of(t);
  } else {
    v.kind = Value::Kind::constant;
    v.constant = float_tensor(t, path_);
  }
  return v;
}

void Importer::convert(int index) {
  const onnx::NodeProto& node = graph_.node(index);
  if (node.op_type() == "Constant") {
    const onnx::TensorProto* t = attr_tensor(node, "value");
    NABLA_CHECK(t != nullptr, "import_onnx: ", path_, ": ", where(node),
                ": only a Constant with a tensor 'value' is supported");
    set(node, 0, initializer(*t));
    return;
  }
  convert_node(*this, node, index);
}

nn::ModulePtr Importer::run() {
  std::set<std::string> initializers;
  for (const auto& t : graph_.initializer()) {
    values_[t.name()] = initializer(t);
    initializers.insert(t.name());
  }
  std::vector<nn::SymbolicTensor> inputs;
  for (const auto& in : graph_.input()) {
    if (initializers.count(in.name())) continue;  // IR < 4 lists initializers as inputs too
    const auto& type = in.type().tensor_type();
    // int64: token ids, which an Embedding (a Gather on a constant table) reads.
    NABLA_CHECK(type.elem_type() == onnx::TensorProto::FLOAT ||
                    type.elem_type() == onnx::TensorProto::INT64,
                "import_onnx: ", path_, ": graph input '", in.name(), "' has ONNX data type ",
                type.elem_type(), ", expected float (1) or int64 (7)");
    Shape shape;
    for (int i = 1; i < type.shape().dim_size(); ++i) {
      const auto& dim = type.shape().dim(i);
      NABLA_CHECK(dim.has_dim_value(), "import_onnx: ", path_, ": graph input '", in.name(),
                  "' has a dynamic axis ", i, "; only the batch axis (0) may be dynamic");
      shape.push_back(dim.dim_value());
    }
    NABLA_CHECK(type.shape().dim_size() >= 2, "import_onnx: ", path_, ": graph input '", in.name(),
                "' must have a batch axis and at least one more");
    // nabla's names hold no '.' (it joins state-dict keys): torch's default "input.1" -> "input_1".
    std::string name = in.name();
    for (char& c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
    }
    Value v;
    v.tensor = nn::Input(shape, name,
                         type.elem_type() == onnx::TensorProto::INT64 ? DType::i64 : DType::f32);
    inputs.push_back(v.tensor);
    values_[in.name()] = v;
  }
  for (int i = 0; i < graph_.node_size(); ++i) convert(i);
  std::vector<nn::SymbolicTensor> outputs;
  for (const auto& out : graph_.output()) {
    const onnx::NodeProto* producer = nullptr;
    for (const auto& node : graph_.node()) {
      if (std::find(node.output().begin(), node.output().end(), out.name()) != node.output().end())
        producer = &node;
    }
    NABLA_CHECK(producer != nullptr && values_.count(out.name()), "import_onnx: ", path_,
                ": graph output '", out.name(), "' is given by no node");
    outputs.push_back(materialize(out.name(), *producer));
  }
  std::shared_ptr<nn::Graph> model;
  try {
    model = std::make_shared<nn::Graph>(inputs, outputs, graph_.name());
  } catch (const std::exception& e) {
    detail::throw_error(detail::str("import_onnx: ", path_, ": ", e.what()));
  }
  model->eval();
  return model;
}

nn::SymbolicTensor Importer::recurrent_output(const Value& v, bool sequences,
                                              const onnx::NodeProto& reader) {
  const auto it = recurrent_.find(v.node);
  if (it != recurrent_.end()) {
    NABLA_CHECK(it->second.first == sequences, "import_onnx: ", path_, ": ", where(reader),
                ": both the sequence output Y and the final state Y_h of ",
                where(graph_.node(v.node)), " are read; nabla's recurrent layer gives one of them");
    return it->second.second;
  }
  const nn::SymbolicTensor out = build_recurrent(*this, graph_.node(v.node), v.tensor, sequences);
  recurrent_[v.node] = {sequences, out};
  return out;
}

}  // namespace onnx_import

namespace {

onnx::ModelProto read_model(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NABLA_CHECK(in.good(), "import_onnx: ", path, ": cannot open the file");
  std::stringstream bytes;
  bytes << in.rdbuf();
  onnx::ModelProto model;
  // A file of another kind rarely parses as a ModelProto; one that does has no graph or IR version.
  NABLA_CHECK(model.ParseFromString(bytes.str()) && model.ir_version() > 0 && model.has_graph(),
              "import_onnx: ", path, ": not an ONNX model (the file is not a ModelProto)");
  return model;
}

void check_opset(const onnx::ModelProto& model, const std::string& path) {
  int64_t opset = -1;
  for (const auto& o : model.opset_import()) {
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = o.version();
  }
  NABLA_CHECK(opset >= 7 && opset <= 17, "import_onnx: ", path, ": ONNX opset ",
              opset < 0 ? std::string("(none)") : std::to_string(opset),
              " is not supported; nabla imports opsets 7 to 17");
}

// All op types that have no nabla form, at once, each with the nodes that use it.
void check_ops(const onnx::ModelProto& model, const std::string& path) {
  std::map<std::string, std::vector<std::string>> unsupported;
  for (const auto& node : model.graph().node()) {
    const bool standard = node.domain().empty() || node.domain() == "ai.onnx";
    if (!standard || !onnx_import::is_supported_op(node.op_type())) {
      const std::string op = standard ? node.op_type() : node.domain() + "." + node.op_type();
      unsupported[op].push_back("'" + node.name() + "'");
    }
  }
  if (unsupported.empty()) return;
  std::string list;
  for (const auto& [op, nodes] : unsupported) {
    std::string names;
    for (const std::string& n : nodes) names += (names.empty() ? "" : ", ") + n;
    list += (list.empty() ? "" : "; ") + op + " (" + names + ")";
  }
  detail::throw_error(detail::str("import_onnx: ", path, ": ", unsupported.size(),
                                  unsupported.size() == 1 ? " operator is" : " operators are",
                                  " not supported: ", list));
}

}  // namespace

bool onnx_import_available() { return true; }

nn::ModulePtr import_onnx(const std::string& path) {
  const onnx::ModelProto model = read_model(path);
  check_opset(model, path);
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    detail::throw_error(
        detail::str("import_onnx: ", path, ": the ONNX checker refused the model: ", e.what()));
  }
  check_ops(model, path);
  return onnx_import::Importer(model, path).run();
}

}  // namespace nabla::io
