// Losses: values and input gradients against PyTorch for every option, gradcheck in f64 (all
// reductions and options, spatial and unbatched class losses, non-contiguous inputs), the fused
// cross-entropy graph, numerical stability, thread-count independence and error messages.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/node.hpp"
#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/op_test.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::leaf;
using nabla::testing::noncontiguous_leaf;
using nabla::testing::OpCase;
using nabla::testing::OpTest;
using Inputs = std::vector<Tensor>;

namespace {

CrossEntropyOptions class_options(const OpCase& c) {
  CrossEntropyOptions options;
  options.weight = c.input("weight");
  options.ignore_index = c.attr<int64_t>("ignore_index", -100);
  options.label_smoothing = c.attr<double>("label_smoothing", 0.0);
  options.reduction = c.attr<std::string>("reduction", "mean");
  return options;
}

// A pointwise loss of (input, target) with a reduction.
template <class Loss>
OpTest pointwise_loss(const std::string& name, Loss loss) {
  return {.name = name,
          .fn =
              [loss](const OpCase& c) {
                return loss(c.input("input"), c.input("target"),
                            c.attr<std::string>("reduction", "mean"), c);
              },
          .grad_inputs = {"input", "target"},
          .cases = {"loss/" + name + "_*"}};
}

// The reference cases are named loss/<kind>_..., not after the op: each row selects its own.
const std::vector<OpTest> kLossTests = {
    pointwise_loss("mse", [](const Tensor& x, const Tensor& t, const std::string& r,
                             const OpCase&) { return mse_loss(x, t, r); }),
    pointwise_loss("l1", [](const Tensor& x, const Tensor& t, const std::string& r,
                            const OpCase&) { return l1_loss(x, t, r); }),
    pointwise_loss("huber",
                   [](const Tensor& x, const Tensor& t, const std::string& r, const OpCase& c) {
                     return huber_loss(x, t, c.attr<double>("delta", 1.0), r);
                   }),
    pointwise_loss("bce",
                   [](const Tensor& x, const Tensor& t, const std::string& r, const OpCase& c) {
                     return binary_cross_entropy_with_logits(x, t, c.input("pos_weight"), r);
                   }),
    {.name = "cross_entropy",
     .fn =
         [](const OpCase& c) {
           return cross_entropy(c.input("input"), c.input("labels"), class_options(c));
         },
     .grad_inputs = {"input"},
     .cases = {"loss/ce_*"}},
    {.name = "nll_loss",
     .fn =
         [](const OpCase& c) {
           return nll_loss(c.input("input"), c.input("labels"), class_options(c));
         },
     .grad_inputs = {"input"},
     .cases = {"loss/nll_*"}},
};

Tensor labels_of(const std::vector<int64_t>& values, const Shape& shape) {
  return from_vector(values, shape);
}

CrossEntropyOptions options_with(const std::string& reduction, Tensor weight = Tensor(),
                                 int64_t ignore_index = -100, double smoothing = 0.0) {
  CrossEntropyOptions o;
  o.weight = weight;
  o.ignore_index = ignore_index;
  o.label_smoothing = smoothing;
  o.reduction = reduction;
  return o;
}

const char* const kReductions[] = {"mean", "sum", "none"};

}  // namespace

TEST(Loss, MatchesPyTorch) { nabla::testing::check_ops("matmul_loss", kLossTests); }

TEST(Loss, GradcheckPointwiseLosses) {
  for (const char* reduction : kReductions) {
    SCOPED_TRACE(reduction);
    const std::string r = reduction;
    EXPECT_GRADCHECK([&](const Inputs& in) { return mse_loss(in[0], in[1], r); },
                     {leaf({3, 4}, 1), noncontiguous_leaf({3, 4}, 2)});
    EXPECT_GRADCHECK([&](const Inputs& in) { return l1_loss(in[0], in[1], r); },
                     {noncontiguous_leaf({3, 4}, 3), leaf({3, 4}, 4)});
    EXPECT_GRADCHECK([&](const Inputs& in) { return huber_loss(in[0], in[1], 0.7, r); },
                     {leaf({3, 4}, 5), leaf({3, 4}, 6)});
    EXPECT_GRADCHECK(
        [&](const Inputs& in) { return binary_cross_entropy_with_logits(in[0], in[1], {}, r); },
        {noncontiguous_leaf({3, 4}, 7), leaf({3, 4}, 8)});
    // pos_weight [4] broadcast over the rows; its gradient is summed back.
    EXPECT_GRADCHECK(
        [&](const Inputs& in) { return binary_cross_entropy_with_logits(in[0], in[1], in[2], r); },
        {leaf({3, 4}, 9), leaf({3, 4}, 10), leaf({4}, 11)});
  }
}

