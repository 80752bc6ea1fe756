// Row-sparse gradients in the backward engine: accumulation into a leaf across backwards (sparse
// + sparse stays sparse, sparse + dense is dense), two sparse paths meeting, and Embedding with
// sparse=true giving the dense gradient's values on the looked-up rows only.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "support/reference.hpp"

using namespace nabla;

namespace {
Tensor sparse_test_ids(std::vector<int64_t> ids) { return from_vector(ids); }
}  // namespace

TEST(SparseGrad, EmbeddingSparseEqualsDenseOnTheLookedUpRows) {
  manual_seed(4);
  const Tensor init = randn({10, 3});
  Tensor dense = init.clone().requires_grad_();
  Tensor sparse = init.clone().requires_grad_();
  const Tensor ids = from_vector(std::vector<int64_t>{7, 2, 7, 0, 2, 7}, {2, 3});
  const Tensor upstream = randn({2, 3, 3});
  embedding(ids, dense).backward(upstream);
  embedding(ids, sparse, -1, 0, /*sparse=*/true).backward(upstream);
  const Tensor g = sparse.grad();
  ASSERT_TRUE(g.is_row_sparse());
  EXPECT_EQ(g.shape(), (Shape{3, 3}));  // rows touched x D
  EXPECT_EQ(g.sparse_row_indices().to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 7}));
  EXPECT_EQ(g.to_dense().to_vector<float>(), dense.grad().to_vector<float>());
}

TEST(SparseGrad, PaddingRowsAreLeftOut) {
  Tensor w = ones({5, 2}).requires_grad_();
  embedding(sparse_test_ids({0, 3, 0}), w, /*padding_idx=*/0, 0, true).sum().backward();
  EXPECT_EQ(w.grad().sparse_row_indices().to_vector<int64_t>(), (std::vector<int64_t>{3}));
}

TEST(SparseGrad, AccumulatesAcrossBackwardsAndPaths) {
  Tensor w = ones({6, 2}).requires_grad_();
  // Two lookups in one graph: their gradients meet at the leaf and stay sparse.
  add(embedding(sparse_test_ids({1, 4}), w, -1, 0, true).sum(),
      embedding(sparse_test_ids({4, 5}), w, -1, 0, true).sum())
      .backward();
  EXPECT_EQ(w.grad().sparse_row_indices().to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 5}));
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{1, 1, 2, 2, 1, 1}));
  // A second backward without zero_grad adds its rows.
  embedding(sparse_test_ids({0}), w, -1, 0, true).sum().backward();
  EXPECT_EQ(w.grad().sparse_row_indices().to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 4, 5}));
  // A dense gradient on top makes the sum dense.
  (w * 3.0).sum().backward();
  ASSERT_FALSE(w.grad().is_row_sparse());
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{4, 4, 4, 4, 3, 3, 3, 3, 5, 5, 4, 4}));
}

TEST(SparseGrad, NonLeafWeightGetsADenseGradient) {
  Tensor w = ones({4, 2}).requires_grad_();
  embedding(sparse_test_ids({2}), w * 1.0, -1, 0, true).sum().backward();
  EXPECT_FALSE(w.grad().is_row_sparse());
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{0, 0, 0, 0, 1, 1, 0, 0}));
}

TEST(SparseGrad, ZeroGradInPlaceAndAnomalyModeHandleIt) {
  Tensor w = ones({5, 2}).requires_grad_();
  embedding(sparse_test_ids({1, 3}), w, -1, 0, true).sum().backward();
  // Zeroed in place: still the same rows, all zero; the next backward adds its rows.
  w.zero_grad(/*set_to_none=*/false);
  ASSERT_TRUE(w.grad().is_row_sparse());
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{0, 0, 0, 0}));
  {
    DetectAnomalyGuard anomaly;  // checks the stored values of the sparse gradient
    embedding(sparse_test_ids({3, 4}), w, -1, 0, true).sum().backward();
  }
  EXPECT_EQ(w.grad().sparse_row_indices().to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 4}));
  EXPECT_EQ(w.grad().to_dense().to_vector<float>(),
            (std::vector<float>{0, 0, 0, 0, 0, 0, 1, 1, 1, 1}));
}
