// Image retrieval: recall@k and mAP of a ranking worked by hand, the nearest matches, a tiny run
// of the retrieval task on a slice of Fashion-MNIST (its figures beside the raw-pixel baseline,
// the picture it writes, search), and the input it refuses.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "../data/test_util.hpp"
#include "nabla/retrieval.hpp"
#include "nabla/tasks.hpp"
#include "support/errors.hpp"

using namespace nabla;
using nabla::testing::error_message;

TEST(Retrieval, RecallAndAveragePrecisionOfARankingByHand) {
  // Gallery on a line: 0 and 1 of class 0, 2 and 10 of class 1. Queries of class 0:
  //   at 0.4: 0, 1 (both relevant) first: hit at 1, AP 1;
  //   at 1.9: 2 (other), 1, 0: hit at 5 only, AP (1/2 + 2/3) / 2;
  //   at 9:   10, 2 (others), 1, 0: hit at 5 only, AP (1/3 + 2/4) / 2.
  const Tensor gallery = from_vector(std::vector<float>{0, 1, 2, 10}, {4, 1});
  const Tensor gallery_labels = from_vector(std::vector<int64_t>{0, 0, 1, 1}, {4});
  const Tensor queries = from_vector(std::vector<float>{0.4f, 1.9f, 9}, {3, 1});
  const Tensor query_labels = from_vector(std::vector<int64_t>{0, 0, 0}, {3});
  const retrieval::Scores s = retrieval::score(queries, query_labels, gallery, gallery_labels);
  EXPECT_EQ(s.queries, 3);
  EXPECT_DOUBLE_EQ(s.recall_at_1, 1.0 / 3);
  EXPECT_DOUBLE_EQ(s.recall_at_5, 1.0);
  EXPECT_NEAR(s.mean_average_precision, (1 + (0.5 + 2.0 / 3) / 2 + (1.0 / 3 + 0.5) / 2) / 3, 1e-12);
  // The same with the thread count changed: queries are scored one by one, summed in order.
  set_num_threads(1);
  const retrieval::Scores one = retrieval::score(queries, query_labels, gallery, gallery_labels);
  set_num_threads(2);
  EXPECT_EQ(one.mean_average_precision, s.mean_average_precision);
}

TEST(Retrieval, NearestMatchesInOrderWithTheirDistances) {
  const Tensor gallery = from_vector(std::vector<float>{0, 0, 3, 4, 1, 0, 3, 4}, {4, 2});
  const Tensor labels = from_vector(std::vector<int64_t>{5, 6, 7, 8}, {4});
  const std::vector<retrieval::Match> m =
      retrieval::nearest(from_vector(std::vector<float>{3, 3}), gallery, labels, 3);
  ASSERT_EQ(m.size(), 3u);
  // (3, 4) twice at distance 1 (the lower index first), then (1, 0) at sqrt(13).
  EXPECT_EQ(m[0].index, 1);
  EXPECT_EQ(m[1].index, 3);
  EXPECT_EQ(m[2].index, 2);
  EXPECT_EQ(m[0].label, 6);
  EXPECT_DOUBLE_EQ(m[0].distance, 1);
  EXPECT_NEAR(m[2].distance, std::sqrt(13.0), 1e-12);
  EXPECT_EQ(error_message([&] {
              retrieval::score(zeros({2, 3}), zeros({2}, DType::i64), zeros({4, 2}),
                               zeros({4}, DType::i64));
            }),
            "retrieval: expected queries [Q, ...] and a gallery [G, ...] with as many values per "
            "item, got shapes [2, 3] and [4, 2]");
}

namespace {

// A small embedding network (dense, for speed) trained with the triplet loss on a slice.
const char* kTinyTripletSpec = R"({
  "name": "tiny_triplet", "task": "retrieval", "input_shape": [28, 28],
  "layers": [{"type": "Rescaling", "scale": 0.00392156862745098}, {"type": "Flatten"},
             {"type": "Dense", "units": 64, "activation": "relu"}, {"type": "Dense", "units": 16},
             {"type": "UnitNormalization"}],
  "training": {"optimizer": "adam", "lr": 0.003, "loss": "triplet_semihard", "metrics": [],
               "batch_size": 64, "epochs": 2}
})";

}  // namespace

