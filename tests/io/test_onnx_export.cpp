// io::export_onnx: the structure of exported models (ops, attributes, initializers, opset, IR
// version, names), the error that lists every layer without an ONNX form, and the peer check:
// models exported here pass onnx.checker (Debian's python3-onnx) and give nabla's outputs in ONNX
// Runtime (npm onnxruntime-node) within 1e-5; those two are skipped where the tools are missing.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"
#include "nabla/onnx.hpp"
#include "support/errors.hpp"
#include "support/randomize.hpp"

#if NABLA_TEST_ONNX
#include <onnx/onnx_pb.h>
#endif

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::randomize;
using nabla::testing::TempDir;

#if NABLA_TEST_ONNX

namespace {

nn::ConvLayerOptions conv_options(std::string padding_mode, int64_t groups = 1,
                                  int64_t stride = 1) {
  nn::ConvLayerOptions o;
  o.padding_mode = std::move(padding_mode);
  o.groups = groups;
  o.stride = {stride};
  return o;
}

// The models of the peer check, small enough for a test of a second.
train::Model mlp_model() {
  auto ln = std::make_shared<nn::LayerNorm>();
  train::Model model(
      {layers::Rescaling(0.5, 0.1), layers::Flatten(), layers::Dense(16, "relu"),
       layers::Dense(16, "gelu"), layers::Activation("elu"), layers::Dense(12, "tanh"),
       layers::Activation("leaky_relu"), layers::LeakyReLU(0.2), layers::Dropout(0.3),
       layers::Highway("tanh", -1), layers::Dense(12, "sigmoid"), layers::Activation("softplus"),
       ln, layers::Dense(10, "softmax")},
      "mlp");
  model.build({4, 6});
  return model;
}

// conv "same" without bias - BN - ReLU - max pool, a grouped conv, a depthwise conv with stride 2
// ("same": asymmetric padding), BN, average pooling "same" (ceil mode), dense.
train::Model cnn_model() {
  nn::ConvLayerOptions first = conv_options("same");
  first.bias = false;
  nn::ConvLayerOptions depthwise = conv_options("same", 1, 2);
  depthwise.depth_multiplier = 2;
  nn::Pool2dOptions pool_same;
  pool_same.padding_mode = "same";
  nn::ConvLayerOptions grouped = conv_options("", 2);
  grouped.padding = {1};
  train::Model model(
      {layers::Rescaling(1.0 / 255),
       std::make_shared<nn::Conv2D>(8, std::vector<int64_t>{3}, "", first),
       layers::BatchNormalization(), layers::Activation("relu"), layers::MaxPooling2D(2),
       std::make_shared<nn::Conv2d>(8, std::vector<int64_t>{3}, grouped),
       std::make_shared<nn::Conv2D>(16, std::vector<int64_t>{3}, "relu", depthwise),
       nn::BatchNorm2d(),
       std::make_shared<nn::Pool2d>(nn::PoolKind::average, std::vector<int64_t>{2}, pool_same),
       layers::Flatten(), layers::Dense(10, "softmax")},
      "cnn");
  model.build({3, 12, 12});
  return model;
}

// The CNN blocks and the rarer image layers: a residual block with a projection shortcut,
// transposed convolution, group normalization, upsampling, a separable convolution, DenseNet's
// blocks, adaptive and global average pooling.
train::Model cnn_blocks_model() {
  nn::ConvTransposeLayerOptions up;
  up.stride = {2};
  up.padding = {1};
  up.output_padding = {1};
  up.activation = "relu";
  train::Model model(
      {std::make_shared<nn::ResidualBlock>(6, 2),
       std::make_shared<nn::ConvTranspose2d>(4, std::vector<int64_t>{3}, up),
       std::make_shared<nn::GroupNorm>(2), std::make_shared<nn::Upsample>(2, "nearest"),
       std::make_shared<nn::SeparableConv2D>(6, std::vector<int64_t>{3}, conv_options("same")),
       std::make_shared<nn::DenseBlock>(2, 3), std::make_shared<nn::TransitionBlock>(0.5),
       std::make_shared<nn::Upsample>(2, "bilinear"),
       std::make_shared<nn::AdaptiveAvgPool2d>(std::vector<int64_t>{2}),
       std::make_shared<nn::Permute>(std::vector<int64_t>{2, 3, 1}), layers::Flatten(),
       layers::Dense(5)},
      "cnn_blocks");
  model.build({3, 8, 8});
  return model;
}

// Keras's Conv1D on [N, T, C], an LSTM returning sequences, a two-layer bidirectional GRU, a
// simple RNN (relu) returning its last state.
train::Model recurrent_model() {
  nn::ConvLayerOptions conv1d = conv_options("same");
  conv1d.channels_last = true;
  conv1d.activation = "relu";
  nn::RecurrentOptions sequences;
  sequences.return_sequences = true;
  nn::RecurrentOptions gru = sequences;
  gru.num_layers = 2;
  gru.bidirectional = true;
  nn::RecurrentOptions rnn;
  rnn.nonlinearity = "relu";
  train::Model model({std::make_shared<nn::Conv>(1, 6, std::vector<int64_t>{3}, conv1d, "Conv1D"),
                      std::make_shared<nn::LSTM>(5, sequences), std::make_shared<nn::GRU>(4, gru),
                      std::make_shared<nn::SimpleRNN>(4, rnn), layers::Dense(3)},
                     "recurrent");
  model.build({7, 5});
  return model;
}

// Token ids: embedding, learned positions, a bidirectional LSTM, max pooling over time.
train::Model text_model() {
  nn::RecurrentOptions lstm;
  lstm.return_sequences = true;
  lstm.bidirectional = true;
  train::Model model(
      {std::make_shared<nn::Embedding>(20, 6),
       std::make_shared<nn::PositionalEncoding>(16, "learned"), std::make_shared<nn::LSTM>(5, lstm),
       std::make_shared<nn::GlobalPooling1D>(true), layers::Dense(3, "softmax")},
      "text");
  model.build({7});
  return model;
}

// Attention as its primitive ops: multi-head self-attention, a pre-norm causal GELU encoder layer,
// a post-norm one, a post-norm decoder layer and a pre-norm GELU one (without memory: causal
// self-attention), over learned positions.
train::Model attention_model() {
  nn::TransformerLayerOptions pre_norm{.dim_feedforward = 16, .activation = "gelu"};
  pre_norm.norm_first = true;
  pre_norm.causal = true;
  const nn::TransformerLayerOptions post_norm{.dim_feedforward = 12};
  train::Model model({std::make_shared<nn::PositionalEncoding>(8, "learned"),
                      std::make_shared<nn::MultiHeadAttention>(8, 2),
                      std::make_shared<nn::TransformerEncoderLayer>(8, 2, pre_norm),
                      std::make_shared<nn::TransformerEncoderLayer>(8, 4, post_norm),
                      std::make_shared<nn::TransformerDecoderLayer>(8, 2, post_norm),
                      std::make_shared<nn::TransformerDecoderLayer>(8, 2, pre_norm),
                      std::make_shared<nn::GlobalPooling1D>(false), layers::Dense(3)},
                     "attention");
  model.build({6, 8});
  return model;
}

// The transformer preset: a Seq2Seq encoder-decoder on ids [N, S + T].
train::Model transformer_preset() {
  train::Model model(io::build_model(io::resolve_model_spec("transformer")), "transformer");
  model.build({21});
  return model;
}

// Ids for the transformer preset (S = 10, T = 11, vocab 13), padded with 0 as the task pads them;
// row 1 has no source at all and a padded first decoder input, so that every query of its
// cross-attention and the first of its self-attention have no allowed key.
Tensor transformer_input() {
  std::vector<int64_t> ids = {5, 7, 3, 9, 12, 0, 0, 0,  0,  0,  1, 11, 8,  4,  6, 0, 0, 0, 0, 0, 0,
                              0, 0, 0, 0, 0,  0, 0, 0,  0,  0,  0, 3,  4,  5,  0, 0, 0, 0, 0, 0, 0,
                              3, 4, 5, 6, 7,  8, 9, 10, 11, 12, 1, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3};
  return from_vector(ids, {3, 21});
}

// A graph model: two named inputs, every merge, two outputs.
train::Model graph_model() {
  auto wide = layers::Input({6}, "wide"), deep = layers::Input({4}, "deep");
  auto a = layers::Dense(8, "relu")(wide);
  auto b = layers::Dense(8, "tanh")(deep);
  auto sum = layers::Add()({a, b});
  auto parts = std::vector<nn::SymbolicTensor>{sum,
                                               layers::Subtract()({a, b}),
                                               layers::Multiply()({a, b, sum}),
                                               layers::Average()({a, b}),
                                               layers::Maximum()({a, b}),
                                               layers::Minimum()({a, b})};
  auto joined = layers::Concatenate()(parts);
  auto price = layers::Dense(1).named("price")(joined);
  auto label = layers::Dense(3, "softmax").named("label")(layers::Reshape({2, 24})(joined));
  return train::Model({wide, deep}, {price, label}, "wide_deep");
}

// Inputs of `shape` (batch 3) for the model: random floats, or token ids below 20.
Tensor sample_input(const Shape& shape, DType dtype, uint64_t seed) {
  Shape batch = {3};
  batch.insert(batch.end(), shape.begin(), shape.end());
  Generator gen(seed);
  if (dtype == DType::i64) return randint(0, 20, batch, &gen);
  Tensor x = empty(batch, DType::f32);
  nn::init::uniform_(x, -1, 1, &gen);
  return x;
}

// Exports `model` as DIR/NAME.onnx with its inputs and nabla's outputs beside it (the files
// onnx_runtime_check.js reads).
void export_with_outputs(train::Model& model, const std::string& dir, uint64_t seed,
                         const Tensor& input = Tensor()) {
  randomize(model.module(), seed);
  model.module().eval();
  const std::string name = model.name();
  io::export_onnx(model, dir + "/" + name + ".onnx");
  NoGradGuard no_grad;
  if (auto* graph = dynamic_cast<nn::Graph*>(&model.module())) {
    std::vector<Tensor> inputs;
    for (const auto& in : graph->inputs()) {
      inputs.push_back(sample_input(in->shape, in->dtype, seed + inputs.size()));
      io::save_npy(dir + "/" + name + ".in." + in->name + ".npy", inputs.back());
    }
    const std::vector<Tensor> outputs = graph->forward_all(inputs);
    for (size_t i = 0; i < outputs.size(); ++i) {
      io::save_npy(dir + "/" + name + ".out." + graph->outputs()[i]->name + ".npy", outputs[i]);
    }
    return;
  }
  const Tensor x = input.defined()
                       ? input
                       : sample_input(model.input_shape(), model.module().input_dtype(), seed);
  io::save_npy(dir + "/" + name + ".in.input.npy", x);
  io::save_npy(dir + "/" + name + ".out.output.npy", model.module().forward(x));
}

std::string reference_dir() { return std::string(NABLA_REFERENCE_DIR) + "/.."; }

// The exit status of a shell command, its output shown in the test log.
int run(const std::string& command) {
  std::cout << "$ " << command << std::endl;
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

onnx::ModelProto read_model(const std::string& path) {
  onnx::ModelProto proto;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(proto.ParseFromIstream(&in)) << path;
  return proto;
}

std::vector<std::string> op_types(const onnx::ModelProto& proto) {
  std::vector<std::string> ops;
  for (const auto& node : proto.graph().node()) ops.push_back(node.op_type());
  return ops;
}

const onnx::TensorProto& initializer(const onnx::ModelProto& proto, const std::string& name) {
  for (const auto& t : proto.graph().initializer()) {
    if (t.name() == name) return t;
  }
  ADD_FAILURE() << "no initializer " << name;
  static const onnx::TensorProto none;
  return none;
}

Shape dims(const onnx::TensorProto& t) { return Shape(t.dims().begin(), t.dims().end()); }

std::vector<float> floats(const onnx::TensorProto& t) {
  std::vector<float> values(t.raw_data().size() / sizeof(float));
  std::memcpy(values.data(), t.raw_data().data(), t.raw_data().size());
  return values;
}

const onnx::AttributeProto& attribute(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return a;
  }
  ADD_FAILURE() << node.name() << " has no attribute " << name;
  static const onnx::AttributeProto none;
  return none;
}

const onnx::NodeProto& first_node(const onnx::ModelProto& proto, const std::string& op) {
  for (const auto& node : proto.graph().node()) {
    if (node.op_type() == op) return node;
  }
  ADD_FAILURE() << "no " << op << " node";
  static const onnx::NodeProto none;
  return none;
}

}  // namespace

