// Matrix products: matmul (torch.matmul semantics) and linear (x @ W^T + b). Both hand strided
// operands to gemm as they lie in memory: a transposed view becomes a transpose flag and a row
// stride, and only layouts no BLAS call can read (broadcast or gathered strides) are copied.
#include <algorithm>
#include <memory>
#include <optional>
#include <type_traits>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "core/loop.hpp"
#include "core/uninitialized_buffer.hpp"
#include "kernels/cpu/bf16_round.hpp"
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/gemm_matmul.hpp"
#include "kernels/cpu/reduce.hpp"
#include "nabla/autocast.hpp"
#include "ops/elementwise.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;

namespace {

// A matrix as gemm reads it: the tensor holding the data (the input, or a contiguous copy of it
// when its strides fit no gemm layout), whether it is stored transposed, and its row stride.
struct Operand {
  Tensor data;
  bool trans = false;
  int64_t ld = 1;
};

// The gemm layout of a [rows, cols] matrix with element strides (row_stride, col_stride): row-major
// (no transpose) or column-major (the transpose of a row-major [cols, rows]). Size-1 axes impose
// no stride, so a strided vector is also read in place.
std::optional<Operand> gemm_layout(int64_t rows, int64_t cols, int64_t row_stride,
                                   int64_t col_stride) {
  if (col_stride == 1 || cols == 1) {
    if (rows == 1) return Operand{Tensor(), false, std::max<int64_t>(cols, 1)};
    if (row_stride >= std::max<int64_t>(cols, 1)) return Operand{Tensor(), false, row_stride};
  }
  if (row_stride == 1 || rows == 1) {
    if (cols == 1) return Operand{Tensor(), true, std::max<int64_t>(rows, 1)};
    if (col_stride >= std::max<int64_t>(rows, 1)) return Operand{Tensor(), true, col_stride};
  }
  return std::nullopt;
}

// The stride of axes [begin, end) merged into one axis, when the layout allows it (size-1 axes
// ignored); 0 when all of them have size 1.
std::optional<int64_t> merged_stride(const Shape& shape, const Shape& strides, int64_t begin,
                                     int64_t end) {
  std::optional<int64_t> stride;
  int64_t expected = 0;
  for (int64_t d = end - 1; d >= begin; --d) {
    if (shape[d] == 1) continue;
    if (!stride) {
      stride = strides[d];
      expected = strides[d] * shape[d];
      continue;
    }
    if (strides[d] != expected) return std::nullopt;
    expected *= shape[d];
  }
  return stride.value_or(0);
}

// `t` (at least 1-d) as a gemm operand of [rows, cols]: the last axis is the columns and axes
// [row_begin, dim - 1) are merged into the rows (row_begin = dim - 2 for one matrix of a batch,
// 0 to flatten every leading axis). Copies `t` only when no layout fits.
Operand make_operand(const Tensor& t, int64_t row_begin) {
  const int64_t d = t.dim();
  const int64_t cols = t.shape()[d - 1];
  int64_t rows = 1;
  for (int64_t i = row_begin; i < d - 1; ++i) rows *= t.shape()[i];
  if (auto row_stride = merged_stride(t.shape(), t.strides(), row_begin, d - 1)) {
    if (auto op = gemm_layout(rows, cols, *row_stride, t.strides()[d - 1])) {
      op->data = t;
      return *op;
    }
  }
  return Operand{contiguous_copy(t, t.dtype()), false, std::max<int64_t>(cols, 1)};
}

template <class T>
const T* ptr(const Operand& op) {
  return static_cast<const T*>(op.data.raw_data());
}

// The last two axes swapped, as a view (no autograd).
Tensor swap_last_two(const Tensor& t) {
  Shape shape = t.shape(), strides = t.strides();
  std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
  std::swap(strides[strides.size() - 1], strides[strides.size() - 2]);
  return make_view(t, shape, strides, t.offset());
}

// A 1-d left operand as a [1, K] row, a 1-d right operand as a [K, 1] column (views).
Tensor as_matrix(const Tensor& t, bool left) {
  if (t.dim() != 1) return t;
  const int64_t k = t.shape()[0], s = t.strides()[0];
  return left ? make_view(t, {1, k}, {k * s, s}, t.offset())
              : make_view(t, {k, 1}, {s, 1}, t.offset());
}

Shape batch_shape(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

// Strides (elements) reading `t`'s batch axes broadcast to `batch` (0 on repeated axes).
Shape batch_strides(const Tensor& t, const Shape& batch) {
  const int64_t nb = static_cast<int64_t>(batch.size()), tb = t.dim() - 2;
  Shape strides(nb, 0);
  for (int64_t i = 0; i < tb; ++i)
    if (t.shape()[i] != 1) strides[nb - tb + i] = t.strides()[i];
  return strides;
}

// Per-matrix work (multiply-adds) below which a batch is spread over threads one matrix each,
// rather than letting gemm split each small product.
constexpr int64_t kSmallGemm = 1 << 18;

// out[batch..., M, N] = a[batch_a..., M, K] @ b[batch_b..., K, N] with broadcast batch axes;
// a and b have at least two axes and compatible shapes (checked by the caller). No autograd.
Tensor batched_matmul(const Tensor& a, const Tensor& b) {
  const int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1];
  const int64_t N = b.shape()[b.dim() - 1];
  const Shape batch_a = batch_shape(a), batch_b = batch_shape(b);
  Shape out_shape = broadcast_shapes(batch_a, batch_b, "matmul");
  const Shape batch = out_shape;
  out_shape.push_back(M);
  out_shape.push_back(N);
  Tensor out = make_tensor(out_shape, a.dtype());
  const int64_t count = shape_numel(batch);
  if (out.numel() == 0) return out;

  dispatch_floating(a.dtype(), "matmul", [&](auto tag) {
    using T = decltype(tag);
    T* c = out.data<T>();
    // A right operand shared by the whole batch: the batch folds into the rows of one gemm.
    if (shape_numel(batch_b) == 1) {
      const Operand A = make_operand(a, 0), B = make_operand(b, b.dim() - 2);
      kernels::cpu::gemm(A.trans, B.trans, count * M, N, K, T(1), ptr<T>(A), A.ld, ptr<T>(B), B.ld,
                         T(0), c, N);
      return;
    }
    const Operand A = make_operand(a, a.dim() - 2), B = make_operand(b, b.dim() - 2);
    const Shape sa = batch_strides(A.data, batch), sb = batch_strides(B.data, batch);
    const int64_t nb = static_cast<int64_t>(batch.size()), work = M * N * K;
    const T* pa = ptr<T>(A);
    const T* pb = ptr<T>(B);
    parallel_for_if(work < kSmallGemm && count * work >= kSmallGemm, count, [&](int64_t i) {
      int64_t oa = 0, ob = 0, r = i;
      for (int64_t d = nb - 1; d >= 0; --d) {
        const int64_t idx = r % batch[d];
        r /= batch[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      kernels::cpu::gemm(A.trans, B.trans, M, N, K, T(1), pa + oa, A.ld, pb + ob, B.ld, T(0),
                         c + i * M * N, N);
    });
  });
  return out;
}

// `what` names the pair in the message: "operands", "input and weight".
void check_floating_pair(const Tensor& a, const Tensor& b, const char* op, const char* what) {
  NABLA_CHECK(a.dtype() == b.dtype(), op, ": expected ", what, " of the same dtype, got ",
              a.dtype(), " and ", b.dtype());
  NABLA_CHECK(is_floating(a.dtype()), op, ": expected floating tensors (f32 or f64), got ",
              a.dtype());
}

// Gradients of out2 = a2 @ b2 (the 2-d-or-more forms of matmul's operands) for g2 of out2's shape.
Tensor matmul_grad_a(const Tensor& g2, const Tensor& a2, const Tensor& b2) {
  return sum_to(batched_matmul(g2, swap_last_two(b2)), a2.shape());
}

Tensor matmul_grad_b(const Tensor& g2, const Tensor& a2, const Tensor& b2) {
  if (b2.dim() == 2 && a2.dim() > 2) {
    // A shared right operand: sum over the batch as one gemm over the stacked rows.
    const int64_t K = a2.shape().back(), N = g2.shape().back();
    return batched_matmul(swap_last_two(reshape(a2, {-1, K})), reshape(g2, {-1, N}));
  }
  return sum_to(batched_matmul(swap_last_two(a2), g2), b2.shape());
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  NABLA_CHECK(a.defined() && b.defined(), "matmul: an operand is an undefined tensor");
  NABLA_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least one axis, got ",
              "shapes ", a.shape(), " and ", b.shape());
  check_floating_pair(a, b, "matmul", "operands");
  const Tensor a2 = as_matrix(a, true), b2 = as_matrix(b, false);
  const int64_t ka = a2.shape()[a2.dim() - 1], kb = b2.shape()[b2.dim() - 2];
  NABLA_CHECK(ka == kb, "matmul: shapes ", a.shape(), " and ", b.shape(), " cannot be multiplied (",
              ka, " != ", kb, ")");
  const Shape batch_a = batch_shape(a2), batch_b = batch_shape(b2);
  const size_t nb = std::max(batch_a.size(), batch_b.size());
  for (size_t i = 0; i < nb; ++i) {
    const int64_t da = i < nb - batch_a.size() ? 1 : batch_a[i - (nb - batch_a.size())];
    const int64_t db = i < nb - batch_b.size() ? 1 : batch_b[i - (nb - batch_b.size())];
    NABLA_CHECK(da == db || da == 1 || db == 1, "matmul: shapes ", a.shape(), " and ", b.shape(),
                " cannot be multiplied (batch dimensions ", batch_a, " and ", batch_b,
                " cannot be broadcast together)");
  }
  const Tensor out2 = batched_matmul(a2, b2);
  // Drop the axes that 1-d operands gained.
  Shape shape = out2.shape();
  if (b.dim() == 1) shape.pop_back();
  if (a.dim() == 1) shape.erase(shape.end() - (b.dim() == 1 ? 1 : 2));
  Tensor out = shape == out2.shape() ? out2 : make_view(out2, shape, contiguous_strides(shape), 0);
  if (needs_grad({a, b})) {
    record("MatmulBackward", {a, b}, {out}, [a, b, out2_shape = out2.shape()](auto& g) {
      const Tensor a2 = as_matrix(a, true), b2 = as_matrix(b, false);
      const Tensor g2 = reshape(g[0], out2_shape);
      Tensor ga, gb;
      if (a.requires_grad()) ga = reshape(matmul_grad_a(g2, a2, b2), a.shape());
      if (b.requires_grad()) gb = reshape(matmul_grad_b(g2, a2, b2), b.shape());
      return std::vector<Tensor>{ga, gb};
    });
  }
  return out;
}

namespace {

// The number of rows of `x` with its leading axes flattened.
int64_t leading_rows(const Tensor& x) {
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < x.dim(); ++d) rows *= x.shape()[d];
  return rows;
}

void check_linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  NABLA_CHECK(x.defined() && weight.defined(), "linear: the input or weight is undefined");
  NABLA_CHECK(weight.dim() == 2, "linear: expected a weight of shape [out_features, in_features], ",
              "got shape ", weight.shape());
  NABLA_CHECK(x.dim() >= 1, "linear: expected an input with at least one axis, got shape ",
              x.shape());
  NABLA_CHECK(x.shape().back() == weight.shape()[1], "linear: input of shape ", x.shape(),
              " and weight of shape ", weight.shape(), " do not match (", x.shape().back(),
              " input features != in_features ", weight.shape()[1], ")");
  check_floating_pair(x, weight, "linear", "input and weight");
  if (bias.defined()) {
    NABLA_CHECK(bias.dim() == 1 && bias.shape()[0] == weight.shape()[0],
                "linear: expected a bias of shape [", weight.shape()[0], "] for a weight of shape ",
                weight.shape(), ", got shape ", bias.shape());
    NABLA_CHECK(bias.dtype() == x.dtype(), "linear: expected the bias to have dtype ", x.dtype(),
                ", got ", bias.dtype());
  }
}

// Inside an Autocast scope for bf16, a dense layer's products take bf16 operands rounded once per
// pass, as the recurrent layers' (src/ops/rnn.cpp): the input and weight for the forward, kept
// for the backward, whose output gradient is rounded once for both of its products. Rounded per
// product (kernels::cpu::gemm's rule) only outputs of 512 x 512 and more gained. The bf16 kernels
// on rounded operands gain from about a million multiply-adds (Zen 5 EPYC, us, f32 against bf16:
// 256 x 128 x 784, X W^T, 136 -> 86; its weight gradient 128 x 784 x 256 142 -> 120; at batch 32
// 37 -> 20 and 25 -> 18), but the training steps of the bench MLP at batch 32 (3.2 million) lost:
// the rounding pass re-reads the weight that the optimizer has just written, half of it from the
// other thread (docs/architecture.md, "bf16 mixed precision"). Hence 2^23; smaller ones stay f32.
constexpr int64_t kBf16LinearMinMacs = int64_t{1} << 23;

// The rounded operands of a linear computed in bf16, kept for its backward.
struct Bf16Operands {
  UninitializedBuffer<uint16_t> x, weight;
};

bool linear_in_bf16(const Tensor& x, int64_t rows, int64_t out_features, int64_t in_features) {
  return x.dtype() == DType::f32 && compute_precision() == Precision::bf16 &&
         rows * out_features * in_features >= kBf16LinearMinMacs;
}

// The backward of a bf16 linear: g rounded once for grad_x = g16 @ W16 and grad_W = g16^T @ x16;
// the bias gradient sums g itself.
std::vector<Tensor> linear_backward_bf16(const Tensor& g, const Tensor& x, const Tensor& weight,
                                         const Tensor& bias, const Bf16Operands& rounded) {
  const int64_t out_features = weight.shape()[0], in_features = weight.shape()[1];
  const int64_t rows = leading_rows(x);
  const Tensor gc = contiguous_data(g);
  const UninitializedBuffer<uint16_t> g16 =
      kernels::cpu::rounded_to_bf16(gc.data<float>(), rows * out_features);
  Tensor gx, gw, gb;
  if (x.requires_grad()) {
    gx = make_tensor(x.shape(), x.dtype());
    kernels::cpu::gemm_bf16_rounded(false, false, rows, in_features, out_features, 1.f, g16.data(),
                                    out_features, rounded.weight.data(), in_features, 0.f,
                                    gx.data<float>(), in_features);
  }
  if (weight.requires_grad()) {
    gw = make_tensor(weight.shape(), weight.dtype());
    kernels::cpu::gemm_bf16_rounded(true, false, out_features, in_features, rows, 1.f, g16.data(),
                                    out_features, rounded.x.data(), in_features, 0.f,
                                    gw.data<float>(), in_features);
  }
  if (bias.defined() && bias.requires_grad()) {
    gb = make_tensor({out_features}, bias.dtype());
    kernels::cpu::sum_rows_into(gc.data<float>(), rows, out_features, gb.data<float>());
  }
  return {gx, gw, gb};
}

// grad_x = g @ W, grad_W = g^T @ x, grad_b = sum of g over rows; g is [rows, out].
std::vector<Tensor> linear_backward(const Tensor& g, const Tensor& x, const Tensor& weight,
                                    const Tensor& bias) {
  const int64_t out_features = weight.shape()[0], in_features = weight.shape()[1];
  const int64_t rows = leading_rows(x);
  const Operand G = make_operand(g, 0);
  Tensor gx, gw, gb;
  dispatch_floating(x.dtype(), "linear", [&](auto tag) {
    using T = decltype(tag);
    if (x.requires_grad()) {
      const Operand W = make_operand(weight, 0);
      gx = make_tensor(x.shape(), x.dtype());
      kernels::cpu::gemm(G.trans, W.trans, rows, in_features, out_features, T(1), ptr<T>(G), G.ld,
                         ptr<T>(W), W.ld, T(0), gx.data<T>(), in_features);
    }
    if (weight.requires_grad()) {
      const Operand X = make_operand(x, 0);
      gw = make_tensor(weight.shape(), weight.dtype());
      kernels::cpu::gemm(!G.trans, X.trans, out_features, in_features, rows, T(1), ptr<T>(G), G.ld,
                         ptr<T>(X), X.ld, T(0), gw.data<T>(), in_features);
    }
    if (bias.defined() && bias.requires_grad()) {
      const bool dense = !G.trans && (G.ld == out_features || rows == 1);
      const Tensor gc = dense ? G.data : contiguous_copy(g, g.dtype());
      gb = make_tensor({out_features}, bias.dtype());
      kernels::cpu::sum_rows_into(static_cast<const T*>(gc.raw_data()), rows, out_features,
                                  gb.data<T>());
    }
  });
  return {gx, gw, gb};
}

// linear, and linear_relu with `relu`: relu(x W^T + b) in the product's own pass over the output
// (oneDNN's matmul primitive adds the bias and applies relu as it writes each block); relu's
// gradient masks the output gradient before linear's backward, as relu's own backward would.
Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, bool relu) {
  check_linear(x, weight, bias);
  const int64_t out_features = weight.shape()[0], in_features = weight.shape()[1];
  Shape out_shape = x.shape();
  out_shape.back() = out_features;
  const int64_t rows = leading_rows(x);
  Tensor out = make_tensor(out_shape, x.dtype());
  auto rounded = linear_in_bf16(x, rows, out_features, in_features)
                     ? std::make_shared<Bf16Operands>()
                     : nullptr;
  dispatch_floating(x.dtype(), "linear", [&](auto tag) {
    using T = decltype(tag);
    T* y = out.data<T>();
    if (out.numel() == 0) return;
    const Tensor bc = contiguous_data(bias);
    const kernels::cpu::GemmEpilogue<T> epilogue{bias.defined() ? bc.data<T>() : nullptr, relu};
    if constexpr (std::is_same_v<T, float>) {
      if (rounded) {
        const Tensor xc = contiguous_data(x), wc = contiguous_data(weight);
        rounded->x = kernels::cpu::rounded_to_bf16(xc.data<float>(), rows * in_features);
        rounded->weight =
            kernels::cpu::rounded_to_bf16(wc.data<float>(), out_features * in_features);
        kernels::cpu::gemm_bf16_rounded(false, true, rows, out_features, in_features, 1.f,
                                        rounded->x.data(), in_features, rounded->weight.data(),
                                        in_features, 0.f, y, out_features, epilogue);
        return;
      }
    }
    const Operand X = make_operand(x, 0), W = make_operand(weight, 0);
    // y = X @ W^T: W stored row-major is read transposed, a transposed W view is not.
    kernels::cpu::gemm_epilogue(X.trans, !W.trans, rows, out_features, in_features, ptr<T>(X), X.ld,
                                ptr<T>(W), W.ld, y, out_features, epilogue);
  });
  if (needs_grad({x, weight, bias})) {
    // The output, detached (no cycle through its own node), masks the gradient of a fused relu.
    record(relu ? "LinearReluBackward" : "LinearBackward", {x, weight, bias}, {out},
           [x, weight, bias, rounded, relu_out = relu ? out.detach() : Tensor()](auto& g) {
             const Tensor gy = relu_out.defined() ? relu_grad(g[0], relu_out) : g[0];
             return rounded ? linear_backward_bf16(gy, x, weight, bias, *rounded)
                            : linear_backward(gy, x, weight, bias);
           });
  }
  return out;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return linear_forward(x, weight, bias, /*relu=*/false);
}

Tensor linear_relu(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return linear_forward(x, weight, bias, /*relu=*/true);
}

}  // namespace nabla
