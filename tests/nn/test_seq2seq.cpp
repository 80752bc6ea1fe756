// Encoder-decoder models: output shapes, source padding masks, greedy decoding, errors, and an
// LSTM with attention that learns to reverse digit strings.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "nabla/data.hpp"
#include "nabla/nn.hpp"
#include "nabla/optim.hpp"
#include "support/errors.hpp"
#include "support/reference.hpp"

using namespace nabla;
using nabla::testing::error_message;

namespace {

nn::Seq2SeqOptions small_options(int64_t source_length, const std::string& attention = "luong") {
  return {.vocab_size = data::kDigitTaskVocab,
          .source_length = source_length,
          .embedding_dim = 8,
          .hidden_size = 16,
          .num_layers = 1,
          .attention = attention,
          .num_heads = 2,
          .dim_feedforward = 32,
          .max_length = 16,
          .dropout = 0};
}

struct Case {
  std::string kind;
  std::string attention;
};
const std::vector<Case> kCases = {
    {"lstm", "luong"}, {"lstm", "bahdanau"}, {"lstm", "none"}, {"transformer", ""}};

// The source part [N, S] of digit-task inputs.
Tensor sources(const data::DigitTaskData& d) { return d.inputs.slice(1, 0, d.source_length); }

// Greedy outputs [N, T] against targets [N, T] (answer, end id, padding): the fraction of rows
// that match exactly (the decoder leaves the end id out and pads with 0).
double exact_sequence_accuracy(const Tensor& decoded, const Tensor& targets) {
  const Tensor expected =
      where(eq(targets, scalar_tensor(2, DType::i64)), zeros_like(targets), targets);
  const std::vector<int64_t> got = decoded.to_vector<int64_t>();
  const std::vector<int64_t> want = expected.to_vector<int64_t>();
  const int64_t rows = targets.size(0), width = targets.size(1);
  int64_t correct = 0;
  for (int64_t r = 0; r < rows; ++r) {
    correct += std::equal(got.begin() + r * width, got.begin() + (r + 1) * width,
                          want.begin() + r * width);
  }
  return static_cast<double>(correct) / static_cast<double>(rows);
}

Tensor sequence_loss(const Tensor& logits, const Tensor& targets) {
  return cross_entropy(logits.permute({0, 2, 1}), targets, {.weight = Tensor(), .ignore_index = 0});
}

TEST(Seq2Seq, OutputShapesAndSubmoduleNames) {
  const data::DigitTaskData d = data::make_digit_task("reverse", 3, 1, 5, 1);
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.kind + " " + c.attention);
    manual_seed(0);
    nn::Seq2Seq model(c.kind, small_options(5, c.attention));
    const Tensor logits = model(d.inputs);
    EXPECT_EQ(logits.shape(), (Shape{3, 6, data::kDigitTaskVocab}));
    EXPECT_EQ(logits.dtype(), DType::f32);
    // Fewer decoder inputs than the data's T: the model takes any T >= 1.
    EXPECT_EQ(model(d.inputs.slice(1, 0, 7)).shape(), (Shape{3, 2, data::kDigitTaskVocab}));
    std::vector<std::string> names;
    for (const auto& [name, p] : model.named_parameters()) names.push_back(name);
    auto has = [&](const std::string& name) {
      return std::find(names.begin(), names.end(), name) != names.end();
    };
    EXPECT_TRUE(has("encoder_embedding.weight"));
    EXPECT_TRUE(has("decoder_embedding.weight"));
    EXPECT_TRUE(has("output.weight"));
    if (c.kind == "lstm") {
      EXPECT_TRUE(has("encoder.weight_ih_l0"));
      EXPECT_TRUE(has("decoder.weight_hh_l0"));
      EXPECT_TRUE(has("combine.weight"));
      EXPECT_EQ(has("attention.key.weight"), c.attention != "none");
      EXPECT_EQ(has("attention.v.weight"), c.attention == "bahdanau");
    } else {
      EXPECT_TRUE(has("encoder.0.self_attn.in_proj_weight"));
      EXPECT_TRUE(has("decoder.0.multihead_attn.in_proj_weight"));
    }
  }
}