TEST(OnnxExport, MlpStructure) {
  TempDir dir;
  manual_seed(0);
  train::Model model({layers::Flatten(), layers::Dense(8, "relu"), layers::Dropout(0.5),
                      layers::Dense(3, "softmax")},
                     "tiny");
  model.build({4, 5});
  io::export_onnx(model, dir.file("tiny.onnx"));
  const onnx::ModelProto proto = read_model(dir.file("tiny.onnx"));
  EXPECT_EQ(proto.ir_version(), 8);
  ASSERT_EQ(proto.opset_import_size(), 1);
  EXPECT_EQ(proto.opset_import(0).domain(), "");
  EXPECT_EQ(proto.opset_import(0).version(), 17);
  EXPECT_EQ(proto.graph().name(), "tiny");
  EXPECT_EQ(op_types(proto),
            (std::vector<std::string>{"Flatten", "Gemm", "Relu", "Identity", "Gemm", "Softmax"}));
  // The input [N, 4, 5] with a symbolic batch axis, the output [N, 3].
  ASSERT_EQ(proto.graph().input_size(), 1);
  const auto& input = proto.graph().input(0);
  EXPECT_EQ(input.name(), "input");
  const auto& in_shape = input.type().tensor_type().shape();
  ASSERT_EQ(in_shape.dim_size(), 3);
  EXPECT_EQ(in_shape.dim(0).dim_param(), "N");
  EXPECT_EQ(in_shape.dim(1).dim_value(), 4);
  EXPECT_EQ(in_shape.dim(2).dim_value(), 5);
  ASSERT_EQ(proto.graph().output_size(), 1);
  EXPECT_EQ(proto.graph().output(0).name(), "output");
  EXPECT_EQ(proto.graph().output(0).type().tensor_type().shape().dim(1).dim_value(), 3);
  // Weights in PyTorch's layout [out, in], read by Gemm with transB = 1, named after the layer.
  EXPECT_EQ(dims(initializer(proto, "dense.weight")), (Shape{8, 20}));
  EXPECT_EQ(dims(initializer(proto, "dense.bias")), (Shape{8}));
  EXPECT_EQ(dims(initializer(proto, "dense_1.weight")), (Shape{3, 8}));
  EXPECT_EQ(attribute(first_node(proto, "Gemm"), "transB").i(), 1);
  auto* dense =
      dynamic_cast<nn::Linear*>(dynamic_cast<nn::Sequential&>(model.module()).layers()[1].get());
  EXPECT_EQ(floats(initializer(proto, "dense.weight")), dense->weight().to_vector<float>());
  EXPECT_EQ(attribute(first_node(proto, "Softmax"), "axis").i(), -1);
}

