// Training on sequences: the cross-entropy over [N, T, C] outputs, Keras's layer names, the text
// evaluation helpers (exact-sequence accuracy, majority and bag-of-words baselines) and sampling
// from a language model (stepped with carried states = re-run on the whole context).
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nn.hpp"
#include "nabla/train.hpp"
#include "support/errors.hpp"

namespace nabla::train {
namespace {

using nabla::testing::error_message;

TEST(SequenceLoss, ClassesOnTheLastAxis) {
  // [N=2, T=3, C=4] logits with [2, 3] labels equal the [6, 4] / [6] cross-entropy.
  Generator gen(1);
  const Tensor logits = randn({2, 3, 4}, DType::f64, &gen);
  const Tensor labels = from_vector(std::vector<int64_t>{0, 3, 1, 2, 2, 0}, {2, 3});
  const SparseCategoricalCrossentropy loss(/*from_logits=*/true);
  const double expected = cross_entropy(logits.reshape({6, 4}), labels.reshape({6})).item();
  EXPECT_NEAR(loss(logits, labels).item(), expected, 1e-12);
  const SparseCategoricalCrossentropy on_probabilities;
  EXPECT_NEAR(on_probabilities(softmax(logits, -1), labels).item(), expected, 1e-9);
}

TEST(SequenceLoss, ModelTrainsANextTokenObjective) {
  // Learn to copy the input token: Embedding -> Dense over [N, T, V].
  manual_seed(0);
  Model model({std::make_shared<nn::Embedding>(5, 8), std::make_shared<nn::Dense>(5, "softmax")});
  model.compile(optim::make_optimizer("adam", 0.02), "sparse_categorical_crossentropy",
                {"accuracy"});
  Generator gen(2);
  const Tensor ids = randint(0, 5, {64, 6}, &gen);
  const History history = model.fit(ids, ids, {.epochs = 30, .batch_size = 16, .verbose = 0});
  EXPECT_EQ(model.output_shape(), (Shape{1, 6, 5}));
  EXPECT_GT(history.history.at("accuracy").back(), 0.99);
}

TEST(SummaryNames, FollowKerasSnakeCase) {
  Model model({std::make_shared<nn::Embedding>(5, 4), std::make_shared<nn::GlobalPooling1D>(true),
               std::make_shared<nn::Dense>(2)});
  model.build({3});
  const std::string table = model.summary();
  EXPECT_NE(table.find("global_max_pooling1d (GlobalMaxPooling1D)"), std::string::npos) << table;
  EXPECT_NE(table.find("embedding (Embedding)"), std::string::npos) << table;
}

TEST(ExactSequenceAccuracy, ComparesUpToTheEndId) {
  // Targets: ids, end id 2, padding; decoded: ids then padding.
  const Tensor targets =
      from_vector(std::vector<int64_t>{5, 6, 2, 0, 7, 2, 0, 0, 4, 4, 2, 0}, {3, 4});
  const Tensor decoded =
      from_vector(std::vector<int64_t>{5, 6, 0, 0, 7, 3, 0, 0, 4, 4, 0, 0}, {3, 4});
  EXPECT_NEAR(exact_sequence_accuracy(decoded, targets), 2.0 / 3.0, 1e-12);
  const Tensor shorter = from_vector(std::vector<int64_t>{5, 6, 7, 3, 4, 4}, {3, 2});
  EXPECT_NEAR(exact_sequence_accuracy(shorter, targets), 2.0 / 3.0, 1e-12);
  EXPECT_NE(error_message([&] {
              exact_sequence_accuracy(decoded, targets.slice(0, 0, 2));
            }).find("the same N"),
            std::string::npos);
}

TEST(Baselines, MajorityClass) {
  const Tensor train = from_vector(std::vector<int64_t>{0, 1, 1, 2, 1});
  const Tensor test = from_vector(std::vector<int64_t>{1, 1, 0, 2});
  const BaselineScores scores = majority_class_baseline(train, test, 3);
  EXPECT_NEAR(scores.accuracy, 0.5, 1e-12);
  // Class 1: precision 0.5, recall 1 -> F1 2/3; classes 0 and 2 score 0.
  EXPECT_NEAR(scores.macro_f1, (2.0 / 3.0) / 3.0, 1e-12);
  EXPECT_NE(error_message([&] {
              majority_class_baseline(train, test, 2);
            }).find("label 2 is outside [0, 2)"),
            std::string::npos);
}

TEST(Baselines, BagOfWordsSeparatesTopicWords) {
  // Class 0 texts use words 2-4, class 1 words 5-7, padded with 0: a linear model on counts
  // separates them perfectly.
  Generator gen(4);
  const auto make = [&](int64_t n, std::vector<int64_t>& labels) {
    std::vector<int64_t> ids(n * 6, 0);
    for (int64_t i = 0; i < n; ++i) {
      labels.push_back(i % 2);
      const int64_t length = 2 + static_cast<int64_t>(gen.next_u64() % 4);
      for (int64_t t = 0; t < length; ++t) {
        ids[i * 6 + t] = 2 + 3 * (i % 2) + static_cast<int64_t>(gen.next_u64() % 3);
      }
    }
    return from_vector(ids, {n, 6});
  };
  std::vector<int64_t> train_labels, test_labels;
  const Tensor train_ids = make(60, train_labels);
  const Tensor test_ids = make(20, test_labels);
  const BaselineScores scores =
      bag_of_words_baseline(train_ids, from_vector(train_labels), test_ids,
                            from_vector(test_labels), 8, 2, /*epochs=*/20);
  EXPECT_NEAR(scores.accuracy, 1.0, 1e-12);
  EXPECT_NEAR(scores.macro_f1, 1.0, 1e-12);
}

TEST(SampleTokens, SteppedStatesEqualReRunningTheContext) {
  // Greedy decoding (temperature 0) must give the same tokens whether the LSTM's states are
  // carried token by token or the whole context is run again for every token.
  manual_seed(5);
  auto stepped = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Embedding>(9, 6),
      std::make_shared<nn::LSTM>(7, nn::RecurrentOptions{.return_sequences = true}),
      std::make_shared<nn::Dense>(9, "softmax")});
  stepped->build({4});
  // The same layers behind a wrapper that is not a Sequential: sample_tokens re-runs it.
  struct Whole : nn::Module {
    std::shared_ptr<nn::Sequential> inner;
    Tensor forward(const Tensor& x) override { return inner->forward(x); }
    std::string type_name() const override { return "Whole"; }
  } whole;
  whole.inner = stepped;
  const std::vector<int64_t> prompt = {3, 4, 5};
  Generator g1(0), g2(0);
  const SamplingOptions greedy{.length = 12, .temperature = 0, .vocab_size = 9, .first_id = 1};
  const auto a = sample_tokens(*stepped, prompt, greedy, g1);
  const auto b = sample_tokens(whole, prompt, greedy, g2);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), 12U);
  for (int64_t id : a) EXPECT_TRUE(id >= 1 && id < 9) << id;

  // Sampling is seeded, and only ids in [first_id, vocab_size) are drawn.
  Generator g3(7), g4(7);
  const SamplingOptions sampled{.length = 50, .temperature = 1.5, .vocab_size = 6, .first_id = 2};
  const auto c = sample_tokens(*stepped, prompt, sampled, g3);
  EXPECT_EQ(c, sample_tokens(*stepped, prompt, sampled, g4));
  for (int64_t id : c) EXPECT_TRUE(id >= 2 && id < 6) << id;
  EXPECT_NE(error_message([&] {
              sample_tokens(*stepped, {}, greedy, g1);
            }).find("the prompt holds no token"),
            std::string::npos);

  // on_token sees every token in order as it is drawn, on both paths (nabla generate streams
  // them), and the result is unchanged.
  for (nn::Module* model :
       {static_cast<nn::Module*>(stepped.get()), static_cast<nn::Module*>(&whole)}) {
    std::vector<int64_t> seen;
    SamplingOptions streamed = greedy;
    streamed.on_token = [&](int64_t token) { seen.push_back(token); };
    Generator g5(0);
    EXPECT_EQ(sample_tokens(*model, prompt, streamed, g5), a);
    EXPECT_EQ(seen, a);
  }
}

}  // namespace
}  // namespace nabla::train
