// A streaming input pipeline (tf.data's Dataset, PyTorch's DataLoader with workers) feeding fit:
//
//   ds = (tf.data.Dataset.from_tensor_slices((x, y))
//         .map(augment, num_parallel_calls=2)          # random crop and flip per image
//         .shuffle(10000, seed=0).batch(64).prefetch(2))
//   model.fit(ds, epochs=2, validation_data=(x_test, y_test))
//
// Every epoch reads the pipeline anew (a new shuffle, new augmentation draws); the order and the
// draws depend on the seeds only, not on the number of worker threads. The same pipeline reads
// TFRecord shards (Pipeline::from_tfrecords + decode_tfrecord_examples) or an image folder
// (Pipeline::from_image_folder) without loading them.
// Usage: streaming_pipeline [SAMPLES [EPOCHS]] (default: all 60000 images, 2 epochs).
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>

using namespace nabla;

int main(int argc, char** argv) try {
  auto [x_train, y_train, x_test, y_test] = data::load_fashion_mnist("", /*raw=*/true);
  const int64_t samples = argc > 1 ? std::atoll(argv[1]) : x_train.size(0);
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 2;
  const data::Pipeline train =
      data::Pipeline::from_tensors(x_train.unsqueeze(1).slice(0, 0, samples),
                                   y_train.to(DType::i64).slice(0, 0, samples))
          .augment(data::compose({data::random_crop(2), data::random_flip()}), /*seed=*/0,
                   /*workers=*/1)
          .shuffle(10000, /*seed=*/0)
          .batch(64)
          .prefetch(2);

  train::Model model({layers::Rescaling(1.0 / 255), layers::Conv2D(32, 3, "relu"),
                      layers::MaxPooling2D(2), layers::Flatten(), layers::Dense(128, "relu"),
                      layers::Dense(10, "softmax")});
  model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
  model.fit(train, {.epochs = epochs,
                    .validation_data = {x_test.unsqueeze(1), y_test.to(DType::i64)},
                    .verbose = 2});
  std::cout << "Share of the training time spent waiting for data: "
            << 100 * model.data_wait_share() << "%\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "streaming_pipeline: " << e.what() << "\n";
  return 1;
}
