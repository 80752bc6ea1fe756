#include "support/gradcheck.hpp"

#include <cmath>
#include <sstream>

namespace nabla::testing {

namespace {
// Position in storage (elements) of the i-th element in row-major order of `t`.
int64_t storage_index(const Tensor& t, int64_t i) {
  int64_t pos = t.offset();
  for (int64_t d = t.dim() - 1; d >= 0; --d) {
    pos += (i % t.shape()[d]) * t.strides()[d];
    i /= t.shape()[d];
  }
  return pos;
}

double* base_pointer(const Tensor& t) { return static_cast<double*>(t.raw_data()) - t.offset(); }
}  // namespace

Tensor leaf(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  Tensor t = randn(shape, DType::f64, &gen);
  t.requires_grad_();
  return t;
}

Tensor noncontiguous_leaf(const Shape& shape, uint64_t seed) {
  Shape swapped = shape;
  if (swapped.size() >= 2) std::swap(swapped[swapped.size() - 1], swapped[swapped.size() - 2]);
  Generator gen(seed);
  Tensor t = randn(swapped, DType::f64, &gen);
  if (shape.size() >= 2) t = t.transpose(-1, -2);
  Tensor l = t.detach();
  l.requires_grad_();
  return l;
}

::testing::AssertionResult gradcheck(const Function& f, const std::vector<Tensor>& inputs,
                                     const GradcheckOptions& options) {
  for (const Tensor& x : inputs) {
    if (x.dtype() != DType::f64 || !x.requires_grad() || !x.is_leaf())
      return ::testing::AssertionFailure() << "gradcheck: inputs must be f64 leaves with "
                                              "requires_grad";
  }
  // A fixed random projection so that every output element takes part.
  Tensor out = f(inputs);
  Generator gen(12345);
  Tensor weights = randn(out.shape(), DType::f64, &gen);
  auto project = [&](const Tensor& y) {
    NoGradGuard no_grad;
    Tensor yc = y.to(DType::f64).contiguous(), w = weights;
    const double* py = yc.data<double>();
    const double* pw = w.data<double>();
    double s = 0;
    for (int64_t i = 0; i < yc.numel(); ++i) s += py[i] * pw[i];
    return s;
  };
  for (const Tensor& x : inputs) {
    Tensor mutable_x = x;
    mutable_x.zero_grad();
  }
  (out.to(DType::f64) * weights).sum().backward();

  std::ostringstream failures;
  int bad = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    Tensor analytic = x.grad().to_dense();  // a row-sparse gradient is compared densely
    double* base = base_pointer(x);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t pos = storage_index(x, i);
      const double original = base[pos];
      double plus, minus;
      {
        NoGradGuard no_grad;
        base[pos] = original + options.eps;
        plus = project(f(inputs));
        base[pos] = original - options.eps;
        minus = project(f(inputs));
        base[pos] = original;
      }
      const double numeric = (plus - minus) / (2 * options.eps);
      double a = 0;
      if (analytic.defined()) {
        Tensor ac = analytic.contiguous();
        a = ac.data<double>()[i];
      }
      if (std::abs(a - numeric) > options.atol + options.rtol * std::abs(numeric)) {
        if (++bad <= 5)
          failures << "\n  input " << k << " element " << i << ": analytic " << a << ", numeric "
                   << numeric;
      }
    }
  }
  if (bad > 0)
    return ::testing::AssertionFailure() << bad << " gradient element(s) differ:" << failures.str();
  return ::testing::AssertionSuccess();
}

}  // namespace nabla::testing
