// Task "corpus": next-token prediction on a text corpus (the KJV by default), judged by the test
// cross-entropy in bits per character (or word): nats / ln 2.
#include <cmath>
#include <cstdio>

#include "tasks/text_data.hpp"

namespace nabla::tasks {
namespace {

class LanguageModel : public Task {
 public:
  std::string name() const override { return "corpus"; }
  TaskData load(const io::ModelSpec& spec, const train::Model&,
                const std::string& dir) const override {
    return internal::load_text_data(spec, dir);
  }
  std::vector<Figure> judge(const io::ModelSpec& spec, train::Model&, const TaskData&,
                            const train::EvaluationReport& report) const override {
    const double bits = report["loss"] / std::log(2.0);
    const bool chars = spec.data && spec.data->level == "char";
    char text[64];
    std::snprintf(text, sizeof(text),
                  chars ? "Test bits per character: %.3f" : "Test bits per word: %.3f", bits);
    return {{chars ? "bits_per_character" : "bits_per_word", bits, text}};
  }
};

const bool kCorpusRegistered =
    register_task("corpus", [] { return std::make_unique<LanguageModel>(); });

}  // namespace
}  // namespace nabla::tasks
