// Transfer learning, as the Keras fine-tuning lesson teaches it: a CNN learns five Fashion-MNIST
// classes (T-shirt/top, trouser, pullover, dress, coat); its head is then replaced and its
// convolutions frozen, and it learns the other five (sandal, shirt, sneaker, bag, ankle boot),
// against the same CNN trained from scratch on those five:
//
//   base.pop(); base.add(layers.Dense(10, activation="softmax"))
//   for layer in base.layers: layer.trainable = not layer.name.startswith(("conv2d", "batch_norm"))
//   base.compile(...); base.fit(x_second, y_second, ...)
//
// Frozen BatchNormalization layers normalize with their running statistics, as Keras's do.
// Usage: fine_tune [SAMPLES [EPOCHS]]: SAMPLES training images of the second five (default: all
// 30000; few samples are where a pretrained base helps most), EPOCHS for each fit (default 3).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>

using namespace nabla;

namespace {

struct Part {
  Tensor x, y;
};

// The samples whose label lies in [first, last], at most `limit` of them (0: all).
Part classes(const Tensor& x, const Tensor& y, int64_t first, int64_t last, int64_t limit = 0) {
  std::vector<int64_t> rows;
  const std::vector<int64_t> labels = y.to_vector<int64_t>();
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= first && labels[i] <= last) rows.push_back(static_cast<int64_t>(i));
    if (limit > 0 && static_cast<int64_t>(rows.size()) == limit) break;
  }
  const Tensor index = from_vector(rows, {static_cast<int64_t>(rows.size())});
  return {index_select(x, 0, index), index_select(y, 0, index)};
}

train::Model cnn(uint64_t seed) {
  manual_seed(seed);
  train::Model model(io::build_model(io::parse_model_spec(io::builtin_model_spec("cnn"), "cnn")),
                     "cnn");
  model.build({1, 28, 28});
  return model;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Fits on `train` and returns the accuracy on `test` and the seconds the fit took.
std::pair<double, double> fit_and_test(train::Model& model, const Part& train, const Part& test,
                                       int64_t epochs) {
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  const auto start = std::chrono::steady_clock::now();
  model.fit(train.x, train.y, {.epochs = epochs, .batch_size = 64, .verbose = 2, .seed = 0});
  const double seconds = seconds_since(start);
  return {model.evaluate(test.x, test.y, 256)["accuracy"], seconds};
}

}  // namespace

int main(int argc, char** argv) try {
  auto [x_train, y_train, x_test, y_test] = data::load_fashion_mnist("", /*raw=*/true);
  x_train = x_train.unsqueeze(1);  // [N, 28, 28] -> [N, 1, 28, 28]
  x_test = x_test.unsqueeze(1);
  y_train = y_train.to(DType::i64);
  y_test = y_test.to(DType::i64);
  const int64_t samples = argc > 1 ? std::atoll(argv[1]) : 0;
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 3;
  const Part first_train = classes(x_train, y_train, 0, 4),
             first_test = classes(x_test, y_test, 0, 4);
  const Part second_train = classes(x_train, y_train, 5, 9, samples);
  const Part second_test = classes(x_test, y_test, 5, 9);

  std::cout << "1. The cnn preset on classes 0-4 (" << first_train.x.size(0) << " images)\n";
  train::Model base = cnn(0);
  const auto [base_accuracy, base_seconds] = fit_and_test(base, first_train, first_test, epochs);

  std::cout << "2. Fine-tuned on classes 5-9 (" << second_train.x.size(0)
            << " images): a new head, the convolutions and batch norms frozen\n";
  auto& layers = dynamic_cast<nn::Sequential&>(base.module());
  layers.pop();
  layers.add(layers::Dense(10, "softmax"));
  base.build({1, 28, 28});  // creates the new head's weights
  base.set_trainable("conv2d*", false);
  base.set_trainable("batch_normalization*", false);
  std::cout << base.summary() << "\n";
  const auto [tuned_accuracy, tuned_seconds] =
      fit_and_test(base, second_train, second_test, epochs);

  std::cout << "3. The same CNN trained from scratch on classes 5-9\n";
  train::Model scratch = cnn(0);
  const auto [scratch_accuracy, scratch_seconds] =
      fit_and_test(scratch, second_train, second_test, epochs);

  std::printf("\n%-34s %9s %9s\n", "", "accuracy", "seconds");
  std::printf("%-34s %9.4f %9.1f\n", "classes 0-4, trained", base_accuracy, base_seconds);
  std::printf("%-34s %9.4f %9.1f\n", "classes 5-9, fine-tuned (frozen)", tuned_accuracy,
              tuned_seconds);
  std::printf("%-34s %9.4f %9.1f\n", "classes 5-9, from scratch", scratch_accuracy,
              scratch_seconds);
} catch (const nabla::Error& e) {
  std::cerr << "fine_tune: error: " << e.what() << "\n";
  return 1;
}
