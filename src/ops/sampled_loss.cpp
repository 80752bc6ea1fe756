// Losses over a sample of a large output vocabulary: TensorFlow's sampled softmax with its
// log-uniform candidate sampler, and word2vec's negative sampling. Both look their output rows
// up with take_rows, whose gradient to a leaf table is row-sparse, so that a step touches the
// true and sampled rows only; the rest is composed of differentiable ops.
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "autograd/node.hpp"
#include "nabla/ops.hpp"

namespace nabla {

namespace {

// The ids as a contiguous i64 tensor, each checked to lie in [0, rows).
Tensor sampled_checked_ids(const char* op, const char* what, const Tensor& ids, int64_t rows) {
  NABLA_CHECK(ids.defined() && ids.dtype() == DType::i64, op, ": expected ", what,
              " of dtype i64, got ", ids.defined() ? dtype_name(ids.dtype()) : "undefined");
  const Tensor c = contiguous_data(ids);
  const int64_t* p = c.data<int64_t>();
  for (int64_t i = 0; i < c.numel(); ++i) {
    NABLA_CHECK(p[i] >= 0 && p[i] < rows, op, ": ", what, " id ", p[i],
                " is out of range for a table of ", rows, " rows (expected [0, ", rows, "))");
  }
  return c;
}

// log(expected count) of class c after `tries` draws from the log-uniform distribution of
// `classes` classes (TensorFlow's unique sampler: 1 - (1 - P(c))^tries).
double log_uniform_log_q(int64_t c, int64_t classes, int64_t tries) {
  const double p = (std::log(c + 2.0) - std::log(c + 1.0)) / std::log(classes + 1.0);
  return std::log(-std::expm1(static_cast<double>(tries) * std::log1p(-p)));
}

}  // namespace

Tensor take_rows(const Tensor& table, const Tensor& ids) {
  NABLA_CHECK(table.defined() && table.dim() >= 1 && is_floating(table.dtype()),
              "take_rows: expected a floating table [rows, ...]");
  const int64_t rows = table.size(0);
  const Tensor c = sampled_checked_ids("take_rows", "row", ids, rows);
  const Tensor source = contiguous_data(table);
  const int64_t n = c.numel();
  const int64_t width = rows == 0 ? 0 : table.numel() / rows;
  Shape out_shape = ids.shape();
  out_shape.insert(out_shape.end(), table.shape().begin() + 1, table.shape().end());
  Tensor out = make_tensor(out_shape, table.dtype());
  const size_t row_bytes = static_cast<size_t>(width) * dtype_size(table.dtype());
  const int64_t* id = c.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(static_cast<char*>(out.raw_data()) + i * row_bytes,
                static_cast<const char*>(source.raw_data()) + id[i] * row_bytes, row_bytes);
  }
  if (autograd::needs_grad({table})) {
    // Row-sparse for a leaf table; a node between would read the values as a dense gradient.
    const bool sparse = table.is_leaf();
    Shape row_shape = table.shape();
    row_shape[0] = n;
    autograd::record("TakeRowsBackward", {table}, {out}, [c, rows, row_shape, sparse](auto& grads) {
      const Tensor g = grads[0].reshape(row_shape);
      Tensor grad = row_sparse(c.reshape({c.numel()}), g, rows);
      return std::vector<Tensor>{sparse ? grad : grad.to_dense()};
    });
  }
  return out;
}

CandidateSample log_uniform_candidate_sampler(const Tensor& labels, int64_t num_classes,
                                              int64_t num_sampled, Generator* gen) {
  NABLA_CHECK(num_classes >= 1, "log_uniform_candidate_sampler: num_classes must be >= 1, got ",
              num_classes);
  NABLA_CHECK(num_sampled >= 1 && num_sampled <= num_classes,
              "log_uniform_candidate_sampler: num_sampled must be in [1, ", num_classes,
              "] (distinct classes of ", num_classes, "), got ", num_sampled);
  const Tensor true_ids =
      sampled_checked_ids("log_uniform_candidate_sampler", "label", labels, num_classes);
  Generator& g = gen != nullptr ? *gen : default_generator();
  // Inverse transform: floor(exp(u log(V + 1))) - 1 has P(c) = log((c + 2) / (c + 1)) / log(V + 1).
  const double log_range = std::log(num_classes + 1.0);
  std::vector<int64_t> sampled;
  std::unordered_set<int64_t> seen;
  int64_t tries = 0;
  while (static_cast<int64_t>(sampled.size()) < num_sampled) {
    ++tries;
    auto c = static_cast<int64_t>(std::exp(g.next_double() * log_range)) - 1;
    c = std::min(std::max<int64_t>(c, 0), num_classes - 1);
    if (seen.insert(c).second) sampled.push_back(c);
  }
  CandidateSample out;
  out.sampled = from_vector(sampled);
  std::vector<double> sampled_q, true_q;
  for (int64_t c : sampled) sampled_q.push_back(log_uniform_log_q(c, num_classes, tries));
  const int64_t* t = true_ids.data<int64_t>();
  for (int64_t i = 0; i < true_ids.numel(); ++i)
    true_q.push_back(log_uniform_log_q(t[i], num_classes, tries));
  out.sampled_log_q = from_vector(sampled_q);
  out.true_log_q = from_vector(true_q);
  return out;
}

