// Ranking a gallery by Euclidean distance (nabla/retrieval.hpp): recall@k and mAP over many
// queries, the nearest items of one query, and the picture `nabla search` writes.
//
// Distances come from one GEMM per block of queries: ||q - g||^2 = ||q||^2 + ||g||^2 - 2 q.g,
// and since ||q||^2 is the same for every item of a query's ranking, items are ranked by
// ||g||^2 - 2 q.g. The average precision needs every relevant item's rank: the relevant and the
// other keys are sorted apart and merged, two sorts of the gallery's size per query.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "nabla/data.hpp"
#include "nabla/ops.hpp"
#include "nabla/retrieval.hpp"
#include "tasks/task_loop.hpp"

namespace nabla::retrieval {
namespace {

constexpr int64_t kQueriesPerBlock = 128;  // [128, 60000] f32 distances: 31 MB
constexpr int64_t kRecallDepth = 5;
constexpr int64_t kFrameWidth = 2;  // pixels of the red frame of a match of another class

// Samples as f32 rows [N, values per sample].
Tensor retrieval_rows(const Tensor& x) {
  return x.to(DType::f32).reshape({x.size(0), -1}).contiguous();
}

struct QueryScore {
  bool hit_at_1 = false, hit_at_5 = false;
  double average_precision = 0;
};

// One query's ranking: keys [G] (smaller is nearer), the gallery's labels, the query's label.
QueryScore score_query(const float* keys, const int64_t* labels, int64_t gallery, int64_t label) {
  QueryScore score;
  // The kRecallDepth nearest, nearest first (ties: the lower index first).
  std::vector<std::pair<float, int64_t>> best;
  std::vector<float> relevant, other;
  for (int64_t j = 0; j < gallery; ++j) {
    const float key = keys[j];
    (labels[j] == label ? relevant : other).push_back(key);
    if (static_cast<int64_t>(best.size()) < kRecallDepth || key < best.back().first) {
      const auto at =
          std::upper_bound(best.begin(), best.end(), std::make_pair(key, j),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
      best.insert(at, {key, j});
      if (static_cast<int64_t>(best.size()) > kRecallDepth) best.pop_back();
    }
  }
  for (size_t r = 0; r < best.size(); ++r) {
    if (labels[best[r].second] != label) continue;
    if (r == 0) score.hit_at_1 = true;
    score.hit_at_5 = true;
  }
  if (relevant.empty()) return score;
  std::sort(relevant.begin(), relevant.end());
  std::sort(other.begin(), other.end());
  size_t ahead = 0;  // other items at most as far as the current relevant one
  double sum = 0;
  for (size_t k = 0; k < relevant.size(); ++k) {
    while (ahead < other.size() && other[ahead] <= relevant[k]) ++ahead;
    sum += static_cast<double>(k + 1) / static_cast<double>(k + 1 + ahead);
  }
  score.average_precision = sum / static_cast<double>(relevant.size());
  return score;
}

std::vector<int64_t> retrieval_labels(const Tensor& labels, int64_t n, const char* what) {
  NABLA_CHECK(labels.dim() == 1 && labels.size(0) == n, "retrieval: expected ", what, " labels [",
              n, "], got shape ", labels.shape());
  return labels.to(DType::i64).contiguous().to_vector<int64_t>();
}

// Rows of the inputs' images as the picture side: [N, H, W] or [N, 1, H, W], else square.
std::pair<int64_t, int64_t> retrieval_image_side(const Tensor& images) {
  if (images.dim() >= 3) return {images.size(-2), images.size(-1)};
  const int64_t values = tasks::internal::values_per_sample(images.shape());
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(values))));
  NABLA_CHECK(side * side == values, "search: cannot draw inputs of shape ", images.shape(),
              " as images");
  return {side, side};
}

}  // namespace

Scores score(const Tensor& queries, const Tensor& query_labels, const Tensor& gallery,
             const Tensor& gallery_labels) {
  NABLA_CHECK(queries.dim() >= 2 && gallery.dim() >= 2 &&
                  tasks::internal::values_per_sample(queries.shape()) ==
                      tasks::internal::values_per_sample(gallery.shape()),
              "retrieval: expected queries [Q, ...] and a gallery [G, ...] with as many values ",
              "per item, got shapes ", queries.shape(), " and ", gallery.shape());
  const NoGradGuard no_grad;
  const int64_t q_count = queries.size(0), g_count = gallery.size(0);
  const std::vector<int64_t> q_labels = retrieval_labels(query_labels, q_count, "query");
  const std::vector<int64_t> g_labels = retrieval_labels(gallery_labels, g_count, "gallery");
  const Tensor q = retrieval_rows(queries), g = retrieval_rows(gallery);
  const Tensor g_t = transpose(g, 0, 1);
  const Tensor g_norms = sum(square(g), {1}).contiguous();  // [1, G] below, by broadcasting
  std::vector<QueryScore> per_query(static_cast<size_t>(q_count));
  for (int64_t start = 0; start < q_count; start += kQueriesPerBlock) {
    const int64_t end = std::min(q_count, start + kQueriesPerBlock);
    const Tensor keys = add(g_norms, matmul(q.slice(0, start, end), g_t), -2).contiguous();
    const float* k = keys.data<float>();
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = start; i < end; ++i) {
      per_query[i] = score_query(k + (i - start) * g_count, g_labels.data(), g_count, q_labels[i]);
    }
  }
  Scores scores;
  scores.queries = q_count;
  for (const QueryScore& s : per_query) {  // summed in query order: any thread count agrees
    scores.recall_at_1 += s.hit_at_1 ? 1 : 0;
    scores.recall_at_5 += s.hit_at_5 ? 1 : 0;
    scores.mean_average_precision += s.average_precision;
  }
  const double count = std::max<double>(1, static_cast<double>(q_count));
  scores.recall_at_1 /= count;
  scores.recall_at_5 /= count;
  scores.mean_average_precision /= count;
  return scores;
}