TEST(OnnxExport, HighwayAsTwoGemmsAndItsGate) {
  TempDir dir;
  manual_seed(0);
  train::Model model({layers::Dense(6, "relu"), layers::Highway("relu", -2)}, "highway");
  model.build({4});
  io::export_onnx(model, dir.file("highway.onnx"));
  const onnx::ModelProto proto = read_model(dir.file("highway.onnx"));
  // x + T (H - x): H = relu(Gemm), T = sigmoid(Gemm).
  EXPECT_EQ(op_types(proto), (std::vector<std::string>{"Gemm", "Relu", "Gemm", "Relu", "Gemm",
                                                       "Sigmoid", "Sub", "Mul", "Add"}));
  EXPECT_EQ(dims(initializer(proto, "highway.transform.weight")), (Shape{6, 6}));
  EXPECT_EQ(floats(initializer(proto, "highway.gate.bias")), std::vector<float>(6, -2.f));
}

TEST(OnnxExport, ConvolutionAttributes) {
  TempDir dir;
  manual_seed(0);
  train::Model model = cnn_model();
  randomize(model.module(), 3);
  io::export_onnx(model, dir.file("cnn.onnx"));
  const onnx::ModelProto proto = read_model(dir.file("cnn.onnx"));
  std::vector<const onnx::NodeProto*> convs;
  for (const auto& node : proto.graph().node()) {
    if (node.op_type() == "Conv") convs.push_back(&node);
  }
  ASSERT_EQ(convs.size(), 3u);
  // "same" 3x3 stride 1: one zero each side; no bias input.
  EXPECT_EQ(
      Shape(attribute(*convs[0], "pads").ints().begin(), attribute(*convs[0], "pads").ints().end()),
      (Shape{1, 1, 1, 1}));
  EXPECT_EQ(convs[0]->input_size(), 2);
  // Two groups: weight [8, 8 / 2, 3, 3].
  EXPECT_EQ(attribute(*convs[1], "group").i(), 2);
  EXPECT_EQ(dims(initializer(proto, "conv2d_1.weight")), (Shape{8, 4, 3, 3}));
  // Depthwise, multiplier 2, stride 2 on 6x6: groups 8, "same" pads the odd zero after.
  EXPECT_EQ(attribute(*convs[2], "group").i(), 8);
  EXPECT_EQ(dims(initializer(proto, "conv2d_2.weight")), (Shape{16, 1, 3, 3}));
  EXPECT_EQ(
      Shape(attribute(*convs[2], "pads").ints().begin(), attribute(*convs[2], "pads").ints().end()),
      (Shape{0, 0, 1, 1}));
  // Keras's BatchNormalization: epsilon 1e-3, ONNX momentum 0.99 (PyTorch's 0.01).
  const onnx::NodeProto& bn = first_node(proto, "BatchNormalization");
  EXPECT_FLOAT_EQ(attribute(bn, "epsilon").f(), 1e-3f);
  EXPECT_FLOAT_EQ(attribute(bn, "momentum").f(), 0.99f);
  EXPECT_EQ(dims(initializer(proto, "batch_normalization.running_var")), (Shape{8}));
  const onnx::NodeProto& pool = first_node(proto, "AveragePool");
  EXPECT_EQ(attribute(pool, "ceil_mode").i(), 1);
  EXPECT_EQ(attribute(pool, "count_include_pad").i(), 0);
}