// Extra padding columns in the source change nothing: padded positions are masked in the
// encoder (LSTM) and excluded from attention (both kinds). The same weights run with S = 4 and
// with S = 7.
TEST(Seq2Seq, SourcePaddingDoesNotChangeTheOutputs) {
  const data::DigitTaskData d = data::make_digit_task("reverse", 6, 1, 4, 5);
  const Tensor padded = concat({sources(d), zeros({6, 3}, DType::i64), d.inputs.slice(1, 4, 9)}, 1);
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.kind + " " + c.attention);
    manual_seed(3);
    nn::Seq2SeqOptions options = small_options(4, c.attention);
    options.num_layers = 2;
    nn::Seq2Seq short_model(c.kind, options);
    options.source_length = 7;
    nn::Seq2Seq long_model(c.kind, options);
    long_model.load_state_dict(short_model.state_dict());
    short_model.eval();
    long_model.eval();
    const Tensor expected = short_model(d.inputs);
    EXPECT_ALL_CLOSE(long_model(padded), expected, 1e-5, 1e-6);
    EXPECT_EQ(long_model.greedy_decode(padded.slice(1, 0, 7), 5).to_vector<int64_t>(),
              short_model.greedy_decode(sources(d), 5).to_vector<int64_t>());
    // The outputs do depend on the real source ids (the check above is not vacuous).
    Tensor changed = d.inputs.clone();
    changed.data<int64_t>()[0] = changed.data<int64_t>()[0] == 3 ? 4 : 3;
    const std::vector<float> a = short_model(changed).slice(0, 0, 1).to_vector<float>();
    const std::vector<float> b = expected.slice(0, 0, 1).to_vector<float>();
    EXPECT_NE(a, b);
  }
}

// Sets the output layer so that it always predicts `id`: its bias dominates the logits.
void always_predict(nn::Seq2Seq& model, int64_t id) {
  NoGradGuard no_grad;
  for (auto& [name, p] : model.named_parameters()) {
    if (name != "output.bias") continue;
    Tensor bias = p;
    bias.fill_(0);
    bias.select(0, id).fill_(100);
  }
}

TEST(Seq2Seq, GreedyDecodeStopsAtTheEndId) {
  const data::DigitTaskData d = data::make_digit_task("sort", 4, 1, 3, 2);
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.kind + " " + c.attention);
    manual_seed(1);
    nn::Seq2Seq model(c.kind, small_options(3, c.attention));
    always_predict(model, 7);
    model.train();
    Tensor decoded = model.greedy_decode(sources(d), 5);
    EXPECT_EQ(decoded.shape(), (Shape{4, 5}));
    EXPECT_EQ(decoded.dtype(), DType::i64);
    EXPECT_EQ(decoded.to_vector<int64_t>(), std::vector<int64_t>(20, 7));
    EXPECT_TRUE(model.is_training());  // greedy_decode ran in eval mode and restored the mode
    always_predict(model, 2);          // the end id at once: empty outputs
    EXPECT_EQ(model.greedy_decode(sources(d), 5).to_vector<int64_t>(), std::vector<int64_t>(20, 0));
    EXPECT_EQ(model.greedy_decode(sources(d), 0).shape(), (Shape{4, 0}));
  }
}

TEST(Seq2Seq, GradientsReachEveryParameter) {
  const data::DigitTaskData d = data::make_digit_task("reverse", 4, 1, 4, 4);
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.kind + " " + c.attention);
    manual_seed(2);
    nn::Seq2Seq model(c.kind, small_options(4, c.attention));
    sequence_loss(model(d.inputs), d.targets).backward();
    for (const auto& [name, p] : model.named_parameters()) {
      SCOPED_TRACE(name);
      ASSERT_TRUE(p.grad().defined());
      EXPECT_GT(max(abs(p.grad())).item(), 0.0);
    }
  }
}

