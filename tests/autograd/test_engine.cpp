// The backward engine: accumulation, retain_graph, freed graphs, grad mode, leaves.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"

using nabla::testing::error_message;
using namespace nabla;

namespace {
Tensor vec(std::vector<double> v) { return from_vector(v); }
}  // namespace

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = vec({1, 2}).requires_grad_();
  (x * x).sum().backward();
  (x * x).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 8}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, PathsThatMeetAreSummed) {
  Tensor x = vec({3}).requires_grad_();
  Tensor y = x * x;          // dy/dx = 2x
  Tensor z = y * x + y + x;  // x^3 + x^2 + x -> 3x^2 + 2x + 1 = 34
  z.sum().backward();
  EXPECT_DOUBLE_EQ(x.grad().item<double>(), 34);
}

TEST(Autograd, SecondBackwardThroughFreedGraphIsAnError) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = (x * x).sum();
  y.backward();
  EXPECT_EQ(error_message([&] { y.backward(); }),
            "backward: the graph through SumBackward was already freed by an earlier backward(); "
            "pass retain_graph=true to the first backward() to backpropagate through it twice");
}

TEST(Autograd, RetainGraphAllowsASecondBackward) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = (x * x).sum();
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 8}));
}

TEST(Autograd, NonScalarNeedsAnExplicitGradient) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = x * 3.0;
  EXPECT_EQ(error_message([&] { y.backward(); }),
            "backward: a gradient can be created implicitly only for scalar outputs, but the "
            "tensor has shape [2] (pass a gradient of that shape)");
  y.backward(vec({1, 10}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 30}));
}

TEST(Autograd, NoGradGuardAndDetachCutTheGraph) {
  Tensor x = vec({1, 2}).requires_grad_();
  {
    NoGradGuard guard;
    EXPECT_FALSE(is_grad_enabled());
    EXPECT_FALSE((x * x).requires_grad());
  }
  EXPECT_TRUE(is_grad_enabled());
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.shares_storage(x));
  Tensor y = (x * d).sum();  // d is a constant: dy/dx = d
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 2}));
}

TEST(Autograd, LeafAndNonLeafSemantics) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = x * 2.0;
  EXPECT_TRUE(x.is_leaf());
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(y.requires_grad());
  y.sum().backward();
  EXPECT_FALSE(y.grad().defined());  // non-leaf gradients are not kept, as in PyTorch
  EXPECT_EQ(error_message([&] { y.requires_grad_(false); }),
            "requires_grad_: only leaf tensors can stop requiring grad; use detach() on a "
            "computed tensor");
  EXPECT_EQ(error_message([&] { arange(3).requires_grad_(); }),
            "requires_grad_: only floating tensors can require grad, got dtype i64");
}

TEST(Autograd, BackwardWithoutGraphIsAnError) {
  Tensor x = vec({1, 2});
  EXPECT_NE(error_message([&] { x.sum().backward(); }).find("does not require grad"),
            std::string::npos);
}

TEST(Autograd, BroadcastGradientsSumToInputShape) {
  Tensor a = ones({2, 3}, DType::f64).requires_grad_();
  Tensor b = ones({3}, DType::f64).requires_grad_();
  (a * b).sum().backward();
  EXPECT_EQ(b.grad().shape(), (Shape{3}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{2, 2, 2}));
}
