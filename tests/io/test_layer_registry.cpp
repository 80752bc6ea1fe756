// The layer registry (src/io/layer_args.hpp): every registered type reads, writes, and reads its
// own writing back to the same object, so that a type cannot be readable without a writer.
#include <gtest/gtest.h>

#include "data/test_util.hpp"
#include "io/layer_args.hpp"
#include "io/layer_spec.hpp"
#include "nabla/nabla.hpp"

using namespace nabla;
using nabla::testing::error_message;
namespace internal = nabla::io::internal;

namespace {

// The keys a type requires, beyond "type"; a type missing here is read as {"type": T} alone, so
// a new type with required keys fails below until it gets its minimal spec.
const std::map<std::string, internal::Json>& required_keys() {
  using internal::Json;
  static const Json kConv = {{"filters", 2}, {"kernel_size", 3}};
  static const Json kUnits = {{"units", 2}};
  static const Json kRate = {{"rate", 0.5}};
  static const Json kKernel = {{"kernel_size", 2}};
  static const std::map<std::string, Json> kKeys = {
      {"Activation", {{"activation", "gelu"}}},
      {"AdaptiveAvgPool2d", {{"output_size", 1}}},
      {"AvgPool2d", kKernel},
      {"Bidirectional", {{"layer", {{"type", "LSTM"}, {"units", 2}}}}},
      {"Conv1D", kConv},
      {"Conv1d", kConv},
      {"Conv2D", kConv},
      {"Conv2DTranspose", kConv},
      {"Conv2d", kConv},
      {"ConvTranspose2d", kConv},
      {"Dense", kUnits},
      {"DenseBlock", {{"layers", 2}, {"growth_rate", 4}}},
      {"DepthwiseConv2D", kKernel},
      {"Dropout", kRate},
      {"Dropout2d", kRate},
      {"Embedding", {{"input_dim", 10}, {"output_dim", 4}}},
      {"GRU", kUnits},
      {"GroupNorm", {{"num_groups", 2}}},
      {"LSTM", kUnits},
      {"Linear", kUnits},
      {"MaxPool2d", kKernel},
      {"MultiHeadAttention", {{"embed_dim", 8}, {"num_heads", 2}}},
      {"PositionalEncoding", {{"max_length", 16}}},
      {"RBM", {{"units", 4}}},
      {"RNN", kUnits},
      {"Rescaling", {{"scale", 0.5}}},
      {"Permute", {{"dims", {2, 1}}}},
      {"Reshape", {{"target_shape", {2, -1}}}},
      {"ResidualBlock", {{"filters", 4}}},
      {"SeparableConv2D", kConv},
      {"Seq2Seq", {{"vocab_size", 10}, {"source_length", 4}}},
      {"SimpleRNN", kUnits},
      {"SpatialDropout2D", kRate},
      {"TransformerEncoderLayer", {{"d_model", 8}, {"nhead", 2}}},
  };
  return kKeys;
}

internal::OrderedJson write(const internal::Json& object, const std::string& source) {
  const internal::SpecReader reader(source);
  return internal::layer_to_json(*internal::parse_layer(reader, object, "layer"), 0);
}

}  // namespace

TEST(LayerRegistry, EveryTypeRoundTrips) {
  const std::vector<std::string> types = internal::layer_registry().names();
  ASSERT_GT(types.size(), 60u);
  for (const std::string& type : types) {
    SCOPED_TRACE(type);
    internal::Json spec = {{"type", type}};
    if (const auto it = required_keys().find(type); it != required_keys().end()) {
      spec.update(it->second);
    }
    // ASSERT_NO_THROW reports the error (a missing key, a type without a writer).
    internal::OrderedJson first;
    ASSERT_NO_THROW(first = write(spec, "minimal"));
    ASSERT_TRUE(first.contains("type")) << first.dump();
    // The object written is read again (the writer's keys are ones its type accepts) and
    // written to the same object: nothing is lost or renamed on a second save.
    internal::OrderedJson second;
    ASSERT_NO_THROW(second = write(internal::Json::parse(first.dump()), "written")) << first.dump();
    EXPECT_EQ(second.dump(), first.dump());
  }
}

TEST(LayerRegistry, NamedActivationsReadAndWrite) {
  EXPECT_EQ(write({{"type", "GELU"}}, "s").dump(), R"({"type":"Activation","activation":"gelu"})");
  EXPECT_EQ(write({{"type", "LeakyReLU"}}, "s").dump(),
            R"({"type":"Activation","activation":"leaky_relu"})");
  EXPECT_EQ(write({{"type", "Activation"}, {"activation", "relu"}}, "s").dump(),
            R"({"type":"ReLU"})");
  // LeakyReLU's one parameter, by PyTorch's name or Keras's; the default is written as before.
  EXPECT_EQ(write({{"type", "LeakyReLU"}, {"negative_slope", 0.2}}, "s").dump(),
            R"({"type":"LeakyReLU","negative_slope":0.2})");
  EXPECT_EQ(write({{"type", "LeakyReLU"}, {"alpha", 0.3}}, "s").dump(),
            R"({"type":"LeakyReLU","negative_slope":0.3})");
  EXPECT_EQ(write({{"type", "LeakyReLU"}, {"negative_slope", 0.01}}, "s").dump(),
            R"({"type":"Activation","activation":"leaky_relu"})");
  // Every activation module nabla can make has a registered type, "" (none) included.
  const nn::Activation none("");
  EXPECT_EQ(internal::layer_to_json(none, 0).dump(), R"({"type":"Activation","activation":""})");
}

TEST(LayerRegistry, AModuleNotOfTheRegisteredClassIsNotWritten) {
  struct FakeDense : nn::Module {
    Tensor forward(const Tensor& x) override { return x; }
    std::string type_name() const override { return "Dense"; }
  };
  const std::string message = error_message([] { internal::layer_to_json(FakeDense(), 3); });
  EXPECT_EQ(message.rfind("model_to_spec: layer 3 (Dense) cannot be written as a model spec; spec "
                          "layer types: Activation, AdaptiveAvgPool2d, ",
                          0),
            0u)
      << message;
}

TEST(LayerRegistry, ATypeRegisteredTwiceIsAnError) {
  internal::LayerRegistry registry;
  registry.add({{"Flatten"}, {}, nullptr, nullptr});
  EXPECT_EQ(error_message([&] {
              registry.add({{"Reshape", "Flatten"}, {}, nullptr, nullptr});
            }),
            "layer registry: type \"Flatten\" is registered twice");
  EXPECT_EQ(registry.names(), std::vector<std::string>{"Flatten"});
}
