// A small convolutional network on Fashion-MNIST, as the Keras CNN tutorials write it, with the
// images kept as bytes (a Rescaling layer scales each batch) and augmented while training:
//
//   model = keras.Sequential([
//     layers.Rescaling(1 / 255, input_shape=(28, 28, 1)),
//     layers.Conv2D(32, 3, padding="same", use_bias=False), layers.BatchNormalization(),
//     layers.Activation("relu"), layers.MaxPooling2D(2),
//     layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
//     layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dropout(0.5),
//     layers.Dense(10, activation="softmax")])
//
// nabla is channels-first, as PyTorch: the images are [N, 1, 28, 28].
// Usage: fashion_mnist_cnn [SAMPLES [EPOCHS]] trains on the first SAMPLES images for EPOCHS
// epochs (default: all 60000, 10).
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>

using namespace nabla;

int main(int argc, char** argv) try {
  auto [x_train, y_train, x_test, y_test] = data::load_fashion_mnist("", /*raw=*/true);
  x_train = x_train.unsqueeze(1);  // [N, 28, 28] -> [N, 1, 28, 28]
  x_test = x_test.unsqueeze(1);
  y_train = y_train.to(DType::i64);
  y_test = y_test.to(DType::i64);
  if (argc > 1) {
    const int64_t samples = std::atoll(argv[1]);
    x_train = x_train.slice(0, 0, samples);
    y_train = y_train.slice(0, 0, samples);
  }
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 10;

  Sequential model({
      layers::Rescaling(1.0 / 255),
      layers::Conv2D(32, 3, "", {.padding_mode = "same", .bias = false}),
      layers::BatchNormalization(),
      layers::Activation("relu"),
      layers::MaxPooling2D(2),
      layers::Conv2D(64, 3, "relu"),
      layers::MaxPooling2D(2),
      layers::Flatten(),
      layers::Dense(128, "relu"),
      layers::Dropout(0.5),
      layers::Dense(10, "softmax"),
  });

  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  model.build({1, 28, 28});
  std::cout << model.summary() << "\n";

  // Random crops (2 pixels of padding) and mirror images, made in the loader's background thread.
  model.fit(x_train, y_train,
            {.epochs = epochs,
             .batch_size = 64,
             .augmentation = data::compose({data::random_crop(2), data::random_flip()})});
  auto result = model.evaluate(x_test, y_test, 256, /*verbose=*/2);

  std::printf("\nTest accuracy: %.4f\n", result["accuracy"]);
} catch (const nabla::Error& e) {
  std::cerr << "fashion_mnist_cnn: error: " << e.what() << "\n";
  return 1;
}
