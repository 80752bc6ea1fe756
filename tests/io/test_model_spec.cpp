#include <gtest/gtest.h>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"
#include "nabla/train.hpp"
#include "support/sequential_spec.hpp"

using nabla::testing::error_message;
using namespace nabla;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

namespace {

constexpr const char* kMlp = R"({
  "name": "mlp", "input_shape": [28, 28],
  "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 128, "activation": "relu"},
             {"type": "Dense", "units": 10, "activation": "softmax"}],
  "training": {"optimizer": "adam", "lr": 0.001, "loss": "sparse_categorical_crossentropy",
               "metrics": ["accuracy"], "batch_size": 32, "epochs": 5}})";

// The error for the MLP spec with one layer (index 1) replaced by `layer`.
std::string layer_error(const std::string& layer) {
  const std::string text = R"({"name": "mlp", "layers": [{"type": "Flatten"}, )" + layer + "]}";
  return error_message([&] { io::parse_model_spec(text, "mlp.json"); });
}

std::string spec_error(const std::string& text) {
  return error_message([&] { io::parse_model_spec(text, "mlp.json"); });
}

}  // namespace

TEST(ModelSpec, ParsesTheClassicMlp) {
  const io::ModelSpec spec = io::parse_model_spec(kMlp, "mlp.json");
  EXPECT_EQ(spec.name, "mlp");
  EXPECT_EQ(spec.input_shape, (Shape{28, 28}));
  EXPECT_EQ(spec.json, kMlp);
  EXPECT_TRUE(spec.training.present);
  EXPECT_EQ(spec.training.optimizer, "adam");
  EXPECT_DOUBLE_EQ(spec.training.lr, 0.001);
  EXPECT_EQ(spec.training.loss, "sparse_categorical_crossentropy");
  EXPECT_EQ(spec.training.metrics, (std::vector<std::string>{"accuracy"}));
  EXPECT_EQ(spec.training.batch_size, 32);
  EXPECT_EQ(spec.training.epochs, 5);

  auto model = build_sequential(spec);
  ASSERT_EQ(model->size(), 3u);
  EXPECT_EQ(model->layers()[0]->type_name(), "Flatten");
  EXPECT_EQ(model->layers()[1]->type_name(), "Dense");
  EXPECT_EQ(model->num_parameters(), 784 * 128 + 128 + 128 * 10 + 10);
  const Tensor out = model->forward(zeros({2, 28, 28}));
  EXPECT_EQ(out.shape(), (Shape{2, 10}));
}

TEST(ModelSpec, DefaultsWithoutTrainingOrInputShape) {
  const io::ModelSpec spec =
      io::parse_model_spec(R"({"layers": [{"type": "Linear", "out_features": 3}]})", "x");
  EXPECT_EQ(spec.name, "model");
  EXPECT_TRUE(spec.input_shape.empty());
  EXPECT_FALSE(spec.training.present);
  EXPECT_EQ(spec.training.batch_size, 32);
  auto model = build_sequential(spec);
  EXPECT_EQ(model->num_parameters(), 0);  // lazy until the first forward
  EXPECT_EQ(model->forward(zeros({4, 5})).shape(), (Shape{4, 3}));
  EXPECT_EQ(model->num_parameters(), 18);
}

TEST(ModelSpec, PyTorchAndKerasNamesBuildTheSameNetwork) {
  auto torch_style = sequential_from_spec(R"({"input_shape": [6], "layers": [
      {"type": "Linear", "out_features": 4, "bias": false}, {"type": "ReLU"},
      {"type": "Dropout", "p": 0.1}, {"type": "Linear", "out_features": 2}, {"type": "Softmax"}]})",
                                          "torch.json");
  auto keras_style = sequential_from_spec(R"({"input_shape": [6], "layers": [
      {"type": "Dense", "units": 4, "use_bias": false, "kernel_initializer": "he_normal"},
      {"type": "Activation", "activation": "relu"}, {"type": "Dropout", "rate": 0.1},
      {"type": "Dense", "units": 2}, {"type": "Activation", "activation": "softmax"}]})",
                                          "keras.json");
  EXPECT_EQ(torch_style->num_parameters(), 24 + 10);
  EXPECT_EQ(keras_style->num_parameters(), 24 + 10);
  EXPECT_EQ(torch_style->layers()[1]->type_name(), "ReLU");
  auto* dropout = dynamic_cast<nn::Dropout*>(keras_style->layers()[2].get());
  ASSERT_NE(dropout, nullptr);
  EXPECT_DOUBLE_EQ(dropout->p(), 0.1);
  auto* linear = dynamic_cast<nn::Linear*>(torch_style->layers()[0].get());
  ASSERT_NE(linear, nullptr);
  EXPECT_FALSE(linear->bias().defined());
}

