// A classifier over a large vocabulary trained through autograd with row-sparse gradients, as
// TensorFlow's sampled-softmax tutorials do for language models: each input id is embedded by an
// Embedding(sparse=true), and the output layer (a [V, D] table and a [V] bias) is trained with
// sampled_softmax_loss over the true class and 64 classes drawn from the log-uniform (Zipfian)
// sampler, corrected by log Q. Every gradient is row-sparse, so SparseAdam updates only the rows
// a step used: the step costs O(batch x sample x D), not O(V x D).
//
//   embedding = nn.Embedding(V, D, sparse=True)          # PyTorch
//   loss = tf.nn.sampled_softmax_loss(weights, biases, labels, inputs, num_sampled=64,
//                                     num_classes=V)     # TensorFlow
//
// The task is synthetic and checkable: ids are drawn Zipf-like (small ids frequent) and the class
// of id x is (7919 x + 13) mod V, a permutation to be learned by heart. Judged with the full
// softmax over all V classes on the 500 most frequent ids.
//
// Usage: sampled_softmax [STEPS [VOCAB]] (default: 300 steps, a vocabulary of 20000).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nabla/nabla.hpp>

using namespace nabla;

namespace {

constexpr int64_t kDim = 32, kBatch = 256, kSampled = 64, kJudgedIds = 500;

// The class the model must learn for id x.
int64_t class_of(int64_t x, int64_t vocab) { return (7919 * x + 13) % vocab; }

// Zipf-like ids: log-uniform over [0, vocab), as the sampler draws them.
Tensor draw_ids(int64_t n, int64_t vocab, Generator& gen) {
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) {
    id = static_cast<int64_t>(std::exp(gen.next_double() * std::log(vocab + 1.0))) - 1;
    id = std::min(std::max<int64_t>(id, 0), vocab - 1);
  }
  return from_vector(ids);
}

Tensor classes_of(const Tensor& ids, int64_t vocab) {
  std::vector<int64_t> out;
  for (int64_t x : ids.to_vector<int64_t>()) out.push_back(class_of(x, vocab));
  return from_vector(out);
}

}  // namespace

int main(int argc, char** argv) try {
  const int64_t steps = argc > 1 ? std::atoll(argv[1]) : 300;
  const int64_t vocab = argc > 2 ? std::atoll(argv[2]) : 20000;
  manual_seed(0);
  nn::Embedding input(vocab, kDim, {.initializer = "uniform", .sparse = true});
  Tensor output_weight = normal({vocab, kDim}, 0, 1.0 / std::sqrt(kDim)).requires_grad_();
  Tensor output_bias = zeros({vocab}).requires_grad_();
  optim::SparseAdam optimizer({input.weight(), output_weight, output_bias}, {.lr = 0.05});

  Generator data_gen(1), sample_gen(2);
  double first_loss = 0, last_loss = 0;
  int64_t rows_touched = 0;
  for (int64_t step = 0; step < steps; ++step) {
    const Tensor ids = draw_ids(kBatch, vocab, data_gen);
    const Tensor labels = classes_of(ids, vocab);
    const CandidateSample sample =
        log_uniform_candidate_sampler(labels, vocab, kSampled, &sample_gen);
    optimizer.zero_grad();
    const Tensor loss =
        sampled_softmax_loss(input.forward(ids), output_weight, output_bias, labels, sample);
    loss.backward();
    rows_touched = output_weight.grad().size(0);  // the stored rows of the row-sparse gradient
    optimizer.step();
    if (step == 0) first_loss = loss.item();
    last_loss = loss.item();
  }

  // The full softmax over all classes, on the most frequent ids.
  NoGradGuard no_grad;
  const Tensor judged = arange(std::min(kJudgedIds, vocab));
  const Tensor predicted = argmax(linear(input.forward(judged), output_weight, output_bias), 1);
  const std::vector<int64_t> p = predicted.to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < p.size(); ++i) correct += p[i] == class_of(static_cast<int64_t>(i), vocab);
  std::printf("Sampled softmax loss: %.4f after step 1, %.4f after step %lld\n", first_loss,
              last_loss, static_cast<long long>(steps));
  std::printf("Output rows updated in the last step: %lld of %lld\n",
              static_cast<long long>(rows_touched), static_cast<long long>(vocab));
  std::printf("Full-softmax accuracy on ids 0-%lld: %.4f\n",
              static_cast<long long>(judged.numel() - 1),
              static_cast<double>(correct) / static_cast<double>(p.size()));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "sampled_softmax: error: %s\n", e.what());
  return 1;
}
