// A dense autoencoder as in the Keras blog's "Building Autoencoders in Keras" (on Fashion-MNIST,
// with a hidden layer on each side of the 32-value code), judged as `nabla train --model
// autoencoder` judges it: the test reconstruction error per pixel against PCA with the same 32
// components, the best a linear code of that size can do.
//
//   encoder: Dense(256, relu) -> Dense(32)        decoder: Dense(256, relu) -> Dense(784, sigmoid)
//   autoencoder.compile(optimizer='adam', loss='mse')
//   autoencoder.fit(x_train, x_train, epochs=10, batch_size=64)
//
// Usage: autoencoder [SAMPLES [EPOCHS]] (default: all 60000 images, 10 epochs). With a third
// argument, writes the first ten test images above their reconstructions to that PNG file.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>

using namespace nabla;

int main(int argc, char** argv) try {
  auto [x_train, y_train, x_test, y_test] = data::load_fashion_mnist();  // scaled to [0, 1]
  const int64_t samples = argc > 1 ? std::atoll(argv[1]) : x_train.size(0);
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 10;
  // Flat images: the input is its own target.
  const Tensor train = x_train.slice(0, 0, samples).reshape({samples, 784});
  const Tensor test = x_test.reshape({x_test.size(0), 784});
  manual_seed(0);

  Sequential autoencoder({
      layers::Dense(256, "relu"),
      layers::Dense(32),  // the code
      layers::Dense(256, "relu"),
      layers::Dense(784, "sigmoid"),
  });
  autoencoder.compile("adam", "mse", {});
  autoencoder.fit(train, train, {.epochs = epochs, .batch_size = 64, .verbose = 2});

  const Tensor decoded = autoencoder.predict(test, 256);
  const double mse = mean(square(sub(decoded, test))).item();
  const train::PCA linear = train::pca(train, 32);
  const double pca_mse = mean(square(sub(linear.reconstruct(test), test))).item();
  std::printf("Test reconstruction MSE: %.4f (PCA with 32 components: %.4f): %s\n", mse, pca_mse,
              mse < pca_mse ? "the autoencoder beats PCA" : "PCA is better");

  if (argc > 3) {
    const Tensor shown = concat({test.slice(0, 0, 10), decoded.slice(0, 0, 10)}, 0);
    data::write_png(argv[3], data::image_grid(shown.reshape({20, 1, 28, 28}), 10));
  }
} catch (const nabla::Error& e) {
  std::cerr << "autoencoder: error: " << e.what() << "\n";
  return 1;
}