TEST(ModelSpec, ErrorsNameTheJsonPath) {
  EXPECT_EQ(layer_error(R"({"type": "Dense", "units": "abc"})"),
            R"(model spec mlp.json: layers[1].units: expected a positive integer, got "abc")");
  EXPECT_EQ(layer_error(R"({"type": "Linear", "out_features": 0})"),
            "model spec mlp.json: layers[1].out_features: expected a positive integer, got 0");
  const std::string known_types =
      "Activation, AdaptiveAvgPool2d, Add, Average, AveragePooling2D, AvgPool2d, BatchNorm1d, "
      "BatchNorm2d, BatchNormalization, Bidirectional, Concatenate, Conv1D, Conv1d, Conv2D, "
      "Conv2DTranspose, Conv2d, ConvTranspose2d, Dense, DenseBlock, DepthwiseConv2D, Dropout, "
      "Dropout2d, ELU, Embedding, Flatten, GELU, GRU, GlobalAveragePooling1D, "
      "GlobalAveragePooling2D, GlobalMaxPooling1D, GroupNorm, Highway, Hopfield, Identity, LSTM, "
      "LayerNorm, "
      "LayerNormalization, LeakyReLU, Linear, LogSoftmax, MaxPool2D, MaxPool2d, MaxPooling2D, "
      "Maximum, Minimum, MultiHeadAttention, Multiply, Permute, PositionalEncoding, RBM, RNN, "
      "ReLU, "
      "Rescaling, Reshape, ResidualBlock, Sampling, SeparableConv2D, Seq2Seq, Sigmoid, "
      "SimpleRNN, Softmax, Softplus, "
      "SpatialDropout2D, Subtract, Tanh, TransformerEncoderLayer, TransitionBlock, "
      "UnitNormalization, UpSampling2D, "
      "Upsample";
  EXPECT_EQ(layer_error(R"({"type": "Conv3D", "filters": 3})"),
            R"(model spec mlp.json: layers[1].type: unknown layer type "Conv3D"; known types: )" +
                known_types);
  EXPECT_EQ(layer_error(R"({"units": 3})"),
            "model spec mlp.json: layers[1]: missing \"type\"; known types: " + known_types);
  EXPECT_EQ(layer_error(R"({"type": "Dense", "unit": 3})"),
            "model spec mlp.json: layers[1].unit: unknown key for a Dense layer; known keys: type, "
            "units, out_features, activation, use_bias, bias, kernel_initializer, "
            "bias_initializer, in_features");
  EXPECT_EQ(layer_error(R"({"type": "Dense"})"),
            "model spec mlp.json: layers[1]: missing \"units\" (or \"out_features\"): the number "
            "of outputs");
  EXPECT_EQ(layer_error(R"({"type": "Dense", "units": 2, "out_features": 2})"),
            "model spec mlp.json: layers[1]: give either \"units\" or \"out_features\", not both");
  EXPECT_EQ(layer_error(R"({"type": "Dense", "units": 2, "use_bias": "yes"})"),
            R"(model spec mlp.json: layers[1].use_bias: expected true or false, got "yes")");
  EXPECT_EQ(layer_error(R"({"type": "Dropout", "rate": 1.5})"),
            "model spec mlp.json: layers[1].rate: expected a number in [0, 1), got 1.5");
  EXPECT_EQ(layer_error(R"(7)"), "model spec mlp.json: layers[1]: expected a layer object, got 7");
  EXPECT_EQ(layer_error(R"({"type": "Flatten", "start_dim": 1})"),
            "model spec mlp.json: layers[1].start_dim: unknown key for a Flatten layer; known "
            "keys: type");
  // Names the library knows are checked where they are written.
  const std::string activation =
      layer_error(R"({"type": "Dense", "units": 2, "activation": "relux"})");
  EXPECT_EQ(activation.rfind("model spec mlp.json: layers[1].activation: activation: unknown name "
                             "'relux'",
                             0),
            0u)
      << activation;
  const std::string init =
      layer_error(R"({"type": "Dense", "units": 2, "kernel_initializer": "glorot"})");
  EXPECT_EQ(init.rfind("model spec mlp.json: layers[1].kernel_initializer: ", 0), 0u) << init;
  EXPECT_NE(init.find("glorot_uniform"), std::string::npos) << init;  // lists the known names
}

