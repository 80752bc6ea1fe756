// Task "digits": generated digit strings to reverse (or sort), a sequence-to-sequence task.
// Judged by exact-sequence accuracy under greedy decoding: a string counts only when every token
// is right, which the teacher-forced token accuracy of evaluate() overstates.
#include <cstdio>

#include "tasks/text_data.hpp"

namespace nabla::tasks {
namespace {

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

const bool kRegistered = register_task("digits", [] { return std::make_unique<Seq2SeqTask>(); });

}  // namespace
}  // namespace nabla::tasks
