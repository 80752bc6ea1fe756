// Optimizers on row-sparse gradients (Embedding with sparse=true): SGD and Adagrad give the same
// weights as with the dense gradient and leave untouched rows bit-identical; SparseAdam against
// torch.optim.SparseAdam (tests/reference/gen_sparse_losses.py); every other reader of .grad
// either handles the sparse gradient (clipping) or refuses it with one Error.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "nabla/optim.hpp"
#include "support/errors.hpp"
#include "support/reference.hpp"

using namespace nabla;
using namespace nabla::optim;
using nabla::testing::error_message;
using nabla::testing::load_reference;
using nabla::testing::tensor_from_json;

namespace {

const std::vector<std::vector<int64_t>> kSparseOptimSteps = {{3, 8, 3}, {8, 1}, {5, 3, 3, 3}};

// Three steps of `optimizer` on a [12, 4] table looked up by kSparseOptimSteps' ids, with a
// fixed upstream gradient; returns the table.
template <class MakeOptimizer>
Tensor sparse_optim_train(bool sparse, MakeOptimizer make) {
  manual_seed(11);
  Tensor table = randn({12, 4}).requires_grad_();
  auto optimizer = make(std::vector<Tensor>{table});
  Generator upstream_gen(5);
  for (const auto& ids : kSparseOptimSteps) {
    optimizer->zero_grad();
    const Tensor looked_up = embedding(from_vector(ids), table, -1, 0, sparse);
    looked_up.backward(randn(looked_up.shape(), DType::f32, &upstream_gen));
    if (sparse) {
      EXPECT_TRUE(table.grad().is_row_sparse());
    }
    optimizer->step();
  }
  return table;
}

}  // namespace

TEST(SparseOptim, SgdAndAdagradMatchTheDenseGradient) {
  auto sgd = [](std::vector<Tensor> p) { return std::make_unique<SGD>(p, SGDOptions{.lr = 0.3}); };
  auto adagrad = [](std::vector<Tensor> p) {
    return std::make_unique<Adagrad>(
        p, AdagradOptions{.lr = 0.2, .lr_decay = 0.1, .initial_accumulator_value = 0.5});
  };
  EXPECT_ALL_CLOSE(sparse_optim_train(true, sgd), sparse_optim_train(false, sgd), 0, 1e-6);
  EXPECT_ALL_CLOSE(sparse_optim_train(true, adagrad), sparse_optim_train(false, adagrad), 0, 1e-6);
}

TEST(SparseOptim, UntouchedRowsAreNotVisited) {
  manual_seed(11);
  const Tensor initial = randn({12, 4});
  for (int kind = 0; kind < 3; ++kind) {
    SCOPED_TRACE(kind);
    const Tensor table = sparse_optim_train(true, [kind](std::vector<Tensor> p) {
      std::unique_ptr<Optimizer> o;
      if (kind == 0) o = std::make_unique<SGD>(p, SGDOptions{.lr = 0.3});
      if (kind == 1) o = std::make_unique<Adagrad>(p, AdagradOptions{.lr = 0.2});
      if (kind == 2) o = std::make_unique<SparseAdam>(p, SparseAdamOptions{.lr = 0.1});
      return o;
    });
    // Rows 1, 3, 5 and 8 were looked up; the others keep their bits.
    for (int64_t r = 0; r < 12; ++r) {
      const bool touched = r == 1 || r == 3 || r == 5 || r == 8;
      const std::vector<float> now = table.select(0, r).to_vector<float>();
      const std::vector<float> before = initial.select(0, r).to_vector<float>();
      if (touched) {
        EXPECT_NE(now, before) << "row " << r;
      } else {
        EXPECT_EQ(now, before) << "row " << r;
      }
    }
  }
}

TEST(SparseOptim, SparseAdamMatchesPyTorch) {
  const auto ref = load_reference("sparse_losses");
  const auto& c = ref.at("sparse_adam/three_steps");
  Tensor table = tensor_from_json(c.at("initial")).requires_grad_();
  SparseAdam optimizer({table}, {.lr = c.at("lr").get<double>(),
                                 .beta1 = c.at("beta1").get<double>(),
                                 .beta2 = c.at("beta2").get<double>(),
                                 .eps = c.at("eps").get<double>()});
  for (const auto& step : c.at("steps")) {
    optimizer.zero_grad();
    embedding(tensor_from_json(step.at("ids")), table, -1, 0, true)
        .backward(tensor_from_json(step.at("grad_out")));
    optimizer.step();
    EXPECT_ALL_CLOSE(table.detach(), tensor_from_json(step.at("weight")), 1e-5, 1e-6);
  }
}

TEST(SparseOptim, OthersRefuseASparseGradientWithOneError) {
  Tensor table = ones({6, 2}).requires_grad_();
  embedding(from_vector(std::vector<int64_t>{2}), table, -1, 0, true).sum().backward();
  Adam adam({table});
  EXPECT_NE(error_message([&] {
              adam.step();
            }).find("Adam: a parameter of shape [6, 2] has a row-sparse gradient"),
            std::string::npos);
  SGD momentum({table}, {.lr = 0.1, .momentum = 0.9});
  EXPECT_NE(error_message([&] {
              momentum.step();
            }).find("which SGD applies without momentum and weight decay only"),
            std::string::npos);
  Adagrad decay({table}, {.weight_decay = 0.1});
  EXPECT_NE(error_message([&] { decay.step(); }).find("Adagrad applies without weight decay"),
            std::string::npos);
  Tensor dense = ones({3}).requires_grad_();
  (dense * 2.0).sum().backward();
  SparseAdam sparse_adam({dense});
  EXPECT_NE(error_message([&] { sparse_adam.step(); }).find("has a dense gradient"),
            std::string::npos);
}

TEST(SparseOptim, ClippingScalesTheStoredRows) {
  Tensor table = ones({6, 2}).requires_grad_();
  embedding(from_vector(std::vector<int64_t>{2, 4, 4}), table, -1, 0, true).sum().backward();
  // Rows 2 (1, 1) and 4 (2, 2): norm sqrt(10).
  EXPECT_NEAR(clip_grad_norm({table}, 1.0), std::sqrt(10.0), 1e-6);
  ASSERT_TRUE(table.grad().is_row_sparse());
  EXPECT_NEAR(square(table.grad().to_dense()).sum().item(), 1.0, 1e-5);
}
