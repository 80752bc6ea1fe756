// Task "fortunes": texts classified by category. Judged by macro-F1 (the categories are
// unbalanced) against two baselines on the same split: always the most frequent class, and a
// linear classifier on bag-of-words counts.
#include <cstdio>

#include "nabla/data.hpp"
#include "tasks/text_data.hpp"

namespace nabla::tasks {
namespace {

Figure figure(const std::string& name, double value, const char* format, double second) {
  char text[160];
  std::snprintf(text, sizeof(text), format, value, second);
  return {name, value, text};
}

class TextClassification : public Task {
 public:
  std::string name() const override { return "fortunes"; }
  TaskData load(const io::ModelSpec& spec, const train::Model&,
                const std::string& dir) const override {
    return internal::load_text_data(spec, dir);
  }
  std::vector<Figure> judge(const io::ModelSpec&, train::Model&, const TaskData& data,
                            const train::EvaluationReport& report) const override {
    const auto classes = static_cast<int64_t>(data.class_names.size());
    const int64_t vocab = data::Tokenizer::from_json(data.tokenizer_json).vocab_size();
    const train::BaselineScores majority =
        train::majority_class_baseline(data.y_train, data.y_test, classes);
    const train::BaselineScores words = train::bag_of_words_baseline(
        data.x_train, data.y_train, data.x_test, data.y_test, vocab, classes);
    return {figure("macro_f1", report.macro_f1, "Test macro-F1: %.4f (accuracy %.4f)",
                   report["accuracy"]),
            figure("majority_macro_f1", majority.macro_f1,
                   "Majority-class baseline: macro-F1 %.4f, accuracy %.4f", majority.accuracy),
            figure("bag_of_words_macro_f1", words.macro_f1,
                   "Bag-of-words linear baseline: macro-F1 %.4f, accuracy %.4f", words.accuracy)};
  }
};

const bool kFortunesRegistered =
    register_task("fortunes", [] { return std::make_unique<TextClassification>(); });

}  // namespace
}  // namespace nabla::tasks
