// Evaluation of the text tasks beyond loss and accuracy: exact-sequence accuracy of decoded
// sequences, and the two baselines a text classifier must be compared with (majority class and
// a bag-of-words linear model), scored with the same macro-F1 as EvaluationReport.
#include <algorithm>

#include "nabla/nn.hpp"
#include "nabla/train.hpp"
#include "train/internal.hpp"

namespace nabla::train {
namespace {

constexpr int64_t kEndId = 2;  // data::make_digit_task's end-of-sequence id

BaselineScores scores_from(const std::vector<int64_t>& truth, const std::vector<int64_t>& predicted,
                           int64_t classes) {
  EvaluationReport report;
  report.confusion.assign(classes, std::vector<int64_t>(classes, 0));
  int64_t correct = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    ++report.confusion[truth[i]][predicted[i]];
    correct += truth[i] == predicted[i];
  }
  internal::compute_class_scores(report);
  return {static_cast<double>(correct) / static_cast<double>(truth.size()), report.macro_f1};
}

std::vector<int64_t> checked_labels(const Tensor& labels, int64_t classes, const char* what) {
  NABLA_CHECK(labels.dim() == 1, what, ": expected labels [N], got shape ", labels.shape());
  std::vector<int64_t> values = labels.to(DType::i64).to_vector<int64_t>();
  for (int64_t v : values) {
    NABLA_CHECK(v >= 0 && v < classes, what, ": label ", v, " is outside [0, ", classes, ")");
  }
  return values;
}

// A linear classifier on bag-of-words counts, computed without the [N, V] count matrix: the
// logits W counts + b equal the sum of W's columns at the row's token ids (padding id 0 adds
// nothing), i.e. an embedding of size C summed over the sequence.
class BagOfWordsLinear : public nn::Module {
 public:
  BagOfWordsLinear(int64_t vocab_size, int64_t classes) {
    weight_ = register_parameter("weight", zeros({vocab_size, classes}));
    bias_ = register_parameter("bias", zeros({classes}));  // logistic regression from zero
  }
  Tensor forward(const Tensor& ids) override {
    return add(sum(embedding(ids, weight_, /*padding_idx=*/0), {1}), bias_);
  }
  DType input_dtype() const override { return DType::i64; }
  std::string type_name() const override { return "BagOfWordsLinear"; }

 private:
  Tensor weight_, bias_;
};

}  // namespace

double exact_sequence_accuracy(const Tensor& decoded, const Tensor& targets) {
  NABLA_CHECK(decoded.dim() == 2 && targets.dim() == 2 && decoded.size(0) == targets.size(0),
              "exact_sequence_accuracy: expected decoded [N, L] and targets [N, T] with the same "
              "N, got ",
              decoded.shape(), " and ", targets.shape());
  const std::vector<int64_t> got = decoded.to(DType::i64).to_vector<int64_t>();
  const std::vector<int64_t> want = targets.to(DType::i64).to_vector<int64_t>();
  const int64_t rows = decoded.size(0), got_len = decoded.size(1), want_len = targets.size(1);
  int64_t exact = 0;
  for (int64_t r = 0; r < rows; ++r) {
    bool same = true;
    for (int64_t t = 0; t < std::max(got_len, want_len) && same; ++t) {
      int64_t w = t < want_len ? want[r * want_len + t] : 0;
      if (w == kEndId) w = 0;  // decoding stops at the end id and pads after it
      const int64_t g = t < got_len ? got[r * got_len + t] : 0;
      same = g == w;
    }
    exact += same;
  }
  return rows > 0 ? static_cast<double>(exact) / static_cast<double>(rows) : 0.0;
}

BaselineScores majority_class_baseline(const Tensor& train_labels, const Tensor& test_labels,
                                       int64_t classes) {
  const std::vector<int64_t> train = checked_labels(train_labels, classes, "majority baseline");
  const std::vector<int64_t> test = checked_labels(test_labels, classes, "majority baseline");
  std::vector<int64_t> counts(classes, 0);
  for (int64_t label : train) ++counts[label];
  const int64_t majority = std::max_element(counts.begin(), counts.end()) - counts.begin();
  return scores_from(test, std::vector<int64_t>(test.size(), majority), classes);
}

BaselineScores bag_of_words_baseline(const Tensor& train_ids, const Tensor& train_labels,
                                     const Tensor& test_ids, const Tensor& test_labels,
                                     int64_t vocab_size, int64_t classes, int64_t epochs,
                                     uint64_t seed) {
  const std::vector<int64_t> test = checked_labels(test_labels, classes, "bag-of-words baseline");
  checked_labels(train_labels, classes, "bag-of-words baseline");
  NABLA_CHECK(train_ids.dim() == 2 && test_ids.dim() == 2,
              "bag_of_words_baseline: expected token ids [N, T], got shapes ", train_ids.shape(),
              " and ", test_ids.shape());
  manual_seed(seed);
  Model model({std::make_shared<BagOfWordsLinear>(vocab_size, classes)}, "bag_of_words");
  model.compile("adam", std::make_shared<SparseCategoricalCrossentropy>(/*from_logits=*/true));
  model.fit(train_ids.to(DType::i64), train_labels.to(DType::i64),
            {.epochs = epochs, .batch_size = 32, .verbose = 0, .seed = seed});
  const Tensor scores = model.predict(test_ids.to(DType::i64), 256);
  const std::vector<int64_t> predicted = argmax(scores, 1).to_vector<int64_t>();
  return scores_from(test, predicted, classes);
}

}  // namespace nabla::train