TEST(OnnxExport, RecurrentGatesInOnnxOrder) {
  TempDir dir;
  manual_seed(0);
  train::Model model({std::make_shared<nn::LSTM>(3), layers::Dense(2)}, "lstm");
  model.build({4, 5});
  randomize(model.module(), 5);
  io::export_onnx(model, dir.file("lstm.onnx"));
  const onnx::ModelProto proto = read_model(dir.file("lstm.onnx"));
  EXPECT_EQ(op_types(proto),
            (std::vector<std::string>{"Transpose", "LSTM", "Transpose", "Reshape", "Gemm"}));
  EXPECT_EQ(dims(initializer(proto, "lstm.W_l0")), (Shape{1, 12, 5}));
  EXPECT_EQ(dims(initializer(proto, "lstm.R_l0")), (Shape{1, 12, 3}));
  EXPECT_EQ(dims(initializer(proto, "lstm.B_l0")), (Shape{1, 24}));
  // ONNX's gates i, o, f, c are PyTorch's blocks 0, 3, 1, 2 (i, f, g, o).
  const auto& lstm = dynamic_cast<nn::Sequential&>(model.module()).layers()[0];
  Tensor w_ih;
  for (const auto& [name, t] : lstm->named_parameters()) {
    if (name == "weight_ih_l0") w_ih = t;
  }
  const std::vector<float> w = floats(initializer(proto, "lstm.W_l0"));
  const std::vector<int64_t> order = {0, 3, 1, 2};
  for (int64_t gate = 0; gate < 4; ++gate) {
    const std::vector<float> expected =
        w_ih.slice(0, order[gate] * 3, order[gate] * 3 + 3).contiguous().to_vector<float>();
    EXPECT_EQ(std::vector<float>(w.begin() + gate * 15, w.begin() + gate * 15 + 15), expected)
        << "ONNX gate " << gate;
  }
  EXPECT_EQ(attribute(first_node(proto, "LSTM"), "hidden_size").i(), 3);
}

