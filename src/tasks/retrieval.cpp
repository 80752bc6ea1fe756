// Task "retrieval": an embedding network on IDX images in the MNIST layout (Fashion-MNIST by
// default), trained by Model::fit with a metric-learning loss (triplet_semihard,
// triplet_batch_all or contrastive: the training section's "loss") on batches of images and
// their class labels, and judged as image search: each test image is a query against the
// training images, ranked by the Euclidean distance of their embeddings (nabla/retrieval.hpp):
// recall@1, recall@5 and mAP, beside the same figures for the raw pixels (nearest neighbours in
// pixel space, the baseline an embedding must beat). With --out, writes retrieval.png: the first
// test images and their nearest training images, a row each.
#include "nabla/retrieval.hpp"

#include <cstdio>
#include <filesystem>

#include "core/text.hpp"
#include "nabla/data.hpp"
#include "nabla/ops.hpp"
#include "nabla/tasks.hpp"
#include "tasks/task_loop.hpp"

namespace nabla::tasks {
namespace {

constexpr const char* kRetrievalPicture = "retrieval.png";
constexpr int64_t kRetrievalQueriesShown = 8;
constexpr int64_t kRetrievalMatchesShown = 8;

Figure retrieval_figure(const std::string& name, const std::string& label, double value) {
  char text[200];
  std::snprintf(text, sizeof(text), "%s: %.4f", label.c_str(), value);
  return {name, value, text};
}

std::vector<Figure> retrieval_figures(const std::string& prefix, const std::string& what,
                                      const retrieval::Scores& s) {
  return {retrieval_figure(prefix + "recall_at_1", what + " recall@1", s.recall_at_1),
          retrieval_figure(prefix + "recall_at_5", what + " recall@5", s.recall_at_5),
          retrieval_figure(prefix + "map", what + " mAP", s.mean_average_precision)};
}

class Retrieval : public Task {
 public:
  std::string name() const override { return "retrieval"; }

  TaskData load(const io::ModelSpec& spec, const train::Model& model,
                const std::string& dir) const override {
    internal::check_image_data(spec, "retrieval", "searches images");
    NABLA_CHECK(model.built() && model.num_outputs() == 1 && model.output_shape().size() == 2,
                "the retrieval task needs a model with an \"input_shape\" that gives one ",
                "embedding [N, D] per image", model.built() ? ", got output shape " : "",
                model.built() ? detail::str(model.output_shape()) : "");
    const std::string folder = dir.empty() ? data::kFashionMnistDir : dir;
    const data::MnistData images = data::load_mnist(folder, model.takes_raw_inputs());
    TaskData out;
    out.x_train = train::view_as_input_shape(images.train_images, model.input_shape(),
                                             "the training images in " + folder);
    out.x_test = train::view_as_input_shape(images.test_images, model.input_shape(),
                                            "the test images in " + folder);
    out.y_train = images.train_labels.to(DType::i64);
    out.y_test = images.test_labels.to(DType::i64);
    out.source = folder;
    out.dir = folder;
    // Fashion-MNIST's names where the folder is Fashion-MNIST's (as the "images" task names them).
    if (nabla::internal::lowercase(folder).find("fashion") != std::string::npos) {
      out.class_names = data::fashion_mnist_classes();
    }
    return out;
  }

  std::vector<Figure> judge(const io::ModelSpec&, train::Model& model, const TaskData& data,
                            const train::EvaluationReport&) const override {
    const Tensor gallery = retrieval::embed(model, data.x_train);
    const Tensor queries = retrieval::embed(model, data.x_test);
    std::vector<Figure> figures = retrieval_figures(
        "test_", "Test", retrieval::score(queries, data.y_test, gallery, data.y_train));
    const std::vector<Figure> pixels =
        retrieval_figures("pixel_", "Raw-pixel nearest neighbours",
                          retrieval::score(internal::unit_pixels(data.x_test), data.y_test,
                                           internal::unit_pixels(data.x_train), data.y_train));
    figures.insert(figures.end(), pixels.begin(), pixels.end());
    return figures;
  }

  void write_outputs(const io::ModelSpec&, train::Model& model, const TaskData& data,
                     const std::string& dir) const override {
    const int64_t shown = std::min(kRetrievalQueriesShown, data.x_test.size(0));
    if (shown == 0 || data.x_train.size(0) == 0) return;
    const Tensor gallery = retrieval::embed(model, data.x_train);
    const Tensor queries = retrieval::embed(model, data.x_test.slice(0, 0, shown));
    const std::vector<int64_t> query_labels =
        data.y_test.slice(0, 0, shown).to(DType::i64).contiguous().to_vector<int64_t>();
    std::vector<Tensor> rows;
    for (int64_t i = 0; i < shown; ++i) {
      std::vector<int64_t> matches;
      std::vector<bool> other_class;
      for (const retrieval::Match& m : retrieval::nearest(queries.slice(0, i, i + 1), gallery,
                                                          data.y_train, kRetrievalMatchesShown)) {
        matches.push_back(m.index);
        other_class.push_back(m.label != query_labels[i]);
      }
      rows.push_back(retrieval::match_picture(data.x_test.slice(0, i, i + 1),
                                              index_select(data.x_train, 0, from_vector(matches)),
                                              other_class));
    }
    data::write_png((std::filesystem::path(dir) / kRetrievalPicture).string(), concat(rows, 1));
  }
};

const bool kRetrievalRegistered =
    register_task("retrieval", [] { return std::make_unique<Retrieval>(); });

}  // namespace
}  // namespace nabla::tasks
