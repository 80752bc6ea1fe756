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
// relu(linear(x, weight, bias)) in the product's own pass over the output (what
// Dense(activation="relu") runs): values and gradients are those of relu applied after.
Tensor linear_relu(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

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

// Zeroes whole channels (x [N, C, *spatial]: one draw per (sample, channel)) with probability p
// and scales the rest by 1/(1-p) when training, as torch.nn.functional.dropout2d.
Tensor dropout2d(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// ---- convolution (src/ops/conv.cpp; kernels in src/kernels/cpu/conv.*) ----
// Layouts as PyTorch: x [N, C_in, *spatial] (NCL for 1-d, NCHW for 2-d), weight
// [C_out, C_in / groups, *kernel], bias [C_out] (optional), output [N, C_out, *out_spatial].
// Per-axis settings take one value for every spatial axis or one per axis; empty = the default.
struct ConvOptions {
  std::vector<int64_t> stride{};    // default 1
  std::vector<int64_t> padding{};   // zeros added on both sides of each axis; default 0
  std::vector<int64_t> dilation{};  // default 1
  int64_t groups = 1;               // C_in and C_out must be multiples (groups == C_in: depthwise)
  // "" (use `padding`), "valid" (no padding) or "same" (Keras/TensorFlow: output size
  // ceil(in / stride); when the total padding of an axis is odd the extra zero goes after).
  std::string padding_mode{};
  // relu(conv(x) + bias) in the same pass over the output (what Conv2D(activation="relu") runs):
  // values and gradients are those of relu applied after, without a pass of its own.
  bool fused_relu = false;
  // conv2d only; non-empty: max_pool2d(y, fused_max_pool) -- one value for both axes or
  // {rows, cols}; stride = the window, no padding, floor -- in the same pass, so that only the
  // pooled output is written and kept (what Sequential and Model run for Conv2D then
  // MaxPooling2D). Values and gradients are those of the two ops: bit-identical, except for one
  // input channel, 3x3 and 16k filters, which runs a direct kernel summing in another order.
  std::vector<int64_t> fused_max_pool{};
};
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const ConvOptions& options = {});
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
              const ConvOptions& options = {});
// The gradient of conv2d with respect to its input, as an op ("deconvolution"):
// x [N, C_in, H, W], weight [C_in, C_out / groups, kH, kW] (PyTorch's layout), output
// [N, C_out, (H-1)*stride - 2*padding + dilation*(kH-1) + output_padding + 1, ...].
struct ConvTransposeOptions {
  std::vector<int64_t> stride{};
  std::vector<int64_t> padding{};
  std::vector<int64_t> output_padding{};  // default 0; must be < stride or < dilation
  std::vector<int64_t> dilation{};
  int64_t groups = 1;
};
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                        const ConvTransposeOptions& options = {});

// ---- pooling and resampling (src/ops/pool.cpp, src/ops/resample.cpp) ----
// x [N, C, H, W]. kernel/stride/padding: one value for both axes or {rows, cols}; stride empty =
// kernel. Max pooling pads with -inf, average pooling with zeros (counted in the divisor when
// count_include_pad, as PyTorch). ceil_mode: output size rounds up (windows that start in the
// padding are dropped, as PyTorch).
Tensor max_pool2d(const Tensor& x, const std::vector<int64_t>& kernel,
                  const std::vector<int64_t>& stride = {}, const std::vector<int64_t>& padding = {},
                  bool ceil_mode = false);
Tensor avg_pool2d(const Tensor& x, const std::vector<int64_t>& kernel,
                  const std::vector<int64_t>& stride = {}, const std::vector<int64_t>& padding = {},
                  bool ceil_mode = false, bool count_include_pad = true);
// Average pooling to a fixed output size {rows, cols}, as torch's adaptive_avg_pool2d;
// {1, 1} is global average pooling.
Tensor adaptive_avg_pool2d(const Tensor& x, const std::vector<int64_t>& output_size);
// Pads the last axes as torch.nn.functional.pad: pads = {last_before, last_after,
// second_last_before, second_last_after, ...}; mode "constant" (with `value`), "reflect" or
// "replicate". Negative pads crop.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, const std::string& mode = "constant",
           double value = 0);
// Resizes the spatial axes of x [N, C, *spatial] (1 or 2 of them) to `size`, as
// torch.nn.functional.interpolate: mode "nearest" or "bilinear" (2-d) / "linear" (1-d).
Tensor interpolate(const Tensor& x, const std::vector<int64_t>& size,
                   const std::string& mode = "nearest", bool align_corners = false);
