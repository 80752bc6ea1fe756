// Keras's Conv2D(activation="relu" or none) then MaxPooling2D, and PyTorch's Conv2d, ReLU,
// MaxPool2d, found in a list of layers so that they run as one op (Conv::forward_max_pool): the
// pooling inside the convolution's output pass, so that the convolution's full output -- a small
// CNN's largest activation -- is neither written nor kept for the backward. Sequential and
// Model's training path run their layers through it.
#pragma once

#include <cstddef>

#include "nabla/nn.hpp"

namespace nabla::nn {

struct ConvMaxPool {
  Conv* conv = nullptr;
  const Pool2d* pool = nullptr;
  bool relu_layer = false;  // a ReLU layer between them
  size_t layers = 0;        // how many layers it runs: 2 or 3; 0 when there is no such pattern

  Tensor forward(const Tensor& x) const {
    return conv->forward_max_pool(x, pool->kernel_size(), relu_layer);
  }
};

// The pattern starting at `first`, given the two layers after it (null past the end): a
// convolution that fuses_max_pool(), an optional ReLU layer (when the convolution has no
// activation of its own), and a max pooling with stride = window, no padding and no ceil_mode.
ConvMaxPool find_conv_max_pool(Module* first, Module* second, Module* third);

}  // namespace nabla::nn
