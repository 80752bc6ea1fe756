// Semantic segmentation with a U-Net (Ronneberger et al. 2015) written in C++ with the Keras-style
// functional API: two levels of encoder (two 3x3 convolutions, 2x2 max pooling), a bottom, and
// the decoder's 2x2 stride-2 transposed convolutions whose output is concatenated with the
// encoder's feature map of the same size (the skip connections), as in Keras's
// "Image segmentation with a U-Net-like architecture" example:
//
//   x = Conv2D(16, 3, padding='same', activation='relu')(inputs)  ...
//   up = Conv2DTranspose(32, 2, strides=2)(bottom); x = concatenate([up, skip]) ...
//   outputs = Softmax()(Permute((2, 3, 1))(Conv2D(11, 1)(x)))
//   model.compile(optimizer='adam', loss=dice_crossentropy)
//
// The data are the segmentation task's scenes (1-4 Fashion-MNIST items on a 64x64 canvas, 11
// pixel classes): its test scenes, and its training scenes as a data::Pipeline that composes new
// ones every epoch, fed to Model::fit. The task then judges the model as `nabla train --model
// unet` does: the test mean IoU over the 11 classes. The preset is this network with one level
// more (docs/guide.md, "Semantic segmentation").
//
// Usage: unet [SCENES [EPOCHS [FOLDER]]] (default: 12000 scenes per epoch, 3 epochs). With a third
// argument, writes FOLDER/segmentation.png: test scenes, their true classes and the predicted ones.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>
#include <nabla/pipeline.hpp>
#include <nabla/tasks.hpp>

using namespace nabla;

namespace {

// Two 3x3 convolutions with ReLU, same padding: a U-Net level.
nn::SymbolicTensor twice_conv(const nn::SymbolicTensor& x, int64_t filters) {
  const nn::ConvLayerOptions same{.padding_mode = "same"};
  return layers::Conv2D(filters, 3, "relu", same)(layers::Conv2D(filters, 3, "relu", same)(x));
}

}  // namespace

int main(int argc, char** argv) try {
  const int64_t scenes = argc > 1 ? std::atoll(argv[1]) : 12000;
  const int64_t epochs = argc > 2 ? std::atoll(argv[2]) : 3;
  manual_seed(0);

  auto inputs = layers::Input({1, 64, 64}, "scene");
  const nn::SymbolicTensor pixels = layers::Rescaling(1.0 / 255)(inputs);
  const nn::SymbolicTensor level1 = twice_conv(pixels, 16);                           // 64 x 64
  const nn::SymbolicTensor level2 = twice_conv(layers::MaxPooling2D(2)(level1), 32);  // 32 x 32
  const nn::SymbolicTensor bottom = twice_conv(layers::MaxPooling2D(2)(level2), 64);  // 16 x 16
  nn::SymbolicTensor x = layers::Conv2DTranspose(32, 2, 2)(bottom);                   // 32 x 32
  x = twice_conv(layers::Concatenate(1)({x, level2}), 32);                            // skip
  x = layers::Conv2DTranspose(16, 2, 2)(x);                                           // 64 x 64
  x = twice_conv(layers::Concatenate(1)({x, level1}), 16);                            // skip
  x = layers::Conv2D(11, 1)(x);                                      // 11 class scores per pixel
  x = layers::Activation("softmax")(layers::Permute({2, 3, 1})(x));  // classes last
  train::Model model(std::make_shared<nn::Graph>(std::vector<nn::SymbolicTensor>{inputs},
                                                 std::vector<nn::SymbolicTensor>{x}, "unet"),
                     "unet");
  model.compile("adam", "dice_crossentropy", {"accuracy"});

  // The scenes: the task checks that the model gives per-pixel scores of its 11 classes.
  const auto task = tasks::make_task("segmentation");
  const tasks::TaskData data = task->load(io::ModelSpec{}, model, "");
  const data::Pipeline training = data.train_stream->take(scenes).batch(32).prefetch(2);
  model.fit(training, {.epochs = epochs, .verbose = 2});

  const train::EvaluationReport report = model.evaluate(data.x_test, data.y_test, 100, 0);
  for (const tasks::Figure& figure : task->judge(io::ModelSpec{}, model, data, report)) {
    std::cout << figure.text << "\n";
  }
  if (argc > 3) {
    task->write_outputs(io::ModelSpec{}, model, data, argv[3]);
    std::cout << "Wrote " << argv[3] << "/segmentation.png (scenes, true and predicted classes)\n";
  }
} catch (const nabla::Error& e) {
  std::cerr << "unet: error: " << e.what() << "\n";
  return 1;
}
