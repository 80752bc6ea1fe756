// Keras-style layer constructors, so that a model reads as in the Keras tutorials:
//   Sequential model({layers::Flatten(), layers::Dense(128, "relu"), layers::Dense(10,
//   "softmax")});
// and, with the functional API, as Keras's Model(inputs, outputs):
//   auto wide = layers::Input({13}, "wide"), deep = layers::Input({8}, "deep");
//   auto h = layers::Dense(32, "relu")(deep);
//   auto out = layers::Dense(1)(layers::Concatenate()({wide, h}));
//   Model model({wide, deep}, {out});
// Each function returns a Layer: a shared pointer to the module (usable wherever an
// nn::ModulePtr is) that can also be called on symbolic tensors.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nabla/nn.hpp"

namespace nabla::layers {

class Layer : public nn::ModulePtr {
 public:
  Layer() = default;
  template <class M>
  Layer(std::shared_ptr<M> module) : nn::ModulePtr(std::move(module)) {}  // NOLINT: implicit
  nn::SymbolicTensor operator()(const nn::SymbolicTensor& x) const { return (**this)(x); }
  nn::SymbolicTensor operator()(const std::vector<nn::SymbolicTensor>& inputs) const {
    return (**this)(inputs);
  }
  // Keras's name= argument: layers::Dense(10, "softmax").named("label").
  Layer named(std::string name) const {
    (*this)->set_name(std::move(name));
    return *this;
  }
};

using nn::SymbolicTensor;
inline SymbolicTensor Input(Shape shape, std::string name = "", DType dtype = DType::f32) {
  return nn::Input(std::move(shape), std::move(name), dtype);
}

inline Layer Dense(int64_t units, const std::string& activation = "") {
  return std::make_shared<nn::Dense>(units, activation);
}
inline Layer Flatten() { return std::make_shared<nn::Flatten>(); }
inline Layer Dropout(double rate) { return std::make_shared<nn::Dropout>(rate); }
inline Layer Activation(const std::string& name) { return std::make_shared<nn::Activation>(name); }
// PyTorch's LeakyReLU(negative_slope = 0.01); Keras calls the slope alpha.
inline Layer LeakyReLU(double negative_slope = nn::Activation::kDefaultNegativeSlope) {
  return std::make_shared<nn::Activation>("leaky_relu", negative_slope);
}
inline Layer Rescaling(double scale, double offset = 0) {
  return std::make_shared<nn::Rescaling>(scale, offset);
}
inline Layer Reshape(Shape target_shape) {
  return std::make_shared<nn::Reshape>(std::move(target_shape));
}
// Permute({2, 3, 1}): [N, C, H, W] to [N, H, W, C] (Keras numbers the axes after the batch from 1).
inline Layer Permute(std::vector<int64_t> dims) {
  return std::make_shared<nn::Permute>(std::move(dims));
}
// Conv2D(32, 3, "relu"), Conv2D(64, 3, "relu", {.padding_mode = "same"}).
inline Layer Conv2D(int64_t filters, int64_t kernel_size, const std::string& activation = "",
                    nn::ConvLayerOptions options = {}) {
  return std::make_shared<nn::Conv2D>(filters, std::vector<int64_t>{kernel_size}, activation,
                                      std::move(options));
}
// Conv2DTranspose(16, 2, 2): a learned 2x upsampling (U-Net's decoder).
inline Layer Conv2DTranspose(int64_t filters, int64_t kernel_size, int64_t strides = 1,
                             const std::string& activation = "") {
  nn::ConvTransposeLayerOptions options;
  options.stride = {strides};
  options.activation = activation;
  return std::make_shared<nn::ConvTranspose2d>(filters, std::vector<int64_t>{kernel_size}, options,
                                               "Conv2DTranspose");
}
inline Layer MaxPooling2D(int64_t pool_size = 2) {
  return std::make_shared<nn::Pool2d>(nn::PoolKind::max, std::vector<int64_t>{pool_size},
                                      nn::Pool2dOptions{}, "MaxPooling2D");
}
inline Layer AveragePooling2D(int64_t pool_size = 2) {
  return std::make_shared<nn::Pool2d>(nn::PoolKind::average, std::vector<int64_t>{pool_size},
                                      nn::Pool2dOptions{}, "AveragePooling2D");
}
inline Layer GlobalAveragePooling2D() { return std::make_shared<nn::GlobalAveragePooling2D>(); }
inline Layer BatchNormalization(double momentum = 0.99, double epsilon = 1e-3) {
  return nn::BatchNormalization(momentum, epsilon);
}
inline Layer SpatialDropout2D(double rate) {
  return std::make_shared<nn::Dropout2d>(rate, "SpatialDropout2D");
}

// Merges (Keras's layers.Add()([a, b]), ...).
inline Layer Add() { return std::make_shared<nn::Merge>(nn::MergeKind::add); }
inline Layer Subtract() { return std::make_shared<nn::Merge>(nn::MergeKind::subtract); }
inline Layer Multiply() { return std::make_shared<nn::Merge>(nn::MergeKind::multiply); }
inline Layer Average() { return std::make_shared<nn::Merge>(nn::MergeKind::average); }
inline Layer Maximum() { return std::make_shared<nn::Merge>(nn::MergeKind::maximum); }
inline Layer Minimum() { return std::make_shared<nn::Merge>(nn::MergeKind::minimum); }
inline Layer Concatenate(int64_t axis = -1) { return std::make_shared<nn::Concatenate>(axis); }

// Highway("relu"): H(x) T(x) + x (1 - T(x)), the gate's bias starting at transform_bias.
inline Layer Highway(const std::string& activation = "relu", double transform_bias = -2) {
  nn::HighwayOptions options;
  options.activation = activation;
  options.transform_bias = transform_bias;
  return std::make_shared<nn::Highway>(options);
}

// UnitNormalization(): each sample scaled to unit L2 norm (an embedding's last layer).
inline Layer UnitNormalization(int64_t axis = -1) {
  return std::make_shared<nn::UnitNormalization>(axis);
}

}  // namespace nabla::layers
