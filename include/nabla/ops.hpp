// Differentiable operations on tensors, with PyTorch's names and argument order. Every op checks
// its arguments (errors name the op, the shapes and what was expected) and, when an input
// requires grad and grad mode is on, records its backward. Elementwise ops broadcast NumPy-style
// and promote dtypes (bool < u8 < i64 < f32 < f64); axes may be negative.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nabla/tensor.hpp"

namespace nabla {

using Axes = std::vector<int64_t>;  // empty = all axes, where an op reduces

// ---- elementwise arithmetic (src/ops/binary.cpp, src/ops/unary.cpp) ----
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1);  // a - alpha * b
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& exponent);
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& a);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor square(const Tensor& a);
Tensor clamp(const Tensor& a, std::optional<double> min, std::optional<double> max);
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);  // condition: bool

// Comparisons (bool results, not differentiable).
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

// ---- activations (src/ops/activation.cpp) ----
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor elu(const Tensor& x, double alpha = 1.0);
Tensor gelu(const Tensor& x, bool tanh_approximation = false);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor softmax(const Tensor& x, int64_t axis = -1);
Tensor log_softmax(const Tensor& x, int64_t axis = -1);
// Applies an activation by its Keras/PyTorch name ("relu", "sigmoid", "tanh", "softmax",
// "log_softmax", "gelu", "elu", "leaky_relu", "softplus", "linear"/"" = identity).
Tensor activation(const Tensor& x, const std::string& name);

// ---- reductions (src/ops/reduce.cpp) ----
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
// Variance with `correction` (1 = unbiased, as torch.var; 0 = population).
Tensor var(const Tensor& x, const Axes& axes = {}, int64_t correction = 1, bool keepdim = false);
struct ValuesIndices {
  Tensor values;
  Tensor indices;  // i64
};
ValuesIndices max(const Tensor& x, int64_t axis, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor max(const Tensor& x);  // over all elements
Tensor min(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t axis, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t axis, bool keepdim = false);
// Sums `x` down to `shape` over broadcast axes (the backward of broadcasting).
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- linear algebra (src/ops/matmul.cpp) ----
// 1-d/2-d/batched matmul with broadcast batch axes, as torch.matmul.
Tensor matmul(const Tensor& a, const Tensor& b);
// x @ weight^T + bias (weight: [out, in], PyTorch layout); bias may be undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- shape and indexing (src/ops/view.cpp, src/ops/index.cpp, src/ops/join.cpp) ----
Tensor reshape(const Tensor& x, const Shape& shape);  // one axis may be -1
Tensor transpose(const Tensor& x, int64_t axis0, int64_t axis1);
Tensor permute(const Tensor& x, const Shape& axes);
Tensor squeeze(const Tensor& x, std::optional<int64_t> axis = std::nullopt);
Tensor unsqueeze(const Tensor& x, int64_t axis);
Tensor expand(const Tensor& x, const Shape& shape);  // -1 keeps a size
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_axis = 0, int64_t end_axis = -1);
Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end, int64_t step = 1);
Tensor concat(const std::vector<Tensor>& tensors, int64_t axis = 0);
Tensor stack(const std::vector<Tensor>& tensors, int64_t axis = 0);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t axis = 0);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t axis);
Tensor index_select(const Tensor& x, int64_t axis, const Tensor& index);  // index: 1-d i64
Tensor gather(const Tensor& x, int64_t axis, const Tensor& index);        // as torch.gather
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype = DType::f32);

// ---- regularization (src/ops/dropout.cpp) ----
// Zeroes elements with probability p and scales the rest by 1/(1-p) when training; identity
// otherwise.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// ---- losses (src/ops/loss.cpp); reduction: "mean", "sum" or "none" ----
Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction = "mean");
Tensor huber_loss(const Tensor& input, const Tensor& target, double delta = 1.0,
                  const std::string& reduction = "mean");
struct CrossEntropyOptions {
  Tensor weight;  // per-class weights [C], optional
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  std::string reduction = "mean";
};
// Softmax cross-entropy fused from logits [N, C] (or [N, C, d...]) and i64 labels [N] ([N, d...]).
Tensor cross_entropy(const Tensor& logits, const Tensor& labels,
                     const CrossEntropyOptions& options = {});
// Negative log-likelihood of log-probabilities [N, C] with i64 labels [N].
Tensor nll_loss(const Tensor& log_probs, const Tensor& labels,
                const CrossEntropyOptions& options = {});
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        const Tensor& pos_weight = Tensor(),
                                        const std::string& reduction = "mean");

}  // namespace nabla