Tensor sampled_softmax_loss(const Tensor& hidden, const Tensor& weight, const Tensor& bias,
                            const Tensor& labels, const CandidateSample& sample,
                            const SampledSoftmaxOptions& options) {
  NABLA_CHECK(hidden.defined() && weight.defined() && hidden.dim() == 2 && weight.dim() == 2 &&
                  hidden.size(1) == weight.size(1),
              "sampled_softmax_loss: expected hidden [N, D] and weight [V, D], got shapes ",
              hidden.defined() ? hidden.shape() : Shape{}, " and ",
              weight.defined() ? weight.shape() : Shape{});
  const int64_t n = hidden.size(0), classes = weight.size(0);
  NABLA_CHECK(!bias.defined() || bias.shape() == Shape{classes},
              "sampled_softmax_loss: expected a bias [", classes, "], got shape ", bias.shape());
  NABLA_CHECK(labels.defined() && labels.shape() == Shape{n}, "sampled_softmax_loss: expected ",
              "labels [", n, "] for hidden of shape ", hidden.shape(), ", got shape ",
              labels.defined() ? labels.shape() : Shape{});
  NABLA_CHECK(sample.sampled.defined() && sample.sampled.dim() == 1,
              "sampled_softmax_loss: expected sampled classes [S]");
  const int64_t s = sample.sampled.size(0);
  NABLA_CHECK(!options.subtract_log_q ||
                  (sample.sampled_log_q.defined() && sample.sampled_log_q.shape() == Shape{s} &&
                   sample.true_log_q.defined() && sample.true_log_q.shape() == Shape{n}),
              "sampled_softmax_loss: subtract_log_q needs sampled_log_q [", s, "] and true_log_q [",
              n, "] in the sample");
  const Tensor true_ids = sampled_checked_ids("sampled_softmax_loss", "label", labels, classes);
  const Tensor sampled_ids =
      sampled_checked_ids("sampled_softmax_loss", "sampled class", sample.sampled, classes);

  Tensor true_logits = sum(mul(hidden, take_rows(weight, true_ids)), {1});     // [N]
  Tensor sampled_logits = matmul(hidden, take_rows(weight, sampled_ids).t());  // [N, S]
  if (bias.defined()) {
    true_logits = add(true_logits, take_rows(bias, true_ids));
    sampled_logits = add(sampled_logits, take_rows(bias, sampled_ids));
  }
  if (options.subtract_log_q) {
    true_logits = sub(true_logits, sample.true_log_q.to(hidden.dtype()));
    sampled_logits = sub(sampled_logits, sample.sampled_log_q.to(hidden.dtype()));
  }
  if (options.remove_accidental_hits) {
    // A sampled class that is the row's label would count it as its own negative: its logit
    // gets -FLT_MAX (TensorFlow's value), a probability of 0.
    std::vector<double> hits(static_cast<size_t>(n * s), 0.0);
    const int64_t* t = true_ids.data<int64_t>();
    const int64_t* c = sampled_ids.data<int64_t>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < s; ++j)
        if (t[i] == c[j]) hits[static_cast<size_t>(i * s + j)] = -std::numeric_limits<float>::max();
    sampled_logits = add(sampled_logits, from_vector(hits, {n, s}).to(hidden.dtype()));
  }
  const Tensor logits = concat({true_logits.unsqueeze(1), sampled_logits}, 1);  // [N, 1 + S]
  return cross_entropy(logits, zeros({n}, DType::i64));
}

Tensor negative_sampling_loss(const Tensor& center, const Tensor& output_weight,
                              const Tensor& context, const Tensor& negatives) {
  NABLA_CHECK(center.defined() && output_weight.defined() && center.dim() == 2 &&
                  output_weight.dim() == 2 && center.size(1) == output_weight.size(1),
              "negative_sampling_loss: expected center vectors [N, D] and an output table [V, D], "
              "got shapes ",
              center.defined() ? center.shape() : Shape{}, " and ",
              output_weight.defined() ? output_weight.shape() : Shape{});
  const int64_t n = center.size(0);
  NABLA_CHECK(context.defined() && context.shape() == Shape{n},
              "negative_sampling_loss: expected context ids [", n, "], got shape ",
              context.defined() ? context.shape() : Shape{});
  NABLA_CHECK(negatives.defined() && negatives.dim() == 2 && negatives.size(0) == n,
              "negative_sampling_loss: expected negative ids [", n, ", K], got shape ",
              negatives.defined() ? negatives.shape() : Shape{});
  // -log sigmoid(x) = softplus(-x); -log sigmoid(-x) = softplus(x).
  const Tensor positive = sum(mul(center, take_rows(output_weight, context)), {1});  // [N]
  const Tensor negative =
      sum(mul(take_rows(output_weight, negatives), center.unsqueeze(1)), {2});  // [N, K]
  return mean(add(softplus(neg(positive)), sum(softplus(negative), {1})));
}

}  // namespace nabla