TEST(Seq2Seq, Errors) {
  const nn::Seq2SeqOptions options = small_options(4);
  EXPECT_EQ(error_message([&] { nn::Seq2Seq("gru", options); }),
            "Seq2Seq: unknown kind \"gru\"; expected \"lstm\" or \"transformer\"");
  EXPECT_EQ(error_message([] { nn::Seq2Seq("lstm", {.source_length = 4}); }),
            "Seq2Seq: vocab_size must be set to >= 3 (ids 0 pad, 1 start, 2 end, then the "
            "task's symbols), got 0");
  EXPECT_EQ(error_message([] { nn::Seq2Seq("lstm", {.vocab_size = 13}); }),
            "Seq2Seq: source_length must be set to >= 1 (the width S of the source part of the "
            "input), got 0");
  EXPECT_EQ(error_message([] { nn::Seq2Seq("lstm", small_options(4, "dot")); }),
            "Seq2Seq: unknown attention \"dot\"; expected \"luong\", \"bahdanau\" or \"none\"");
  nn::Seq2SeqOptions heads = options;
  heads.num_heads = 3;
  EXPECT_EQ(error_message([&] { nn::Seq2Seq("transformer", heads); }),
            "Seq2Seq: the Transformer's hidden_size (d_model, 16) must be a multiple of "
            "num_heads (3)");

  nn::Seq2Seq model("lstm", options);
  EXPECT_EQ(error_message([&] {
              model(zeros({4, 4}, DType::i64));
            }),
            "Seq2Seq: expected input [N, S + T] with S = source_length = 4 source ids and T >= 1 "
            "decoder inputs, got width 4 (shape [4, 4])");
  EXPECT_EQ(error_message([&] { model(zeros({9}, DType::i64)); }),
            "Seq2Seq: expected token ids [N, S + T] as a 2-d i64 tensor, got shape [9] (i64)");
  EXPECT_EQ(error_message([&] {
              model(zeros({2, 9}));
            }),
            "Seq2Seq: expected token ids [N, S + T] as a 2-d i64 tensor, got shape [2, 9] (f32)");
  EXPECT_EQ(error_message([&] {
              model.greedy_decode(zeros({2, 3, 1}, DType::i64), 4);
            }),
            "Seq2Seq::greedy_decode: expected token ids (the source) [N, S] as a 2-d i64 tensor, "
            "got shape [2, 3, 1] (i64)");
  EXPECT_EQ(error_message([&] {
              model.greedy_decode(zeros({2, 4}, DType::i64), -1);
            }),
            "Seq2Seq::greedy_decode: max_length must be >= 0, got -1");
}

// Teacher-forced training of a small LSTM with Luong attention: reversing digit strings of
// length 1-4 is learned to >= 0.9 exact-sequence accuracy on held-out strings (greedy decoding).
TEST(Seq2SeqTraining, LstmWithAttentionLearnsToReverse) {
  const data::DigitTaskData train = data::make_digit_task("reverse", 2000, 1, 4, 1);
  const data::DigitTaskData test = data::make_digit_task("reverse", 300, 1, 4, 2);
  manual_seed(0);
  nn::Seq2SeqOptions options = small_options(4);
  options.embedding_dim = 16;
  options.hidden_size = 32;
  nn::Seq2Seq model("lstm", options);
  optim::Adam adam(model.parameters(), {.lr = 0.01});
  Generator shuffle(0);
  constexpr int64_t kBatch = 50;
  for (int epoch = 0; epoch < 4; ++epoch) {
    const Tensor order = randperm(2000, &shuffle);
    for (int64_t start = 0; start < 2000; start += kBatch) {
      const Tensor rows = order.slice(0, start, start + kBatch);
      const Tensor loss = sequence_loss(model(index_select(train.inputs, 0, rows)),
                                        index_select(train.targets, 0, rows));
      adam.zero_grad();
      loss.backward();
      adam.step();
    }
  }
  const double accuracy =
      exact_sequence_accuracy(model.greedy_decode(sources(test), 5), test.targets);
  EXPECT_GE(accuracy, 0.9);
}

}  // namespace
