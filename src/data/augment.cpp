// Image augmentation: random crop, flip, translation and erasing, per-channel normalization, and
// their composition. Each step draws every sample's parameters from the generator first, in sample
// order and with a fixed number of draws per sample, then moves the pixels: a seed fixes the
// result whatever runs the pixel work. The pixel loops are row copies and fills on one thread: a
// Fashion-MNIST batch takes tens of microseconds, and the loader runs them on its prefetch thread
// beside the training step, where a second OpenMP team would only compete for the same cores.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "core/dispatch.hpp"
#include "core/tensor_impl.hpp"
#include "nabla/data.hpp"

namespace nabla::data {
namespace {

// A batch seen as n * c planes of h x w pixels ([N, H, W] has one channel).
struct Images {
  int64_t n, c, h, w;
  int64_t plane() const { return h * w; }
};

Images image_layout(const Tensor& batch, const char* step) {
  NABLA_CHECK(batch.defined(), "augmentation ", step, ": expected a defined tensor");
  NABLA_CHECK(batch.dim() == 3 || batch.dim() == 4, "augmentation ", step,
              ": expected images [N, C, H, W] or [N, H, W], got shape ", batch.shape());
  const DType dtype = batch.dtype();
  NABLA_CHECK(dtype == DType::u8 || dtype == DType::f32 || dtype == DType::f64, "augmentation ",
              step, ": expected a u8, f32 or f64 batch, got ", dtype_name(dtype));
  const Shape& s = batch.shape();
  return batch.dim() == 4 ? Images{s[0], s[1], s[2], s[3]} : Images{s[0], 1, s[1], s[2]};
}

// The batch's pixels in row-major order, without an autograd record: augmentation is data work.
Tensor contiguous_source(const Tensor& batch) { return contiguous_data(batch); }

// A fill value as the pixel type; u8 images saturate to [0, 255] and round.
template <class T>
T pixel_value(double v) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
  } else {
    return static_cast<T>(v);
  }
}

// Runs f(T{}) for the batch's pixel type (image_layout has checked it is u8, f32 or f64).
template <class F>
void dispatch_pixels(DType dtype, const char* step, F&& f) {
  dispatch_numeric(dtype, step, std::forward<F>(f));
}

