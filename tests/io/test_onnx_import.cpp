// io::import_onnx: round trips through io::export_onnx (an MLP, a CNN with BatchNorm, grouped
// convolutions and a residual Add, LSTM and GRU models, an embedding with GELU and scalings,
// transposed convolution and upsampling), PyTorch as the peer (files that
// tests/reference/gen_onnx_models.py exported with torch.onnx.export, opset 17, and PyTorch's
// outputs on fixed inputs), an imported model that trains, saves and loads like any other, and the
// errors: operators without a nabla form (all listed), an unsupported opset, a file that is not
// ONNX.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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

namespace {

#if NABLA_TEST_ONNX

const std::string kOnnxData = std::string(NABLA_REFERENCE_DIR) + "/onnx/";

double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  if (a.shape() != b.shape()) return 1e9;
  return max(abs(a - b)).item();
}

Tensor run(nn::Module& module, const Tensor& x) {
  NoGradGuard no_grad;
  module.eval();
  return module.forward(x);
}

// Exports `model`, imports the file and returns the largest difference of their outputs on x.
double round_trip(train::Model& model, const Tensor& x) {
  TempDir dir;
  const std::string path = dir.file("model.onnx");
  io::export_onnx(model, path);
  nn::ModulePtr imported = io::import_onnx(path);
  return max_abs_diff(run(model.module(), x), run(*imported, x));
}

nn::ConvLayerOptions conv(int64_t padding, int64_t groups = 1, int64_t stride = 1,
                          int64_t dilation = 1) {
  nn::ConvLayerOptions o;
  o.padding = {padding};
  o.groups = groups;
  o.stride = {stride};
  o.dilation = {dilation};
  return o;
}

TEST(OnnxImport, RoundTripMlp) {
  train::Model model({layers::Dense(16, "relu"), layers::Dense(12, "tanh"), layers::LeakyReLU(0.2),
                      layers::Activation("leaky_relu"), layers::Dropout(0.3),
                      layers::Dense(8, "sigmoid"), layers::Dense(4, "softmax")},
                     "mlp");
  model.build({6});
  randomize(model.module(), 1);
  Generator gen(2);
  EXPECT_LT(round_trip(model, randn({5, 6}, DType::f32, &gen)), 1e-5);
}

TEST(OnnxImport, RoundTripMoreActivationsAndLayerNorm) {
  train::Model model(
      {layers::Dense(10, "elu"), std::make_shared<nn::LayerNorm>(), layers::Dense(8, "softplus"),
       layers::Dense(5), layers::Activation("log_softmax")},
      "mlp2");
  model.build({7});
  randomize(model.module(), 9);
  Generator gen(10);
  EXPECT_LT(round_trip(model, randn({4, 7}, DType::f32, &gen)), 1e-5);
}

TEST(OnnxImport, RoundTripCnnWithBatchNormGroupsAndSamePadding) {
  // "same" with stride 2 on an even size: pads (0, 1), which import as "same" again.
  nn::ConvLayerOptions first = conv(0, 1, 2);
  first.padding_mode = "same";
  first.bias = false;
  nn::Pool2dOptions average;
  average.stride = {1};
  train::Model model(
      {std::make_shared<nn::Conv2d>(8, std::vector<int64_t>{3, 3}, first),
       std::make_shared<nn::BatchNorm>(), layers::Activation("relu"), layers::MaxPooling2D(2),
       std::make_shared<nn::Conv2d>(8, std::vector<int64_t>{3, 3}, conv(2, 4, 1, 2)),
       std::make_shared<nn::BatchNorm>(),
       std::make_shared<nn::Conv2d>(6, std::vector<int64_t>{3, 3}, conv(1, 2, 2)),
       std::make_shared<nn::Pool2d>(nn::PoolKind::average, std::vector<int64_t>{2, 2}, average),
       layers::Flatten(), layers::Dense(5, "softmax")},
      "cnn");
  model.build({4, 16, 16});
  randomize(model.module(), 3);
  Generator gen(4);
  EXPECT_LT(round_trip(model, randn({3, 4, 16, 16}, DType::f32, &gen)), 1e-5);
}

