// Scaled dot-product attention: matmul(q, k^T), one fused pass that scales, masks, normalizes and
// drops the scores, then matmul(weights, v). The two products are the matmul op (strided operands
// read in place, batched gemm, its own backward); the middle is one op with its own backward, so
// that a training step walks the [..., L, S] weights once per direction rather than once per
// elementwise op (scale, mask, softmax, fix-up of fully masked rows, dropout). A query row with
// no allowed key is all zeros, forward and backward, where softmax alone would give NaN.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "core/loop.hpp"
#include "kernels/cpu/softmax.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

namespace {

constexpr const char* kAttentionOp = "scaled_dot_product_attention";

// How the fused pass reads the mask: none, bool (true = may attend) or additive (the scores'
// dtype), with strides broadcasting it to the scores' shape.
struct MaskRef {
  const void* data = nullptr;
  bool is_bool = false;
  Shape strides;  // elements, one per axis of the scores (0 = broadcast)
};

// Offset of row r (over every axis but the last) of `shape`, for a tensor with `strides`.
int64_t row_offset(int64_t r, const Shape& shape, const Shape& strides) {
  int64_t offset = 0;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d) {
    offset += (r % shape[d]) * strides[d];
    r /= shape[d];
  }
  return offset;
}

// Rows per block of the forward pass: a block is masked, normalized and dropped while it is in
// cache, and blocks are what the threads share.
int64_t rows_per_block(int64_t cols) {
  constexpr int64_t kBlockElements = 1 << 13;
  return std::max<int64_t>(1, kBlockElements / std::max<int64_t>(cols, 1));
}

// Applies one mask row to the first `n` scores (bool: disallowed -> -inf; additive: added);
// returns nonzero when any of them stays allowed. kUnit: the mask is contiguous along the keys,
// so that the loop vectorizes.
template <bool kUnit, class M, class T>
int apply_mask_row(const M* m, int64_t stride, int64_t n, T* out) {
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  int allowed = 0;
#pragma omp simd reduction(| : allowed)
  for (int64_t s = 0; s < n; ++s) {
    const M value = m[kUnit ? s : s * stride];
    if constexpr (std::is_same_v<M, bool>) {
      out[s] = value ? out[s] : kNegInf;
      allowed |= value;
    } else {
      out[s] += value;
      allowed |= out[s] > kNegInf;
    }
  }
  return allowed;
}

// Writes the scaled and masked scores of row r into `out`; returns false when no key is allowed.
template <class T>
bool mask_row(const T* x, int64_t r, const Shape& shape, T scale, const MaskRef& mask, bool causal,
              T* out) {
  const int64_t cols = shape.back(), l = r % shape[shape.size() - 2];
  const int64_t last = causal ? std::min(cols, l + 1) : cols;  // keys past `last` are future ones
#pragma omp simd
  for (int64_t s = 0; s < cols; ++s) out[s] = scale * x[s];
  std::fill(out + last, out + cols, -std::numeric_limits<T>::infinity());
  if (!mask.data) return true;  // key 0 is always allowed, causal or not
  const int64_t offset = row_offset(r, shape, mask.strides), cs = mask.strides.back();
  auto apply = [&](auto m) {
    return cs == 1 ? apply_mask_row<true>(m + offset, cs, last, out)
                   : apply_mask_row<false>(m + offset, cs, last, out);
  };
  return mask.is_bool ? apply(static_cast<const bool*>(mask.data))
                      : apply(static_cast<const T*>(mask.data));
}

// p = softmax(scale * x + mask) row by row (zeros for rows with no allowed key); with `drop`
// (0 or 1/(1-p) per element), out = p * drop, else out is p.
template <class T>
void weights_forward(const T* x, const Shape& shape, T scale, const MaskRef& mask, bool causal,
                     const T* drop, T* p, T* out) {
  const int64_t cols = shape.back(), rows = shape_numel(shape) / cols;
  const int64_t block = rows_per_block(cols), blocks = (rows + block - 1) / block;
  parallel_for_if(rows * cols >= kParallelThreshold && blocks > 1, blocks, [&](int64_t b) {
    const int64_t begin = b * block, end = std::min(rows, begin + block);
    std::vector<int64_t> empty_rows;
    for (int64_t r = begin; r < end; ++r) {
      T* row = p + r * cols;
      if (!mask_row(x + r * cols, r, shape, scale, mask, causal, row)) {
        std::fill_n(row, cols, T(0));  // finite, so that the softmax below makes no NaN
        empty_rows.push_back(r);
      }
    }
    kernels::cpu::softmax_rows(p + begin * cols, end - begin, cols, p + begin * cols);
    for (int64_t r : empty_rows) std::fill_n(p + r * cols, cols, T(0));
    if (drop) {
      for (int64_t i = begin * cols; i < end * cols; ++i) out[i] = p[i] * drop[i];
    }
  });
}

