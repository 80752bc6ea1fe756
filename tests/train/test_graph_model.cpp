// Graph models through Model: a Wide&Deep-shaped regressor (two inputs, a concatenation) and a
// U-Net-shaped segmenter (skip connections), each built in C++ and from JSON, trained a few
// steps, saved, loaded, and predicting exactly what it predicted before; several outputs with
// their own losses and loss weights; the "Connected to" summary.
#include <gtest/gtest.h>

#include <filesystem>

#include "../data/test_util.hpp"
#include "nabla/io.hpp"
#include "nabla/train.hpp"
#include "support/errors.hpp"

using namespace nabla;
using namespace nabla::train;
using nabla::testing::error_message;
using nabla::testing::TempDir;

namespace {

// y = wide . a + tanh(deep . b): a linear part and a non-linear part.
struct WideDeepData {
  Tensor wide, deep, y;
};
WideDeepData wide_deep_data(int64_t n) {
  Generator gen(11);
  WideDeepData d{randn({n, 5}, DType::f32, &gen), randn({n, 3}, DType::f32, &gen), Tensor()};
  const Tensor a = from_vector(std::vector<float>{0.5f, -1, 0.25f, 2, -0.5f}, {5, 1});
  const Tensor b = from_vector(std::vector<float>{1, -1, 0.5f}, {3, 1});
  d.y = add(matmul(d.wide, a), tanh(matmul(d.deep, b)));
  return d;
}

Model wide_deep_in_cpp() {
  auto wide = layers::Input({5}, "wide");
  auto deep = layers::Input({3}, "deep");
  auto hidden = layers::Dense(16, "relu").named("hidden")(deep);
  auto joined = layers::Concatenate().named("joined")({wide, hidden});
  auto price = layers::Dense(1).named("price")(joined);
  return Model({wide, deep}, {price}, "wide_deep");
}

const char* kWideDeepJson = R"({"name": "wide_deep",
  "inputs": [{"name": "wide", "shape": [5]}, {"name": "deep", "shape": [3]}],
  "layers": [
    {"name": "hidden", "type": "Dense", "units": 16, "activation": "relu", "inputs": ["deep"]},
    {"name": "joined", "type": "Concatenate", "inputs": ["wide", "hidden"]},
    {"name": "price", "type": "Dense", "units": 1, "inputs": ["joined"]}],
  "outputs": ["price"]})";

// [1, 8, 8] images -> per-pixel logits [1, 8, 8]: conv, pool, conv, learned upsampling, the
// encoder's features concatenated back (the skip connection), a 1x1 conv with a sigmoid.
Model unet_in_cpp() {
  nn::ConvLayerOptions same;
  same.padding_mode = "same";
  auto image = layers::Input({1, 8, 8}, "image");
  auto enc = layers::Conv2D(4, 3, "relu", same).named("enc")(image);
  auto bottom = layers::Conv2D(8, 3, "relu", same)
                    .named("bottom")(layers::MaxPooling2D(2).named("pool")(enc));
  auto up = layers::Conv2DTranspose(4, 2, 2).named("up")(bottom);
  auto skip = layers::Concatenate(1).named("skip")({up, enc});
  auto mask = layers::Conv2D(1, 1, "sigmoid").named("mask")(skip);
  return Model({image}, {mask}, "unet");
}

const char* kUnetJson = R"({"name": "unet",
  "inputs": [{"name": "image", "shape": [1, 8, 8]}],
  "layers": [
    {"name": "enc", "type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same",
     "activation": "relu", "inputs": ["image"]},
    {"name": "pool", "type": "MaxPooling2D", "pool_size": 2, "inputs": ["enc"]},
    {"name": "bottom", "type": "Conv2D", "filters": 8, "kernel_size": 3, "padding": "same",
     "activation": "relu", "inputs": ["pool"]},
    {"name": "up", "type": "Conv2DTranspose", "filters": 4, "kernel_size": 2, "strides": 2,
     "inputs": ["bottom"]},
    {"name": "skip", "type": "Concatenate", "axis": 1, "inputs": ["up", "enc"]},
    {"name": "mask", "type": "Conv2D", "filters": 1, "kernel_size": 1, "activation": "sigmoid",
     "inputs": ["skip"]}],
  "outputs": ["mask"]})";

