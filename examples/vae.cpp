// A variational autoencoder as in Keras's "Variational AutoEncoder" example and PyTorch's
// examples/vae (on Fashion-MNIST, dense layers, a 16-dimensional code), written as a PyTorch-style
// training loop: the encoder gives the mean and log-variance of q(z|x), the Sampling layer draws
// z = mean + exp(log_var / 2) * eps, the decoder gives Bernoulli pixel probabilities, and the loss
// is the negative evidence lower bound per image,
//   binary cross-entropy summed over the pixels + KL(q(z|x) || N(0, I)).
// `nabla train --model vae` trains the same network and also draws the pictures.
//
// Usage: vae [SAMPLES [EPOCHS]] (default: all 60000 images, 10 epochs). With a third argument,
// writes 100 images decoded from draws z ~ N(0, I) to that PNG file.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>

using namespace nabla;

int main(int argc, char** argv) try {
  auto [x_train, y_train, x_test, y_test] = data::load_fashion_mnist();  // scaled to [0, 1]
  const int64_t samples = argc > 1 ? std::atoll(argv[1]) : x_train.size(0);
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 10;
  const int64_t latent = 16, batch = 128;
  const Tensor train = x_train.slice(0, 0, samples).reshape({samples, 784});
  const Tensor test = x_test.reshape({x_test.size(0), 784});
  manual_seed(0);

  auto sampling = std::make_shared<nn::Sampling>();
  Sequential encoder({layers::Dense(512, "relu"), layers::Dense(2 * latent)});  // mean, log_var
  Sequential decoder({layers::Dense(512, "relu"), layers::Dense(784)});         // logits
  encoder.build({784});
  decoder.build({latent});
  std::vector<Tensor> parameters = encoder.module().parameters();
  for (const Tensor& p : decoder.module().parameters()) parameters.push_back(p);
  optim::Adam adam(parameters, {.lr = 1e-3});

  // The negative ELBO summed over a batch's images.
  auto negative_elbo = [&](const Tensor& x) {
    const Tensor z = sampling->forward(encoder.module().forward(x));
    const Tensor logits = decoder.module().forward(z);
    return add(binary_cross_entropy_with_logits(logits, x, Tensor(), "sum"), sum(sampling->kl()));
  };
  Generator shuffle(0);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    const Tensor order = randperm(samples, &shuffle);
    double total = 0;
    for (int64_t start = 0; start < samples; start += batch) {
      const Tensor x =
          index_select(train, 0, order.slice(0, start, std::min(samples, start + batch)));
      const Tensor loss = negative_elbo(x);
      adam.zero_grad();
      mul(loss, scalar_tensor(1.0 / static_cast<double>(x.size(0)))).backward();
      adam.step();
      total += loss.item();
    }
    std::printf("epoch %lld: negative ELBO %.2f nats per image\n",
                static_cast<long long>(epoch + 1), total / static_cast<double>(samples));
  }

  const NoGradGuard no_grad;
  double test_total = 0;
  for (int64_t start = 0; start < test.size(0); start += 500) {
    test_total += negative_elbo(test.slice(0, start, std::min(test.size(0), start + 500))).item();
  }
  std::printf("Test negative ELBO per image: %.2f nats\n",
              test_total / static_cast<double>(test.size(0)));

  if (argc > 3) {
    const Tensor images = sigmoid(decoder.module().forward(randn({100, latent})));
    data::write_png(argv[3], data::image_grid(images.reshape({100, 1, 28, 28}), 10));
  }
} catch (const nabla::Error& e) {
  std::cerr << "vae: error: " << e.what() << "\n";
  return 1;
}