TEST(OnnxExport, AttentionAsPrimitiveOps) {
  TempDir dir;
  manual_seed(0);
  nn::TransformerLayerOptions causal{.dim_feedforward = 16};
  causal.causal = true;
  train::Model model({std::make_shared<nn::TransformerEncoderLayer>(8, 2, causal)}, "encoder");
  model.build({3, 8});
  randomize(model.module(), 7);
  io::export_onnx(model, dir.file("encoder.onnx"));
  const onnx::ModelProto proto = read_model(dir.file("encoder.onnx"));
  const std::vector<std::string> ops = op_types(proto);
  for (const char* op : {"MatMul", "Add", "Reshape", "Transpose", "Mul", "Where", "Softmax",
                         "LayerNormalization", "Relu"}) {
    EXPECT_NE(std::find(ops.begin(), ops.end(), op), ops.end()) << op;
  }
  // The packed projection in_proj_weight [3E, E]: the keys are rows E..2E, stored transposed.
  const auto& layer = dynamic_cast<nn::Sequential&>(model.module()).layers()[0];
  Tensor in_proj;
  for (const auto& [name, t] : layer->named_parameters()) {
    if (name == "self_attn.in_proj_weight") in_proj = t;
  }
  const onnx::TensorProto& k =
      initializer(proto, "transformer_encoder_layer.self_attn.k_proj.weight_t");
  EXPECT_EQ(dims(k), (Shape{8, 8}));
  EXPECT_EQ(floats(k), in_proj.slice(0, 8, 16).t().contiguous().to_vector<float>());
  // Scores scaled by 1/sqrt(E/H) = 1/2; the causal mask lets query l see keys s <= l.
  EXPECT_EQ(floats(initializer(proto, "transformer_encoder_layer.self_attn.scale")),
            std::vector<float>{0.5f});
  const onnx::TensorProto& mask =
      initializer(proto, "transformer_encoder_layer.self_attn.causal_mask");
  EXPECT_EQ(dims(mask), (Shape{3, 3}));
  EXPECT_EQ(std::vector<int>(mask.int32_data().begin(), mask.int32_data().end()),
            (std::vector<int>{1, 0, 0, 1, 1, 0, 1, 1, 1}));
}

