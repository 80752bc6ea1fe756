// take_rows, sampled_softmax_loss and negative_sampling_loss: values and gradients against plain
// torch (tests/reference/gen_sparse_losses.py), gradcheck with a fixed sample, the full softmax
// as the limit of an exhaustive sample, row-sparse gradients holding only the rows used, and the
// log-uniform sampler's draw.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/reference.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::leaf;
using nabla::testing::load_reference;
using nabla::testing::tensor_from_json;

namespace {
Tensor sampled_ids(std::vector<int64_t> ids) { return from_vector(ids); }
}  // namespace

TEST(SampledSoftmaxLoss, MatchesTheTorchFormulaAndItsGradients) {
  const auto ref = load_reference("sparse_losses");
  for (const char* name : {"sampled_softmax/hit", "sampled_softmax/no_hit"}) {
    SCOPED_TRACE(name);
    const auto& c = ref.at(name);
    Tensor hidden = tensor_from_json(c.at("hidden")).requires_grad_();
    Tensor weight = tensor_from_json(c.at("weight")).requires_grad_();
    Tensor bias = tensor_from_json(c.at("bias")).requires_grad_();
    const CandidateSample sample{.sampled = tensor_from_json(c.at("sampled")),
                                 .sampled_log_q = tensor_from_json(c.at("sampled_log_q")),
                                 .true_log_q = tensor_from_json(c.at("true_log_q"))};
    const Tensor labels = tensor_from_json(c.at("labels"));
    const Tensor out = sampled_softmax_loss(hidden, weight, bias, labels, sample);
    EXPECT_ALL_CLOSE(out, tensor_from_json(c.at("out")), 1e-12, 1e-12);
    out.backward();
    EXPECT_ALL_CLOSE(hidden.grad(), tensor_from_json(c.at("grad_hidden")), 1e-10, 1e-12);
    ASSERT_TRUE(weight.grad().is_row_sparse());
    EXPECT_ALL_CLOSE(weight.grad().to_dense(), tensor_from_json(c.at("grad_weight")), 1e-10, 1e-12);
    EXPECT_ALL_CLOSE(bias.grad().to_dense(), tensor_from_json(c.at("grad_bias")), 1e-10, 1e-12);
    // Only the labels' and the sampled classes' rows are stored, in ascending order.
    std::set<int64_t> used;
    for (int64_t id : labels.to_vector<int64_t>()) used.insert(id);
    for (int64_t id : sample.sampled.to_vector<int64_t>()) used.insert(id);
    EXPECT_EQ(weight.grad().sparse_row_indices().to_vector<int64_t>(),
              std::vector<int64_t>(used.begin(), used.end()));
    EXPECT_EQ(weight.grad().shape(), (Shape{static_cast<int64_t>(used.size()), weight.size(1)}));
  }
}

TEST(SampledSoftmaxLoss, GradcheckWithAFixedSample) {
  const Tensor labels = sampled_ids({2, 0, 5});
  const CandidateSample sample{.sampled = sampled_ids({1, 2, 4}),
                               .sampled_log_q = from_vector(std::vector<double>{-1, -2, -0.5}),
                               .true_log_q = from_vector(std::vector<double>{-0.3, -1.5, -2})};
  // The leaves' gradients are row-sparse; gradcheck compares them densely.
  EXPECT_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        return sampled_softmax_loss(in[0], in[1], in[2], labels, sample);
      },
      {leaf({3, 4}, 1), leaf({6, 4}, 2), leaf({6}, 3)});
}

TEST(SampledSoftmaxLoss, AnExhaustiveSampleWithoutCorrectionIsTheFullCrossEntropy) {
  const Tensor hidden = leaf({4, 3}, 4), weight = leaf({7, 3}, 5), bias = leaf({7}, 6);
  const Tensor labels = sampled_ids({3, 0, 6, 3});
  const Tensor full = cross_entropy(linear(hidden, weight, bias), labels);
  // Every class sampled: each row's own label is an accidental hit, removed.
  const CandidateSample all{.sampled = arange(7), .sampled_log_q = {}, .true_log_q = {}};
  const SampledSoftmaxOptions plain{.remove_accidental_hits = true, .subtract_log_q = false};
  EXPECT_NEAR(sampled_softmax_loss(hidden, weight, bias, labels, all, plain).item(), full.item(),
              1e-12);
  // One row, num_sampled = V - 1: every other class.
  const Tensor one = hidden.slice(0, 0, 1);
  const CandidateSample others{
      .sampled = sampled_ids({0, 1, 2, 4, 5, 6}), .sampled_log_q = {}, .true_log_q = {}};
  EXPECT_NEAR(sampled_softmax_loss(one, weight, bias, sampled_ids({3}), others, plain).item(),
              cross_entropy(linear(one, weight, bias), sampled_ids({3})).item(), 1e-12);
}

