// The energy-based models in C++, without the task machinery: a Hopfield network that stores
// binarized Fashion-MNIST images and recalls one from a corrupted copy (its energy falling at
// each asynchronous sweep), and a restricted Boltzmann machine trained by CD-1 whose hidden
// features feed a softmax classifier. `nabla train --model hopfield` and `--model rbm` run the
// full experiments (the capacity sweep, the pictures, the baselines).
//
// Usage: energy_models [SAMPLES [EPOCHS]] (default: all 60000 training images, 5 epochs for the
// RBM).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>

using namespace nabla;

int main(int argc, char** argv) try {
  const int64_t samples = argc > 1 ? std::atoll(argv[1]) : 60000;
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 5;
  auto [x_train, y_train, x_test, y_test] = data::load_fashion_mnist();  // [0, 1]
  const Tensor train_pixels = x_train.slice(0, 0, samples).reshape({samples, 784});
  const Tensor test_pixels = x_test.reshape({x_test.size(0), 784});
  const auto binarize = [](const Tensor& pixels) {  // {0, 1}: a pixel above 0.5 is on
    Tensor out = pixels.contiguous().clone();
    for (int64_t i = 0; i < out.numel(); ++i) out.data<float>()[i] = out.data<float>()[i] > 0.5f;
    return out;
  };
  const Tensor v_train = binarize(train_pixels), v_test = binarize(test_pixels);

  // Hopfield: five images as +-1 patterns, Storkey's rule; one of them with 10% of pixels flipped.
  nn::Hopfield hopfield({.rule = "storkey"});
  const Tensor patterns = (v_train.slice(0, 0, 5) * 2.0 - 1.0).contiguous();
  hopfield.store(patterns);
  Tensor state = patterns.slice(0, 0, 1).reshape({784}).clone();
  Generator gen(0);
  const Tensor flipped = randperm(784, &gen);
  for (int64_t k = 0; k < 78; ++k) state.data<float>()[flipped.data<int64_t>()[k]] *= -1;
  std::vector<int64_t> order(784);
  for (int64_t sweep = 0; sweep < 10; ++sweep) {
    const double energy = hopfield.energy(state.reshape({1, 784})).item();
    const Tensor permutation = randperm(784, &gen);
    std::copy_n(permutation.data<int64_t>(), 784, order.begin());
    const int64_t flips = hopfield.asynchronous_sweep(state, order);
    std::printf("Hopfield sweep %lld: energy %.3f, %lld units flipped\n",
                static_cast<long long>(sweep + 1), energy, static_cast<long long>(flips));
    if (flips == 0) break;
  }
  const Tensor original = patterns.select(0, 0).contiguous();
  bool recalled = true;
  for (int64_t i = 0; i < 784; ++i) recalled &= state.data<float>()[i] == original.data<float>()[i];
  std::printf("Recalled the stored image exactly: %s\n", recalled ? "yes" : "no");

  // RBM: 500 hidden units, CD-1 through plain SGD.
  manual_seed(0);
  nn::RBM rbm({.units = 500, .in_features = 784});
  optim::SGD sgd(rbm.parameters(), {.lr = 0.05});
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    const Tensor order_rows = randperm(samples, &gen);
    double error = 0;
    int64_t batches = 0;
    for (int64_t start = 0; start + 64 <= samples; start += 64, ++batches) {
      sgd.zero_grad();
      error += rbm.contrastive_divergence(
          index_select(v_train, 0, order_rows.slice(0, start, start + 64)), &gen);
      sgd.step();
    }
    std::printf("RBM epoch %lld: reconstruction error %.4f, pseudo-log-likelihood %.2f\n",
                static_cast<long long>(epoch + 1), error / static_cast<double>(batches),
                rbm.pseudo_log_likelihood(v_test.slice(0, 0, 500)));
  }
  // Its features against the pixels, each through the same softmax classifier.
  const auto probe = [&](const Tensor& train_x, const Tensor& test_x) {
    manual_seed(0);
    Sequential classifier({layers::Dense(10, "softmax")});
    classifier.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
    classifier.fit(train_x, y_train.slice(0, 0, samples),
                   {.epochs = 10, .batch_size = 128, .verbose = 0});
    return classifier.evaluate(test_x, y_test, 256, 0)["accuracy"];
  };
  Tensor train_features, test_features;
  {
    NoGradGuard no_grad;  // features only: the classifiers below train with gradients
    train_features = rbm.hidden_probabilities(v_train);
    test_features = rbm.hidden_probabilities(v_test);
  }
  std::printf("Softmax classifier on RBM features: %.4f, on binarized pixels: %.4f\n",
              probe(train_features, test_features), probe(v_train, v_test));
} catch (const nabla::Error& e) {
  std::cerr << "energy_models: error: " << e.what() << "\n";
  return 1;
}