// interpolate to floor(in * scale_factor) per spatial axis, sampling with the given factor.
Tensor upsample(const Tensor& x, double scale_factor, const std::string& mode = "nearest",
                bool align_corners = false);

// ---- normalization (src/ops/norm.cpp; kernels in src/kernels/cpu/norm.*) ----
// x [N, C, *]: per channel over the batch and spatial axes. Training: normalizes with the batch
// statistics (biased variance) and, when running_mean/running_var are defined, updates them in
// place: r = (1 - momentum) * r + momentum * batch_stat (unbiased variance), as PyTorch. Eval:
// normalizes with the running statistics. weight (gamma) and bias (beta) [C] are optional.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5);
// Normalizes over the trailing axes `normalized_shape`; weight/bias of that shape, optional.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// x [N, C, *]: normalizes each of num_groups channel groups per sample; weight/bias [C].
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// ---- embedding (src/ops/embedding.cpp) ----
// Rows of `weight` [V, D] at the i64 `indices` (any shape): [*indices.shape, D]. The gradient of
// row `padding_idx` (>= 0) stays zero, as PyTorch's. max_norm > 0: looked-up rows whose L2 norm
// exceeds it are rescaled to it in place first (no gradient through the rescale, as PyTorch).
// An id outside [0, V) is an Error naming the id and V.
Tensor embedding(const Tensor& indices, const Tensor& weight, int64_t padding_idx = -1,
                 double max_norm = 0, bool sparse = false);

// ---- recurrent layers (src/ops/rnn.cpp; fused cell kernels in src/kernels/cpu/rnn.*) ----
enum class RnnMode { rnn_tanh, rnn_relu, lstm, gru };
struct RnnLayerResult {
  Tensor output;  // [T, N, H]
  Tensor h_n;     // [N, H]
  Tensor c_n;     // [N, H] (LSTM only; undefined otherwise)
};
// One layer in one direction over time-major x [T, N, I], with PyTorch's weights and gate order:
// w_ih [G*H, I], w_hh [G*H, H], b_ih and b_hh [G*H] (optional), G = 1 (RNN), 4 (LSTM: i, f, g, o)
// or 3 (GRU: r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))). h0, c0 [N, H] (undefined =
// zeros). The input projection of all steps is one GEMM; each step is one GEMM for all gates and
// one fused pass over them. mask: bool [T, N] (undefined = every step is real); at a step where
// mask is false the state carries over unchanged and the output is zero, so right-padded batches
// give the results of the unpadded sequences (PyTorch's packed sequences). reverse: steps run from
// T-1 down to 0.
RnnLayerResult rnn_layer(RnnMode mode, const Tensor& x, const Tensor& h0, const Tensor& c0,
                         const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih = Tensor(),
                         const Tensor& b_hh = Tensor(), const Tensor& mask = Tensor(),
                         bool reverse = false);

// ---- attention (src/ops/attention.cpp) ----
// softmax(q k^T * scale + mask) v over the last two axes: q [..., L, E], k [..., S, E],
// v [..., S, Ev] -> [..., L, Ev]; leading axes broadcast. attn_mask, broadcastable to [..., L, S]:
// bool (true = may attend) or floating (added to the scores). is_causal: query i attends to keys
// j <= i. A query row with no allowed key gives zeros (not NaN). dropout_p: dropout on the
// attention weights when training. scale: default 1 / sqrt(E).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask = Tensor(), bool is_causal = false,
                                    double dropout_p = 0, bool training = false,
                                    Generator* gen = nullptr,
                                    std::optional<double> scale = std::nullopt);

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

// ---- variational autoencoders (src/ops/variational.cpp) ----
// KL(N(mean, diag(exp(log_var))) || N(0, I)) of diagonal Gaussians, summed over the last axis:
// 0.5 * sum(exp(log_var) + mean^2 - 1 - log_var); [..., D] -> [...] (torch.distributions'
// kl_divergence of Normal(mean, exp(0.5 * log_var)) and Normal(0, 1), summed over D). Then
// `reduction` over what is left: "none", "mean" or "sum".
Tensor gaussian_kl_divergence(const Tensor& mean, const Tensor& log_var,
                              const std::string& reduction = "none");
// The reparameterization trick: mean + exp(0.5 * log_var) * eps with eps ~ N(0, I) drawn from
// `gen` (the default generator when null), one draw per element in row-major order;
// differentiable in mean and log_var.
Tensor reparameterize(const Tensor& mean, const Tensor& log_var, Generator* gen = nullptr);