// From g = d(loss)/d(out): dz = p * (g*drop - sum(g*drop * p)) per row (softmax's backward),
// d(scores) = scale * dz, and d(mask) = dz when the additive mask needs it.
template <class T>
void weights_backward(const T* g, const T* p, const T* drop, int64_t rows, int64_t cols, T scale,
                      T* grad_scores, T* grad_mask) {
  parallel_for_if(rows * cols >= kParallelThreshold && rows > 1, rows, [&](int64_t r) {
    const T* gr = g + r * cols;
    const T* pr = p + r * cols;
    T* gs = grad_scores + r * cols;  // first holds d(loss)/d(probs)
    T dot = 0;
    if (drop) {
      const T* dr = drop + r * cols;
#pragma omp simd reduction(+ : dot)
      for (int64_t s = 0; s < cols; ++s) {
        gs[s] = gr[s] * dr[s];
        dot += gs[s] * pr[s];
      }
    } else {
#pragma omp simd reduction(+ : dot)
      for (int64_t s = 0; s < cols; ++s) {
        gs[s] = gr[s];
        dot += gr[s] * pr[s];
      }
    }
    if (grad_mask) {
      T* gm = grad_mask + r * cols;
#pragma omp simd
      for (int64_t s = 0; s < cols; ++s) {
        gm[s] = pr[s] * (gs[s] - dot);
        gs[s] = scale * gm[s];
      }
    } else {
#pragma omp simd
      for (int64_t s = 0; s < cols; ++s) gs[s] = scale * (pr[s] * (gs[s] - dot));
    }
  });
}

// 0 (dropped) or 1/(1-p) per element, drawn in row-major order as the dropout op draws, so that a
// seed gives the same weights at any thread count.
Tensor dropout_mask(const Shape& shape, DType dtype, double p, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  const double keep = 1 - p, scale = p == 1 ? 0.0 : 1.0 / keep;
  Tensor drop = make_tensor(shape, dtype);
  dispatch_floating(dtype, kAttentionOp, [&](auto tag) {
    using T = decltype(tag);
    T* d = drop.data<T>();
    for (int64_t i = 0; i < drop.numel(); ++i) d[i] = g.next_double() < keep ? T(scale) : T(0);
  });
  return drop;
}

// Gradients of attention_weights w.r.t. the scores and, for an additive mask that needs one,
// the mask (summed over the axes it was broadcast along).
std::vector<Tensor> weights_gradients(const Tensor& grad_out, const Tensor& probs,
                                      const Tensor& drop, double scale, bool mask_grad,
                                      const Shape& mask_shape) {
  const Tensor g = grad_out.contiguous();
  const int64_t cols = probs.size(-1), rows = probs.numel() / cols;
  Tensor grad_scores = make_tensor(probs.shape(), probs.dtype());
  Tensor grad_mask = mask_grad ? make_tensor(probs.shape(), probs.dtype()) : Tensor();
  dispatch_floating(probs.dtype(), kAttentionOp, [&](auto tag) {
    using T = decltype(tag);
    weights_backward(g.data<T>(), probs.data<T>(), drop.defined() ? drop.data<T>() : nullptr, rows,
                     cols, static_cast<T>(scale), grad_scores.data<T>(),
                     mask_grad ? grad_mask.data<T>() : nullptr);
  });
  std::vector<Tensor> result{grad_scores};
  if (mask_grad) result.push_back(sum_to(grad_mask, mask_shape));
  return result;
}

// The fused middle of attention: dropout(softmax(scale * scores + mask)) with causal masking, and
// its backward. `mask` is undefined, bool, or of the scores' dtype, and broadcasts to the scores.
Tensor attention_weights(const Tensor& scores, const Tensor& mask, bool causal, double scale,
                         double dropout_p, Generator* gen) {
  const Tensor x = contiguous_data(scores);
  const Shape shape = x.shape();
  if (x.numel() == 0) return scores * 0.0;  // no keys or no queries; keeps the graph
  Tensor probs = make_tensor(shape, x.dtype());
  MaskRef ref;
  if (mask.defined()) {
    ref.data = mask.raw_data();
    ref.is_bool = mask.dtype() == DType::boolean;
    ref.strides = broadcast_strides_to(mask, shape, kAttentionOp);
  }
  const Tensor drop = dropout_p > 0 ? dropout_mask(shape, x.dtype(), dropout_p, gen) : Tensor();
  Tensor out = drop.defined() ? make_tensor(shape, x.dtype()) : probs;
  dispatch_floating(x.dtype(), kAttentionOp, [&](auto tag) {
    using T = decltype(tag);
    weights_forward(x.data<T>(), shape, static_cast<T>(scale), ref, causal,
                    drop.defined() ? drop.data<T>() : nullptr, probs.data<T>(), out.data<T>());
  });

  const bool mask_grad = mask.defined() && mask.dtype() != DType::boolean;
  std::vector<Tensor> inputs{scores};
  if (mask_grad) inputs.push_back(mask);
  if (autograd::needs_grad(inputs)) {
    // probs may be the output itself: saved detached (see autograd/node.hpp).
    autograd::record("AttentionWeightsBackward", inputs, {out},
                     [p = probs.detach(), drop, scale, mask_grad,
                      mask_shape = mask_grad ? mask.shape() : Shape{}](auto& grads) {
                       return weights_gradients(grads[0], p, drop, scale, mask_grad, mask_shape);
                     });
  }
  return out;
}

