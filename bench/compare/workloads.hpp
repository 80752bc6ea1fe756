// The side-by-side workloads' networks as a Keras user writes them, shared by nabla_compare
// (training, train.cpp) and nabla_predict_compare (inference, predict.cpp); their PyTorch peers
// are in train.py and predict.py:
//   mlp: Flatten -> Dense(128, relu) -> Dense(10);
//   cnn: Conv(1->32, 3) -> ReLU -> MaxPool(2) -> Conv(32->64, 3) -> ReLU -> MaxPool(2) -> Flatten
//        -> Dense(128, relu) -> Dense(10);
//   lstm: LSTM(hidden) over the 28 image rows -> its last state -> Dense(10).
// The last layer ends in softmax when `softmax` (Keras's model; predictions are probabilities),
// else gives logits (the loop, which takes them as PyTorch's CrossEntropyLoss does). Images as
// bytes get a Rescaling(1/255) layer first (as `nabla train` runs).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "nabla/error.hpp"
#include "nabla/layers.hpp"
#include "nabla/nn.hpp"

namespace nabla::bench {

inline std::vector<nn::ModulePtr> workload_network(const std::string& model, bool f32_data,
                                                   int64_t hidden, bool softmax) {
  const std::string head = softmax ? "softmax" : "";
  std::vector<nn::ModulePtr> layers_list;
  if (!f32_data) layers_list.push_back(layers::Rescaling(1.0 / 255));
  if (model == "cnn") {
    for (nn::ModulePtr layer : {layers::Conv2D(32, 3, "relu"), layers::MaxPooling2D(2),
                                layers::Conv2D(64, 3, "relu"), layers::MaxPooling2D(2)}) {
      layers_list.push_back(layer);
    }
  }
  if (model == "lstm") {
    layers_list.push_back(std::make_shared<nn::LSTM>(hidden));
    layers_list.push_back(layers::Dense(10, head));
    return layers_list;
  }
  for (nn::ModulePtr layer :
       {layers::Flatten(), layers::Dense(128, "relu"), layers::Dense(10, head)}) {
    layers_list.push_back(layer);
  }
  return layers_list;
}

// The bench programs' command lines, "--name value" pairs and flags, read one option at a time:
//   for (OptionReader args(argc, argv, "nabla_compare", kUsage); args.next();)
//     if (args.name() == "--epochs") epochs = std::stoll(args.value()); else ...
class OptionReader {
 public:
  OptionReader(int argc, char** argv, const char* program, const char* usage)
      : argc_(argc), argv_(argv), program_(program), usage_(usage) {}
  bool next() { return ++at_ < argc_ && (name_ = argv_[at_], true); }
  const std::string& name() const { return name_; }
  std::string value() {
    NABLA_CHECK(at_ + 1 < argc_, program_, ": ", name_, " needs a value\n", usage_);
    return argv_[++at_];
  }
  [[noreturn]] void unknown() const {
    detail::throw_error(detail::str(program_, ": unknown option ", name_, "\n", usage_));
  }

 private:
  int argc_;
  char** argv_;
  const char* program_;
  const char* usage_;
  int at_ = 0;
  std::string name_;
};

// The options both bench programs take, read by read_common_option.
struct CommonOptions {
  std::string model;
  int threads = 0;  // 0: nabla's default (NABLA_NUM_THREADS, else all cores)
  uint64_t seed = 0;
  std::string data;  // empty: Debian's Fashion-MNIST
};

// Reads the current option of `args` into `common` when it is one of CommonOptions'.
inline bool read_common_option(OptionReader& args, CommonOptions& common) {
  const std::string& arg = args.name();
  if (arg == "--model") {
    common.model = args.value();
  } else if (arg == "--threads") {
    common.threads = std::stoi(args.value());
  } else if (arg == "--seed") {
    common.seed = std::stoull(args.value());
  } else if (arg == "--data") {
    common.data = args.value();
  } else {
    return false;
  }
  return true;
}

}  // namespace nabla::bench
