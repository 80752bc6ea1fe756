// Losses, each one fused forward kernel and one fused backward kernel (src/kernels/cpu/loss.cpp)
// rather than a graph of elementwise ops: pointwise regression/binary losses, and class-index
// losses (softmax cross-entropy from logits, negative log-likelihood) with PyTorch 1.13's options
// and semantics (class weights, ignore_index, label smoothing; a weighted mean divides by the sum
// of the weights of the non-ignored targets).
#include "kernels/cpu/loss.hpp"

#include <algorithm>
#include <vector>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "ops/shape_util.hpp"

namespace nabla {

using autograd::needs_grad;
using autograd::record;
using kernels::cpu::ClassLossArgs;
using kernels::cpu::PointwiseLoss;
using kernels::cpu::PointwiseLossArgs;

namespace {

enum class Reduction { mean, sum, none };

Reduction parse_reduction(const std::string& name, const char* op) {
  if (name == "mean") return Reduction::mean;
  if (name == "sum") return Reduction::sum;
  NABLA_CHECK(name == "none", op, ": unknown reduction '", name,
              "' (expected 'mean', 'sum' or 'none')");
  return Reduction::none;
}

// The upstream gradient as the kernels read it: per element (stride 1) for reduction "none",
// else one scalar (stride 0).
struct UpstreamGrad {
  Tensor data;
  int64_t stride;
};

UpstreamGrad upstream(const Tensor& g, Reduction reduction) {
  return reduction == Reduction::none ? UpstreamGrad{contiguous_data(g), 1} : UpstreamGrad{g, 0};
}

// ---------------------------------------------------------------- pointwise losses

// Whether `from` broadcasts to `to` without changing it.
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (size_t i = 1; i <= from.size(); ++i) {
    const int64_t f = from[from.size() - i];
    if (f != 1 && f != to[to.size() - i]) return false;
  }
  return true;
}

void check_pointwise(const char* op, const Tensor& input, const Tensor& target,
                     const Tensor& pos_weight) {
  NABLA_CHECK(input.defined() && target.defined(), op, ": the input or target is undefined");
  NABLA_CHECK(input.shape() == target.shape(), op, ": input of shape ", input.shape(),
              " and target of shape ", target.shape(), " differ (expected the same shape)");
  NABLA_CHECK(is_floating(input.dtype()), op, ": expected a floating input (f32 or f64), got ",
              input.dtype());
  NABLA_CHECK(target.dtype() == input.dtype(), op, ": expected a target of the input's dtype ",
              input.dtype(), ", got ", target.dtype());
  if (pos_weight.defined()) {
    NABLA_CHECK(pos_weight.dtype() == input.dtype(), op,
                ": expected pos_weight of the input's dtype ", input.dtype(), ", got ",
                pos_weight.dtype());
    NABLA_CHECK(broadcasts_to(pos_weight.shape(), input.shape()), op, ": pos_weight of shape ",
                pos_weight.shape(), " does not broadcast to the input's shape ", input.shape());
  }
}

Tensor pointwise_loss_op(const char* op, const char* node, PointwiseLossArgs args,
                         const Tensor& input, const Tensor& target, const Tensor& pos_weight,
                         const std::string& reduction_name) {
  check_pointwise(op, input, target, pos_weight);
  const Reduction reduction = parse_reduction(reduction_name, op);
  args.n = input.numel();
  const Tensor x = contiguous_data(input), t = contiguous_data(target);
  // pos_weight is laid out per element once, so that the kernels stay one flat loop.
  const Tensor pw =
      pos_weight.defined()
          ? contiguous_copy(
                make_view(pos_weight, input.shape(),
                          broadcast_strides_to(pos_weight, input.shape(), op), pos_weight.offset()),
                input.dtype())
          : Tensor();
  Tensor out;
  dispatch_floating(input.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    const T* ppw = pw.defined() ? pw.data<T>() : nullptr;
    if (reduction == Reduction::none) {
      out = make_tensor(input.shape(), input.dtype());
      kernels::cpu::pointwise_loss(args, x.data<T>(), t.data<T>(), ppw, out.data<T>());
    } else {
      double total = kernels::cpu::pointwise_loss_sum(args, x.data<T>(), t.data<T>(), ppw);
      if (reduction == Reduction::mean) total /= static_cast<double>(args.n);  // 0/0: NaN
      out = scalar_tensor(total, input.dtype());
    }
  });
  if (needs_grad({input, target, pos_weight})) {
    record(node, {input, target, pos_weight}, {out},
           [args, x, t, pw, reduction, input_rg = input.requires_grad(),
            target_rg = target.requires_grad(),
            pw_rg = pos_weight.defined() && pos_weight.requires_grad(),
            pw_shape = pos_weight.defined() ? pos_weight.shape() : Shape{}](auto& grads) {
             const UpstreamGrad g = upstream(grads[0], reduction);
             Tensor gx = input_rg ? make_tensor(x.shape(), x.dtype()) : Tensor();
             Tensor gt = target_rg ? make_tensor(x.shape(), x.dtype()) : Tensor();
             Tensor gp = pw_rg ? make_tensor(x.shape(), x.dtype()) : Tensor();
             dispatch_floating(x.dtype(), "loss backward", [&](auto tag) {
               using T = decltype(tag);
               const T scale = reduction == Reduction::mean ? T(1) / static_cast<T>(args.n) : T(1);
               auto out_ptr = [](Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
               kernels::cpu::pointwise_loss_backward(args, x.data<T>(), t.data<T>(),
                                                     pw.defined() ? pw.data<T>() : nullptr,
                                                     g.data.template data<T>(), g.stride, scale,
                                                     out_ptr(gx), out_ptr(gt), out_ptr(gp));
             });
             if (gp.defined()) gp = sum_to(gp, pw_shape);
             return std::vector<Tensor>{gx, gt, gp};
           });
  }
  return out;
}

// ---------------------------------------------------------------- class-index losses

// The shape labels must have for scores [N, C, d...] ([N, d...]) or [C] ([]).
Shape expected_label_shape(const Shape& scores) {
  if (scores.size() == 1) return {};
  Shape s{scores[0]};
  s.insert(s.end(), scores.begin() + 2, scores.end());
  return s;
}

// Row-major index of flat position `i` in `shape`, printed as [i0, i1, ...].
Shape unravel(int64_t i, const Shape& shape) {
  Shape index(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    index[d] = i % shape[d];
    i /= shape[d];
  }
  return index;
}

void check_class_loss(const char* op, const char* scores_name, const Tensor& scores,
                      const Tensor& labels, const CrossEntropyOptions& options) {
  NABLA_CHECK(scores.defined() && labels.defined(), op, ": the ", scores_name,
              " or labels are undefined");
  NABLA_CHECK(scores.dim() >= 1, op, ": expected ", scores_name,
              " of shape [N, C] or [N, C, d...], got shape ", scores.shape());
  NABLA_CHECK(is_floating(scores.dtype()), op, ": expected floating ", scores_name,
              " (f32 or f64), got ", scores.dtype());
  NABLA_CHECK(labels.dtype() == DType::i64, op,
              ": expected labels of dtype i64 (class indices), got ", labels.dtype(),
              " (convert them with .to(DType::i64))");
  const Shape expected = expected_label_shape(scores.shape());
  NABLA_CHECK(labels.shape() == expected, op, ": labels of shape ", labels.shape(),
              " do not match ", scores_name, " of shape ", scores.shape(),
              " (expected labels of shape ", expected, ")");
  const int64_t classes = scores.dim() == 1 ? scores.shape()[0] : scores.shape()[1];
  if (options.weight.defined()) {
    NABLA_CHECK(options.weight.dim() == 1 && options.weight.shape()[0] == classes, op,
                ": expected a class weight of shape [", classes, "] (one per class), got shape ",
                options.weight.shape());
    NABLA_CHECK(options.weight.dtype() == scores.dtype(), op, ": expected a class weight of dtype ",
                scores.dtype(), ", got ", options.weight.dtype());
  }
  NABLA_CHECK(options.label_smoothing >= 0.0 && options.label_smoothing <= 1.0, op,
              ": label_smoothing must be between 0 and 1, got ", options.label_smoothing);
}

// Every label is a class index or ignore_index; else an Error naming the first offender.
void check_labels(const char* op, const Tensor& labels, int64_t classes, int64_t ignore_index) {
  const int64_t* p = labels.data<int64_t>();
  for (int64_t i = 0; i < labels.numel(); ++i) {
    const int64_t y = p[i];
    NABLA_CHECK((y >= 0 && y < classes) || y == ignore_index, op, ": label ", y, " at position ",
                unravel(i, labels.shape()), " is out of range for ", classes,
                " classes (expected 0 <= label < ", classes, ", or ignore_index ", ignore_index,
                ")");
  }
}

// Sum over the non-ignored rows of the weight of their label: the divisor of a "mean".
template <class T>
double label_weight_total(const ClassLossArgs& args, int64_t rows) {
  const T* w = static_cast<const T*>(args.weight);
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t y = args.labels[r];
    if (y != args.ignore_index) total += w ? static_cast<double>(w[y]) : 1.0;
  }
  return total;
}