TEST(ModelSpec, TopLevelAndTrainingErrors) {
  EXPECT_EQ(spec_error(R"({"layers": []})"),
            "model spec mlp.json: layers: expected a non-empty list of layers, got []");
  EXPECT_EQ(spec_error(R"({"name": "x"})"),
            "model spec mlp.json: missing \"layers\": the list of layers");
  EXPECT_EQ(spec_error(R"([1])"),
            "model spec mlp.json: expected a JSON object at the top level, got array");
  EXPECT_EQ(spec_error(R"({"layer": []})"),
            "model spec mlp.json: layer: unknown key for a model spec; known keys: name, "
            "description, task, input_shape, inputs, outputs, layers, training, data, word2vec, "
            "tabular");
  EXPECT_EQ(spec_error(R"({"input_shape": [28, -1], "layers": [{"type": "Flatten"}]})"),
            "model spec mlp.json: input_shape[1]: expected a positive integer, got -1");
  EXPECT_EQ(spec_error(R"({"name": 5, "layers": [{"type": "Flatten"}]})"),
            "model spec mlp.json: name: expected a string, got 5");
  const std::string flatten = R"({"layers": [{"type": "Flatten"}], "training": )";
  EXPECT_EQ(spec_error(flatten + R"({"lr": -1}})"),
            "model spec mlp.json: training.lr: expected a positive number, got -1");
  EXPECT_EQ(spec_error(flatten + R"({"epochs": 2.5}})"),
            "model spec mlp.json: training.epochs: expected a positive integer, got 2.5");
  EXPECT_EQ(spec_error(flatten + R"({"batchsize": 2}})"),
            "model spec mlp.json: training.batchsize: unknown key for \"training\"; known keys: "
            "optimizer, lr, learning_rate, momentum, nesterov, weight_decay, precision, loss, "
            "metrics, batch_size, epochs, validation_split, augmentation, lr_schedule");
  const std::string optimizer = spec_error(flatten + R"({"optimizer": "adamax"}})");
  EXPECT_EQ(optimizer.rfind("model spec mlp.json: training.optimizer: ", 0), 0u) << optimizer;
  EXPECT_NE(optimizer.find("adamax"), std::string::npos);
  const std::string loss = spec_error(flatten + R"({"loss": "hinge"}})");
  EXPECT_EQ(loss.rfind("model spec mlp.json: training.loss: ", 0), 0u) << loss;
  const std::string metric = spec_error(flatten + R"({"metrics": ["accuracy", "f1"]}})");
  EXPECT_EQ(metric.rfind("model spec mlp.json: training.metrics[1]: ", 0), 0u) << metric;
}

