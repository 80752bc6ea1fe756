// Pooling, resampling, spatial dropout and reshaping layers: thin wrappers over the ops that check
// the input's rank, so that errors name the layer.
#include <algorithm>
#include <sstream>

#include "nabla/nn.hpp"
#include "nn/layer_util.hpp"

namespace nabla::nn {

Pool2d::Pool2d(PoolKind kind, std::vector<int64_t> kernel_size, Pool2dOptions options,
               std::string type_name)
    : kind_(kind),
      kernel_size_(std::move(kernel_size)),
      options_(std::move(options)),
      type_name_(type_name.empty() ? (kind == PoolKind::max ? "MaxPool2d" : "AvgPool2d")
                                   : std::move(type_name)) {
  NABLA_CHECK(kernel_size_.size() == 1 || kernel_size_.size() == 2, type_name_,
              ": kernel_size needs 1 or 2 values, got ", kernel_size_.size());
  kernel_size_ = internal::expanded(kernel_size_, 2);
  for (int64_t k : kernel_size_) {
    NABLA_CHECK(k >= 1, type_name_, ": kernel_size must be >= 1, got ",
                internal::tuple(kernel_size_));
  }
  if (options_.stride.empty()) options_.stride = kernel_size_;
  NABLA_CHECK(options_.stride.size() == 1 || options_.stride.size() == 2, type_name_,
              ": stride needs 1 or 2 values, got ", options_.stride.size());
  options_.stride = internal::expanded(options_.stride, 2);
  options_.padding = internal::expanded(options_.padding, 2);
  const std::string& mode = options_.padding_mode;
  NABLA_CHECK(mode.empty() || mode == "valid" || mode == "same", type_name_,
              ": padding must be \"same\", \"valid\" or numbers, got \"", mode, "\"");
  if (mode == "same") {
    // With stride == kernel, Keras's "same" output size ceil(in / stride) is exactly ceil_mode
    // (the last window is partial and pads nothing into the average). Other strides would need
    // asymmetric padding, which the pooling ops do not take.
    NABLA_CHECK(options_.stride == kernel_size_, type_name_,
                ": padding \"same\" needs strides equal to pool_size (got pool_size ",
                internal::tuple(kernel_size_), ", strides ", internal::tuple(options_.stride), ")");
    options_.ceil_mode = true;
    options_.count_include_pad = false;
    options_.padding = {0, 0};
  }
}

Tensor Pool2d::forward(const Tensor& x) {
  internal::check_images(type_name_, x);
  if (kind_ == PoolKind::max) {
    return nabla::max_pool2d(x, kernel_size_, options_.stride, options_.padding,
                             options_.ceil_mode);
  }
  return nabla::avg_pool2d(x, kernel_size_, options_.stride, options_.padding, options_.ceil_mode,
                           options_.count_include_pad);
}

std::string Pool2d::extra_repr() const {
  std::ostringstream os;
  os << "kernel_size=" << internal::tuple(kernel_size_)
     << ", stride=" << internal::tuple(options_.stride);
  if (options_.padding_mode == "same") {
    os << ", padding=same";
  } else {
    os << ", padding=" << internal::tuple(options_.padding);
  }
  if (options_.ceil_mode && options_.padding_mode != "same") os << ", ceil_mode=True";
  return os.str();
}

std::shared_ptr<Pool2d> MaxPool2d(std::vector<int64_t> kernel_size, Pool2dOptions options) {
  return std::make_shared<Pool2d>(PoolKind::max, std::move(kernel_size), std::move(options));
}
std::shared_ptr<Pool2d> AvgPool2d(std::vector<int64_t> kernel_size, Pool2dOptions options) {
  return std::make_shared<Pool2d>(PoolKind::average, std::move(kernel_size), std::move(options));
}

Tensor GlobalAveragePooling2D::forward(const Tensor& x) {
  internal::check_images(type_name(), x);
  return nabla::mean(x, {2, 3});
}

AdaptiveAvgPool2d::AdaptiveAvgPool2d(std::vector<int64_t> output_size)
    : output_size_(internal::expanded(std::move(output_size), 2)) {
  NABLA_CHECK(output_size_.size() == 2 && output_size_[0] >= 1 && output_size_[1] >= 1,
              "AdaptiveAvgPool2d: output_size needs 1 or 2 sizes >= 1, got ",
              internal::tuple(output_size_));
}

Tensor AdaptiveAvgPool2d::forward(const Tensor& x) {
  internal::check_images(type_name(), x);
  return nabla::adaptive_avg_pool2d(x, output_size_);
}

std::string AdaptiveAvgPool2d::extra_repr() const {
  return "output_size=" + internal::tuple(output_size_);
}

Upsample::Upsample(double scale_factor, std::string mode, bool align_corners, std::string type_name)
    : scale_factor_(scale_factor),
      mode_(std::move(mode)),
      align_corners_(align_corners),
      type_name_(std::move(type_name)) {
  NABLA_CHECK(scale_factor > 0, type_name_, ": scale factor must be > 0, got ", scale_factor);
  NABLA_CHECK(mode_ == "nearest" || mode_ == "bilinear", type_name_,
              ": mode must be \"nearest\" or \"bilinear\", got \"", mode_, "\"");
}

Tensor Upsample::forward(const Tensor& x) {
  internal::check_images(type_name_, x);
  return nabla::upsample(x, scale_factor_, mode_, align_corners_);
}

std::string Upsample::extra_repr() const {
  return detail::str("scale_factor=", scale_factor_, ", mode=", mode_,
                     align_corners_ ? ", align_corners=True" : "");
}

Dropout2d::Dropout2d(double p, std::string type_name) : p_(p), type_name_(std::move(type_name)) {
  NABLA_CHECK(p >= 0 && p <= 1, type_name_, ": p must be in [0, 1], got ", p);
}

Tensor Dropout2d::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 3, type_name_, ": expected input [N, C, H, W] or [N, C, L], got shape ",
              x.shape());
  return nabla::dropout2d(x, p_, training_);
}