TEST(OnnxImport, RoundTripResidualGraph) {
  auto x = nn::Input({4, 6, 6}, "image");
  auto h = (*std::make_shared<nn::Conv2d>(4, std::vector<int64_t>{3, 3}, conv(1)))(x);
  h = (*std::make_shared<nn::BatchNorm>())(h);
  auto sum = (*layers::Add())({x, h});
  auto joined = (*layers::Concatenate(1))({sum, x});
  auto pooled = (*std::make_shared<nn::AdaptiveAvgPool2d>(std::vector<int64_t>{1, 1}))(joined);
  auto out = (*layers::Dense(3))((*layers::Flatten())(pooled));
  train::Model model({x}, {out}, "residual");
  randomize(model.module(), 5);
  Generator gen(6);
  EXPECT_LT(round_trip(model, randn({2, 4, 6, 6}, DType::f32, &gen)), 1e-5);
}

// nabla's own GELU formula (x * 0.5 first), scalings, an embedding and the pooling reductions.
TEST(OnnxImport, RoundTripEmbeddingGeluAndScaling) {
  train::Model model(
      {std::make_shared<nn::Embedding>(20, 6), std::make_shared<nn::GlobalPooling1D>(false),
       layers::Dense(8, "gelu"), layers::Rescaling(0.5, 0.1), layers::Dense(3)},
      "text");
  model.build({7});
  randomize(model.module(), 12);
  Generator gen(13);
  EXPECT_LT(round_trip(model, randint(0, 20, {4, 7}, &gen)), 1e-5);
}

TEST(OnnxImport, RoundTripTransposedConvolutionGroupNormAndUpsampling) {
  nn::ConvTransposeLayerOptions up;
  up.stride = {2};
  up.padding = {1};
  up.output_padding = {1};
  up.groups = 2;
  train::Model model(
      {std::make_shared<nn::ConvTranspose2d>(4, std::vector<int64_t>{3}, up),
       std::make_shared<nn::GroupNorm>(2), std::make_shared<nn::Upsample>(2, "nearest"),
       std::make_shared<nn::Upsample>(2, "bilinear"),
       std::make_shared<nn::Upsample>(2, "bilinear", true),
       std::make_shared<nn::GlobalAveragePooling2D>(), layers::Dense(3)},
      "upsampling");
  model.build({2, 3, 3});
  randomize(model.module(), 14);
  Generator gen(15);
  EXPECT_LT(round_trip(model, randn({2, 2, 3, 3}, DType::f32, &gen)), 1e-5);
}

TEST(OnnxImport, RoundTripLstmAndGru) {
  for (bool gru : {false, true}) {
    for (int variant = 0; variant < 6; ++variant) {
      const bool sequences = variant % 2 == 1, bidirectional = variant >= 2;
      nn::RecurrentOptions o;
      o.return_sequences = sequences;
      o.bidirectional = bidirectional;
      o.num_layers = variant >= 4 ? 2 : 1;  // stacked: one ONNX node per layer
      nn::ModulePtr rnn =
          gru ? nn::ModulePtr(std::make_shared<nn::GRU>(7, o)) : std::make_shared<nn::LSTM>(7, o);
      train::Model model({rnn, layers::Dense(3)}, "rnn");
      model.build({6, 5});
      randomize(model.module(), 7);
      Generator gen(8);
      EXPECT_LT(round_trip(model, randn({4, 6, 5}, DType::f32, &gen)), 1e-5)
          << o.num_layers << " layers, " << (bidirectional ? "bidirectional " : "")
          << (gru ? "GRU" : "LSTM") << (sequences ? " returning sequences" : "");
    }
  }
}

