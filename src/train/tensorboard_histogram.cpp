// TensorBoard histograms: PyTorch's bins="tensorflow" and its trimming of empty buckets, so that
// a histogram written by nabla looks in TensorBoard as PyTorch's of the same values.
#include "train/tensorboard_histogram.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace nabla::train::internal {

const std::vector<double>& default_histogram_edges() {
  static const std::vector<double> kEdges = [] {
    std::vector<double> positive;
    for (double v = 1e-12; v < 1e20; v *= 1.1) positive.push_back(v);
    std::vector<double> edges;
    for (auto it = positive.rbegin(); it != positive.rend(); ++it) edges.push_back(-*it);
    edges.push_back(0.0);
    edges.insert(edges.end(), positive.begin(), positive.end());
    return edges;
  }();
  return kEdges;
}

HistogramSummary make_histogram(const Tensor& values, const std::string& what) {
  NABLA_CHECK(values.defined() && values.numel() > 0, what,
              ": expected values for the histogram, got an empty tensor");
  const std::vector<double>& edges = default_histogram_edges();
  const Tensor flat = values.detach().to(DType::f64).contiguous();
  const double* value = flat.data<double>();
  std::vector<double> counts(edges.size() - 1, 0.0);
  HistogramSummary histogram;
  histogram.min = std::numeric_limits<double>::infinity();
  histogram.max = -histogram.min;
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double v = value[i];
    // numpy drops values outside the edges from the buckets (and PyTorch then fails on an empty
    // histogram); such a value is reported here instead. Written so that NaN fails too.
    NABLA_CHECK(v >= edges.front() && v <= edges.back(), what,
                ": histogram values must be finite and within +-", edges.back(),
                " (TensorBoard's outermost bucket edges), got ", v, " at element ", i);
    histogram.min = std::min(histogram.min, v);
    histogram.max = std::max(histogram.max, v);
    histogram.sum += v;
    histogram.sum_squares += v * v;
    const size_t bucket =
        v == edges.back()
            ? counts.size() - 1
            : static_cast<size_t>(std::upper_bound(edges.begin(), edges.end(), v) - edges.begin()) -
                  1;
    counts[bucket] += 1;
  }
  histogram.num = static_cast<double>(flat.numel());
  size_t first = 0, last = counts.size() - 1;
  while (counts[first] == 0) ++first;
  while (counts[last] == 0) --last;
  // One empty bucket below the first occupied one, as PyTorch keeps it; when the first bucket is
  // occupied, that empty bucket ends at the lowest edge.
  if (first == 0) {
    histogram.bucket_limit.push_back(edges.front());
    histogram.bucket.push_back(0);
  }
  for (size_t b = first == 0 ? 0 : first - 1; b <= last; ++b) {
    histogram.bucket_limit.push_back(edges[b + 1]);
    histogram.bucket.push_back(counts[b]);
  }
  return histogram;
}

}  // namespace nabla::train::internal