std::string Dropout2d::extra_repr() const { return detail::str("p=", p_); }

Reshape::Reshape(Shape shape) : shape_(std::move(shape)) {
  int64_t inferred = 0;
  for (int64_t size : shape_) {
    NABLA_CHECK(size >= 1 || size == -1, "Reshape: sizes must be >= 1 or -1, got ", shape_);
    inferred += size == -1;
  }
  NABLA_CHECK(!shape_.empty() && inferred <= 1,
              "Reshape: expected a target shape with at most one -1, got ", shape_);
}

Tensor Reshape::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() >= 1, "Reshape: expected an input with a batch axis, got shape ", x.shape());
  Shape target{x.size(0)};
  target.insert(target.end(), shape_.begin(), shape_.end());
  return nabla::reshape(x, target);
}

std::string Reshape::extra_repr() const { return detail::str("target_shape=", shape_); }

Permute::Permute(std::vector<int64_t> dims) : dims_(std::move(dims)) {
  std::vector<int64_t> sorted = dims_;
  std::sort(sorted.begin(), sorted.end());
  bool permutation = !sorted.empty();
  for (size_t i = 0; i < sorted.size(); ++i) {
    permutation = permutation && sorted[i] == static_cast<int64_t>(i) + 1;
  }
  NABLA_CHECK(permutation, "Permute: dims must be a permutation of 1..", dims_.size(),
              " (the axes after the batch axis, numbered from 1), got ", Shape(dims_));
}

Tensor Permute::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() == static_cast<int64_t>(dims_.size()) + 1, "Permute", Shape(dims_),
              ": expected inputs of ", dims_.size() + 1, " axes (the batch axis and ", dims_.size(),
              " more), got shape ", x.shape());
  Shape axes = {0};
  axes.insert(axes.end(), dims_.begin(), dims_.end());
  return nabla::permute(x, axes).contiguous();
}

std::string Permute::extra_repr() const { return detail::str("dims=", Shape(dims_)); }

}  // namespace nabla::nn