TEST(OnnxExport, GroupNormAsInstanceNormalization) {
  TempDir dir;
  manual_seed(0);
  train::Model model({std::make_shared<nn::GroupNorm>(2)}, "group_norm");
  model.build({4, 3, 3});
  io::export_onnx(model, dir.file("gn.onnx"));
  const onnx::ModelProto proto = read_model(dir.file("gn.onnx"));
  EXPECT_EQ(op_types(proto), (std::vector<std::string>{"Reshape", "InstanceNormalization",
                                                       "Reshape", "Mul", "Add"}));
  EXPECT_EQ(dims(initializer(proto, "group_norm.ones")), (Shape{2}));
  EXPECT_EQ(dims(initializer(proto, "group_norm.weight")), (Shape{4, 1, 1}));
}

TEST(OnnxExport, GraphModelKeepsItsNames) {
  TempDir dir;
  manual_seed(0);
  train::Model model = graph_model();
  io::export_onnx(model, dir.file("graph.onnx"));
  const onnx::ModelProto proto = read_model(dir.file("graph.onnx"));
  ASSERT_EQ(proto.graph().input_size(), 2);
  EXPECT_EQ(proto.graph().input(0).name(), "wide");
  EXPECT_EQ(proto.graph().input(1).name(), "deep");
  ASSERT_EQ(proto.graph().output_size(), 2);
  EXPECT_EQ(proto.graph().output(0).name(), "price");
  EXPECT_EQ(proto.graph().output(1).name(), "label");
  const std::vector<std::string> ops = op_types(proto);
  for (const char* op : {"Sum", "Sub", "Mul", "Mean", "Max", "Min", "Concat", "Reshape"}) {
    EXPECT_NE(std::find(ops.begin(), ops.end(), op), ops.end()) << op;
  }
}

// A layer of the user's own, which no converter knows.
class OnnxlessDoubler : public nn::Module {
 public:
  Tensor forward(const Tensor& x) override { return x * 2.0; }
  std::string type_name() const override { return "Doubler"; }
};

