// Model specs of sequence models: the layer types (Keras and PyTorch names), the sequence presets
// and their round trips, the "data" section, the training section's "lr_schedule", and errors.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/parameter_names.hpp"
#include "support/sequential_spec.hpp"

using nabla::testing::error_message;
using namespace nabla;
using nabla::testing::state_names;

namespace {
std::string seq_spec_error(const std::string& body) {
  return error_message([&] { io::parse_model_spec(body, "seq.json"); });
}

}  // namespace

TEST(SequenceSpec, EveryPresetRoundTripsThroughModelToSpec) {
  // bilstm is a graph (its words' embeddings join the BiLSTM's outputs); the others Sequentials.
  const std::vector<std::pair<std::string, Shape>> presets = {
      {"lstm", {1, 10}},  {"charlm", {1, 128, 96}}, {"textcnn", {1, 6}},
      {"bilstm", {1, 6}}, {"seq2seq", {1, 11, 13}}, {"transformer", {1, 11, 13}}};
  for (const auto& [name, output] : presets) {
    const io::ModelSpec spec = io::parse_model_spec(io::builtin_model_spec(name), name);
    manual_seed(0);
    auto model = io::build_model(spec);
    EXPECT_EQ(model->build(spec.input_shape), output) << name;
    const std::string text = io::model_to_spec(*model, name, spec.input_shape, &spec.training);
    auto rebuilt = io::build_model(io::parse_model_spec(text, name));
    EXPECT_EQ(rebuilt->num_parameters(), model->num_parameters()) << name << "\n" << text;
    EXPECT_EQ(state_names(*rebuilt), state_names(*model)) << name;
    EXPECT_EQ(io::parse_model_spec(text, name).training.lr_schedule_json,
              spec.training.lr_schedule_json)
        << name;
  }
}

TEST(SequenceSpec, KerasAndPyTorchRecurrentNames) {
  auto keras = sequential_from_spec(R"({"input_shape": [5, 3], "layers": [
      {"type": "Bidirectional", "layer": {"type": "LSTM", "units": 4, "return_sequences": true}},
      {"type": "GRU", "units": 2}]})",
                                    "keras.json");
  auto torch = sequential_from_spec(R"({"input_shape": [5, 3], "layers": [
      {"type": "LSTM", "hidden_size": 4, "bidirectional": true, "return_sequences": true},
      {"type": "GRU", "hidden_size": 2}]})",
                                    "torch.json");
  EXPECT_EQ(state_names(*keras), state_names(*torch));
  EXPECT_EQ(keras->build({5, 3}), (Shape{1, 2}));
  const auto names = state_names(*keras);
  EXPECT_NE(std::find(names.begin(), names.end(), "0.weight_hh_l0_reverse"), names.end());
  auto rnn = sequential_from_spec(
      R"({"input_shape": [5, 3], "layers": [{"type": "RNN", "hidden_size": 4, "nonlinearity": "relu"}]})",
      "rnn.json");
  const auto& layer = dynamic_cast<const nn::Recurrent&>(*rnn->layers()[0]);
  EXPECT_EQ(layer.mode(), RnnMode::rnn_relu);
  EXPECT_EQ(layer.type_name(), "RNN");
}

TEST(SequenceSpec, EmbeddingMaskReachesTheRecurrentLayer) {
  // With mask_zero, padding at the end of a sequence does not change the LSTM's final state.
  manual_seed(3);
  auto model = sequential_from_spec(R"({"input_shape": [6], "layers": [
      {"type": "Embedding", "input_dim": 10, "output_dim": 4, "mask_zero": true},
      {"type": "LSTM", "units": 5}]})",
                                    "masked.json");
  model->eval();
  const Tensor padded = from_vector(std::vector<int64_t>{3, 4, 5, 0, 0, 0}, {1, 6});
  const Tensor short_one = from_vector(std::vector<int64_t>{3, 4, 5}, {1, 3});
  const auto a = (*model)(padded).to_vector<float>();
  const auto b = (*model)(short_one).to_vector<float>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6) << i;
}

TEST(SequenceSpec, KerasConv1DTakesChannelsLastSequences) {
  auto model = sequential_from_spec(R"({"input_shape": [7, 3], "layers": [
      {"type": "Conv1D", "filters": 4, "kernel_size": 3, "padding": "same"},
      {"type": "GlobalMaxPooling1D"}]})",
                                    "textcnn.json");
  EXPECT_EQ(model->build({7, 3}), (Shape{1, 4}));
  auto torch = sequential_from_spec(
      R"({"input_shape": [3, 7], "layers": [{"type": "Conv1d", "out_channels": 4, "kernel_size": 3}]})",
      "conv1d.json");
  EXPECT_EQ(torch->build({3, 7}), (Shape{1, 4, 5}));
  const std::string text = io::model_to_spec(*model, "m", {7, 3});
  EXPECT_EQ(text.find("data_format"), std::string::npos) << text;  // Conv1D's default
}