// ---- distances and metric learning (src/ops/distance.cpp), as PyTorch 1.13's ----
// ||x1 - x2 + eps||_p over the last axis (x1 and x2 broadcast), as F.pairwise_distance.
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p = 2, double eps = 1e-6,
                         bool keepdim = false);
// sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along `axis`, as F.cosine_similarity.
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, int64_t axis = 1, double eps = 1e-8);
// x / max(||x||_p, eps) along `axis`, as F.normalize (p = 2: unit L2 norm).
Tensor normalize(const Tensor& x, double p = 2, int64_t axis = 1, double eps = 1e-12);
// The Euclidean distance of every row of x1 [..., P, M] to every row of x2 [..., R, M]:
// [..., P, R], as torch.cdist (p = 2 only, the matrix-product form). The gradient at a zero
// distance is zero.
Tensor cdist(const Tensor& x1, const Tensor& x2, double p = 2);
// max(d(a, p) - d(a, n) + margin, 0) with d = pairwise_distance(., ., p, eps); swap: d(a, n) is
// min(d(a, n), d(p, n)); then reduced ("mean", "sum" or "none"), as F.triplet_margin_loss.
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                           double margin = 1.0, double p = 2, double eps = 1e-6, bool swap = false,
                           const std::string& reduction = "mean");

// ---- Dice loss for segmentation (src/ops/dice.cpp) ----
// Soft Dice over a batch of class probabilities `probs` [..., C] (classes last) and integer
// labels [...] (i64): with y the one-hot labels and sums over every position of the batch,
//   D_c = (2 sum p_c y_c + smooth) / (sum p_c + sum y_c + smooth),   loss = 1 - mean_c D_c.
// `smooth` (default 1) keeps a class absent from both the batch and the prediction at D_c = 1
// and the gradient finite. A scalar of probs' dtype.
Tensor dice_loss(const Tensor& probs, const Tensor& labels, double smooth = 1.0);

// ---- sampled losses for large vocabularies (src/ops/sampled_loss.cpp) ----
// take_rows(table, ids): table[ids[i]] for i64 ids of any shape ([..., rest of table]); the
// gradient to a leaf table is row-sparse (Tensor::is_row_sparse), holding the looked-up rows only.
Tensor take_rows(const Tensor& table, const Tensor& ids);

// A draw of candidate classes for sampled_softmax_loss, as TensorFlow's candidate samplers return
// it: the distinct sampled classes and the log of the expected count of each sampled class and
// of each true class in the draw (the "Q" corrected for).
struct CandidateSample {
  Tensor sampled;        // i64 [S]
  Tensor sampled_log_q;  // f64 [S]
  Tensor true_log_q;     // f64 [N]
};
// TensorFlow's log_uniform_candidate_sampler with unique=true: classes drawn from the Zipfian
// P(c) = log((c + 2) / (c + 1)) / log(V + 1) (class ids sorted by falling frequency) until
// num_sampled distinct ones are found after `tries` draws; the expected count of class c is
// 1 - (1 - P(c))^tries. labels: i64 [N] in [0, V).
CandidateSample log_uniform_candidate_sampler(const Tensor& labels, int64_t num_classes,
                                              int64_t num_sampled, Generator* gen = nullptr);
struct SampledSoftmaxOptions {
  bool remove_accidental_hits = true;  // a sampled class equal to the row's label is masked out
  bool subtract_log_q = true;          // logits corrected by - log Q(class)
};
// TensorFlow's tf.nn.sampled_softmax_loss: for hidden [N, D], weight [V, D], bias [V] (may be
// undefined) and labels [N], the softmax cross-entropy of each row over its true class and the
// sampled classes, logits h.w_c + b_c (- log Q(c)), averaged over the rows. The gradients to a
// leaf weight and bias are row-sparse over the true and sampled classes.
Tensor sampled_softmax_loss(const Tensor& hidden, const Tensor& weight, const Tensor& bias,
                            const Tensor& labels, const CandidateSample& sample,
                            const SampledSoftmaxOptions& options = {});
// word2vec's skip-gram negative-sampling objective (Mikolov et al. 2013) for center vectors
// `center` [N, D], context ids `context` [N] and negative ids `negatives` [N, K] into the output
// table `output_weight` [V, D]: the mean over rows of
//   -log sigmoid(u_context . v) - sum_k log sigmoid(-u_negative_k . v).
// The gradient to a leaf output_weight is row-sparse.
Tensor negative_sampling_loss(const Tensor& center, const Tensor& output_weight,
                              const Tensor& context, const Tensor& negatives);

}  // namespace nabla