// PyTorch's export of `name` imported, run on the generator's input, against PyTorch's output.
double pytorch_diff(const std::string& name) {
  nn::ModulePtr model = io::import_onnx(kOnnxData + name + ".onnx");
  const Tensor x = io::load_npy(kOnnxData + name + "_input.npy");
  const Tensor expected = io::load_npy(kOnnxData + name + "_output.npy");
  const double diff = max_abs_diff(run(*model, x), expected);
  std::cout << "[ PyTorch ] " << name << ": max |nabla - torch| = " << diff << "\n";
  return diff;
}

TEST(OnnxImport, PyTorchMlp) { EXPECT_LT(pytorch_diff("mlp"), 1e-5); }
TEST(OnnxImport, PyTorchResidualCnn) { EXPECT_LT(pytorch_diff("residual_cnn"), 1e-5); }
TEST(OnnxImport, PyTorchLstm) { EXPECT_LT(pytorch_diff("lstm"), 1e-5); }
TEST(OnnxImport, PyTorchGru) { EXPECT_LT(pytorch_diff("gru"), 1e-5); }
TEST(OnnxImport, PyTorchLstmOpset9) { EXPECT_LT(pytorch_diff("lstm_opset9"), 1e-5); }
TEST(OnnxImport, PyTorchLstmSequences) { EXPECT_LT(pytorch_diff("lstm_sequences"), 1e-5); }
TEST(OnnxImport, PyTorchGruLastStep) { EXPECT_LT(pytorch_diff("gru_last_step"), 1e-5); }
TEST(OnnxImport, PyTorchStackedGru) { EXPECT_LT(pytorch_diff("gru_stacked_sequences"), 1e-5); }
TEST(OnnxImport, PyTorchStackedBidirectionalLstm) {
  EXPECT_LT(pytorch_diff("bilstm_stacked_sequences"), 1e-5);
}
// Sub/Div/Mul/Add of scalars, GELU's erf formula, LayerNorm, Dropout, LogSoftmax.
TEST(OnnxImport, PyTorchGeluMlp) { EXPECT_LT(pytorch_diff("gelu_mlp"), 1e-5); }
// Strided Conv, ConvTranspose, nearest Resize, ELU, Sigmoid.
TEST(OnnxImport, PyTorchConvAutoencoder) { EXPECT_LT(pytorch_diff("conv_autoencoder"), 1e-5); }
// GroupNorm's lowering (Reshape, InstanceNormalization, Reshape, Mul, Add), with and without
// affine.
TEST(OnnxImport, PyTorchGroupNorm) { EXPECT_LT(pytorch_diff("group_norm_cnn"), 1e-5); }
// SiLU as PyTorch writes it (x * Sigmoid(x)), a gate: Mul and Sub of two tensors.
TEST(OnnxImport, PyTorchGatedMlp) { EXPECT_LT(pytorch_diff("gated_mlp"), 1e-5); }
// int64 ids, Gather on the table (Embedding), ReduceMean over the tokens.
TEST(OnnxImport, PyTorchTextClassifier) { EXPECT_LT(pytorch_diff("text_classifier"), 1e-5); }

// An imported model is a graph model like any other: it saves with its spec, loads back with the
// same outputs, and trains.
TEST(OnnxImport, ImportedModelSavesLoadsAndTrains) {
  TempDir dir;
  train::Model model(io::import_onnx(kOnnxData + "residual_cnn.onnx"), "residual_cnn");
  const Tensor x = io::load_npy(kOnnxData + "residual_cnn_input.npy");
  const Tensor before = run(model.module(), x);
  model.save(dir.file("model.safetensors"));
  train::Model loaded = train::Model::load(dir.file("model.safetensors"));
  EXPECT_EQ(max_abs_diff(run(loaded.module(), x), before), 0.0);

  model.compile("sgd", "mse");
  train::FitOptions fit;
  fit.epochs = 1;
  fit.batch_size = 2;
  fit.verbose = 0;
  model.fit(x, zeros({2, 5}), fit);
  EXPECT_GT(max_abs_diff(run(model.module(), x), before), 1e-4);
}