// Trains `model` a few steps, saves it, loads it back, and checks that the loaded model predicts
// bit for bit what the trained one does (and that training moved the loss).
void train_save_load(Model& model, const std::vector<Tensor>& x, const Tensor& y,
                     const std::string& loss) {
  model.compile("adam", loss);
  const History history = model.fit(x, {y}, {.epochs = 3, .batch_size = 16, .verbose = 0});
  EXPECT_LT(history["loss"].back(), history["loss"].front()) << model.name();
  const std::vector<Tensor> before = model.predict(x);
  TempDir dir;
  model.save(dir.file("m.safetensors"));
  Model loaded = Model::load(dir.file("m.safetensors"));
  EXPECT_EQ(loaded.module().type_name(), "Functional");
  EXPECT_EQ(loaded.summary(), model.summary());
  const std::vector<Tensor> after = loaded.predict(x);
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].to_vector<float>(), before[0].to_vector<float>()) << model.name();
  // The loaded model is compiled from the saved spec and trains on.
  EXPECT_TRUE(loaded.compiled());
  EXPECT_EQ(loaded.loss().name(), loss);
}

}  // namespace

TEST(GraphModel, WideDeepInCppTrainsSavesAndLoads) {
  manual_seed(1);
  const WideDeepData d = wide_deep_data(128);
  Model model = wide_deep_in_cpp();
  train_save_load(model, {d.wide, d.deep}, d.y, "mean_squared_error");
}

TEST(GraphModel, WideDeepFromJsonIsTheSameModel) {
  manual_seed(1);
  Model from_json(io::model_from_spec(kWideDeepJson, "wide_deep.json"));
  manual_seed(1);
  Model in_cpp = wide_deep_in_cpp();
  // Same layers, names and initial weights.
  EXPECT_EQ(from_json.summary(), in_cpp.summary());
  const WideDeepData d = wide_deep_data(32);
  EXPECT_EQ(from_json.predict({d.wide, d.deep})[0].to_vector<float>(),
            in_cpp.predict({d.wide, d.deep})[0].to_vector<float>());
  // The C++ model writes itself back as the same graph spec.
  const io::ModelSpec spec =
      io::parse_model_spec(io::model_to_spec(in_cpp.module(), "wide_deep", {}), "written");
  EXPECT_EQ(spec.num_inputs, 2u);
  EXPECT_EQ(spec.input_shape, Shape({5}));
  train_save_load(from_json, {d.wide, d.deep}, d.y, "mean_squared_error");
}

TEST(GraphModel, UnetInCppAndFromJsonTrainSaveAndLoad) {
  Generator gen(4);
  const Tensor images = rand({48, 1, 8, 8}, DType::f32, &gen);
  const Tensor masks = gt(images, scalar_tensor(0.5)).to(DType::f32);
  manual_seed(2);
  Model in_cpp = unet_in_cpp();
  manual_seed(2);
  Model from_json(io::model_from_spec(kUnetJson, "unet.json"));
  EXPECT_EQ(from_json.summary(), in_cpp.summary());
  EXPECT_EQ(in_cpp.output_shape(), Shape({1, 1, 8, 8}));
  train_save_load(in_cpp, {images}, masks, "binary_crossentropy");
  train_save_load(from_json, {images}, masks, "binary_crossentropy");
}

