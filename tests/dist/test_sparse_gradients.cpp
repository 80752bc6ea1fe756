// Data-parallel training all-reduces dense gradient buffers: a model whose Embedding has
// sparse=true is refused with one Error, in a world of one process too, and nothing hangs.
#include <gtest/gtest.h>

#include "nabla/dist.hpp"
#include "nabla/nabla.hpp"
#include "support/errors.hpp"

using namespace nabla;

TEST(DataParallelSparse, ARowSparseGradientIsRefused) {
  for (const bool overlap : {true, false}) {
    manual_seed(2);
    nn::EmbeddingOptions sparse;
    sparse.sparse = true;
    train::Model model({std::make_shared<nn::Embedding>(12, 4, sparse), layers::Flatten(),
                        layers::Dense(2, "softmax")});
    model.build({3});
    model.compile("adagrad", "sparse_categorical_crossentropy");
    const Tensor x = randint(0, 12, {8, 3});
    const Tensor y = randint(0, 2, {8});
    auto strategy =
        std::make_shared<dist::DataParallel>(dist::DataParallelOptions{.overlap = overlap});
    const std::string message = nabla::testing::error_message([&] {
      model.fit(x, y, {.epochs = 1, .batch_size = 4, .verbose = 0, .strategy = strategy});
    });
    EXPECT_NE(message.find("DataParallel: parameter 0 has a row-sparse gradient"),
              std::string::npos)
        << message;
    // Without the strategy the same model trains (Adagrad takes row-sparse gradients).
    EXPECT_NO_THROW(model.fit(x, y, {.epochs = 1, .batch_size = 4, .verbose = 0}));
  }
}