TEST(Loss, GradcheckCrossEntropyAndNllEveryOption) {
  const Tensor weight = from_vector(std::vector<double>{0.5, 1.5, 1.0, 2.0});
  const Tensor labels = labels_of({0, 3, -100, 1, 3}, {5});
  const Tensor labels_2 = labels_of({2, 0, 2, 1, 3}, {5});
  const std::vector<CrossEntropyOptions> all = {
      options_with("mean"),
      options_with("sum"),
      options_with("none"),
      options_with("mean", weight),
      options_with("sum", weight, -100, 0.1),
      options_with("mean", weight, -100, 0.25),
      options_with("none", weight, -100, 0.25),
      options_with("mean", Tensor(), -100, 0.3),
  };
  for (const auto& o : all) {
    SCOPED_TRACE(o.reduction + (o.weight.defined() ? " weighted" : "") + " smoothing " +
                 std::to_string(o.label_smoothing));
    auto ce = [&](const Inputs& in) { return cross_entropy(in[0], labels, o); };
    EXPECT_GRADCHECK(ce, {leaf({5, 4}, 1)});
    EXPECT_GRADCHECK(ce, {noncontiguous_leaf({5, 4}, 2)});
    if (o.label_smoothing == 0) {
      auto nll = [&](const Inputs& in) { return nll_loss(in[0], labels, o); };
      EXPECT_GRADCHECK(nll, {noncontiguous_leaf({5, 4}, 3)});
    }
  }
  // ignore_index naming a real class drops the rows with that label.
  auto ignore_2 = [&](const Inputs& in) {
    return cross_entropy(in[0], labels_2, options_with("mean", weight, 2, 0.1));
  };
  EXPECT_GRADCHECK(ignore_2, {leaf({5, 4}, 4)});
}

TEST(Loss, GradcheckSpatialAndUnbatchedClassLosses) {
  const Tensor weight = from_vector(std::vector<double>{0.5, 1.5, 1.0});
  const Tensor labels = labels_of({0, 2, -100, 1, 1, 0, 2, 2}, {2, 2, 2});  // logits [2, 3, 2, 2]
  for (const char* reduction : kReductions) {
    SCOPED_TRACE(reduction);
    const CrossEntropyOptions o = options_with(reduction, weight, -100, 0.2);
    EXPECT_GRADCHECK([&](const Inputs& in) { return cross_entropy(in[0], labels, o); },
                     {noncontiguous_leaf({2, 3, 2, 2}, 1)});
    EXPECT_GRADCHECK(
        [&](const Inputs& in) { return nll_loss(in[0], labels, options_with(reduction, weight)); },
        {leaf({2, 3, 2, 2}, 2)});
    EXPECT_GRADCHECK(
        [&](const Inputs& in) { return cross_entropy(in[0], scalar_tensor(2, DType::i64), o); },
        {leaf({3}, 3)});
  }
}

TEST(Loss, CrossEntropyIsOneFusedNode) {
  Tensor logits = leaf({4, 3}, 1);
  const Tensor out = cross_entropy(logits, labels_of({0, 1, 2, 1}, {4}));
  const auto& node = out.impl()->grad_fn;
  ASSERT_NE(node, nullptr);
  EXPECT_STREQ(node->name(), "CrossEntropyBackward");
  ASSERT_EQ(node->next_edges.size(), 1u);
  EXPECT_STREQ(node->next_edges[0].node->name(), "AccumulateGrad");
}

TEST(Loss, StableForExtremeLogits) {
  Tensor logits = from_vector(std::vector<float>{1000, 0, -1000, -1000, 0, 1000}, {2, 3});
  logits.requires_grad_();
  Tensor loss = cross_entropy(logits, labels_of({2, 1}, {2}), options_with("none"));
  EXPECT_EQ(loss.to_vector<float>(), (std::vector<float>{2000, 1000}));
  loss.sum().backward();
  EXPECT_EQ(logits.grad().to_vector<float>(), (std::vector<float>{1, 0, -1, 0, -1, 1}));

  const Tensor x = from_vector(std::vector<float>{100, -100, 100, -100});
  const Tensor t = from_vector(std::vector<float>{0, 1, 1, 0});
  EXPECT_ALL_CLOSE(binary_cross_entropy_with_logits(x, t, {}, "none"),
                   from_vector(std::vector<float>{100, 100, 0, 0}), 1e-6, 1e-6);
}

