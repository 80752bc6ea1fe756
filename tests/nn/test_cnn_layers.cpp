// CNN layers: lazy builds, PyTorch parameter names and shapes, modes, blocks and the errors that
// name the layer. The ops under them have their own gradchecks and reference tests (tests/ops).
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/node.hpp"
#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/parameter_names.hpp"

using nabla::testing::error_message;
using nabla::testing::parameter_names;
using namespace nabla;

TEST(Conv2d, LazyBuildHeInitAndOutputShape) {
  nn::Conv2d conv(8, {3}, {.stride = {2}, .padding = {1}});
  EXPECT_FALSE(conv.weight().defined());
  manual_seed(0);
  Tensor y = conv(randn({4, 3, 9, 9}));
  EXPECT_EQ(y.shape(), (Shape{4, 8, 5, 5}));
  EXPECT_EQ(conv.in_channels(), 3);
  EXPECT_EQ(conv.weight().shape(), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(parameter_names(conv), (std::vector<std::string>{"weight", "bias"}));
  // He normal (Keras's, truncated at 2 sigma): std sqrt(2 / fan_in), fan_in = 27.
  const auto w = conv.weight().to_vector<float>();
  double sq = 0;
  for (float v : w) sq += v * v;
  EXPECT_NEAR(std::sqrt(sq / w.size()), std::sqrt(2.0 / 27), 0.07);
  EXPECT_EQ(error_message([&] {
              conv(zeros({4, 5, 9, 9}));
            }),
            "Conv2d: expected input with 3 channels (axis 1), got shape [4, 5, 9, 9]");
}

TEST(Conv2d, ThreeDimensionalInputNamesTheLayer) {
  nn::Conv2D conv(4, {3});
  EXPECT_EQ(error_message([&] {
              conv(zeros({2, 28, 28}));
            }),
            "Conv2D: expected input [N, C, H, W] (4 axes), got shape [2, 28, 28]");
}

TEST(Conv2D, KerasDefaultsValidPaddingAndActivation) {
  nn::Conv2D conv(4, {3}, "relu");
  Tensor y = conv(randn({2, 1, 6, 6}));
  EXPECT_EQ(y.shape(), (Shape{2, 4, 4, 4}));  // "valid"
  EXPECT_GE(min(y).item(), 0.0);              // relu applied
  nn::Conv2D same(4, {3}, "", {.stride = {2}, .padding_mode = "same"});
  EXPECT_EQ(same(randn({2, 1, 7, 7})).shape(), (Shape{2, 4, 4, 4}));  // ceil(7 / 2)
}

TEST(Conv, DepthwiseSetsGroupsFromTheInput) {
  nn::Conv conv(2, 1, {3}, {.padding_mode = "same", .depth_multiplier = 2}, "DepthwiseConv2D");
  Tensor y = conv(randn({2, 5, 6, 6}));
  EXPECT_EQ(y.shape(), (Shape{2, 10, 6, 6}));
  EXPECT_EQ(conv.weight().shape(), (Shape{10, 1, 3, 3}));
  EXPECT_EQ(conv.options().groups, 5);
}

TEST(Conv, GroupsMustDivideChannels) {
  EXPECT_EQ(error_message([] { nn::Conv2d(6, {3}, {.groups = 4}); }),
            "Conv2d: out_channels (6) must be divisible by groups (4)");
  nn::Conv2d conv(6, {3}, {.groups = 3});
  EXPECT_EQ(error_message([&] {
              conv(zeros({1, 4, 5, 5}));
            }),
            "Conv2d: input channels (4) must be divisible by groups (3)");
}

TEST(Conv1d, SequencesOfChannels) {
  nn::Conv1d conv(3, 2, {.padding_mode = "same"});
  EXPECT_EQ(conv(randn({2, 4, 7})).shape(), (Shape{2, 3, 7}));
  EXPECT_EQ(conv.weight().shape(), (Shape{3, 4, 2}));
  EXPECT_EQ(error_message([&] {
              conv(zeros({2, 4}));
            }),
            "Conv1d: expected input [N, C, L] (3 axes), got shape [2, 4]");
}

TEST(SeparableConv2D, DepthwiseThenPointwise) {
  nn::SeparableConv2D conv(8, {3}, {.padding_mode = "same"});
  EXPECT_EQ(conv(randn({2, 3, 5, 5})).shape(), (Shape{2, 8, 5, 5}));
  EXPECT_EQ(parameter_names(conv),
            (std::vector<std::string>{"depthwise.weight", "pointwise.weight", "pointwise.bias"}));
  EXPECT_EQ(conv.num_parameters(), 3 * 9 + 3 * 8 + 8);
}

TEST(ConvTranspose2d, DoublesTheSizeWithStrideTwo) {
  nn::ConvTranspose2d deconv(4, {3}, {.stride = {2}, .padding = {1}, .output_padding = {1}});
  EXPECT_EQ(deconv(randn({2, 6, 7, 7})).shape(), (Shape{2, 4, 14, 14}));
  EXPECT_EQ(parameter_names(deconv), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(deconv.num_parameters(), 6 * 4 * 9 + 4);
}

TEST(Pooling, MaxAverageGlobalAndSame) {
  Tensor x = arange(0, 16, 1, DType::f32).reshape({1, 1, 4, 4});
  EXPECT_EQ(nn::MaxPool2d({2})->forward(x).to_vector<float>(), (std::vector<float>{5, 7, 13, 15}));
  EXPECT_EQ(nn::AvgPool2d({2})->forward(x).to_vector<float>(),
            (std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f}));
  EXPECT_EQ(nn::GlobalAveragePooling2D().forward(x).shape(), (Shape{1, 1}));
  EXPECT_FLOAT_EQ(nn::GlobalAveragePooling2D().forward(x).item(), 7.5);
  // Keras's "same" with pool 2 on 5x5: ceil(5 / 2) = 3, the last window partial.
  nn::Pool2d same(nn::PoolKind::average, {2}, {.padding_mode = "same"}, "AveragePooling2D");
  Tensor y = same(ones({1, 1, 5, 5}));
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(y.to_vector<float>(), std::vector<float>(9, 1.f));  // padding not averaged in
  EXPECT_EQ(
      error_message([] {
        nn::Pool2d(nn::PoolKind::max, {3}, {.stride = {1}, .padding_mode = "same"}, "MaxPooling2D");
      }),
      "MaxPooling2D: padding \"same\" needs strides equal to pool_size (got pool_size (3, 3), "
      "strides (1, 1))");
  EXPECT_EQ(error_message([] {
              nn::MaxPool2d({2})->forward(zeros({1, 4, 4}));
            }),
            "MaxPool2d: expected input [N, C, H, W] (4 axes), got shape [1, 4, 4]");
}

TEST(BatchNorm, PyTorchBuffersAndRunningStatistics) {
  auto bn = nn::BatchNorm2d();
  Tensor x = arange(0, 16, 1, DType::f32)
                 .reshape({2, 2, 2, 2});  // channel 0: 0-3, 8-11; channel 1: 4-7, 12-15
  Tensor y = bn->forward(x);
  std::vector<std::string> buffers;
  for (const auto& [name, tensor] : bn->named_buffers()) buffers.push_back(name);
  EXPECT_EQ(buffers,
            (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(parameter_names(*bn), (std::vector<std::string>{"weight", "bias"}));
  // Channel 0 values {0,1,2,3,8,9,10,11}: mean 5.5, unbiased variance 16.857...
  const auto state = bn->state_dict();
  EXPECT_NEAR(state.at("running_mean").at<float>({0}), 0.55, 1e-6);
  EXPECT_NEAR(state.at("running_var").at<float>({0}), 0.9 + 0.1 * 138.0 / 7, 1e-5);
  EXPECT_EQ(state.at("num_batches_tracked").item<int64_t>(), 1);
  EXPECT_NEAR(mean(y).item(), 0.0, 1e-6);
  // Eval mode uses the running statistics and leaves them alone.
  bn->eval();
  Tensor z = bn->forward(x);
  EXPECT_EQ(bn->state_dict().at("num_batches_tracked").item<int64_t>(), 1);
  EXPECT_NEAR(z.at<float>({0, 0, 0, 0}), (0 - 0.55) / std::sqrt(0.9 + 0.1 * 138.0 / 7 + 1e-5),
              1e-5);
}

TEST(BatchNormalization, KerasMomentumAndEpsilon) {
  auto bn = nn::BatchNormalization();
  EXPECT_NEAR(bn->options().momentum, 0.01, 1e-12);  // Keras 0.99 = PyTorch 0.01
  EXPECT_DOUBLE_EQ(bn->options().eps, 1e-3);
  EXPECT_EQ(bn->type_name(), "BatchNormalization");
  EXPECT_EQ(error_message([&] { bn->forward(zeros({4})); }),
            "BatchNormalization: expected input [N, C] or [N, C, *], got shape [4]");
}

TEST(LayerNormAndGroupNorm, LazyShapesAndErrors) {
  nn::LayerNorm ln;
  Tensor y = ln(randn({3, 5}));
  EXPECT_EQ(ln.normalized_shape(), (Shape{5}));
  EXPECT_NEAR(mean(y).item(), 0.0, 1e-5);
  nn::GroupNorm gn(2);
  EXPECT_EQ(gn(randn({2, 4, 3, 3})).shape(), (Shape{2, 4, 3, 3}));
  EXPECT_EQ(parameter_names(gn), (std::vector<std::string>{"weight", "bias"}));
  nn::GroupNorm bad(3);
  EXPECT_EQ(error_message([&] {
              bad(zeros({2, 4, 3, 3}));
            }),
            "GroupNorm: num_groups (3) must divide the channel count (4)");
}

TEST(ResidualBlock, IdentityOrProjectionShortcut) {
  nn::ResidualBlock same(4);
  EXPECT_EQ(same(randn({2, 4, 6, 6})).shape(), (Shape{2, 4, 6, 6}));
  EXPECT_EQ(same.named_children().size(), 4u);  // conv1, bn1, conv2, bn2: identity shortcut
  nn::ResidualBlock down(8, 2);
  EXPECT_EQ(down(randn({2, 4, 7, 7})).shape(), (Shape{2, 8, 4, 4}));
  EXPECT_EQ(down.named_children().back().first, "shortcut");
  // conv1 4->8 3x3, bn1, conv2 8->8 3x3, bn2, shortcut 1x1 4->8 and its bn (no conv biases).
  EXPECT_EQ(down.num_parameters(), 8 * 4 * 9 + 16 + 8 * 8 * 9 + 16 + 8 * 4 + 16);
  // The output is a ReLU: never negative.
  EXPECT_GE(min(down(randn({2, 4, 7, 7}))).item(), 0.0);
}

TEST(ResidualBlock, GradientsReachTheInputThroughBothPaths) {
  nn::ResidualBlock block(3);
  Tensor x = randn({2, 3, 5, 5}).requires_grad_();
  block(x).sum().backward();
  ASSERT_TRUE(x.grad().defined());
  for (const Tensor& p : block.parameters()) EXPECT_TRUE(p.grad().defined());
}

TEST(DenseBlockAndTransition, ChannelGrowthAndCompression) {
  nn::DenseBlock block(3, 4);
  Tensor y = block(randn({2, 6, 8, 8}));
  EXPECT_EQ(y.shape(), (Shape{2, 6 + 3 * 4, 8, 8}));
  nn::TransitionBlock transition(0.5);
  EXPECT_EQ(transition(y).shape(), (Shape{2, 9, 4, 4}));
}

TEST(UpsampleDropout2dReshape, Shapes) {
  nn::Upsample up(2);
  EXPECT_EQ(up(ones({1, 2, 3, 3})).shape(), (Shape{1, 2, 6, 6}));
  nn::Dropout2d drop(0.5);
  drop.eval();
  Tensor x = randn({2, 3, 4, 4});
  EXPECT_EQ(drop(x).to_vector<float>(), x.to_vector<float>());
  nn::Reshape reshape({1, 28, 28});
  EXPECT_EQ(reshape(zeros({5, 784})).shape(), (Shape{5, 1, 28, 28}));
}

TEST(CnnModel, KerasStyleSequentialTrainsOnASyntheticProblem) {
  // Vertical bars (class 1) against horizontal bars (class 0), at random positions.
  manual_seed(3);
  const int64_t n = 256;
  Tensor x = zeros({n, 1, 8, 8});
  Tensor y = zeros({n}, DType::i64);
  Generator gen(7);
  for (int64_t i = 0; i < n; ++i) {
    const bool vertical = i % 2 == 1;
    const int64_t at = static_cast<int64_t>(gen.next_double() * 8);
    for (int64_t j = 0; j < 8; ++j) {
      x.data<float>()[i * 64 + (vertical ? j * 8 + at : at * 8 + j)] = 1;
    }
    y.data<int64_t>()[i] = vertical;
  }
  Sequential model({layers::Conv2D(4, 3, "relu"), layers::MaxPooling2D(),
                    layers::BatchNormalization(0.9), layers::Flatten(),
                    layers::Dense(2, "softmax")});
  model.compile(optim::make_optimizer("adam", 0.01), "sparse_categorical_crossentropy",
                {"accuracy"});
  model.fit(x, y, {.epochs = 10, .batch_size = 32, .verbose = 0});
  EXPECT_GE(model.evaluate(x, y, 64, 0)["accuracy"], 0.95);
}

// Sequential and Model run Keras's Conv2D(relu) then MaxPooling2D, and PyTorch's Conv2d, ReLU,
// MaxPool2d, as one convolution with the pooling fused (its backward node says so), with the
// values and gradients of the layers run one by one; a pooling whose windows overlap, or a
// convolution with another activation, runs as it is. (12 filters: not a shape of the direct
// kernels, which sum in another order, conv_pool_direct.hpp.)
TEST(Sequential, FusesConvolutionThenMaxPooling) {
  struct Case {
    std::vector<nn::ModulePtr> layers;
    const char* last_node;
  };
  const std::vector<Case> cases = {
      {{layers::Conv2D(12, 3, "relu"), layers::MaxPooling2D(2)}, "Conv2dReluMaxPoolBackward"},
      {{std::make_shared<nn::Conv2d>(12, std::vector<int64_t>{3}),
        std::make_shared<nn::Activation>("relu"), nn::MaxPool2d({2})},
       "Conv2dReluMaxPoolBackward"},
      {{std::make_shared<nn::Conv2d>(12, std::vector<int64_t>{3}), nn::MaxPool2d({3})},
       "Conv2dMaxPoolBackward"},
      {{layers::Conv2D(12, 3, "relu"), nn::MaxPool2d({2}, {.stride = {1}})}, "MaxPool2dBackward"},
      {{layers::Conv2D(12, 3, "tanh"), layers::MaxPooling2D(2)}, "MaxPool2dBackward"}};
  for (size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(k);
    manual_seed(5);
    nn::Sequential net(cases[k].layers);
    const Tensor x = randn({3, 1, 11, 11});
    std::vector<float> outs[2];
    std::vector<std::vector<float>> grads[2];
    for (int fused = 0; fused < 2; ++fused) {
      net.zero_grad();
      Tensor h = x;
      if (fused) {
        h = net(x);
        EXPECT_STREQ(h.impl()->grad_fn->name(), cases[k].last_node);
      } else {
        for (const nn::ModulePtr& layer : net.layers()) h = layer->forward(h);
      }
      (h * arange(0, h.numel(), 1).reshape(h.shape())).sum().backward();
      outs[fused] = h.detach().to_vector<float>();
      for (const Tensor& p : net.parameters()) grads[fused].push_back(p.grad().to_vector<float>());
    }
    EXPECT_EQ(outs[1], outs[0]);
    EXPECT_EQ(grads[1], grads[0]);
  }
}