TEST(SequenceSpec, DataSection) {
  const io::ModelSpec spec = io::parse_model_spec(io::builtin_model_spec("textcnn"), "textcnn");
  ASSERT_TRUE(spec.data.has_value());
  EXPECT_EQ(spec.data->type, "fortunes");
  EXPECT_EQ(spec.data->categories.size(), 6U);
  EXPECT_EQ(spec.data->sequence_length, 64);
  EXPECT_TRUE(spec.data->lowercase);
  EXPECT_FALSE(io::parse_model_spec(io::builtin_model_spec("mlp"), "mlp").data.has_value());

  const std::string layers = R"("layers": [{"type": "Flatten"}])";
  EXPECT_NE(
      seq_spec_error(R"({"data": {"type": "poems"}, )" + layers + "}")
          .find("seq.json: data.type: expected fortunes, corpus, digits, image_folder or tfrecord"),
      std::string::npos);
  EXPECT_NE(seq_spec_error(R"({"data": {"type": "fortunes"}, )" + layers + "}")
                .find("a fortunes task needs \"categories\""),
            std::string::npos);
  EXPECT_NE(seq_spec_error(R"({"data": {"type": "digits", "min_length": 5, "max_length": 2}, )" +
                           layers + "}")
                .find("data.max_length: must be >= min_length (5), got 2"),
            std::string::npos);
  EXPECT_NE(seq_spec_error(R"({"data": {"type": "corpus", "window": 5}, )" + layers + "}")
                .find("data.window: unknown key"),
            std::string::npos);
}

TEST(SequenceSpec, LearningRateSchedules) {
  const std::string layers = R"("layers": [{"type": "Dense", "units": 1}])";
  const auto schedule = [&](const std::string& json) {
    return io::parse_model_spec(R"({"input_shape": [2], )" + layers +
                                    R"(, "training": {"epochs": 4, "lr": 0.1, )" +
                                    R"("lr_schedule": )" + json + "}}",
                                "s.json");
  };
  // Cosine over the training's epochs: 0.1 -> 0.05 after two of four epochs.
  const io::ModelSpec cosine = schedule(R"({"type": "cosine"})");
  optim::SGD sgd(optim::SGDOptions{.lr = 0.1});
  auto scheduler = io::make_lr_scheduler(cosine.training, sgd);
  ASSERT_NE(scheduler, nullptr);
  scheduler->step();
  scheduler->step();
  EXPECT_NEAR(sgd.lr(), 0.05, 1e-12);
  const io::ModelSpec step = schedule(R"({"type": "step", "step_size": 1, "gamma": 0.5})");
  optim::SGD sgd2(optim::SGDOptions{.lr = 0.1});
  io::make_lr_scheduler(step.training, sgd2)->step();
  EXPECT_NEAR(sgd2.lr(), 0.05, 1e-12);
  EXPECT_EQ(io::make_lr_scheduler(io::TrainingSpec{}, sgd2), nullptr);

  const auto error = [&](const std::string& json) {
    return error_message([&] { schedule(json); });
  };
  EXPECT_NE(
      error(R"({"type": "linear"})")
          .find("training.lr_schedule.type: unknown schedule \"linear\"; known: cosine, step, "
                "multistep, exponential"),
      std::string::npos);
  EXPECT_NE(error(R"({"type": "step"})").find("\"step\" needs \"step_size\""), std::string::npos);
  EXPECT_NE(error(R"({"type": "exponential", "gamma": 2})")
                .find("training.lr_schedule.gamma: expected a number in [0, 1]"),
            std::string::npos);
  EXPECT_NE(error(R"({"type": "multistep", "milestones": []})")
                .find("training.lr_schedule.milestones: expected a list of epoch numbers"),
            std::string::npos);
}

TEST(SequenceSpec, LayerErrorsNameThePath) {
  EXPECT_NE(seq_spec_error(R"({"layers": [{"type": "LSTM"}]})")
                .find("seq.json: layers[0]: missing \"units\" (or \"hidden_size\")"),
            std::string::npos);
  EXPECT_NE(seq_spec_error(R"({"layers": [{"type": "Embedding", "input_dim": 5, "output_dim": 2,
                                       "padding_idx": 7}]})")
                .find("layers[0].padding_idx: expected an id in [0, 5), got 7"),
            std::string::npos);
  EXPECT_NE(seq_spec_error(R"({"layers": [{"type": "Bidirectional",
                                       "layer": {"type": "Dense", "units": 3}}]})")
                .find("layers[0].layer.type: expected LSTM, GRU or SimpleRNN, got \"Dense\""),
            std::string::npos);
  EXPECT_NE(seq_spec_error(R"({"layers": [{"type": "Bidirectional",
                                       "layer": {"type": "LSTM", "units": 3, "unitz": 1}}]})")
                .find("layers[0].layer.unitz: unknown key"),
            std::string::npos);
  EXPECT_NE(seq_spec_error(R"({"layers": [{"type": "Seq2Seq", "vocab_size": 13}]})")
                .find("missing \"source_length\""),
            std::string::npos);
}