std::string format_double(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// ---- shifts: RandomCrop and RandomTranslation ----

struct Shift {
  int64_t rows, cols;  // out[y][x] = in[y - rows][x - cols]
};

// Copies one plane moved by `shift`; pixels with no source get `fill`.
template <class T>
void shift_plane(const T* in, T* out, int64_t h, int64_t w, Shift shift, T fill) {
  // Output columns [x0, x1) have a source column in range.
  const int64_t x0 = std::clamp<int64_t>(shift.cols, 0, w);
  const int64_t x1 = std::clamp<int64_t>(w + shift.cols, 0, w);
  for (int64_t y = 0; y < h; ++y) {
    T* row = out + y * w;
    const int64_t source_row = y - shift.rows;
    if (source_row < 0 || source_row >= h || x0 >= x1) {
      std::fill(row, row + w, fill);
      continue;
    }
    std::fill(row, row + x0, fill);
    std::memcpy(row + x0, in + source_row * w + (x0 - shift.cols),
                static_cast<size_t>(x1 - x0) * sizeof(T));
    std::fill(row + x1, row + w, fill);
  }
}

Tensor shift_images(const Tensor& batch, const Images& im, const std::vector<Shift>& shifts,
                    double fill, const char* step) {
  const Tensor source = contiguous_source(batch);
  Tensor out = make_tensor(batch.shape(), batch.dtype());
  dispatch_pixels(batch.dtype(), step, [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(source.raw_data());
    T* dst = static_cast<T*>(out.raw_data());
    const T fill_value = pixel_value<T>(fill);
    for (int64_t p = 0; p < im.n * im.c; ++p) {
      shift_plane(in + p * im.plane(), dst + p * im.plane(), im.h, im.w, shifts[p / im.c],
                  fill_value);
    }
  });
  return out;
}

class RandomCrop : public Augmentation {
 public:
  RandomCrop(int64_t padding, double fill) : padding_(padding), fill_(fill) {
    NABLA_CHECK(padding >= 0, "augmentation RandomCrop: padding must be >= 0, got ", padding);
  }

  Tensor apply(const Tensor& batch, Generator& gen) const override {
    const Images im = image_layout(batch, "RandomCrop");
    // The window's top-left corner in the padded image, as torchvision draws it (top, then
    // left); the content then moves by padding - offset.
    std::vector<Shift> shifts(im.n);
    for (auto& shift : shifts) {
      const int64_t top = gen.next_int(0, 2 * padding_);
      const int64_t left = gen.next_int(0, 2 * padding_);
      shift = {padding_ - top, padding_ - left};
    }
    return shift_images(batch, im, shifts, fill_, "RandomCrop");
  }

  std::string to_string() const override {
    std::string s = "RandomCrop(padding=" + std::to_string(padding_);
    if (fill_ != 0) s += ", fill=" + format_double(fill_);
    return s + ")";
  }

 private:
  int64_t padding_;
  double fill_;
};

class RandomTranslation : public Augmentation {
 public:
  RandomTranslation(double height_factor, double width_factor, double fill)
      : height_factor_(height_factor), width_factor_(width_factor), fill_(fill) {
    NABLA_CHECK(height_factor >= 0 && height_factor < 1,
                "augmentation RandomTranslation: height_factor must be in [0, 1), got ",
                height_factor);
    NABLA_CHECK(width_factor >= 0 && width_factor < 1,
                "augmentation RandomTranslation: width_factor must be in [0, 1), got ",
                width_factor);
  }

  Tensor apply(const Tensor& batch, Generator& gen) const override {
    const Images im = image_layout(batch, "RandomTranslation");
    const int64_t max_rows = std::lround(height_factor_ * static_cast<double>(im.h));
    const int64_t max_cols = std::lround(width_factor_ * static_cast<double>(im.w));
    std::vector<Shift> shifts(im.n);
    for (auto& shift : shifts) {
      shift.rows = gen.next_int(-max_rows, max_rows);
      shift.cols = gen.next_int(-max_cols, max_cols);
    }
    return shift_images(batch, im, shifts, fill_, "RandomTranslation");
  }

  std::string to_string() const override {
    std::string s = "RandomTranslation(height_factor=" + format_double(height_factor_) +
                    ", width_factor=" + format_double(width_factor_);
    if (fill_ != 0) s += ", fill=" + format_double(fill_);
    return s + ")";
  }

 private:
  double height_factor_, width_factor_, fill_;
};

// ---- RandomFlip ----

class RandomFlip : public Augmentation {
 public:
  RandomFlip(bool horizontal, bool vertical, double p)
      : horizontal_(horizontal), vertical_(vertical), p_(p) {
    NABLA_CHECK(horizontal || vertical,
                "augmentation RandomFlip: expected horizontal and/or vertical flips, got neither");
    NABLA_CHECK(p >= 0 && p <= 1, "augmentation RandomFlip: p must be in [0, 1], got ", p);
  }

  Tensor apply(const Tensor& batch, Generator& gen) const override {
    const Images im = image_layout(batch, "RandomFlip");
    struct Flips {
      bool horizontal = false, vertical = false;
    };
    std::vector<Flips> flips(im.n);
    for (auto& f : flips) {
      if (horizontal_) f.horizontal = gen.next_double() < p_;
      if (vertical_) f.vertical = gen.next_double() < p_;
    }
    const Tensor source = contiguous_source(batch);
    Tensor out = make_tensor(batch.shape(), batch.dtype());
    dispatch_pixels(batch.dtype(), "RandomFlip", [&](auto tag) {
      using T = decltype(tag);
      const T* in = static_cast<const T*>(source.raw_data());
      T* dst = static_cast<T*>(out.raw_data());
      for (int64_t p = 0; p < im.n * im.c; ++p) {
        const Flips f = flips[p / im.c];
        for (int64_t y = 0; y < im.h; ++y) {
          const T* src_row = in + p * im.plane() + (f.vertical ? im.h - 1 - y : y) * im.w;
          T* row = dst + p * im.plane() + y * im.w;
          if (f.horizontal) {
            std::reverse_copy(src_row, src_row + im.w, row);
          } else {
            std::memcpy(row, src_row, static_cast<size_t>(im.w) * sizeof(T));
          }
        }
      }
    });
    return out;
  }

  std::string to_string() const override {
    const char* mode = horizontal_ && vertical_ ? "horizontal_and_vertical"
                       : horizontal_            ? "horizontal"
                                                : "vertical";
    return std::string("RandomFlip(") + mode + ", p=" + format_double(p_) + ")";
  }

 private:
  bool horizontal_, vertical_;
  double p_;
};

// ---- RandomErasing ----

struct Rectangle {
  int64_t top = 0, left = 0, height = 0, width = 0;  // height 0: nothing erased
};

class RandomErasing : public Augmentation {
 public:
  RandomErasing(double p, double scale_min, double scale_max, double ratio_min, double ratio_max,
                double value)
      : p_(p),
        scale_min_(scale_min),
        scale_max_(scale_max),
        ratio_min_(ratio_min),
        ratio_max_(ratio_max),
        value_(value) {
    NABLA_CHECK(p >= 0 && p <= 1, "augmentation RandomErasing: p must be in [0, 1], got ", p);
    NABLA_CHECK(scale_min >= 0 && scale_min <= scale_max && scale_max <= 1,
                "augmentation RandomErasing: expected 0 <= scale_min <= scale_max <= 1, got [",
                scale_min, ", ", scale_max, "]");
    NABLA_CHECK(ratio_min > 0 && ratio_min <= ratio_max,
                "augmentation RandomErasing: expected 0 < ratio_min <= ratio_max, got [", ratio_min,
                ", ", ratio_max, "]");
  }

  Tensor apply(const Tensor& batch, Generator& gen) const override {
    const Images im = image_layout(batch, "RandomErasing");
    // torchvision's rejection loop takes a varying number of draws; running it on a generator
    // seeded by one draw per sample keeps the draws from `gen` fixed.
    std::vector<Rectangle> rectangles(im.n);
    for (auto& r : rectangles) {
      Generator sample_gen(gen.next_u64());
      r = draw_rectangle(sample_gen, im.h, im.w);
    }
    const Tensor source = contiguous_source(batch);
    Tensor out = make_tensor(batch.shape(), batch.dtype());
    dispatch_pixels(batch.dtype(), "RandomErasing", [&](auto tag) {
      using T = decltype(tag);
      const T* in = static_cast<const T*>(source.raw_data());
      T* dst = static_cast<T*>(out.raw_data());
      std::memcpy(dst, in, static_cast<size_t>(out.numel()) * sizeof(T));
      const T value = pixel_value<T>(value_);
      for (int64_t p = 0; p < im.n * im.c; ++p) {
        const Rectangle& r = rectangles[p / im.c];
        for (int64_t y = r.top; y < r.top + r.height; ++y) {
          T* row = dst + p * im.plane() + y * im.w + r.left;
          std::fill(row, row + r.width, value);
        }
      }
    });
    return out;
  }

  std::string to_string() const override {
    return "RandomErasing(p=" + format_double(p_) + ", scale=[" + format_double(scale_min_) + ", " +
           format_double(scale_max_) + "], ratio=[" + format_double(ratio_min_) + ", " +
           format_double(ratio_max_) + "], value=" + format_double(value_) + ")";
  }

 private:
  // torchvision's RandomErasing.get_params: up to 10 tries at a rectangle strictly smaller than
  // the image; none erased when all fail. Python's round() rounds halves to even, as
  // std::nearbyint does.
  Rectangle draw_rectangle(Generator& gen, int64_t h, int64_t w) const {
    if (!(gen.next_double() < p_)) return {};
    const double area = static_cast<double>(h * w);
    const double log_min = std::log(ratio_min_), log_max = std::log(ratio_max_);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double erase_area = area * (scale_min_ + (scale_max_ - scale_min_) * gen.next_double());
      const double ratio = std::exp(log_min + (log_max - log_min) * gen.next_double());
      const auto eh = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area * ratio)));
      const auto ew = static_cast<int64_t>(std::nearbyint(std::sqrt(erase_area / ratio)));
      if (!(eh < h && ew < w)) continue;
      Rectangle r;
      r.top = gen.next_int(0, h - eh);
      r.left = gen.next_int(0, w - ew);
      r.height = eh;
      r.width = ew;
      return r;
    }
    return {};
  }

  double p_, scale_min_, scale_max_, ratio_min_, ratio_max_, value_;
};

