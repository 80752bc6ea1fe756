// A class-conditional GAN (Mirza & Osindero 2014) on Fashion-MNIST, as PyTorch-GAN's cgan.py writes
// it: dense networks, the class given to both as a one-hot vector concatenated to their input,
// LeakyReLU(0.2), two Adam optimizers (lr 2e-4, beta1 0.5) and the non-saturating loss, in a
// PyTorch-style training loop. The generator and the discriminator are Keras-style functional
// graphs of two inputs each.
// `nabla train --model cgan` trains the convolutional version and judges it (the share of its
// images a classifier assigns to the class asked for, the Frechet distance).
//
// Usage: conditional_gan [SAMPLES [EPOCHS [GRID.png]]] (default: all 60000 images, 10 epochs).
// With a third argument, writes 10 images of each class (one class per column) to that PNG file.
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
  const int64_t noise = 64, classes = 10, batch = 64;
  // Pixels in [-1, 1], the range of the generator's tanh; the labels one-hot.
  const Tensor images =
      sub(mul(x_train.slice(0, 0, samples).reshape({samples, 784}), scalar_tensor(2.0)),
          scalar_tensor(1.0));
  const Tensor labels = one_hot(y_train.slice(0, 0, samples).to(DType::i64), classes);
  manual_seed(0);

  auto z = layers::Input({noise}, "noise"), g_class = layers::Input({classes}, "class");
  auto g = layers::Concatenate()({z, g_class});
  g = layers::LeakyReLU(0.2)(layers::Dense(256)(g));
  g = layers::LeakyReLU(0.2)(layers::Dense(512)(g));
  nn::Graph generator({z, g_class}, {layers::Dense(784, "tanh")(g)}, "generator");

  auto x = layers::Input({784}, "image"), d_class = layers::Input({classes}, "class");
  auto d = layers::Concatenate()({x, d_class});
  d = layers::LeakyReLU(0.2)(layers::Dense(512)(d));
  d = layers::LeakyReLU(0.2)(layers::Dense(256)(d));
  nn::Graph discriminator({x, d_class}, {layers::Dense(1)(d)}, "discriminator");  // logits

  const optim::AdamOptions adam{.lr = 2e-4, .beta1 = 0.5};
  optim::Adam g_adam(generator.parameters(), adam), d_adam(discriminator.parameters(), adam);
  Generator shuffle(0), draw(1);
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    const Tensor order = randperm(samples, &shuffle);
    double d_total = 0, g_total = 0;
    int64_t steps = 0;
    for (int64_t start = 0; start < samples; start += batch, ++steps) {
      const Tensor index = order.slice(0, start, std::min(samples, start + batch));
      const Tensor real = index_select(images, 0, index), y = index_select(labels, 0, index);
      const int64_t b = real.size(0);
      const Tensor ones = full({b, 1}, 1.0), zeros_b = zeros({b, 1});
      const Tensor z_batch = randn({b, noise}, DType::f32, &draw);
      // The discriminator: real images of their class as 1, generated ones of that class as 0.
      const Tensor fake = generator.forward_multi({z_batch, y});
      const Tensor d_loss =
          add(binary_cross_entropy_with_logits(discriminator.forward_multi({real, y}), ones),
              binary_cross_entropy_with_logits(discriminator.forward_multi({fake.detach(), y}),
                                               zeros_b));
      d_adam.zero_grad();
      d_loss.backward();
      d_adam.step();
      // The generator, non-saturating: -log D(G(z, y), y).
      const Tensor g_loss =
          binary_cross_entropy_with_logits(discriminator.forward_multi({fake, y}), ones);
      g_adam.zero_grad();
      g_loss.backward();
      g_adam.step();
      d_total += d_loss.item();
      g_total += g_loss.item();
    }
    std::printf("epoch %lld: discriminator loss %.4f, generator loss %.4f\n",
                static_cast<long long>(epoch + 1), d_total / static_cast<double>(steps),
                g_total / static_cast<double>(steps));
  }

  if (argc > 3) {
    // Row r, column c: an image of class c.
    std::vector<int64_t> asked(100);
    for (int64_t i = 0; i < 100; ++i) asked[static_cast<size_t>(i)] = i % classes;
    const NoGradGuard no_grad;
    const Tensor out = generator.forward_multi(
        {randn({100, noise}, DType::f32, &draw), one_hot(from_vector(asked, {100}), classes)});
    const Tensor unit = mul(add(out, scalar_tensor(1.0)), scalar_tensor(0.5));
    data::write_png(argv[3], data::image_grid(unit.reshape({100, 1, 28, 28}), 10));
  }
} catch (const nabla::Error& e) {
  std::cerr << "conditional_gan: error: " << e.what() << "\n";
  return 1;
}