// What the forward of a class-index loss keeps for its backward.
struct ClassLossState {
  Tensor labels, weight;  // contiguous
  ClassLossArgs args;     // pointers into labels/weight above
  Reduction reduction;
  double divisor = 1;  // of the reduced loss: the label-weight total for "mean", else 1
};

// Validates the arguments, lays out the data for the kernels and computes the per-row losses
// with `forward(args, scores_data, row_loss)`; returns the reduced loss.
template <class Forward>
Tensor class_loss(const char* op, const char* scores_name, const Tensor& scores,
                  const Tensor& labels, const CrossEntropyOptions& options, ClassLossState& state,
                  Forward forward) {
  check_class_loss(op, scores_name, scores, labels, options);
  state.reduction = parse_reduction(options.reduction, op);
  const bool batched = scores.dim() > 1;
  ClassLossArgs& args = state.args;
  args.outer = batched ? scores.shape()[0] : 1;
  args.classes = scores.shape()[batched ? 1 : 0];
  args.inner = 1;
  for (int64_t d = 2; d < scores.dim(); ++d) args.inner *= scores.shape()[d];
  state.labels = contiguous_data(labels);
  check_labels(op, state.labels, args.classes, options.ignore_index);
  args.labels = state.labels.data<int64_t>();
  if (options.weight.defined()) {
    state.weight = contiguous_data(options.weight);
    args.weight = state.weight.raw_data();
  }
  args.ignore_index = options.ignore_index;
  args.label_smoothing = options.label_smoothing;

  const int64_t rows = args.outer * args.inner;
  std::vector<double> row_loss(static_cast<size_t>(rows));
  Tensor out;
  dispatch_floating(scores.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    forward(tag, row_loss.data());
    if (state.reduction == Reduction::none) {
      out = make_tensor(labels.shape(), scores.dtype());
      std::copy(row_loss.begin(), row_loss.end(), out.data<T>());
      return;
    }
    double total = 0;
    for (double l : row_loss) total += l;
    if (state.reduction == Reduction::mean) state.divisor = label_weight_total<T>(args, rows);
    out = scalar_tensor(total / state.divisor, scores.dtype());  // all ignored: 0/0 = NaN
  });
  return out;
}