// ---- Normalize ----

std::string format_list(const std::vector<double>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + format_double(values[i]);
  return s + "]";
}

class Normalize : public Augmentation {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std)
      : mean_(std::move(mean)), std_(std::move(std)) {
    NABLA_CHECK(!mean_.empty() && !std_.empty(),
                "augmentation Normalize: expected at least one mean and one std, got ",
                mean_.size(), " and ", std_.size());
    NABLA_CHECK(mean_.size() == 1 || std_.size() == 1 || mean_.size() == std_.size(),
                "augmentation Normalize: expected as many means as stds (or one of either), got ",
                mean_.size(), " and ", std_.size());
    for (size_t c = 0; c < std_.size(); ++c) {
      NABLA_CHECK(std_[c] > 0, "augmentation Normalize: std[", c, "] must be positive, got ",
                  std_[c]);
    }
  }

  Tensor apply(const Tensor& batch, Generator&) const override {
    const Images im = image_layout(batch, "Normalize");
    const auto fits = [&](const std::vector<double>& v) {
      return v.size() == 1 || static_cast<int64_t>(v.size()) == im.c;
    };
    NABLA_CHECK(fits(mean_) && fits(std_), "augmentation Normalize: expected 1 or ", im.c,
                " means and stds for ", im.c, " channels (shape ", batch.shape(), "), got ",
                mean_.size(), " and ", std_.size());
    const Tensor source = contiguous_source(batch);
    Tensor out = make_tensor(batch.shape(), DType::f32);
    float* dst = out.data<float>();
    dispatch_pixels(batch.dtype(), "Normalize", [&](auto tag) {
      using T = decltype(tag);
      const T* in = static_cast<const T*>(source.raw_data());
      for (int64_t p = 0; p < im.n * im.c; ++p) {
        const int64_t c = p % im.c;
        // In double, then rounded once: the same numbers as data::normalize gives.
        const double mean = mean_[mean_.size() == 1 ? 0 : c];
        const double inv = 1.0 / std_[std_.size() == 1 ? 0 : c];
        const T* src = in + p * im.plane();
        float* row = dst + p * im.plane();
        for (int64_t i = 0; i < im.plane(); ++i) {
          row[i] = static_cast<float>((static_cast<double>(src[i]) - mean) * inv);
        }
      }
    });
    return out;
  }

  std::string to_string() const override {
    return "Normalize(mean=" + format_list(mean_) + ", std=" + format_list(std_) + ")";
  }

 private:
  std::vector<double> mean_, std_;
};

