// Functional graph models: symbolic calls, shapes, shared layers, merges, gradients through the
// graph, and the errors for miswired graphs.
#include <gtest/gtest.h>

#include "autograd/node.hpp"
#include "nabla/layers.hpp"
#include "nabla/nn.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"

using namespace nabla;
using nabla::testing::error_message;

TEST(Graph, SymbolicCallsKnowTheirShapes) {
  auto wide = layers::Input({5}, "wide");
  auto deep = layers::Input({3}, "deep");
  auto hidden = layers::Dense(8, "relu")(deep);
  EXPECT_EQ(hidden.shape(), Shape({8}));
  auto joined = layers::Concatenate()({wide, hidden});
  EXPECT_EQ(joined.shape(), Shape({13}));
  auto out = layers::Dense(1)(joined);
  nn::Graph graph({wide, deep}, {out});
  // Inputs, then each call in order, named after the layer types as Keras names them.
  std::vector<std::string> names;
  for (const auto& node : graph.nodes()) names.push_back(node->name);
  EXPECT_EQ(names, (std::vector<std::string>{"wide", "deep", "dense", "concatenate", "dense_1"}));
  EXPECT_EQ(graph.num_parameters(), 3 * 8 + 8 + 13 + 1);
  EXPECT_TRUE(graph.state_dict().count("dense_1.weight"));
  EXPECT_EQ(graph.output_shapes(), std::vector<Shape>({{1}}));
}

TEST(Graph, ForwardMatchesTheLayersCalledByHand) {
  manual_seed(3);
  auto wide = layers::Input({4}, "wide");
  auto deep = layers::Input({2}, "deep");
  auto dense = layers::Dense(3, "tanh");
  auto head = layers::Dense(2);
  auto out = head(layers::Concatenate()({wide, dense(deep)}));
  nn::Graph graph({wide, deep}, {out});
  const Tensor w = randn({5, 4}), d = randn({5, 2});
  const Tensor expected = (*head)(concat({w, (*dense)(d)}, 1));
  EXPECT_EQ(graph.forward_multi({w, d}).to_vector<float>(), expected.to_vector<float>());
}

TEST(Graph, SharedLayerIsOneSubmoduleCalledTwice) {
  auto a = layers::Input({4}, "a");
  auto b = layers::Input({4}, "b");
  auto tower = layers::Dense(3, "relu").named("tower");
  auto distance = layers::Subtract()({tower(a), tower(b)});
  nn::Graph siamese({a, b}, {distance});
  EXPECT_EQ(siamese.num_parameters(), 4 * 3 + 3);  // one set of weights
  std::vector<std::string> names;
  for (const auto& node : siamese.nodes()) names.push_back(node->name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "tower", "b", "tower[1]", "subtract"}));
  // The same input on both sides: the distance is exactly zero.
  const Tensor x = randn({2, 4});
  for (float v : siamese.forward_multi({x, x}).to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(Graph, MergesCombineElementwise) {
  const Tensor x = from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  const Tensor y = from_vector(std::vector<float>{4, 3, 2, 1}, {2, 2});
  const auto run = [&](layers::Layer layer) {
    return layer->forward_multi({x, y}).to_vector<float>();
  };
  EXPECT_EQ(run(layers::Add()), (std::vector<float>{5, 5, 5, 5}));
  EXPECT_EQ(run(layers::Subtract()), (std::vector<float>{-3, -1, 1, 3}));
  EXPECT_EQ(run(layers::Multiply()), (std::vector<float>{4, 6, 6, 4}));
  EXPECT_EQ(run(layers::Average()), (std::vector<float>{2.5, 2.5, 2.5, 2.5}));
  EXPECT_EQ(run(layers::Maximum()), (std::vector<float>{4, 3, 3, 4}));
  EXPECT_EQ(run(layers::Minimum()), (std::vector<float>{1, 2, 2, 1}));
  EXPECT_EQ(layers::Concatenate(1)->forward_multi({x, y}).shape(), Shape({2, 4}));
}

TEST(Graph, GradientsFlowThroughSkipConnections) {
  // A residual block in f64: out = dense2(relu(dense1(x))) + x, checked numerically with respect
  // to the input.
  manual_seed(5);
  auto input = layers::Input({3}, "x", DType::f64);
  auto d1 = layers::Dense(3, "tanh");
  auto d2 = layers::Dense(3);
  nn::Graph graph({input}, {layers::Add()({d2(d1(input)), input})});
  graph.to(DType::f64);
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return graph.forward(in[0]); },
                   {nabla::testing::leaf({2, 3})});
}