// x [N, 4] through the nodes (op type, name), one after the other, as an ONNX model.
std::string write_model(const TempDir& dir,
                        const std::vector<std::pair<std::string, std::string>>& ops,
                        int64_t opset) {
  onnx::ModelProto model;
  model.set_ir_version(8);
  auto& import = *model.add_opset_import();
  import.set_domain("");
  import.set_version(opset);
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.set_name("g");
  auto describe = [](onnx::ValueInfoProto& info, const std::string& name) {
    info.set_name(name);
    auto& type = *info.mutable_type()->mutable_tensor_type();
    type.set_elem_type(onnx::TensorProto::FLOAT);
    type.mutable_shape()->add_dim()->set_dim_param("N");
    type.mutable_shape()->add_dim()->set_dim_value(4);
  };
  // Value k is "vk" (written with append: GCC 12 warns wrongly on "v" + std::to_string here).
  auto value_name = [](size_t k) { return std::string("v").append(std::to_string(k)); };
  describe(*graph.add_input(), "x");
  describe(*graph.add_output(), value_name(ops.size()));
  std::string previous = "x";
  for (size_t i = 0; i < ops.size(); ++i) {
    onnx::NodeProto& node = *graph.add_node();
    node.set_op_type(ops[i].first);
    node.set_name(ops[i].second);
    node.add_input(previous);
    previous = value_name(i + 1);
    node.add_output(previous);
  }
  const std::string path = dir.file("model.onnx");
  std::ofstream(path, std::ios::binary) << model.SerializeAsString();
  return path;
}

// torch names an unnamed input "input.1"; nabla's names hold no '.', so it becomes "input_1".
TEST(OnnxImport, InputNameWithADot) {
  TempDir dir;
  onnx::ModelProto model;
  std::ifstream in(kOnnxData + "mlp.onnx", std::ios::binary);
  ASSERT_TRUE(model.ParseFromIstream(&in));
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.mutable_input(0)->set_name("input.1");
  for (onnx::NodeProto& node : *graph.mutable_node()) {
    for (std::string& input : *node.mutable_input()) {
      if (input == "input") input = "input.1";
    }
  }
  const std::string path = dir.file("dotted.onnx");
  std::ofstream(path, std::ios::binary) << model.SerializeAsString();
  auto imported = std::dynamic_pointer_cast<nn::Graph>(io::import_onnx(path));
  ASSERT_TRUE(imported);
  EXPECT_EQ(imported->inputs()[0]->name, "input_1");
  EXPECT_LT(max_abs_diff(run(*imported, io::load_npy(kOnnxData + "mlp_input.npy")),
                         io::load_npy(kOnnxData + "mlp_output.npy")),
            1e-5);
}