TEST(SampledSoftmaxLoss, LogUniformSamplerDrawsDistinctClassesAndTheirExpectedCounts) {
  Generator gen(3);
  const Tensor labels = sampled_ids({0, 999});
  const CandidateSample s = log_uniform_candidate_sampler(labels, 1000, 20, &gen);
  const std::vector<int64_t> ids = s.sampled.to_vector<int64_t>();
  ASSERT_EQ(ids.size(), 20U);
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 20U);
  for (int64_t id : ids) EXPECT_TRUE(id >= 0 && id < 1000);
  // The expected count of class 0 is larger than that of class 999, and at most 1.
  const std::vector<double> q = s.true_log_q.to_vector<double>();
  EXPECT_GT(q[0], q[1]);
  EXPECT_LE(q[0], 0.0);
  // P(0) = log 2 / log 1001: after T tries the expected count is 1 - (1 - P(0))^T, T >= 20.
  const double p0 = std::log(2.0) / std::log(1001.0);
  EXPECT_GE(std::exp(q[0]), 1 - std::pow(1 - p0, 20) - 1e-12);
  EXPECT_NE(error_message([&] {
              log_uniform_candidate_sampler(labels, 10, 11, &gen);
            }).find("num_sampled must be in [1, 10]"),
            std::string::npos);
}

TEST(NegativeSamplingLoss, MatchesTheTorchFormulaWithARowSparseTableGradient) {
  const auto ref = load_reference("sparse_losses");
  const auto& c = ref.at("negative_sampling/small");
  Tensor center = tensor_from_json(c.at("center")).requires_grad_();
  Tensor table = tensor_from_json(c.at("output_weight")).requires_grad_();
  const Tensor out = negative_sampling_loss(center, table, tensor_from_json(c.at("context")),
                                            tensor_from_json(c.at("negatives")));
  EXPECT_ALL_CLOSE(out, tensor_from_json(c.at("out")), 1e-12, 1e-12);
  out.backward();
  EXPECT_ALL_CLOSE(center.grad(), tensor_from_json(c.at("grad_center")), 1e-10, 1e-12);
  ASSERT_TRUE(table.grad().is_row_sparse());
  EXPECT_ALL_CLOSE(table.grad().to_dense(), tensor_from_json(c.at("grad_output_weight")), 1e-10,
                   1e-12);
}

TEST(NegativeSamplingLoss, Gradcheck) {
  const Tensor context = sampled_ids({1, 4, 4});
  const Tensor negatives = from_vector(std::vector<int64_t>{0, 2, 4, 4, 3, 1}, {3, 2});
  EXPECT_GRADCHECK(
      [&](const std::vector<Tensor>& in) {
        return negative_sampling_loss(in[0], in[1], context, negatives);
      },
      {leaf({3, 5}, 8), leaf({5, 5}, 9)});
}

TEST(TakeRows, RowSparseForALeafAndDenseThroughAnotherOp) {
  Tensor table = leaf({5, 2}, 10);
  take_rows(table, from_vector(std::vector<int64_t>{3, 1, 3}, {3})).sum().backward();
  const Tensor g = table.grad();
  ASSERT_TRUE(g.is_row_sparse());
  EXPECT_EQ(g.sparse_row_indices().to_vector<int64_t>(), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{1, 1, 2, 2}));
  EXPECT_EQ(g.dense_shape(), (Shape{5, 2}));
  // Through a scaling first, the table's gradient arrives dense.
  Tensor other = leaf({5, 2}, 11);
  take_rows(other * 2.0, sampled_ids({0})).sum().backward();
  EXPECT_FALSE(other.grad().is_row_sparse());
  EXPECT_EQ(other.grad().shape(), (Shape{5, 2}));
  EXPECT_NE(error_message([&] {
              take_rows(table, sampled_ids({5}));
            }).find("take_rows: row id 5 is out of range for a table of 5 rows"),
            std::string::npos);
}