TEST(Graph, MiswiredGraphsAreErrorsNamingTheLayer) {
  auto a = layers::Input({4}, "a");
  auto b = layers::Input({5}, "b");
  EXPECT_NE(error_message([&] {
              layers::Add().named("sum")({a, b});
            }).find("Add: expected inputs of one shape, got [1, 4] (input 0) and [1, 5]"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              layers::Concatenate(0)({a, a});
            }).find("the batch axis"),
            std::string::npos);
  auto h = layers::Dense(2)(b);
  // b leads to the output but is not among the inputs.
  EXPECT_NE(error_message([&] { nn::Graph({a}, {h}); })
                .find("Input 'b' leads to an output but is "
                      "not among the model's inputs"),
            std::string::npos);
  EXPECT_NE(error_message([&] { nn::Graph({b, b}, {h}); }).find("listed twice"), std::string::npos);
  EXPECT_NE(error_message([&] { nn::Graph({h}, {h}); }).find("is not an Input"), std::string::npos);
  auto x = layers::Dense(2).named("same")(a);
  auto y = layers::Dense(2).named("same")(a);
  EXPECT_NE(error_message([&] {
              nn::Graph({a}, {layers::Add()({x, y})});
            }).find("two layers are named 'same'"),
            std::string::npos);
  nn::Graph ok({b}, {h});
  EXPECT_NE(error_message([&] {
              ok.forward(randn({2, 4}));
            }).find("input 'b' takes shape [N, 5], got [2, 4]"),
            std::string::npos);
}

// A convolution whose only reader is a max pooling runs with it as one op (its backward node says
// so), with the values and gradients of the layers called by hand; one whose output is also read
// elsewhere (an output here) runs as it is.
TEST(Graph, ConvolutionThenMaxPoolingRunsAsOneOp) {
  for (const bool conv_is_output : {false, true}) {
    SCOPED_TRACE(conv_is_output ? "the convolution is an output" : "a chain");
    manual_seed(4);
    auto image = layers::Input({1, 9, 9}, "image");
    auto conv = layers::Conv2D(4, 3, "relu");
    auto pool = layers::MaxPooling2D(2);
    auto features = conv(image);
    auto pooled = pool(features);
    nn::Graph graph({image}, conv_is_output ? std::vector<nn::SymbolicTensor>{pooled, features}
                                            : std::vector<nn::SymbolicTensor>{pooled});
    const Tensor x = randn({2, 1, 9, 9});
    std::vector<float> values[2], grads[2];
    for (int by_graph = 0; by_graph < 2; ++by_graph) {
      graph.zero_grad();
      const Tensor y = by_graph ? graph.forward_all({x})[0] : (*pool)((*conv)(x));
      if (by_graph) {
        EXPECT_STREQ(y.impl()->grad_fn->name(),
                     conv_is_output ? "MaxPool2dBackward" : "Conv2dReluMaxPoolBackward");
      }
      (y * arange(0, y.numel(), 1).reshape(y.shape())).sum().backward();
      values[by_graph] = y.detach().to_vector<float>();
      grads[by_graph] = conv->parameters()[0].grad().to_vector<float>();
    }
    EXPECT_EQ(values[1], values[0]);
    EXPECT_EQ(grads[1], grads[0]);
  }
}