// q [..., L, E], k [..., S, E], v [..., S, Ev] of one floating dtype; returns the broadcast
// leading axes.
Shape check_qkv(const Tensor& q, const Tensor& k, const Tensor& v) {
  NABLA_CHECK(q.defined() && k.defined() && v.defined(), kAttentionOp, ": q, k or v is undefined");
  NABLA_CHECK(q.dim() >= 2 && k.dim() >= 2 && v.dim() >= 2, kAttentionOp,
              ": expected q [..., L, E], k [..., S, E] and v [..., S, Ev] with at least 2 axes "
              "each, got shapes ",
              q.shape(), ", ", k.shape(), " and ", v.shape());
  NABLA_CHECK(q.dtype() == k.dtype() && q.dtype() == v.dtype() && is_floating(q.dtype()),
              kAttentionOp, ": expected q, k and v of one floating dtype (f32 or f64), got ",
              q.dtype(), ", ", k.dtype(), " and ", v.dtype());
  NABLA_CHECK(q.size(-1) == k.size(-1), kAttentionOp, ": q of shape ", q.shape(),
              " has E = ", q.size(-1), " but k of shape ", k.shape(), " has E = ", k.size(-1),
              " (the last axes must match)");
  NABLA_CHECK(k.size(-2) == v.size(-2), kAttentionOp, ": k of shape ", k.shape(),
              " has S = ", k.size(-2), " keys but v of shape ", v.shape(), " has ", v.size(-2),
              " values (axis -2 must match)");
  Shape batch;
  for (const Tensor* t : {&q, &k, &v}) {
    const Shape lead(t->shape().begin(), t->shape().end() - 2);
    const size_t n = std::max(batch.size(), lead.size());
    Shape merged(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t a = i < n - batch.size() ? 1 : batch[i - (n - batch.size())];
      const int64_t b = i < n - lead.size() ? 1 : lead[i - (n - lead.size())];
      NABLA_CHECK(a == b || a == 1 || b == 1, kAttentionOp, ": the leading axes of q ", q.shape(),
                  ", k ", k.shape(), " and v ", v.shape(), " do not broadcast together");
      merged[i] = a == 1 ? b : a;
    }
    batch = std::move(merged);
  }
  return batch;
}

// A bool mask, or a floating one converted to `dtype`, that broadcasts to `weights_shape`.
Tensor check_mask(const Tensor& mask, const Shape& weights_shape, DType dtype) {
  if (!mask.defined()) return mask;
  NABLA_CHECK(mask.dtype() == DType::boolean || is_floating(mask.dtype()), kAttentionOp,
              ": attn_mask must be bool (true = may attend) or floating (added to the scores), ",
              "got dtype ", mask.dtype());
  const int64_t nd = static_cast<int64_t>(weights_shape.size()), md = mask.dim();
  bool fits = md <= nd;
  for (int64_t i = 0; fits && i < md; ++i) {
    const int64_t size = mask.shape()[i], target = weights_shape[nd - md + i];
    fits = size == target || size == 1;
  }
  NABLA_CHECK(fits, kAttentionOp, ": attn_mask of shape ", mask.shape(),
              " does not broadcast to the attention weights' shape ", weights_shape,
              " ([..., L, S])");
  return mask.dtype() == DType::boolean ? mask : cast_to(mask, dtype);
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& attn_mask, bool is_causal, double dropout_p,
                                    bool training, Generator* gen, std::optional<double> scale) {
  Shape weights_shape = check_qkv(q, k, v);
  const int64_t L = q.size(-2), S = k.size(-2), E = q.size(-1);
  weights_shape.push_back(L);
  weights_shape.push_back(S);
  const Tensor mask = check_mask(attn_mask, weights_shape, q.dtype());
  NABLA_CHECK(dropout_p >= 0 && dropout_p <= 1, kAttentionOp, ": dropout_p must be in [0, 1], got ",
              dropout_p);
  const double factor = scale.value_or(1.0 / std::sqrt(static_cast<double>(E)));
  const double p = training ? dropout_p : 0.0;

  Tensor scores = matmul(q, transpose(k, -2, -1));
  // A mask with more leading axes than q and k (a per-head mask over shared q and k) widens the
  // weights to its shape.
  if (mask.defined()) {
    const Shape shape = broadcast_shapes(scores.shape(), mask.shape(), kAttentionOp);
    if (shape != scores.shape()) scores = expand(scores, shape);
  }
  return matmul(attention_weights(scores, mask, is_causal, factor, p, gen), v);
}

}  // namespace nabla