TEST(Loss, EmptyAndFullyIgnoredMeansAreNaN) {
  EXPECT_TRUE(std::isnan(mse_loss(zeros({0}), zeros({0})).item()));
  EXPECT_EQ(mse_loss(zeros({0}), zeros({0}), "sum").item(), 0.0);
  EXPECT_TRUE(std::isnan(cross_entropy(zeros({2, 3}), labels_of({-100, -100}, {2})).item()));
}

TEST(Loss, ResultsDoNotDependOnTheThreadCount) {
  Generator gen(11);
  const Tensor logits = randn({600, 100}, DType::f32, &gen);
  const Tensor labels = randint(0, 100, {600}, &gen);
  const Tensor x = randn({100000}, DType::f32, &gen), t = randn({100000}, DType::f32, &gen);
  auto compute = [&] {
    Tensor l = logits.detach().requires_grad_();
    Tensor ce = cross_entropy(l, labels);
    ce.backward();
    return std::vector<Tensor>{ce, l.grad(), mse_loss(x, t, "sum"), huber_loss(x, t)};
  };
  const int threads = get_num_threads();
  set_num_threads(1);
  const auto one = compute();
  set_num_threads(2);
  const auto two = compute();
  set_num_threads(threads);
  for (size_t i = 0; i < one.size(); ++i)
    EXPECT_EQ(one[i].to_vector<float>(), two[i].to_vector<float>()) << i;
}

TEST(Loss, ErrorMessages) {
  const Tensor logits = zeros({4, 5});
  EXPECT_EQ(error_message([&] {
              cross_entropy(logits, labels_of({0, 1, 2}, {3}));
            }),
            "cross_entropy: labels of shape [3] do not match logits of shape [4, 5] (expected "
            "labels of shape [4])");
  EXPECT_EQ(error_message([&] {
              cross_entropy(logits, labels_of({0, 7, 1, 2}, {4}));
            }),
            "cross_entropy: label 7 at position [1] is out of range for 5 classes (expected 0 <= "
            "label < 5, or ignore_index -100)");
  EXPECT_EQ(error_message([] {
              cross_entropy(zeros({2, 3, 2}), labels_of({0, 1, 2, -1}, {2, 2}));
            }),
            "cross_entropy: label -1 at position [1, 1] is out of range for 3 classes (expected "
            "0 <= label < 3, or ignore_index -100)");
  EXPECT_EQ(error_message([&] { cross_entropy(logits, zeros({4})); }),
            "cross_entropy: expected labels of dtype i64 (class indices), got f32 (convert them "
            "with .to(DType::i64))");
  EXPECT_EQ(error_message([&] {
              cross_entropy(logits, labels_of({0, 1, 2, 3}, {4}), options_with("avg"));
            }),
            "cross_entropy: unknown reduction 'avg' (expected 'mean', 'sum' or 'none')");
  EXPECT_EQ(error_message([&] {
              cross_entropy(logits, labels_of({0, 1, 2, 3}, {4}), options_with("mean", ones({4})));
            }),
            "cross_entropy: expected a class weight of shape [5] (one per class), got shape [4]");
  EXPECT_EQ(error_message([&] {
              nll_loss(logits, labels_of({0, 1, 2, 3}, {4}), options_with("mean", {}, -100, 0.1));
            }),
            "nll_loss: label_smoothing is not supported (got 0.1); use cross_entropy on logits");
  EXPECT_EQ(error_message([] {
              mse_loss(zeros({4, 1}), zeros({4}));
            }),
            "mse_loss: input of shape [4, 1] and target of shape [4] differ (expected the same "
            "shape)");
  EXPECT_EQ(error_message([] { l1_loss(zeros({4}), zeros({4}, DType::f64)); }),
            "l1_loss: expected a target of the input's dtype f32, got f64");
  EXPECT_EQ(error_message([] { huber_loss(zeros({4}), zeros({4}), 1.0, "mean "); }),
            "huber_loss: unknown reduction 'mean ' (expected 'mean', 'sum' or 'none')");
  EXPECT_EQ(error_message([] {
              binary_cross_entropy_with_logits(zeros({4, 3}), zeros({4, 3}), ones({4}));
            }),
            "binary_cross_entropy_with_logits: pos_weight of shape [4] does not broadcast to the "
            "input's shape [4, 3]");
}
