// Pieces of the training code shared between its files. Internal.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nabla/train.hpp"

namespace nabla::train {

struct Model::Compiled {
  std::unique_ptr<optim::Optimizer> optimizer;
  std::vector<LossPtr> losses;                  // one per output
  std::vector<double> loss_weights;             // one per output
  std::vector<std::vector<MetricPtr>> metrics;  // per output
  Precision precision = Precision::fp32;        // CompileOptions::precision
  // When a single-output Sequential ends with the activation the loss can fold in (a softmax
  // before a cross-entropy), training runs `body` and then `head` without its activation (or
  // nothing when the activation is a layer of its own), and the loss takes those logits. A graph
  // model leaves out `graph_activations[i]` where output i's layer ends with it.
  bool fused = false;
  std::vector<nn::Module*> body;
  nn::Linear* head = nullptr;
  // Their names as summary() gives them ("dense_1", "sequential/dense"), for anomaly messages.
  std::vector<std::string> body_names;
  std::string head_name;
  std::vector<std::string> graph_activations;
};

}  // namespace nabla::train

namespace nabla::train::internal {

// Whether make_loss / make_metric know `name` (a saved model's compile settings are kept only
// when they can be rebuilt by name).
bool is_known_loss(const std::string& name);
bool is_known_metric(const std::string& name);

// How evaluate() reads classes from outputs and targets, decided by the loss.
enum class Task { none, sparse, categorical, binary };
Task classification_task(const Loss& loss, const Shape& output_shape);
int64_t num_classes(Task task, const Shape& output_shape);
// Counts each sample into confusion[true][predicted]. logits: outputs before the final
// activation (a sigmoid's threshold is then 0).
void add_to_confusion(std::vector<std::vector<int64_t>>& confusion, const Tensor& output,
                      const Tensor& targets, Task task, bool logits);
// Per-class precision, recall, F1 and their macro averages from report.confusion.
void compute_class_scores(EvaluationReport& report);

using nn::snake_case;

// [1, sample_shape...]: a sample shape with a batch axis of one, as build() reports outputs.
inline Shape with_batch_axis(const Shape& sample_shape) {
  Shape shape{1};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  return shape;
}

// Index of the largest score in a row (the first on ties), as argmax.
template <class T>
int64_t argmax_row(const T* row, int64_t cols) {
  int64_t best = 0;
  for (int64_t j = 1; j < cols; ++j) {
    if (row[j] > row[best]) best = j;
  }
  return best;
}

}  // namespace nabla::train::internal
