// Image retrieval by embeddings: test images as queries against the training images as the
// gallery, ranked by Euclidean distance. What the task "retrieval" (the triplet and contrastive
// presets) is judged by, and what `nabla search` shows.
//
// recall@k: the share of queries whose k nearest gallery items include one of the query's class
// (the retrieval literature's recall@k, e.g. Oh Song et al. 2016; recall@1 is the 1-nearest-
// neighbour accuracy). mAP: the mean over queries of the average precision of the whole ranking
// of the gallery, an item being relevant when it is of the query's class; a tie in distance
// ranks the irrelevant item first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nabla/tasks.hpp"

namespace nabla::retrieval {

struct Scores {
  double recall_at_1 = 0;
  double recall_at_5 = 0;
  double mean_average_precision = 0;
  int64_t queries = 0;
};

// queries [Q, ...] and gallery [G, ...] (embeddings [N, D], or images compared pixel by pixel;
// any floating or integer dtype, compared as f32, flattened per item), labels
// [Q] and [G] (integers). Queries are split over the thread pool; the result does not depend on
// the thread count. Errors name the mismatched shapes.
Scores score(const Tensor& queries, const Tensor& query_labels, const Tensor& gallery,
             const Tensor& gallery_labels);

struct Match {
  int64_t index = 0;  // in the gallery
  int64_t label = 0;
  double distance = 0;
};
// The k gallery items nearest to `query` [D], nearest first (ties: the lower index first).
std::vector<Match> nearest(const Tensor& query, const Tensor& gallery, const Tensor& gallery_labels,
                           int64_t k);

// The model's outputs for `inputs`, batch by batch, in evaluation mode, as f32 [N, D].
Tensor embed(train::Model& model, const Tensor& inputs, int64_t batch_size = 256);

// One row of pictures (RGB): the query image, a grey strip, then the matches' images, each
// match flagged in `other_class` (one flag per match, or none) framed in red; images are the
// task's inputs ([N, H, W] or [N, 1, H, W], u8 or floats in [0, 1]), scaled up twice.
Tensor match_picture(const Tensor& images_of_query, const Tensor& images_of_matches,
                     const std::vector<bool>& other_class = {});

// `nabla search`: the test image `index` of a checkpoint of the retrieval task against its
// training images; writes the picture to `picture` (PNG) when not empty.
struct SearchResult {
  int64_t query_label = 0;
  std::vector<Match> matches;
  std::vector<std::string> class_names;  // by label; empty when the data has none
};
SearchResult search(train::Model& model, const tasks::TaskData& data, int64_t index, int64_t k,
                    const std::string& picture);

}  // namespace nabla::retrieval