// The optimizer's settings: read, written back, handed to the optimizer, and refused where the
// optimizer has no such setting or they do not go together.
TEST(ModelSpec, TrainingOptimizerSettings) {
  const std::string flatten = R"({"layers": [{"type": "Flatten"}], "training": )";
  const io::ModelSpec spec = io::parse_model_spec(
      flatten +
          R"({"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 5e-4}})",
      "sgd.json");
  EXPECT_EQ(spec.training.momentum, 0.9);
  EXPECT_EQ(spec.training.nesterov, true);
  EXPECT_EQ(spec.training.weight_decay, 5e-4);
  // One SGD step from w = 1 with gradient 1: d = g + wd*w = 1.0005; buffer = d; nesterov
  // update d + 0.9*d = 1.90095; w = 1 - 0.1 * 1.90095.
  auto optimizer = io::make_optimizer(spec.training);
  EXPECT_EQ(optimizer->name(), "SGD");
  Tensor w = ones({1}).requires_grad_();
  optimizer->set_parameters({w});
  w.set_grad(ones({1}));
  optimizer->step();
  EXPECT_NEAR(w.item<float>(), 1 - 0.1 * 1.0005 * 1.9, 1e-7);

  auto model =
      sequential_from_spec(R"({"input_shape": [2], "layers": [{"type": "Flatten"}]})", "x");
  const io::ModelSpec back =
      io::parse_model_spec(io::model_to_spec(*model, "m", {2}, &spec.training), "back");
  EXPECT_EQ(back.training.momentum, 0.9);
  EXPECT_EQ(back.training.nesterov, true);
  EXPECT_EQ(back.training.weight_decay, 5e-4);
  EXPECT_FALSE(io::parse_model_spec(flatten + "{}}", "plain").training.momentum.has_value());

  EXPECT_EQ(spec_error(flatten + R"({"momentum": 0.9}})"),
            "model spec mlp.json: training.optimizer: make_optimizer: adam has no momentum "
            "setting");
  EXPECT_EQ(spec_error(flatten + R"({"optimizer": "sgd", "nesterov": true}})"),
            "model spec mlp.json: training.optimizer: SGD: Nesterov momentum requires momentum > "
            "0 and dampening == 0, got momentum=0, dampening=0");
  EXPECT_EQ(spec_error(flatten + R"({"optimizer": "ftrl", "weight_decay": 0.1}})"),
            "model spec mlp.json: training.optimizer: make_optimizer: ftrl has no weight_decay "
            "setting");
  EXPECT_EQ(spec_error(flatten + R"({"optimizer": "sgd", "momentum": 1.5}})"),
            "model spec mlp.json: training.momentum: expected a number in [0, 1], got 1.5");
  EXPECT_EQ(spec_error(flatten + R"({"optimizer": "sgd", "nesterov": 1}})"),
            "model spec mlp.json: training.nesterov: expected true or false, got 1");
}

// "precision": read, written back (only when not fp32), and refused when unknown.
TEST(ModelSpec, TrainingPrecision) {
  const std::string flatten = R"({"layers": [{"type": "Flatten"}], "training": )";
  const io::ModelSpec spec =
      io::parse_model_spec(flatten + R"({"precision": "bf16"}})", "bf16.json");
  EXPECT_EQ(spec.training.precision, "bf16");
  EXPECT_EQ(io::parse_model_spec(flatten + "{}}", "plain").training.precision, "fp32");
  auto model =
      sequential_from_spec(R"({"input_shape": [2], "layers": [{"type": "Flatten"}]})", "x");
  const std::string written = io::model_to_spec(*model, "m", {2}, &spec.training);
  EXPECT_NE(written.find("\"precision\": \"bf16\""), std::string::npos) << written;
  EXPECT_EQ(io::parse_model_spec(written, "back").training.precision, "bf16");
  io::TrainingSpec fp32 = spec.training;
  fp32.precision = "fp32";
  EXPECT_EQ(io::model_to_spec(*model, "m", {2}, &fp32).find("precision"), std::string::npos);
  EXPECT_EQ(spec_error(flatten + R"({"precision": "fp16"}})"),
            "model spec mlp.json: training.precision: unknown precision \"fp16\": expected fp32 "
            "or bf16");
}

TEST(ModelSpec, InvalidJsonGivesLineAndColumn) {
  const std::string message = spec_error("{\n  \"layers\": [\n    {\"type\": \"Flatten\"},,\n]}");
  EXPECT_EQ(message.rfind("model spec mlp.json: invalid JSON at line 3, column 25: ", 0), 0u)
      << message;
}