TEST(RetrievalTask, ATinyEmbeddingIsJudgedBesideThePixelsAndSearches) {
  nabla::testing::TempDir dir;
  tasks::RunOptions options;
  options.limit = 512;
  options.verbose = 0;
  options.out = dir.path().string();
  std::ostringstream log;
  options.log = &log;
  const tasks::RunResult result =
      tasks::run(io::parse_model_spec(kTinyTripletSpec, "tiny_triplet"), options);
  EXPECT_EQ(result.task, "retrieval");
  std::vector<std::string> names;
  for (const tasks::Figure& f : result.figures) names.push_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"test_loss", "test_recall_at_1", "test_recall_at_5",
                                             "test_map", "pixel_recall_at_1", "pixel_recall_at_5",
                                             "pixel_map"}));
  // 512 training images as the gallery: the pixels find a same-class nearest neighbour for
  // 0.738 of the test images; two epochs of a 16-d embedding come close (0.724, 0.724 with seeds
  // 0 and 1) and rank the whole gallery better: mAP 0.629, 0.633 against the pixels' 0.459.
  const double pixel_r1 = result.figures[4].value;
  EXPECT_GT(pixel_r1, 0.65);
  EXPECT_LT(pixel_r1, 0.85);
  EXPECT_GT(result.figures[1].value, 0.6);
  EXPECT_GE(result.figures[2].value, result.figures[1].value);
  EXPECT_GT(result.figures[3].value, result.figures[6].value + 0.1);
  EXPECT_LT(result.figures[3].value, 1);
  EXPECT_EQ(result.figures[1].text.rfind("Test recall@1: 0.", 0), 0u) << result.figures[1].text;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "retrieval.png"));

  // Search with the checkpoint's model: 3 matches, nearest first, and the picture.
  train::Model model = train::Model::load((dir.path() / "model.safetensors").string());
  const auto task = tasks::make_task("retrieval");
  const io::ModelSpec spec = io::parse_model_spec(kTinyTripletSpec, "tiny_triplet");
  tasks::TaskData data = task->load(spec, model, "");
  data.x_train = data.x_train.slice(0, 0, 512);
  data.y_train = data.y_train.slice(0, 0, 512);
  const std::string picture = (dir.path() / "search.png").string();
  const retrieval::SearchResult found = retrieval::search(model, data, 7, 3, picture);
  ASSERT_EQ(found.matches.size(), 3u);
  EXPECT_LE(found.matches[0].distance, found.matches[1].distance);
  EXPECT_LE(found.matches[1].distance, found.matches[2].distance);
  EXPECT_LE(found.matches[2].distance, 2.0 + 1e-6);  // unit vectors
  EXPECT_EQ(found.class_names.size(), 10u);
  // RGB: the query (56 x 56 and its padding), a grey strip a quarter as wide, three matches.
  const Tensor drawn = data::read_image(picture);
  EXPECT_EQ(drawn.shape(), Shape({3, 60, (56 + 4) + (14 + 2) + 3 * (56 + 2)}));
  EXPECT_EQ(error_message([&] { retrieval::search(model, data, 10000, 3, ""); }),
            "search: test image 10000 does not exist; the test set of "
            "/usr/share/datasets/fashion-mnist holds 10000 images (0 to 9999)");
}

TEST(RetrievalTask, RefusesDataThatIsNotImagesAndModelsWithoutEmbeddings) {
  const auto task = tasks::make_task("retrieval");
  const io::ModelSpec text = io::parse_model_spec(
      R"({"name": "t", "task": "retrieval", "input_shape": [8],
          "data": {"type": "fortunes", "categories": ["computers"]}, "layers": [{"type": "Dense", "units": 4}]})",
      "t");
  train::Model model(io::build_model(text), "t");
  model.build({8});
  EXPECT_EQ(error_message([&] { task->load(text, model, ""); }),
            "the retrieval task searches images (IDX files in the MNIST layout, --data DIR) and "
            "cannot use the spec's \"data\" section (fortunes); give the spec no \"data\" section");
  const io::ModelSpec maps = io::parse_model_spec(
      R"({"name": "m", "task": "retrieval", "input_shape": [1, 28, 28],
          "layers": [{"type": "Conv2D", "filters": 2, "kernel_size": 3}]})",
      "m");
  train::Model conv(io::build_model(maps), "m");
  conv.build({1, 28, 28});
  EXPECT_EQ(error_message([&] { task->load(maps, conv, ""); }),
            "the retrieval task needs a model with an \"input_shape\" that gives one embedding "
            "[N, D] per image, got output shape [1, 2, 26, 26]");
}
