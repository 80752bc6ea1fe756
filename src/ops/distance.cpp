// Distances, similarity and the triplet margin loss of metric learning, with PyTorch 1.13's
// semantics: pairwise_distance, cosine_similarity, normalize, cdist and triplet_margin_loss.
// They are compositions of differentiable ops (their gradients come from those), except cdist,
// whose backward is written out: the composed form would divide by a zero distance on the
// diagonal of cdist(x, x), where PyTorch (and this op) give a zero gradient instead.
// Norms take the clamp before the root (sqrt(max(s, eps^2)) = max(sqrt(s), eps)), so that a
// zero vector gets a finite gradient, as in PyTorch.
#include <cmath>

#include "autograd/node.hpp"
#include "nabla/ops.hpp"

namespace nabla {

namespace {

void distance_check_floating(const char* op, const Tensor& x) {
  NABLA_CHECK(x.defined(), op, ": an input is undefined");
  NABLA_CHECK(is_floating(x.dtype()), op, ": expected floating inputs (f32 or f64), got ",
              dtype_name(x.dtype()));
}

void distance_check_p(const char* op, double p) {
  NABLA_CHECK(std::isfinite(p) && p > 0, op, ": expected a finite norm degree p > 0, got ", p);
}

// sum(|x|^p) over `axis`, then max(., floor^p)^(1/p): the p-norm, at least `floor`.
Tensor distance_clamped_norm(const Tensor& x, double p, int64_t axis, bool keepdim, double floor) {
  if (p == 2) {
    const Tensor s = sum(square(x), {axis}, keepdim);
    return floor > 0 ? sqrt(clamp(s, floor * floor, std::nullopt)) : sqrt(s);
  }
  const Tensor s = p == 1 ? sum(abs(x), {axis}, keepdim) : sum(pow(abs(x), p), {axis}, keepdim);
  const Tensor clamped = floor > 0 ? clamp(s, std::pow(floor, p), std::nullopt) : s;
  return p == 1 ? clamped : pow(clamped, 1 / p);
}

Tensor distance_reduce(const Tensor& losses, const std::string& reduction, const char* op) {
  if (reduction == "mean") return mean(losses);
  if (reduction == "sum") return sum(losses);
  NABLA_CHECK(reduction == "none", op, ": unknown reduction '", reduction,
              "' (expected 'mean', 'sum' or 'none')");
  return losses;
}

}  // namespace

Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p, double eps, bool keepdim) {
  distance_check_floating("pairwise_distance", x1);
  distance_check_floating("pairwise_distance", x2);
  distance_check_p("pairwise_distance", p);
  NABLA_CHECK(x1.dim() >= 1 && x2.dim() >= 1 && x1.size(-1) == x2.size(-1),
              "pairwise_distance: expected inputs with the same last axis (the vectors' size), ",
              "got shapes ", x1.shape(), " and ", x2.shape());
  const Tensor diff = add(sub(x1, x2), full({}, eps, x1.dtype()));
  return distance_clamped_norm(diff, p, -1, keepdim, 0);
}

Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, int64_t axis, double eps) {
  distance_check_floating("cosine_similarity", x1);
  distance_check_floating("cosine_similarity", x2);
  const Tensor a = normalize(x1, 2, axis, eps), b = normalize(x2, 2, axis, eps);
  const Tensor product = mul(a, b);  // broadcasts x1 and x2
  const int64_t dim = product.dim();
  NABLA_CHECK(axis >= -dim && axis < dim, "cosine_similarity: axis ", axis,
              " is out of range for the broadcast shape ", product.shape());
  return sum(product, {axis});
}

Tensor normalize(const Tensor& x, double p, int64_t axis, double eps) {
  distance_check_floating("normalize", x);
  distance_check_p("normalize", p);
  NABLA_CHECK(x.dim() >= 1 && axis >= -x.dim() && axis < x.dim(), "normalize: axis ", axis,
              " is out of range for shape ", x.shape());
  NABLA_CHECK(eps > 0, "normalize: expected eps > 0, got ", eps);
  return div(x, distance_clamped_norm(x, p, axis, true, eps));
}

Tensor cdist(const Tensor& x1, const Tensor& x2, double p) {
  distance_check_floating("cdist", x1);
  distance_check_floating("cdist", x2);
  NABLA_CHECK(p == 2, "cdist: only the Euclidean distance (p = 2) is supported, got p = ", p);
  NABLA_CHECK(x1.dim() >= 2 && x1.dim() == x2.dim() && x1.size(-1) == x2.size(-1),
              "cdist: expected x1 [..., P, M] and x2 [..., R, M] with the same number of axes and ",
              "the same M, got shapes ", x1.shape(), " and ", x2.shape());
  NABLA_CHECK(x1.dtype() == x2.dtype(), "cdist: expected inputs of one dtype, got ",
              dtype_name(x1.dtype()), " and ", dtype_name(x2.dtype()));
  Tensor distances;
  {
    const NoGradGuard no_grad;
    // ||a||^2 + ||b||^2 - 2 a.b, one GEMM for all pairs (PyTorch's mm path); rounding can leave
    // a tiny negative square where the points meet, hence the clamp.
    const Tensor squares =
        add(add(sum(square(x1), {-1}, true), transpose(sum(square(x2), {-1}, true), -1, -2)),
            matmul(x1, transpose(x2, -1, -2)), -2);
    distances = sqrt(clamp(squares, 0.0, std::nullopt));
  }
  if (autograd::needs_grad({x1, x2})) {
    autograd::record(
        "cdist", {x1, x2}, {distances},
        [a = x1.detach(), b = x2.detach(), d = distances.detach()](std::vector<Tensor>& grads) {
          // d d_ij / d a_i = (a_i - b_j) / d_ij, taken as 0 where d_ij = 0.
          const Tensor zero = zeros_like(d);
          const Tensor scaled = where(
              gt(d, zero), div(grads[0], where(gt(d, zero), d, full({}, 1.0, d.dtype()))), zero);
          const Tensor ga = sub(mul(a, sum(scaled, {-1}, true)), matmul(scaled, b));
          const Tensor scaled_t = transpose(scaled, -1, -2);
          const Tensor gb = sub(mul(b, sum(scaled_t, {-1}, true)), matmul(scaled_t, a));
          return std::vector<Tensor>{sum_to(ga, a.shape()), sum_to(gb, b.shape())};
        });
  }
  return distances;
}

Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                           double margin, double p, double eps, bool swap,
                           const std::string& reduction) {
  for (const Tensor* t : {&anchor, &positive, &negative})
    distance_check_floating("triplet_margin_loss", *t);
  NABLA_CHECK(anchor.dim() == positive.dim() && anchor.dim() == negative.dim(),
              "triplet_margin_loss: expected anchor, positive and negative with the same number ",
              "of axes, got shapes ", anchor.shape(), ", ", positive.shape(), " and ",
              negative.shape());
  NABLA_CHECK(reduction == "mean" || reduction == "sum" || reduction == "none",
              "triplet_margin_loss: unknown reduction '", reduction,
              "' (expected 'mean', 'sum' or 'none')");
  const Tensor to_positive = pairwise_distance(anchor, positive, p, eps);
  Tensor to_negative = pairwise_distance(anchor, negative, p, eps);
  if (swap) to_negative = minimum(to_negative, pairwise_distance(positive, negative, p, eps));
  const Tensor losses = clamp(add(sub(to_positive, to_negative), full({}, margin, anchor.dtype())),
                              0.0, std::nullopt);
  return distance_reduce(losses, reduction, "triplet_margin_loss");
}

}  // namespace nabla
