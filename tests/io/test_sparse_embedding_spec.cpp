// The spec keys of issue 17's item 5: Embedding's "sparse" (read, written back, and giving a
// row-sparse gradient) and the segmentation losses in the training section.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "support/sequential_spec.hpp"

using namespace nabla;

TEST(SparseEmbeddingSpec, SparseIsReadAndWrittenBack) {
  const std::string body = R"({"input_shape": [3], "layers": [
      {"type": "Embedding", "input_dim": 20, "output_dim": 4, "sparse": true}]})";
  auto model = sequential_from_spec(body, "sparse.json");
  const auto& embedding = dynamic_cast<const nn::Embedding&>(*model->layers()[0]);
  EXPECT_TRUE(embedding.options().sparse);
  model->build({3});
  const std::string text = io::model_to_spec(*model, "sparse", {3});
  EXPECT_NE(text.find("\"sparse\": true"), std::string::npos) << text;
  auto rebuilt = sequential_from_spec(text, "sparse");
  EXPECT_TRUE(dynamic_cast<const nn::Embedding&>(*rebuilt->layers()[0]).options().sparse);
  // The gradient of a lookup through the spec's layer holds the looked-up rows only.
  model->forward(from_vector(std::vector<int64_t>{4, 9, 4}, {1, 3})).sum().backward();
  const Tensor grad = embedding.weight().grad();
  ASSERT_TRUE(grad.is_row_sparse());
  EXPECT_EQ(grad.shape(), (Shape{2, 4}));
}

TEST(SparseEmbeddingSpec, TrainingTakesTheSegmentationLosses) {
  for (const char* loss : {"dice", "dice_crossentropy"}) {
    const std::string body =
        std::string(R"({"input_shape": [4], "layers": [{"type": "Dense", "units": 2}],
                        "training": {"loss": ")") +
        loss + R"("}})";
    EXPECT_EQ(io::parse_model_spec(body, "seg.json").training.loss, loss);
  }
}
