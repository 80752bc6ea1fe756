// The classic Keras example (TensorFlow's "basic classification" on Fashion-MNIST), line for line:
//
//   (x_train, y_train), (x_test, y_test) = tf.keras.datasets.fashion_mnist.load_data()
//   x_train, x_test = x_train / 255.0, x_test / 255.0
//   model = tf.keras.models.Sequential([
//     tf.keras.layers.Flatten(input_shape=(28, 28)),
//     tf.keras.layers.Dense(128, activation='relu'),
//     tf.keras.layers.Dense(10, activation='softmax')
//   ])
//   model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
//   model.fit(x_train, y_train, epochs=5)
//   model.evaluate(x_test, y_test, verbose=2)
//
// Usage: mnist_mlp [SAMPLES [EPOCHS]] trains on the first SAMPLES images for EPOCHS epochs
// (default: all 60000, 5), for quick runs.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>

using namespace nabla;

int main(int argc, char** argv) try {
  auto [x_train, y_train, x_test, y_test] = data::load_fashion_mnist();  // scaled to [0, 1]
  if (argc > 1) {
    const int64_t samples = std::atoll(argv[1]);
    x_train = x_train.slice(0, 0, samples);
    y_train = y_train.slice(0, 0, samples);
  }
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 5;

  Sequential model({
      layers::Flatten(),
      layers::Dense(128, "relu"),
      layers::Dense(10, "softmax"),
  });

  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});

  model.fit(x_train, y_train, {.epochs = epochs});
  auto result = model.evaluate(x_test, y_test, 32, /*verbose=*/2);

  std::printf("\nTest accuracy: %.4f\n", result["accuracy"]);
} catch (const nabla::Error& e) {
  std::cerr << "mnist_mlp: error: " << e.what() << "\n";
  return 1;
}
