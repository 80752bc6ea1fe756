// Task "digits": generated digit strings to reverse (or sort), a sequence-to-sequence task.
// Judged by exact-sequence accuracy under greedy decoding: a string counts only when every token
// is right, which the teacher-forced token accuracy of evaluate() overstates.
#include <cstdio>

#include "tasks/text_data.hpp"

namespace nabla::tasks {
namespace {

// make_digit_task's ids: 0 pad, 1 start, 2 end, then the ten digits.
constexpr int64_t kFirstDigitId = 3;

// The encoder-decoder model inside `module` (itself, or a layer of a Sequential), or null.
nn::Seq2Seq* find_seq2seq(nn::Module& module) {
  if (auto* seq2seq = dynamic_cast<nn::Seq2Seq*>(&module)) return seq2seq;
  if (auto* sequential = dynamic_cast<nn::Sequential*>(&module)) {
    for (const nn::ModulePtr& layer : sequential->layers()) {
      if (auto* seq2seq = dynamic_cast<nn::Seq2Seq*>(layer.get())) return seq2seq;
    }
  }
  return nullptr;
}

class Seq2SeqTask : public Task {
 public:
  std::string name() const override { return "digits"; }
  TaskData load(const io::ModelSpec& spec, const train::Model&,
                const std::string& dir) const override {
    return internal::load_text_data(spec, dir);
  }
  // A digit string of one's own, decoded greedily: "12345" -> "54321" for a reversing model.
  std::optional<std::string> respond(const io::ModelSpec&, train::Model& model,
                                     const std::string& text) const override {
    nn::Seq2Seq* seq2seq = find_seq2seq(model.module());
    NABLA_CHECK(seq2seq != nullptr, "the digits task answers with an encoder-decoder (Seq2Seq) ",
                "model; ", model.name(), " is not one");
    const int64_t source_length = seq2seq->options().source_length;
    NABLA_CHECK(!text.empty() && static_cast<int64_t>(text.size()) <= source_length &&
                    text.find_first_not_of("0123456789") == std::string::npos,
                "expected 1 to ", source_length, " digits, got \"", text, "\"");
    std::vector<int64_t> ids(source_length, 0);
    for (size_t i = 0; i < text.size(); ++i) ids[i] = kFirstDigitId + (text[i] - '0');
    const Tensor decoded =
        seq2seq->greedy_decode(from_vector(ids, {1, source_length}), source_length + 1);
    std::string answer;
    for (int64_t id : decoded.to_vector<int64_t>()) {
      if (id < kFirstDigitId || id >= kFirstDigitId + 10) break;  // the end, or padding after it
      answer += static_cast<char>('0' + (id - kFirstDigitId));
    }
    return answer;
  }

  std::vector<Figure> judge(const io::ModelSpec&, train::Model& model, const TaskData& data,
                            const train::EvaluationReport&) const override {
    nn::Seq2Seq* seq2seq = find_seq2seq(model.module());
    if (seq2seq == nullptr) return {};  // any other model: loss and accuracy say it all
    const int64_t source_length = seq2seq->options().source_length;
    const Tensor decoded =
        seq2seq->greedy_decode(data.x_test.slice(1, 0, source_length), data.y_test.size(1));
    const double accuracy = train::exact_sequence_accuracy(decoded, data.y_test);
    char text[80];
    std::snprintf(text, sizeof(text), "Test exact-sequence accuracy (greedy decoding): %.4f",
                  accuracy);
    return {{"exact_sequence_accuracy", accuracy, text}};
  }
};

const bool kDigitsRegistered =
    register_task("digits", [] { return std::make_unique<Seq2SeqTask>(); });

}  // namespace
}  // namespace nabla::tasks