TEST(GraphModel, SummaryShowsWhatEachLayerIsConnectedTo) {
  const std::string text = wide_deep_in_cpp().summary();
  EXPECT_NE(text.find("Connected to"), std::string::npos) << text;
  EXPECT_NE(text.find("wide (InputLayer)"), std::string::npos) << text;
  // The concatenation lists both of its inputs, one per line.
  EXPECT_NE(
      text.find("joined (Concatenate)            (None, 21)            0           wide[0][0]\n"
                "                                                                  hidden[0][0]\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("hidden[0][0]"), std::string::npos) << text;
  EXPECT_NE(text.find("Total params: 86"), std::string::npos) << text;  // 3*16+16 + 21+1
}

TEST(GraphModel, SeveralOutputsWithTheirOwnLossesAndWeights) {
  manual_seed(6);
  auto x = layers::Input({4}, "x");
  auto shared = layers::Dense(8, "relu").named("shared")(x);
  auto label = layers::Dense(3, "softmax").named("label")(shared);
  auto value = layers::Dense(1).named("value")(shared);
  Model model({x}, {label, value}, "two_heads");
  model.compile("adam", {"sparse_categorical_crossentropy", "mse"}, {"accuracy"}, {1.0, 0.5});
  Generator gen(7);
  const Tensor inputs = randn({64, 4}, DType::f32, &gen);
  const Tensor classes = argmax(inputs.slice(1, 0, 3), 1);
  const Tensor values = sum(inputs, {1}, true);
  const History history = model.fit(std::vector<Tensor>{inputs}, {classes, values},
                                    {.epochs = 2, .batch_size = 16, .verbose = 0});
  for (const char* name :
       {"loss", "label_loss", "value_loss", "label_accuracy", "value_accuracy"}) {
    EXPECT_EQ(history[name].size(), 2u) << name;
  }
  // The loss minimized is the weighted sum of the outputs' losses.
  const EvaluationReport report =
      model.evaluate(std::vector<Tensor>{inputs}, {classes, values}, 64, 0);
  EXPECT_NEAR(report["loss"], report["label_loss"] + 0.5 * report["value_loss"], 1e-5);
  const std::vector<Tensor> outputs = model.predict(std::vector<Tensor>{inputs});
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(outputs[0].shape(), Shape({64, 3}));
  EXPECT_EQ(outputs[1].shape(), Shape({64, 1}));
  // Probabilities: the softmax left out for the fused loss is back in predict().
  EXPECT_NEAR(sum(outputs[0].slice(0, 0, 1)).item(), 1.0, 1e-5);
  EXPECT_NE(error_message([&] {
              model.fit(std::vector<Tensor>{inputs}, {classes});
            }).find("has 2 output(s), got 1 target tensor(s)"),
            std::string::npos);
  EXPECT_NE(error_message([&] { model.predict(inputs); }).find("has 2 outputs"), std::string::npos);
}

TEST(GraphModel, GraphSpecErrorsNameTheJsonPath) {
  const auto message = [](const std::string& json) {
    return error_message([&] { io::parse_model_spec(json, "g.json"); });
  };
  const std::string head = R"({"inputs": [{"name": "x", "shape": [4]}], "layers": [)";
  EXPECT_NE(message(head + R"({"name": "d", "type": "Dense", "units": 2, "inputs": ["y"]}],
      "outputs": ["d"]})")
                .find("g.json: layers[0].inputs[0]: unknown name \"y\""),
            std::string::npos);
  EXPECT_NE(message(head + R"({"name": "x", "type": "Dense", "units": 2, "inputs": ["x"]}],
      "outputs": ["x"]})")
                .find("layers[0].name: the name \"x\" is used twice"),
            std::string::npos);
  EXPECT_NE(message(head + R"({"name": "d", "type": "Dense", "units": 2, "inputs": ["e"]},
      {"name": "e", "type": "Dense", "units": 2, "inputs": ["d"]}], "outputs": ["e"]})")
                .find("layers[0].inputs[0]: unknown name \"e\"; a layer reads the model's inputs "
                      "and the layers listed before it"),
            std::string::npos);  // a cycle cannot be written
  EXPECT_NE(
      message(head + R"({"name": "d", "type": "Dense2", "inputs": ["x"]}], "outputs": ["d"]})")
          .find("layers[0].type: unknown layer type \"Dense2\""),
      std::string::npos);
  EXPECT_NE(message(head + R"({"name": "d", "type": "Dense", "units": 2, "inputs": ["x"]}]})")
                .find("missing \"outputs\""),
            std::string::npos);
  EXPECT_NE(message(head + R"({"name": "d", "shared": "e", "inputs": ["x"]}], "outputs": ["d"]})")
                .find("layers[0].shared: no layer named \"e\""),
            std::string::npos);
  // Shapes are checked when the model is built, at the layer that meets them.
  EXPECT_NE(error_message([&] {
              io::model_from_spec(
                  R"({"inputs": [{"name": "a", "shape": [4]}, {"name": "b", "shape": [5]}],
                "layers": [{"name": "sum", "type": "Add", "inputs": ["a", "b"]}], "outputs": ["sum"]})",
                  "g.json");
            }).find("layers[0] (sum): layer 'sum': Add: expected inputs of one shape"),
            std::string::npos);
}
