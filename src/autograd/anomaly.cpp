// Anomaly detection: the global flag, the layer stack and the NaN/Inf checks that record() and the
// backward engine run when the flag is on.
#include "autograd/anomaly.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstring>

#include "core/tensor_impl.hpp"

namespace nabla {

namespace {
// Global rather than thread-local (unlike grad mode): ops run on OpenMP threads and a training
// loop may run on another thread than the one that turned the mode on, and a debugging switch
// that silently covers one thread only would miss exactly the anomaly it was turned on for.
std::atomic<bool> anomaly_enabled{false};
}  // namespace

void set_detect_anomaly(bool on) { anomaly_enabled.store(on, std::memory_order_relaxed); }
bool is_anomaly_enabled() { return anomaly_enabled.load(std::memory_order_relaxed); }

DetectAnomalyGuard::DetectAnomalyGuard(bool on) : previous_(is_anomaly_enabled()) {
  set_detect_anomaly(on);
}
DetectAnomalyGuard::~DetectAnomalyGuard() { set_detect_anomaly(previous_); }

}  // namespace nabla

namespace nabla::autograd {

namespace {

thread_local LayerScope* innermost_layer = nullptr;

// The first NaN or Inf of x[0..n) by its bits (an all-ones exponent), or -1. Blocks of 1024 are
// first tested with an OR of integer comparisons, which the compiler vectorizes; only a block
// holding a bad value is searched element by element.
template <class T, class Bits>
int64_t first_non_finite(const T* x, int64_t n) {
  static_assert(sizeof(T) == sizeof(Bits));
  constexpr Bits kExponent = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  const auto bad = [&](int64_t i) {
    Bits b;
    std::memcpy(&b, x + i, sizeof(b));
    return (b & kExponent) == kExponent;
  };
  constexpr int64_t kBlock = 1024;
  for (int64_t start = 0; start < n; start += kBlock) {
    const int64_t end = std::min(n, start + kBlock);
    Bits any = 0;
    for (int64_t i = start; i < end; ++i) any |= static_cast<Bits>(bad(i));
    if (any == 0) continue;
    for (int64_t i = start; i < end; ++i)
      if (bad(i)) return i;
  }
  return -1;
}

struct NonFinite {
  int64_t index = -1;  // row-major position in the tensor; -1: every value is finite
  double value = 0;
};

NonFinite find_non_finite(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype()) || t.numel() == 0) return {};
  const Tensor values = contiguous_data(t);
  NonFinite found;
  if (values.dtype() == DType::f32) {
    const float* x = static_cast<const float*>(values.raw_data());
    found.index = first_non_finite<float, uint32_t>(x, values.numel());
    if (found.index >= 0) found.value = x[found.index];
  } else {
    const double* x = static_cast<const double*>(values.raw_data());
    found.index = first_non_finite<double, uint64_t>(x, values.numel());
    if (found.index >= 0) found.value = x[found.index];
  }
  return found;
}

std::string kind(double value) {
  if (std::isnan(value)) return "NaN";
  return value > 0 ? "Inf" : "-Inf";
}

Shape unravel(int64_t index, const Shape& shape) {
  Shape at(shape.size(), 0);
  for (size_t d = shape.size(); d-- > 0;) {
    at[d] = index % shape[d];
    index /= shape[d];
  }
  return at;
}

std::string ordinal(size_t i) {
  const size_t n = i + 1;
  const char* suffix = (n % 100 >= 11 && n % 100 <= 13) ? "th"
                       : n % 10 == 1                    ? "st"
                       : n % 10 == 2                    ? "nd"
                       : n % 10 == 3                    ? "rd"
                                                        : "th";
  return std::to_string(n) + suffix;
}

// "[32, 10]", "[32, 10] and [10]", "[2], [3] and [4]".
std::string shape_list(const std::vector<Shape>& shapes) {
  std::string out;
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (i > 0) out += i + 1 == shapes.size() ? " and " : ", ";
    out += detail::str(shapes[i]);
  }
  return out;
}

// The op a node name stands for, as ops.hpp calls it: "LogBackward" -> "log", "MseLossBackward"
// -> "mse_loss", "Conv2dReluBackward" -> "conv2d_relu".
std::string op_name(const char* node) {
  std::string name = node;
  const std::string suffix = "Backward";
  if (name.size() > suffix.size() && name.ends_with(suffix))
    name.resize(name.size() - suffix.size());
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    const bool word =
        i > 0 && std::isupper(c) != 0 && std::isupper(static_cast<unsigned char>(name[i - 1])) == 0;
    if (word) out += '_';
    out += static_cast<char>(std::tolower(c));
  }
  return out;
}

// "an input of shape [32, 10]", "inputs of shapes [32, 10] and [10]".
std::string inputs_text(const std::vector<Shape>& shapes) {
  return (shapes.size() == 1 ? "an input of shape " : "inputs of shapes ") + shape_list(shapes);
}

std::string where(const std::string& layer) {
  return layer.empty() ? ", outside any layer," : " in layer \"" + layer + "\"";
}

}  // namespace

LayerScope::LayerScope(const std::string& name) : name_(&name), outer_(innermost_layer) {
  innermost_layer = this;
}

LayerScope::LayerScope(const void* owner, size_t index, Describe describe)
    : owner_(owner), index_(index), describe_(describe), outer_(innermost_layer) {
  innermost_layer = this;
}

LayerScope::~LayerScope() { innermost_layer = outer_; }

std::string LayerScope::name() const {
  return name_ != nullptr ? *name_ : describe_(owner_, index_);
}

std::string current_layer_path() {
  std::vector<std::string> names;
  for (const LayerScope* s = innermost_layer; s != nullptr; s = s->outer_)
    names.push_back(s->name());
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) path += (path.empty() ? "" : "/") + *it;
  return path;
}

ForwardContext forward_context(const std::vector<Tensor>& inputs) {
  ForwardContext context{.layer = current_layer_path(), .input_shapes = {}};
  for (const Tensor& in : inputs)
    context.input_shapes.push_back(in.defined() ? in.shape() : Shape{});
  return context;
}

void check_forward(const char* op, const std::vector<Tensor>& inputs,
                   const std::vector<Tensor>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const NonFinite bad = find_non_finite(outputs[i]);
    if (bad.index < 0) continue;
    const ForwardContext context = forward_context(inputs);
    const std::string which = outputs.size() > 1 ? " in its " + ordinal(i) + " output" : "";
    detail::throw_error(detail::str(
        "anomaly: the forward of ", op_name(op), where(context.layer), " produced ",
        kind(bad.value), which, " (first at index ", unravel(bad.index, outputs[i].shape()),
        ") from ", inputs_text(context.input_shapes), "; output shape ", outputs[i].shape()));
  }
}

void check_backward(const char* op, const ForwardContext* context,
                    const std::vector<Tensor>& input_grads) {
  for (size_t i = 0; i < input_grads.size(); ++i) {
    const NonFinite bad = find_non_finite(input_grads[i]);
    if (bad.index < 0) continue;
    const std::string node = op_name(op) == op ? "" : detail::str(" (", op, ")");
    const std::string layer = context == nullptr ? "" : where(context->layer);
    const std::string forward =
        context == nullptr ? "" : "; its forward took " + inputs_text(context->input_shapes);
    detail::throw_error(detail::str(
        "anomaly: the backward of ", op_name(op), node, layer, " produced ", kind(bad.value),
        " in the gradient for its ", ordinal(i), " input (shape ", input_grads[i].shape(),
        ", first at index ", unravel(bad.index, input_grads[i].shape()), ")", forward));
  }
}

}  // namespace nabla::autograd