// Issue 12, rows 1 and 13: nesting 100,000 deep, a number no double holds, and values too long
// to print are one short error naming the file and the JSON path.
TEST(ModelSpec, DeepNestingIsOneErrorWithItsPath) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string message = spec_error(R"({"layers": [{"type": "Flatten"}, )" + deep + "]}");
  EXPECT_EQ(message.rfind("model spec mlp.json: layers[1][0][0]", 0), 0u) << message;
  EXPECT_NE(message.find(": arrays and objects nested more than 128 levels deep"),
            std::string::npos)
      << message;
  EXPECT_LT(message.size(), 250u);
}

TEST(ModelSpec, NumberOutOfRangeNamesThePath) {
  EXPECT_EQ(layer_error(R"({"type": "Dense", "units": 1e400})"),
            "model spec mlp.json: layers[1].units: number overflow parsing '1e400'");
}

TEST(ModelSpec, BadValuesAreShownAsExcerpts) {
  const std::string long_string =
      layer_error(R"({"type": "Dense", "units": ")" + std::string(100000, 'x') + "\"}");
  EXPECT_EQ(long_string.rfind("model spec mlp.json: layers[1].units: expected a positive integer, "
                              "got \"xxxx",
                              0),
            0u)
      << long_string.substr(0, 200);
  EXPECT_LT(long_string.size(), 200u);
  // As deep as the parser allows, then shown cut.
  const std::string nested = std::string(120, '[') + std::string(120, ']');
  const std::string deep_value = layer_error(R"({"type": "Dense", "units": )" + nested + "}");
  EXPECT_EQ(deep_value, "model spec mlp.json: layers[1].units: expected a positive integer, got " +
                            std::string(80, '[') + "...");
}

TEST(ModelSpec, LoadFromFile) {
  TempDir dir;
  write_bytes(dir.file("mlp.json"), kMlp);
  EXPECT_EQ(io::load_model_spec(dir.file("mlp.json")).name, "mlp");
  write_bytes(dir.file("bad.json"), R"({"layers": [{"type": "Dense", "units": "abc"}]})");
  EXPECT_EQ(error_message([&] { io::load_model_spec(dir.file("bad.json")); }),
            "model spec " + dir.file("bad.json") +
                ": layers[0].units: expected a positive integer, got \"abc\"");
  EXPECT_EQ(error_message([&] { io::load_model_spec(dir.file("none.json")); }),
            "model spec: cannot open " + dir.file("none.json") + ": No such file or directory");
}

TEST(ModelSpec, InputShapeTheLayersRejectIsAnError) {
  const std::string message = error_message([] {
    sequential_from_spec(R"({"name": "m", "input_shape": [3, 4], "layers": [
        {"type": "Dense", "units": 2, "in_features": 5}]})",
                         "m.json");
  });
  EXPECT_EQ(message.rfind("model spec m: the layers do not accept input_shape [3, 4]: ", 0), 0u)
      << message;
}

TEST(ModelSpec, WriteAndReadBack) {
  auto model = sequential_from_spec(R"({"input_shape": [4, 2], "layers": [
      {"type": "Flatten"}, {"type": "Linear", "out_features": 5, "bias": false},
      {"type": "Tanh"}, {"type": "Dropout", "rate": 0.25},
      {"type": "Dense", "units": 3, "activation": "sigmoid"},
      {"type": "Activation", "activation": "log_softmax"}]})",
                                    "x");
  io::TrainingSpec training;
  training.optimizer = "sgd";
  training.lr = 0.5;
  training.epochs = 2;
  const std::string text = io::model_to_spec(*model, "small", {4, 2}, &training);
  EXPECT_EQ(text, R"({
  "name": "small",
  "input_shape": [
    4,
    2
  ],
  "layers": [
    {
      "type": "Flatten"
    },
    {
      "type": "Linear",
      "out_features": 5,
      "bias": false
    },
    {
      "type": "Tanh"
    },
    {
      "type": "Dropout",
      "rate": 0.25
    },
    {
      "type": "Dense",
      "units": 3,
      "activation": "sigmoid"
    },
    {
      "type": "Activation",
      "activation": "log_softmax"
    }
  ],
  "training": {
    "optimizer": "sgd",
    "lr": 0.5,
    "loss": "sparse_categorical_crossentropy",
    "metrics": [
      "accuracy"
    ],
    "batch_size": 32,
    "epochs": 2
  }
}
)");
  const io::ModelSpec back = io::parse_model_spec(text, "back");
  EXPECT_EQ(back.training.epochs, 2);
  EXPECT_EQ(build_sequential(back)->num_parameters(), model->num_parameters());

  // Without an input shape the known input sizes are written, so that weights can be loaded.
  const std::string lazy = io::model_to_spec(*model, "small", {});
  auto rebuilt = sequential_from_spec(lazy, "lazy");
  EXPECT_EQ(rebuilt->num_parameters(), model->num_parameters());
}