TEST(OnnxExport, ListsEveryUnsupportedLayer) {
  TempDir dir;
  manual_seed(0);
  // Time-first attention layers: the export keeps axis 0 as the batch axis.
  nn::TransformerLayerOptions time_first;
  time_first.batch_first = false;
  train::Model model({std::make_shared<nn::TransformerEncoderLayer>(8, 2, time_first),
                      std::make_shared<nn::MultiHeadAttention>(
                          8, 2, nn::MultiHeadAttentionOptions{.batch_first = false}),
                      std::make_shared<OnnxlessDoubler>(),
                      std::make_shared<nn::GlobalPooling1D>(false), layers::Dense(3)},
                     "attention");
  model.build({6, 8});
  const std::string message =
      error_message([&] { io::export_onnx(model, dir.file("attention.onnx")); });
  EXPECT_NE(message.find("attention.onnx: 3 layers have no ONNX form: transformer_encoder_layer "
                         "(TransformerEncoderLayer): batch_first = false (time on axis 0) has no "
                         "ONNX form here; multi_head_attention (MultiHeadAttention): batch_first"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("(Doubler): no ONNX converter for this layer type"), std::string::npos)
      << message;
  EXPECT_FALSE(std::filesystem::exists(dir.file("attention.onnx")));

  // A supported type in a configuration without an ONNX form names the reason.
  nn::EmbeddingOptions masked;
  masked.mask_zero = true;
  train::Model text({std::make_shared<nn::Embedding>(10, 4, masked), std::make_shared<nn::LSTM>(3)},
                    "masked");
  text.build({5});
  EXPECT_NE(error_message([&] {
              io::export_onnx(text, dir.file("masked.onnx"));
            }).find("1 layer has no ONNX form: embedding (Embedding): mask_zero has no ONNX form"),
            std::string::npos);
}

TEST(OnnxExport, RefusesAnUnbuiltModel) {
  TempDir dir;
  train::Model model({layers::Dense(3)}, "unbuilt");
  EXPECT_NE(error_message([&] {
              io::export_onnx(model, dir.file("x.onnx"));
            }).find("the model is not built"),
            std::string::npos);
}

// The peer check: onnx.checker.check_model(full_check=True) on every export, then ONNX Runtime on
// the same inputs as nabla, within 1e-5.
class OnnxPeer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    manual_seed(0);
    uint64_t seed = 10;
    for (const auto& make : std::vector<std::function<train::Model()>>{
             mlp_model, cnn_model, cnn_blocks_model, recurrent_model, text_model, attention_model,
             graph_model}) {
      train::Model model = make();
      export_with_outputs(model, dir_->path().string(), seed++);
    }
    train::Model transformer = transformer_preset();
    export_with_outputs(transformer, dir_->path().string(), seed++, transformer_input());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static TempDir* dir_;
};
TempDir* OnnxPeer::dir_ = nullptr;

TEST_F(OnnxPeer, OnnxCheckerAcceptsEveryExport) {
  if (run("/usr/bin/python3 -c 'import onnx' 2>/dev/null") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with onnx (Debian's python3-onnx) is not installed";
  }
  EXPECT_EQ(
      run("/usr/bin/python3 " + reference_dir() + "/check_onnx_export.py " + dir_->path().string()),
      0);
}

TEST_F(OnnxPeer, OnnxRuntimeAgreesWithin1e5) {
  const std::string ort = reference_dir() + "/onnxruntime/node_modules/onnxruntime-node";
  if (run("node --version >/dev/null 2>&1") != 0 || !std::filesystem::exists(ort)) {
    GTEST_SKIP() << "node or " << ort << " is missing (scripts/install-deps.sh installs them)";
  }
  EXPECT_EQ(
      run("node " + reference_dir() + "/onnx_runtime_check.js " + dir_->path().string() + " 1e-5"),
      0);
}

#else  // a nabla built without libonnx-dev

TEST(OnnxExport, SaysWhatTheBuildLacks) {
  EXPECT_FALSE(io::onnx_export_available());
  train::Model model({layers::Dense(3)}, "tiny");
  model.build({4});
  EXPECT_NE(error_message([&] { io::export_onnx(model, "/tmp/x.onnx"); }).find("libonnx-dev"),
            std::string::npos);
}

#endif
