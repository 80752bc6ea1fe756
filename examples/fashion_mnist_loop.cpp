// The same MLP as mnist_mlp.cpp, trained with a hand-written loop in the PyTorch style:
// modules, a DataLoader, the fused cross-entropy on logits, backward() and an optimizer step.
//
// Usage: fashion_mnist_loop [SAMPLES [EPOCHS]] (default: all 60000 images, 5 epochs).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>

using namespace nabla;

int main(int argc, char** argv) try {
  auto [x_train, y_train, x_test, y_test] = data::load_fashion_mnist();
  const int64_t samples = argc > 1 ? std::atoll(argv[1]) : x_train.size(0);
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 5;
  manual_seed(0);

  auto net = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(128, nn::LinearOptions{.activation = "relu"}),
      std::make_shared<nn::Linear>(10),
  });
  net->build({28, 28});  // creates the lazily sized weights, so the optimizer can see them
  optim::Adam optimizer(net->parameters(), {.lr = 1e-3});
  data::DataLoader loader(x_train.slice(0, 0, samples), y_train.slice(0, 0, samples),
                          {.batch_size = 32, .shuffle = true});

  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    net->train();
    double total_loss = 0;
    int64_t batches = 0;
    for (const data::Batch& batch : loader) {
      Tensor loss = cross_entropy((*net)(batch.inputs), batch.targets);
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      total_loss += loss.item();
      ++batches;
    }
    net->eval();
    NoGradGuard no_grad;
    const Tensor predicted = argmax((*net)(x_test), 1);
    const double accuracy = mean(eq(predicted, y_test).to(DType::f64)).item();
    std::printf("epoch %lld: loss %.4f, test accuracy %.4f\n", static_cast<long long>(epoch + 1),
                total_loss / static_cast<double>(batches), accuracy);
  }
} catch (const nabla::Error& e) {
  std::cerr << "fashion_mnist_loop: error: " << e.what() << "\n";
  return 1;
}
