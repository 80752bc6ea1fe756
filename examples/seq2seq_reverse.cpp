// Sequence-to-sequence learning on a toy task (as Keras's "character-level seq2seq" and PyTorch's
// "translation with a sequence to sequence network and attention" tutorials, on digit strings):
// an LSTM encoder-decoder with Luong attention learns to reverse strings of 1-10 digits. Training
// uses teacher forcing through Model::fit; the held-out score is exact-sequence accuracy of greedy
// decoding (every digit and the end of the string right).
//
// Usage: seq2seq_reverse [KIND [EPOCHS]]   KIND: lstm (Luong attention, the default), bahdanau,
// transformer. Prints the held-out exact-sequence accuracy after every epoch.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>
#include <string>

using namespace nabla;

namespace {

constexpr int64_t kMinLength = 1;
constexpr int64_t kMaxLength = 10;

// Cross-entropy of logits [N, T, V] against target ids [N, T], padding (id 0) left out.
class SequenceCrossentropy : public train::Loss {
 public:
  std::string name() const override { return "sequence_crossentropy"; }
  Tensor operator()(const Tensor& logits, const Tensor& targets) const override {
    return cross_entropy(logits.permute({0, 2, 1}), targets,
                         {.weight = Tensor(), .ignore_index = 0});
  }
  Tensor prepare_targets(const Tensor& targets, const Shape& output_shape,
                         const std::string& where) const override {
    NABLA_CHECK(targets.dtype() == DType::i64 && targets.dim() == 2 && output_shape.size() == 3 &&
                    targets.size(1) == output_shape[1],
                where, ": expected i64 targets [N, ", output_shape[1], "], got ", targets.shape());
    return targets;
  }
};

// Greedy decoding of the held-out sources after every epoch.
class SequenceAccuracy : public train::Callback {
 public:
  SequenceAccuracy(nn::Seq2Seq& model, const data::DigitTaskData& data)
      : model_(model), data_(data) {}
  void on_epoch_end(int64_t epoch, train::Logs& logs) override {
    accuracy_ = score();
    logs.set("val_exact", accuracy_);
    std::printf("epoch %lld: held-out exact-sequence accuracy %.4f\n",
                static_cast<long long>(epoch + 1), accuracy_);
    std::fflush(stdout);
  }
  double score() const {
    const Tensor sources = data_.inputs.slice(1, 0, data_.source_length);
    return train::exact_sequence_accuracy(model_.greedy_decode(sources, data_.target_length),
                                          data_.targets);
  }
  double accuracy() const { return accuracy_; }

 private:
  nn::Seq2Seq& model_;
  const data::DigitTaskData& data_;
  double accuracy_ = 0;
};

}  // namespace

int main(int argc, char** argv) try {
  const std::string kind = argc > 1 ? argv[1] : "lstm";
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 5;
  const data::DigitTaskData train_data =
      data::make_digit_task("reverse", 20000, kMinLength, kMaxLength, /*seed=*/1);
  const data::DigitTaskData test_data =
      data::make_digit_task("reverse", 2000, kMinLength, kMaxLength, /*seed=*/2);

  manual_seed(0);
  nn::Seq2SeqOptions options{.vocab_size = data::kDigitTaskVocab,
                             .source_length = train_data.source_length,
                             .embedding_dim = 32,
                             .hidden_size = 128,
                             .num_layers = 1,
                             .attention = kind == "bahdanau" ? "bahdanau" : "luong",
                             .dropout = 0};
  auto seq2seq = std::make_shared<nn::Seq2Seq>(kind == "bahdanau" ? "lstm" : kind, options);
  Model model(seq2seq, "seq2seq_reverse");
  // The Transformer (post-norm, no warmup) trains steadily only at a lower rate. Both decay the
  // rate over the epochs (cosine), so that the last epochs settle instead of spiking.
  const double lr = kind == "transformer" ? 1e-3 : 3e-3;
  auto schedule = std::make_shared<train::LearningRateScheduler>([=](int64_t epoch, double) {
    return lr * 0.5 *
           (1 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(epochs)));
  });
  model.compile(std::make_unique<optim::Adam>(optim::AdamOptions{.lr = lr}),
                std::make_shared<SequenceCrossentropy>());
  std::cout << seq2seq->to_string() << "\n";

  auto accuracy = std::make_shared<SequenceAccuracy>(*seq2seq, test_data);
  const auto start = std::chrono::steady_clock::now();
  model.fit(train_data.inputs, train_data.targets,
            {.epochs = epochs, .batch_size = 64, .verbose = 2, .callbacks = {schedule, accuracy}});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "\n%s: held-out exact-sequence accuracy %.4f (%lld strings of %lld-%lld digits), "
      "training %.1f s\n",
      kind.c_str(), accuracy->accuracy(), static_cast<long long>(test_data.inputs.size(0)),
      static_cast<long long>(kMinLength), static_cast<long long>(kMaxLength), seconds);
} catch (const nabla::Error& e) {
  std::cerr << "seq2seq_reverse: error: " << e.what() << "\n";
  return 1;
}