// A MatMul by a constant with no Add after it, as the graph's output: a Dense without bias.
TEST(OnnxImport, MatMulWithoutBiasAsOutput) {
  TempDir dir;
  const std::string path = write_model(dir, {{"MatMul", "matmul"}}, 17);
  onnx::ModelProto model;
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(model.ParseFromIstream(&in));
  onnx::GraphProto& graph = *model.mutable_graph();
  graph.mutable_output(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(1)
      ->set_dim_value(3);
  graph.mutable_node(0)->add_input("w");
  Generator gen(11);
  const Tensor w = randn({4, 3}, DType::f32, &gen);
  onnx::TensorProto& init = *graph.add_initializer();
  init.set_name("w");
  init.set_data_type(onnx::TensorProto::FLOAT);
  init.add_dims(4);
  init.add_dims(3);
  for (float v : w.to_vector<float>()) init.add_float_data(v);  // row-major, as ONNX
  std::ofstream(path, std::ios::binary | std::ios::trunc) << model.SerializeAsString();
  nn::ModulePtr imported = io::import_onnx(path);
  const Tensor x = randn({5, 4}, DType::f32, &gen);
  EXPECT_LT(max_abs_diff(run(*imported, x), matmul(x, w)), 1e-6);
}

TEST(OnnxImport, ErrorListsEveryUnsupportedOperator) {
  TempDir dir;
  const std::string path =
      write_model(dir, {{"Sin", "sin_1"}, {"Relu", "relu"}, {"Cos", "cos"}, {"Sin", "sin_2"}}, 17);
  const std::string message = error_message([&] { io::import_onnx(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("2 operators are not supported"), std::string::npos) << message;
  EXPECT_NE(message.find("Cos ('cos')"), std::string::npos) << message;
  EXPECT_NE(message.find("Sin ('sin_1', 'sin_2')"), std::string::npos) << message;
  EXPECT_EQ(message.find("Relu"), std::string::npos) << message;
  // A supported model of the same form imports.
  EXPECT_NO_THROW(io::import_onnx(write_model(dir, {{"Relu", "relu"}, {"Tanh", "tanh"}}, 17)));
}

TEST(OnnxImport, ErrorNamesTheNodeOfAnUnsupportedConfiguration) {
  TempDir dir;
  const std::string path = write_model(dir, {{"Relu", "relu"}, {"Softmax", "soft"}}, 17);
  onnx::ModelProto model;
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(model.ParseFromIstream(&in));
  auto& axis = *model.mutable_graph()->mutable_node(1)->add_attribute();
  axis.set_name("axis");
  axis.set_type(onnx::AttributeProto::INT);
  axis.set_i(0);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << model.SerializeAsString();
  const std::string message = error_message([&] { io::import_onnx(path); });
  EXPECT_NE(message.find("Softmax node 'soft'"), std::string::npos) << message;
  EXPECT_NE(message.find("last axis"), std::string::npos) << message;
}

// Erf has a nabla form only inside GELU's formula: alone it is an error naming the node.
TEST(OnnxImport, ErrorOnErfOutsideGelu) {
  TempDir dir;
  const std::string message = error_message([&] {
    io::import_onnx(write_model(dir, {{"Erf", "lonely_erf"}}, 17));
  });
  EXPECT_NE(message.find("Erf node 'lonely_erf': Erf is supported only in GELU's formula"),
            std::string::npos)
      << message;
}

TEST(OnnxImport, ErrorOnAWeightShorterThanItsDims) {
  TempDir dir;
  onnx::ModelProto model;
  std::ifstream in(kOnnxData + "mlp.onnx", std::ios::binary);
  ASSERT_TRUE(model.ParseFromIstream(&in));
  for (onnx::TensorProto& t : *model.mutable_graph()->mutable_initializer()) {
    if (t.name() == "net.0.weight") t.mutable_raw_data()->resize(8);
  }
  const std::string path = dir.file("short.onnx");
  std::ofstream(path, std::ios::binary) << model.SerializeAsString();
  const std::string message = error_message([&] { io::import_onnx(path); });
  EXPECT_NE(message.find(path + ": tensor 'net.0.weight' holds 8 bytes, its dims need 384"),
            std::string::npos)
      << message;
}

TEST(OnnxImport, ErrorOnUnsupportedOpset) {
  TempDir dir;
  for (int64_t opset : {6, 18}) {
    const std::string path = write_model(dir, {{"Relu", "relu"}}, opset);
    const std::string message = error_message([&] { io::import_onnx(path); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("opset " + std::to_string(opset) + " is not supported"),
              std::string::npos)
        << message;
  }
}

#endif  // NABLA_TEST_ONNX

TEST(OnnxImport, ErrorOnAFileThatIsNotOnnx) {
  TempDir dir;
  const std::string path = dir.file("notes.onnx");
  std::ofstream(path) << "these are not the weights you are looking for\n";
  std::string message = error_message([&] { io::import_onnx(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  if (io::onnx_import_available()) {
    EXPECT_NE(message.find("not an ONNX model"), std::string::npos) << message;
    message = error_message([&] { io::import_onnx(dir.file("missing.onnx")); });
    EXPECT_NE(message.find("missing.onnx: cannot open"), std::string::npos) << message;
  }
}

}  // namespace