// Calls backward(scale_data, scale_stride) with the upstream gradient divided by the divisor.
template <class T, class Backward>
void with_scale(const ClassLossState& state, const Tensor& grad, Backward backward) {
  const UpstreamGrad g = upstream(grad, state.reduction);
  if (g.stride == 1) return backward(g.data.template data<T>(), int64_t{1});
  const T scale = static_cast<T>(g.data.item() / state.divisor);
  backward(&scale, int64_t{0});
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  return pointwise_loss_op("mse_loss", "MseLossBackward", {PointwiseLoss::mse}, input, target,
                           Tensor(), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const std::string& reduction) {
  return pointwise_loss_op("l1_loss", "L1LossBackward", {PointwiseLoss::l1}, input, target,
                           Tensor(), reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, double delta,
                  const std::string& reduction) {
  NABLA_CHECK(delta > 0, "huber_loss: delta must be positive, got ", delta);
  return pointwise_loss_op("huber_loss", "HuberLossBackward", {PointwiseLoss::huber, delta}, input,
                           target, Tensor(), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        const Tensor& pos_weight, const std::string& reduction) {
  return pointwise_loss_op("binary_cross_entropy_with_logits",
                           "BinaryCrossEntropyWithLogitsBackward", {PointwiseLoss::bce_with_logits},
                           logits, target, pos_weight, reduction);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels,
                     const CrossEntropyOptions& options) {
  ClassLossState state;
  Tensor probs;
  Tensor out = class_loss(
      "cross_entropy", "logits", logits, labels, options, state, [&](auto tag, double* row_loss) {
        using T = decltype(tag);
        const Tensor x = contiguous_data(logits);
        probs = make_tensor(logits.shape(), logits.dtype());
        kernels::cpu::softmax_cross_entropy(state.args, x.data<T>(), probs.data<T>(), row_loss);
      });
  if (needs_grad({logits})) {
    record("CrossEntropyBackward", {logits}, {out}, [state, probs](auto& grads) {
      Tensor grad = make_tensor(probs.shape(), probs.dtype());
      dispatch_floating(probs.dtype(), "cross_entropy", [&](auto tag) {
        using T = decltype(tag);
        with_scale<T>(state, grads[0], [&](const T* scale, int64_t stride) {
          kernels::cpu::softmax_cross_entropy_backward(state.args, probs.data<T>(), scale, stride,
                                                       grad.data<T>());
        });
      });
      return std::vector<Tensor>{grad};
    });
  }
  return out;
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& labels, const CrossEntropyOptions& options) {
  NABLA_CHECK(options.label_smoothing == 0.0, "nll_loss: label_smoothing is not supported (got ",
              options.label_smoothing, "); use cross_entropy on logits");
  ClassLossState state;
  Tensor out = class_loss("nll_loss", "log_probs", log_probs, labels, options, state,
                          [&](auto tag, double* row_loss) {
                            using T = decltype(tag);
                            const Tensor x = contiguous_data(log_probs);
                            kernels::cpu::nll(state.args, x.data<T>(), row_loss);
                          });
  if (needs_grad({log_probs})) {
    record("NllLossBackward", {log_probs}, {out},
           [state, shape = log_probs.shape(), dtype = log_probs.dtype()](auto& grads) {
             Tensor grad = make_tensor(shape, dtype);
             dispatch_floating(dtype, "nll_loss", [&](auto tag) {
               using T = decltype(tag);
               with_scale<T>(state, grads[0], [&](const T* scale, int64_t stride) {
                 kernels::cpu::nll_backward(state.args, scale, stride, grad.data<T>());
               });
             });
             return std::vector<Tensor>{grad};
           });
  }
  return out;
}

}  // namespace nabla
