// Histograms of tensors in TensorBoard's buckets (SummaryWriter::add_histogram). Internal.
#pragma once

#include <string>
#include <vector>

#include "nabla/tensorboard.hpp"

namespace nabla::train::internal {

// TensorFlow's default bucket edges, which PyTorch's SummaryWriter also uses: 0 and
// +-1e-12 * 1.1^k for every k with 1e-12 * 1.1^k < 1e20 (1549 edges, ascending), computed by
// repeated multiplication exactly as PyTorch does, so the doubles are the same.
const std::vector<double>& default_histogram_edges();

// The statistics and bucket counts of `values` (any shape and dtype), as PyTorch's
// make_histogram computes them with numpy: bucket i holds edges[i] <= v < edges[i + 1] (the last
// bucket also its right edge); bucket_limit is each kept bucket's right edge; the empty buckets
// below the first and above the last occupied one are dropped, except one empty bucket just
// below. Errors (starting with `what`): no values, or a value that is not finite or lies outside
// the edges.
HistogramSummary make_histogram(const Tensor& values, const std::string& what);

}  // namespace nabla::train::internal