// ---- GaussianNoise ----

class GaussianNoise : public Augmentation {
 public:
  GaussianNoise(double stddev, double low, double high) : stddev_(stddev), low_(low), high_(high) {
    NABLA_CHECK(std::isfinite(stddev) && stddev >= 0,
                "augmentation GaussianNoise: stddev must be finite and >= 0, got ", stddev);
    NABLA_CHECK(!std::isnan(low) && !std::isnan(high) && low <= high,
                "augmentation GaussianNoise: expected clip [low, high] with low <= high, got [",
                low, ", ", high, "]");
  }

  // One draw per pixel, in the batch's order: samples draw in sample order, as the other steps.
  Tensor apply(const Tensor& batch, Generator& gen) const override {
    image_layout(batch, "GaussianNoise");
    const Tensor source = contiguous_source(batch);
    Tensor out = make_tensor(batch.shape(), batch.dtype());
    dispatch_pixels(batch.dtype(), "GaussianNoise", [&](auto tag) {
      using T = decltype(tag);
      const T* in = static_cast<const T*>(source.raw_data());
      T* dst = static_cast<T*>(out.raw_data());
      for (int64_t i = 0; i < source.numel(); ++i) {
        const double noisy = static_cast<double>(in[i]) + stddev_ * gen.next_normal();
        dst[i] = pixel_value<T>(std::clamp(noisy, low_, high_));
      }
    });
    return out;
  }

  std::string to_string() const override {
    std::string s = "GaussianNoise(stddev=" + format_double(stddev_);
    if (std::isfinite(low_) || std::isfinite(high_)) {
      s += ", clip=[" + format_double(low_) + ", " + format_double(high_) + "]";
    }
    return s + ")";
  }

 private:
  double stddev_, low_, high_;
};

// ---- Compose ----

class Compose : public Augmentation {
 public:
  explicit Compose(std::vector<AugmentationPtr> steps) : steps_(std::move(steps)) {
    for (size_t i = 0; i < steps_.size(); ++i) {
      NABLA_CHECK(steps_[i] != nullptr, "augmentation Compose: step ", i, " is null");
    }
  }

  Tensor apply(const Tensor& batch, Generator& gen) const override {
    if (steps_.empty()) {
      image_layout(batch, "Compose");
      return contiguous_copy(batch, batch.dtype());
    }
    Tensor out = steps_.front()->apply(batch, gen);
    for (size_t i = 1; i < steps_.size(); ++i) out = steps_[i]->apply(out, gen);
    return out;
  }

  std::string to_string() const override {
    std::string s = "Compose(";
    for (size_t i = 0; i < steps_.size(); ++i) s += (i ? ", " : "") + steps_[i]->to_string();
    return s + ")";
  }

 private:
  std::vector<AugmentationPtr> steps_;
};

}  // namespace

AugmentationPtr random_crop(int64_t padding, double fill) {
  return std::make_shared<RandomCrop>(padding, fill);
}

AugmentationPtr random_flip(bool horizontal, bool vertical, double p) {
  return std::make_shared<RandomFlip>(horizontal, vertical, p);
}

AugmentationPtr random_translation(double height_factor, double width_factor, double fill) {
  return std::make_shared<RandomTranslation>(height_factor, width_factor, fill);
}

AugmentationPtr random_erasing(double p, double scale_min, double scale_max, double ratio_min,
                               double ratio_max, double value) {
  return std::make_shared<RandomErasing>(p, scale_min, scale_max, ratio_min, ratio_max, value);
}

AugmentationPtr normalize(std::vector<double> mean, std::vector<double> std) {
  return std::make_shared<Normalize>(std::move(mean), std::move(std));
}

AugmentationPtr gaussian_noise(double stddev, double low, double high) {
  return std::make_shared<GaussianNoise>(stddev, low, high);
}

AugmentationPtr compose(std::vector<AugmentationPtr> steps) {
  return std::make_shared<Compose>(std::move(steps));
}

}  // namespace nabla::data
