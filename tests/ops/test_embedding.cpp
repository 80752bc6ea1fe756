// embedding: row lookup for i64 and u8 ids of any shape, PyTorch reference values (padding_idx,
// max_norm renormalizing the table in place), gradcheck of the weight gradient with repeated ids
// and a padding row, the threaded backward against a one-hot product, and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

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

namespace {

// max_norm renormalizes the looked-up rows of the weight in place: compared with weight_after.
const std::vector<OpTest> kEmbeddingTests = {
    {.name = "embedding",
     .fn =
         [](const OpCase& c) {
           return embedding(c.input("ids"), c.input("weight"), c.attr<int64_t>("padding_idx"),
                            c.attr<double>("max_norm"));
         },
     .grad_inputs = {"weight"},
     .f32 = {1e-6, 1e-6},
     // The padding row gets no gradient by definition (as in PyTorch), which central differences
     // cannot see; Embedding.GradcheckWithRepeatedIdsAndPadding checks the rest.
     .gradcheck = std::nullopt},
};

Tensor table() {  // row r holds r*10 + column
  std::vector<float> values;
  for (int r = 0; r < 5; ++r)
    for (int c = 0; c < 3; ++c) values.push_back(static_cast<float>(r * 10 + c));
  return from_vector(values, {5, 3});
}

}  // namespace

TEST(Embedding, GathersRowsForIdsOfAnyShape) {
  const Tensor out = embedding(from_vector(std::vector<int64_t>{4, 0, 2, 2}, {2, 2}), table());
  EXPECT_EQ(out.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(out.to_vector<float>(),
            (std::vector<float>{40, 41, 42, 0, 1, 2, 20, 21, 22, 20, 21, 22}));
  // u8 ids (raw token bytes) give the same rows; a 0-d id gives one row.
  const Tensor bytes = embedding(from_vector(std::vector<uint8_t>{4, 0, 2, 2}, {2, 2}), table());
  EXPECT_EQ(bytes.to_vector<float>(), out.to_vector<float>());
  const Tensor one = embedding(scalar_tensor(3, DType::i64), table());
  EXPECT_EQ(one.shape(), (Shape{3}));
  EXPECT_EQ(one.to_vector<float>(), (std::vector<float>{30, 31, 32}));
}

TEST(Embedding, TransposedWeightAndStridedIds) {
  const Tensor weight = table().t().contiguous().t();  // rows not contiguous
  const Tensor ids = from_vector(std::vector<int64_t>{1, 9, 3, 9}).slice(0, 0, 4, 2);  // {1, 3}
  EXPECT_EQ(embedding(ids, weight).to_vector<float>(),
            (std::vector<float>{10, 11, 12, 30, 31, 32}));
}

TEST(Embedding, MatchesPyTorch) { nabla::testing::check_ops("attention", kEmbeddingTests); }

TEST(Embedding, MaxNormRescalesOnlyLookedUpRowsInPlace) {
  Tensor weight = from_vector(std::vector<float>{3, 4, 0.3f, 0.4f, 6, 8}, {3, 2});
  const Tensor out = embedding(from_vector(std::vector<int64_t>{0, 1}), weight, -1, 1.0);
  // Row 0 (norm 5) scaled to norm ~1, row 1 (norm 0.5) kept, row 2 (not looked up) untouched.
  const auto w = weight.to_vector<float>();
  EXPECT_NEAR(w[0], 0.6, 1e-6);
  EXPECT_NEAR(w[1], 0.8, 1e-6);
  EXPECT_FLOAT_EQ(w[2], 0.3f);
  EXPECT_FLOAT_EQ(w[4], 6);
  EXPECT_EQ(out.to_vector<float>(), std::vector<float>(w.begin(), w.begin() + 4));
}

TEST(Embedding, GradcheckWithRepeatedIdsAndPadding) {
  const Tensor ids = from_vector(std::vector<int64_t>{1, 3, 1, 0, 3, 3, 2, 1}, {2, 4});
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return embedding(ids, in[0]); },
                   {leaf({4, 3})});
  // The padding row's gradient is zero by definition, not by calculus: the outputs it feeds are
  // zeroed, so that zero is also the true derivative.
  const Tensor real = unsqueeze(ne(ids, scalar_tensor(3, DType::i64)), -1).to(DType::f64);
  EXPECT_GRADCHECK([&](const std::vector<Tensor>& in) { return embedding(ids, in[0], 3) * real; },
                   {noncontiguous_leaf({4, 3})});
  // The padding row gets exactly zero, the others the sum over their occurrences.
  Tensor weight = leaf({4, 3});
  embedding(ids, weight, 1).sum().backward();
  EXPECT_EQ(weight.grad().to_vector<double>(),
            (std::vector<double>{1, 1, 1, 0, 0, 0, 1, 1, 1, 3, 3, 3}));
}

TEST(Embedding, LargeBackwardEqualsOneHotProduct) {
  // Big enough for the column-parallel backward; ids repeat many times.
  Generator gen(3);
  const Tensor ids = randint(0, 7, {40, 30}, &gen);
  Tensor weight = randn({7, 200}, DType::f64, &gen).requires_grad_();
  const Tensor grad_out = randn({40, 30, 200}, DType::f64, &gen);
  embedding(ids, weight, 4).backward(grad_out);
  Tensor expected =
      matmul(one_hot(ids.reshape({-1}), 7, DType::f64).t(), grad_out.reshape({-1, 200}));
  expected.select(0, 4).fill_(0);
  EXPECT_ALL_CLOSE(weight.grad(), expected, 1e-12, 1e-12);
  // Each element is summed in id order by one thread: the same bits at any thread count.
  const int threads = get_num_threads();
  set_num_threads(1);
  Tensor single = weight.detach().clone().requires_grad_();
  embedding(ids, single, 4).backward(grad_out);
  set_num_threads(threads);
  EXPECT_EQ(single.grad().to_vector<double>(), weight.grad().to_vector<double>());
}

TEST(Embedding, ErrorsNameTheIdAndTheVocabulary) {
  const Tensor weight = zeros({10, 4});
  EXPECT_EQ(error_message([&] {
              embedding(from_vector(std::vector<int64_t>{1, 12}), weight);
            }),
            "embedding: id 12 is out of range for a vocabulary of 10 (ids must be in [0, 10))");
  EXPECT_EQ(error_message([&] { embedding(from_vector(std::vector<int64_t>{-1}), weight); }),
            "embedding: id -1 is out of range for a vocabulary of 10 (ids must be in [0, 10))");
  EXPECT_EQ(error_message([&] {
              embedding(from_vector(std::vector<float>{1, 2}), weight);
            }),
            "embedding: expected integer ids (i64 or u8), got dtype f32 (convert them with "
            ".to(DType::i64))");
  EXPECT_EQ(error_message([&] { embedding(from_vector(std::vector<int64_t>{1}), weight, 10); }),
            "embedding: padding_idx 10 is out of range for a vocabulary of 10 (expected -1 for "
            "none, or 0 <= padding_idx < 10)");
  EXPECT_EQ(error_message([&] { embedding(from_vector(std::vector<int64_t>{1}), zeros({10})); }),
            "embedding: expected a weight [num_embeddings, embedding_dim], got shape [10]");
}