std::vector<Match> nearest(const Tensor& query, const Tensor& gallery, const Tensor& gallery_labels,
                           int64_t k) {
  NABLA_CHECK(gallery.dim() == 2 && query.numel() == gallery.size(1), "retrieval: expected a ",
              "query of ", gallery.dim() == 2 ? gallery.size(1) : 0, " values for a gallery of ",
              "shape ", gallery.shape(), ", got shape ", query.shape());
  const int64_t g_count = gallery.size(0), d = gallery.size(1);
  const std::vector<int64_t> labels = retrieval_labels(gallery_labels, g_count, "gallery");
  const std::vector<double> q = query.to(DType::f64).contiguous().to_vector<double>();
  const Tensor g = retrieval_rows(gallery);
  const float* rows = g.data<float>();
  std::vector<Match> all(static_cast<size_t>(g_count));
  for (int64_t j = 0; j < g_count; ++j) {
    double squared = 0;
    for (int64_t c = 0; c < d; ++c) {
      const double diff = q[c] - rows[j * d + c];
      squared += diff * diff;
    }
    all[j] = {j, labels[j], std::sqrt(squared)};
  }
  const auto shown = static_cast<size_t>(std::clamp<int64_t>(k, 0, g_count));
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(shown), all.end(),
                    [](const Match& a, const Match& b) {
                      return a.distance < b.distance ||
                             (a.distance == b.distance && a.index < b.index);
                    });
  all.resize(shown);
  return all;
}

Tensor embed(train::Model& model, const Tensor& inputs, int64_t batch_size) {
  const NoGradGuard no_grad;
  model.module().train(false);
  const Tensor out = model.predict(inputs, batch_size);
  NABLA_CHECK(out.dim() == 2, "retrieval: expected the model to give one embedding [N, D] per ",
              "input, got shape ", out.shape());
  return out.to(DType::f32).contiguous();
}

Tensor match_picture(const Tensor& images_of_query, const Tensor& images_of_matches,
                     const std::vector<bool>& other_class) {
  const auto [height, width] = retrieval_image_side(images_of_query);
  const auto pictures = [&, height = height, width = width](const Tensor& images) {
    const Tensor grey = tasks::internal::pictures_of(
        tasks::internal::unit_pixels(images).reshape({images.size(0), -1}), height, width);
    return concat({grey, grey, grey}, 1).contiguous();  // RGB, for the frames
  };
  const Tensor query = pictures(images_of_query);
  Tensor matches = pictures(images_of_matches);
  NABLA_CHECK(other_class.empty() || static_cast<int64_t>(other_class.size()) == matches.size(0),
              "match_picture: expected one flag per match (", matches.size(0), "), got ",
              other_class.size());
  // A red frame around each match of another class than the query's.
  const int64_t rows = matches.size(2), columns = matches.size(3), plane = rows * columns;
  float* p = matches.data<float>();
  for (size_t m = 0; m < other_class.size(); ++m) {
    if (!other_class[m]) continue;
    float* image = p + static_cast<int64_t>(m) * 3 * plane;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < columns; ++c) {
        if (r >= kFrameWidth && r < rows - kFrameWidth && c >= kFrameWidth &&
            c < columns - kFrameWidth) {
          continue;
        }
        image[r * columns + c] = 1;
        image[plane + r * columns + c] = 0;
        image[2 * plane + r * columns + c] = 0;
      }
    }
  }
  // A grey strip sets the query apart from its matches.
  const Tensor gap = full({1, 3, rows, columns / 4}, 0.5);
  const Tensor query_grid = data::image_grid(query, 1),
               match_grid = data::image_grid(matches, matches.size(0));
  const Tensor gap_grid = data::image_grid(gap, 1);
  return concat({query_grid, gap_grid.slice(2, 2, gap_grid.size(2)),
                 match_grid.slice(2, 2, match_grid.size(2))},
                2);
}

SearchResult search(train::Model& model, const tasks::TaskData& data, int64_t index, int64_t k,
                    const std::string& picture) {
  const int64_t tests = data.x_test.size(0);
  NABLA_CHECK(index >= 0 && index < tests, "search: test image ", index, " does not exist; the ",
              "test set of ", data.source, " holds ", tests, " images (0 to ", tests - 1, ")");
  NABLA_CHECK(k >= 1, "search: expected at least 1 match, got ", k);
  const Tensor gallery = embed(model, data.x_train);
  const Tensor query = embed(model, data.x_test.slice(0, index, index + 1));
  SearchResult result;
  result.query_label = data.y_test.to(DType::i64).contiguous().to_vector<int64_t>()[index];
  result.matches = nearest(query, gallery, data.y_train, k);
  result.class_names = data.class_names;
  if (!picture.empty()) {
    std::vector<int64_t> rows;
    std::vector<bool> other_class;
    for (const Match& m : result.matches) {
      rows.push_back(m.index);
      other_class.push_back(m.label != result.query_label);
    }
    data::write_png(picture,
                    match_picture(data.x_test.slice(0, index, index + 1),
                                  index_select(data.x_train, 0, from_vector(rows)), other_class));
  }
  return result;
}

}  // namespace nabla::retrieval