TEST(ModelSpec, UnsupportedLayersCannotBeWritten) {
  struct Custom : nn::Module {
    Tensor forward(const Tensor& x) override { return x; }
    std::string type_name() const override { return "Custom"; }
  };
  nn::Sequential model;
  model.add(std::make_shared<nn::Flatten>());
  model.add(std::make_shared<Custom>());
  const std::string message = error_message([&] { io::model_to_spec(model, "m", {2}); });
  EXPECT_EQ(message.rfind("model_to_spec: layer 1 (Custom) cannot be written as a model spec; spec "
                          "layer types: Activation, AdaptiveAvgPool2d, ",
                          0),
            0u)
      << message;
}

TEST(Presets, MlpHas101770Parameters) {
  const std::vector<std::string> names = io::builtin_model_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "mlp"), names.end());
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  auto model = sequential_from_spec(io::builtin_model_spec("mlp"), "mlp");
  EXPECT_EQ(model->build({28, 28}), (Shape{1, 10}));
  EXPECT_EQ(model->num_parameters(), 101770);
  train::Model keras(model, "mlp");
  keras.build({28, 28});
  EXPECT_NE(keras.summary().find("Total params: 101,770"), std::string::npos) << keras.summary();
}

TEST(Presets, EveryPresetParsesAndBuilds) {
  for (const std::string& name : io::builtin_model_names()) {
    const io::ModelSpec spec = io::parse_model_spec(io::builtin_model_spec(name), name);
    EXPECT_EQ(spec.name, name) << "the preset's name matches its file name";
    EXPECT_FALSE(spec.description.empty()) << name;
    EXPECT_FALSE(spec.input_shape.empty()) << name;
    // Weights: parameters, or buffers for a layer that learns without gradients (Hopfield);
    // io::build_model, since dcgan is a graph.
    EXPECT_FALSE(io::build_model(spec)->state_dict().empty()) << name;
  }
}

TEST(Presets, UnknownPresetListsTheKnownOnes) {
  const std::string message = error_message([] { io::builtin_model_spec("resnet50"); });
  std::string known;
  for (const auto& name : io::builtin_model_names()) known += (known.empty() ? "" : ", ") + name;
  EXPECT_EQ(message, "unknown built-in model \"resnet50\"; built-in models: " + known);
  EXPECT_NE(known.find("mlp"), std::string::npos);
}

TEST(ModelSpec, RescalingRoundTripsAndMarksRawInputs) {
  const auto model = sequential_from_spec(
      R"({"name": "r", "input_shape": [4], "layers": [{"type": "Rescaling", "scale": 0.5,
          "offset": 1}, {"type": "Dense", "units": 2}]})",
      "r.json");
  const auto* rescaling = dynamic_cast<const nn::Rescaling*>(model->layers()[0].get());
  ASSERT_NE(rescaling, nullptr);
  EXPECT_EQ(rescaling->scale(), 0.5);
  EXPECT_EQ(rescaling->offset(), 1);
  const std::string text = io::model_to_spec(*model, "r", {4});
  EXPECT_NE(text.find(R"("type": "Rescaling")"), std::string::npos) << text;
  EXPECT_EQ(error_message([] {
              sequential_from_spec(R"({"name": "r", "layers": [{"type": "Rescaling"}]})", "r.json");
            }),
            "model spec r.json: layers[0]: missing \"scale\": the factor inputs are multiplied by");
}
