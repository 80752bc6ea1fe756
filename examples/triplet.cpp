// Image search with the triplet loss, as TensorFlow Addons' TripletSemiHardLoss tutorial (on
// Fashion-MNIST instead of MNIST): a small CNN maps each image to a 64-d unit vector, trained so
// that an image lies nearer to images of its class than to the others by a margin, with FaceNet's
// semi-hard triplets mined in each batch. Judged as `nabla train --model triplet` judges it: the
// test images as queries among the training images, recall@1, recall@5 and mAP, against
// searching on the raw pixels.
//
//   model = Sequential([Conv2D(32, 3, padding='same'), BatchNormalization(), ReLU(),
//                       MaxPooling2D(2), Conv2D(64, ...), ..., Flatten(), Dense(128, 'relu'),
//                       Dense(64), UnitNormalization()])
//   model.compile(optimizer='adam', loss=tfa.losses.TripletSemiHardLoss())
//
// Usage: triplet [SAMPLES [EPOCHS [PICTURE]]] (default: all 60000 images, 5 epochs). With a
// third argument, writes test image 0 and its 8 nearest training images to that PNG file.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>

using namespace nabla;

int main(int argc, char** argv) try {
  auto [x_train, y_train, x_test, y_test] = data::load_fashion_mnist("", /*raw=*/true);
  const int64_t samples = argc > 1 ? std::atoll(argv[1]) : x_train.size(0);
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 5;
  const Tensor train_images = x_train.slice(0, 0, samples).unsqueeze(1);  // [N, 1, 28, 28]
  const Tensor train_labels = y_train.slice(0, 0, samples).to(DType::i64);
  const Tensor test_images = x_test.unsqueeze(1);
  const Tensor test_labels = y_test.to(DType::i64);
  manual_seed(0);

  Sequential model({
      layers::Rescaling(1.0 / 255),
      layers::Conv2D(32, 3, "", {.padding_mode = "same", .bias = false}),
      layers::BatchNormalization(),
      layers::Activation("relu"),
      layers::MaxPooling2D(2),
      layers::Conv2D(64, 3, "", {.padding_mode = "same", .bias = false}),
      layers::BatchNormalization(),
      layers::Activation("relu"),
      layers::MaxPooling2D(2),
      layers::Flatten(),
      layers::Dense(128, "relu"),
      layers::Dense(64),
      layers::UnitNormalization(),
  });
  model.compile("adam", std::make_shared<train::TripletSemiHardLoss>(0.5), {});
  model.fit(train_images, train_labels, {.epochs = epochs, .batch_size = 128, .verbose = 2});

  // The test images searched among the training images: by embedding, then by pixels.
  const Tensor gallery = retrieval::embed(model, train_images);
  const Tensor queries = retrieval::embed(model, test_images);
  const retrieval::Scores learned = retrieval::score(queries, test_labels, gallery, train_labels);
  const retrieval::Scores pixels =
      retrieval::score(test_images, test_labels, train_images, train_labels);
  std::printf("recall@1 %.4f, recall@5 %.4f, mAP %.4f (raw pixels: %.4f, %.4f, %.4f)\n",
              learned.recall_at_1, learned.recall_at_5, learned.mean_average_precision,
              pixels.recall_at_1, pixels.recall_at_5, pixels.mean_average_precision);

  if (argc > 3) {
    std::vector<int64_t> matches;
    for (const retrieval::Match& m :
         retrieval::nearest(queries.slice(0, 0, 1), gallery, train_labels, 8)) {
      matches.push_back(m.index);
    }
    data::write_png(argv[3],
                    retrieval::match_picture(test_images.slice(0, 0, 1),
                                             index_select(train_images, 0, from_vector(matches))));
  }
} catch (const nabla::Error& e) {
  std::cerr << "triplet: error: " << e.what() << "\n";
  return 1;
}
