#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"

using nabla::testing::error_message;
using namespace nabla;

namespace {

// n images [C, H, W] as f32 with pixel values 1, 2, ..., 250, 1, 2, ...: distinct within an
// image of up to 250 pixels, never 0, and exact in u8.
Tensor numbered_images(int64_t n, int64_t c, int64_t h, int64_t w) {
  std::vector<float> values(n * c * h * w);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i % 250 + 1);
  return from_vector(values, {n, c, h, w});
}

// Image `image` of an [N, C, H, W] batch moved by (rows, cols): out[y][x] = in[y - rows][x - cols],
// `fill` where there is no source pixel. Naive on purpose: the reference for the shift kernels.
std::vector<float> shifted(const Tensor& batch, int64_t image, int64_t rows, int64_t cols,
                           float fill) {
  const int64_t c = batch.size(1), h = batch.size(2), w = batch.size(3);
  std::vector<float> out;
  for (int64_t ch = 0; ch < c; ++ch) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sy = y - rows, sx = x - cols;
        const bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
        out.push_back(inside ? batch.at<float>({image, ch, sy, sx}) : fill);
      }
    }
  }
  return out;
}

std::vector<float> image_values(const Tensor& batch, int64_t image) {
  return batch.select(0, image).to_vector<float>();
}

// The shifts in [-max_rows, max_rows] x [-max_cols, max_cols] that turn image `image` of `input`
// into that of `output`.
std::vector<std::pair<int64_t, int64_t>> matching_shifts(const Tensor& input, const Tensor& output,
                                                         int64_t image, int64_t max_rows,
                                                         int64_t max_cols, float fill) {
  std::vector<std::pair<int64_t, int64_t>> matches;
  for (int64_t r = -max_rows; r <= max_rows; ++r) {
    for (int64_t c = -max_cols; c <= max_cols; ++c) {
      if (shifted(input, image, r, c, fill) == image_values(output, image))
        matches.push_back({r, c});
    }
  }
  return matches;
}

// The one such shift; fails the test when none or several match.
std::pair<int64_t, int64_t> find_shift(const Tensor& input, const Tensor& output, int64_t image,
                                       int64_t max_rows, int64_t max_cols, float fill) {
  const auto matches = matching_shifts(input, output, image, max_rows, max_cols, fill);
  EXPECT_EQ(matches.size(), 1u) << "image " << image;
  return matches.empty() ? std::pair<int64_t, int64_t>{99, 99} : matches.front();
}

}  // namespace

TEST(Augment, RandomCropMovesContentByTheDrawnOffsets) {
  const Tensor input = numbered_images(64, 2, 3, 4);
  const Tensor before = input.clone();
  Generator gen(7);
  const Tensor output = data::random_crop(1, -1)->apply(input, gen);
  EXPECT_EQ(output.shape(), input.shape());
  EXPECT_EQ(output.dtype(), DType::f32);
  EXPECT_TRUE(output.is_contiguous());
  EXPECT_FALSE(output.shares_storage(input));
  std::set<std::pair<int64_t, int64_t>> seen;
  for (int64_t i = 0; i < 64; ++i) seen.insert(find_shift(input, output, i, 1, 1, -1));
  EXPECT_EQ(seen.size(), 9u);  // every offset in [0, 2]^2 occurs over 64 samples
  EXPECT_EQ(input.to_vector<float>(), before.to_vector<float>());

  // Padding 0 crops the whole image: unchanged.
  Generator gen0(7);
  EXPECT_EQ(data::random_crop(0)->apply(input, gen0).to_vector<float>(), input.to_vector<float>());
}

TEST(Augment, RandomCropWithLargePaddingCanLeaveOnlyFill) {
  // Padding 5 on a 2x2 image: offsets of up to 5 pixels can move the whole image out.
  const Tensor input = numbered_images(200, 1, 2, 2);
  Generator gen(3);
  const Tensor output = data::random_crop(5)->apply(input, gen);
  int64_t all_fill = 0, partly_visible = 0;
  for (int64_t i = 0; i < 200; ++i) {
    const auto matches = matching_shifts(input, output, i, 5, 5, 0);
    if (image_values(output, i) == std::vector<float>(4, 0)) {
      ++all_fill;
    } else {
      EXPECT_EQ(matches.size(), 1u) << "image " << i;
      ++partly_visible;
    }
  }
  EXPECT_GT(all_fill, 0);
  EXPECT_GT(partly_visible, 0);
}

TEST(Augment, RandomFlipMirrors) {
  const Tensor input = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {1, 1, 2, 3});
  Generator gen(1);
  EXPECT_EQ(data::random_flip(true, false, 1)->apply(input, gen).to_vector<float>(),
            (std::vector<float>{3, 2, 1, 6, 5, 4}));
  EXPECT_EQ(data::random_flip(false, true, 1)->apply(input, gen).to_vector<float>(),
            (std::vector<float>{4, 5, 6, 1, 2, 3}));
  EXPECT_EQ(data::random_flip(true, true, 1)->apply(input, gen).to_vector<float>(),
            (std::vector<float>{6, 5, 4, 3, 2, 1}));
  EXPECT_EQ(data::random_flip(true, true, 0)->apply(input, gen).to_vector<float>(),
            input.to_vector<float>());
}

TEST(Augment, RandomFlipDrawsEachSampleAndDirection) {
  // [N, H, W] layout; with p = 0.5 each of the four outcomes occurs, and each sample is one.
  const Tensor input = numbered_images(64, 1, 2, 3).reshape({64, 2, 3});
  Generator gen(11);
  const Tensor output = data::random_flip(true, true)->apply(input, gen);
  EXPECT_EQ(output.shape(), (Shape{64, 2, 3}));
  std::set<int> outcomes;
  for (int64_t i = 0; i < 64; ++i) {
    const std::vector<float> x = image_values(input, i), y = image_values(output, i);
    const std::vector<std::vector<float>> candidates = {x,
                                                        {x[2], x[1], x[0], x[5], x[4], x[3]},
                                                        {x[3], x[4], x[5], x[0], x[1], x[2]},
                                                        {x[5], x[4], x[3], x[2], x[1], x[0]}};
    int outcome = -1;
    for (int k = 0; k < 4; ++k) {
      if (candidates[k] == y) outcome = k;
    }
    ASSERT_NE(outcome, -1) << "sample " << i;
    outcomes.insert(outcome);
  }
  EXPECT_EQ(outcomes.size(), 4u);
}

TEST(Augment, RandomTranslationShiftsWithinTheFactors) {
  // height 0.5 * 4 = 2 rows, width 0.25 * 6 = 1.5 -> 2 columns.
  const Tensor input = numbered_images(100, 1, 4, 6);
  Generator gen(5);
  const Tensor output = data::random_translation(0.5, 0.25, 0.5)->apply(input, gen);
  std::set<int64_t> rows, cols;
  for (int64_t i = 0; i < 100; ++i) {
    const auto [r, c] = find_shift(input, output, i, 3, 3, 0.5f);
    rows.insert(r);
    cols.insert(c);
  }
  EXPECT_EQ(rows, (std::set<int64_t>{-2, -1, 0, 1, 2}));
  EXPECT_EQ(cols, (std::set<int64_t>{-2, -1, 0, 1, 2}));

  Generator gen0(5);
  EXPECT_EQ(data::random_translation(0, 0)->apply(input, gen0).to_vector<float>(),
            input.to_vector<float>());
}

TEST(Augment, RandomErasingWritesOneRectangle) {
  const int64_t n = 50, c = 3, h = 8, w = 10;
  const Tensor input = ones({n, c, h, w});
  Generator gen(2);
  const Tensor output = data::random_erasing(1, 0.1, 0.3, 0.5, 2, 7)->apply(input, gen);
  std::set<std::pair<int64_t, int64_t>> corners;
  for (int64_t i = 0; i < n; ++i) {
    // The erased pixels of channel 0 span a bounding box that they fill exactly.
    int64_t top = h, bottom = -1, left = w, right = -1, erased = 0;
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        const float v = output.at<float>({i, 0, y, x});
        ASSERT_TRUE(v == 1 || v == 7);
        if (v == 7) {
          top = std::min(top, y), bottom = std::max(bottom, y);
          left = std::min(left, x), right = std::max(right, x);
          ++erased;
        }
      }
    }
    ASSERT_GT(erased, 0) << "sample " << i;  // these areas always fit within 10 tries
    const int64_t eh = bottom - top + 1, ew = right - left + 1;
    EXPECT_EQ(erased, eh * ew);
    EXPECT_LT(eh, h);
    EXPECT_LT(ew, w);
    // Rounding h and w moves the area a little off scale * H * W.
    EXPECT_GE(eh * ew, 0.1 * h * w * 0.5);
    EXPECT_LE(eh * ew, 0.3 * h * w * 1.6);
    corners.insert({top, left});
    // Every channel is erased in the same rectangle.
    for (int64_t ch = 1; ch < c; ++ch) {
      EXPECT_EQ(image_values(output.select(1, ch).unsqueeze(1), i),
                image_values(output.select(1, 0).unsqueeze(1), i));
    }
  }
  EXPECT_GT(corners.size(), 10u);
  EXPECT_EQ(input.to_vector<float>(), std::vector<float>(n * c * h * w, 1));
}

TEST(Augment, RandomErasingSkipsWhenNoRectangleFits) {
  const Tensor input = numbered_images(4, 1, 3, 3);
  Generator gen(2);
  // The whole image's area with ratio 1 is 3x3, never strictly smaller than the image.
  EXPECT_EQ(data::random_erasing(1, 1, 1, 1, 1, 0)->apply(input, gen).to_vector<float>(),
            input.to_vector<float>());
  EXPECT_EQ(data::random_erasing(0)->apply(input, gen).to_vector<float>(),
            input.to_vector<float>());
}

TEST(Augment, NormalizePerChannel) {
  const Tensor input = from_vector(std::vector<uint8_t>{0, 1, 2, 3, 4, 5, 6, 7}, {1, 2, 2, 2});
  Generator gen(0);
  const Tensor output = data::normalize({1, 2}, {0.5, 4})->apply(input, gen);
  EXPECT_EQ(output.dtype(), DType::f32);
  EXPECT_EQ(output.to_vector<float>(), (std::vector<float>{-2, 0, 2, 4, 0.5, 0.75, 1, 1.25}));

  // One mean and std for every channel; f64 input gives f32; [N, H, W] is one channel.
  const Tensor doubles = from_vector(std::vector<double>{0, 1, 2, 3}, {2, 1, 2});
  const Tensor normalized = data::normalize({1}, {2})->apply(doubles, gen);
  EXPECT_EQ(normalized.dtype(), DType::f32);
  EXPECT_EQ(normalized.shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(normalized.to_vector<float>(), (std::vector<float>{-0.5, 0, 0.5, 1}));

  // The same numbers as data::normalize along the channel axis.
  const Tensor images = rand({3, 3, 4, 5}, DType::f32, &gen);
  EXPECT_EQ(
      data::normalize({0.1, 0.2, 0.3}, {0.4, 0.5, 0.6})->apply(images, gen).to_vector<float>(),
      data::normalize(images, {0.1, 0.2, 0.3}, {0.4, 0.5, 0.6}, 1).to_vector<float>());
}

TEST(Augment, ComposeAppliesStepsInOrder) {
  const auto crop = data::random_crop(2);
  const auto flip = data::random_flip();
  const auto norm = data::normalize({0.5}, {0.25});
  const auto steps = data::compose({crop, flip, norm});
  EXPECT_EQ(steps->to_string(),
            "Compose(RandomCrop(padding=2), RandomFlip(horizontal, p=0.5), "
            "Normalize(mean=[0.5], std=[0.25]))");
  const Tensor input = numbered_images(6, 1, 5, 5).to(DType::u8).reshape({6, 5, 5});
  Generator a(9), b(9);
  const Tensor composed = steps->apply(input, a);
  const Tensor by_hand = norm->apply(flip->apply(crop->apply(input, b), b), b);
  EXPECT_EQ(composed.dtype(), DType::f32);
  EXPECT_EQ(composed.to_vector<float>(), by_hand.to_vector<float>());

  const Tensor copy = data::compose({})->apply(input, a);
  EXPECT_FALSE(copy.shares_storage(input));
  EXPECT_EQ(copy.to_vector<uint8_t>(), input.to_vector<uint8_t>());
}

TEST(Augment, ToString) {
  EXPECT_EQ(data::random_crop(4)->to_string(), "RandomCrop(padding=4)");
  EXPECT_EQ(data::random_crop(4, 0.5)->to_string(), "RandomCrop(padding=4, fill=0.5)");
  EXPECT_EQ(data::random_flip(true, true, 0.25)->to_string(),
            "RandomFlip(horizontal_and_vertical, p=0.25)");
  EXPECT_EQ(data::random_flip(false, true)->to_string(), "RandomFlip(vertical, p=0.5)");
  EXPECT_EQ(data::random_translation(0.1, 0.2)->to_string(),
            "RandomTranslation(height_factor=0.1, width_factor=0.2)");
  EXPECT_EQ(data::random_erasing()->to_string(),
            "RandomErasing(p=0.5, scale=[0.02, 0.33], ratio=[0.3, 3.3], value=0)");
  EXPECT_EQ(data::normalize({0.1, 0.2}, {1, 2})->to_string(),
            "Normalize(mean=[0.1, 0.2], std=[1, 2])");
}

TEST(Augment, GaussianNoiseHasTheAskedSpreadAndClips) {
  // Mid-grey: noise of 20 grey levels stays inside [0, 255], so nothing saturates.
  const Tensor grey = full({8, 1, 32, 32}, 128, DType::f32);
  Generator gen(5);
  const std::vector<float> noisy = data::gaussian_noise(20)->apply(grey, gen).to_vector<float>();
  double sum = 0, squares = 0;
  for (const float v : noisy) {
    sum += v - 128;
    squares += (v - 128) * (v - 128);
  }
  const auto n = static_cast<double>(noisy.size());  // 8192 draws: the spread is within 2-3%
  EXPECT_NEAR(sum / n, 0, 0.7);
  EXPECT_NEAR(std::sqrt(squares / n), 20, 0.6);
  // The same draws on u8 pixels, rounded; at black, half the noise saturates to 0.
  Generator again(5);
  const std::vector<uint8_t> bytes =
      data::gaussian_noise(20)->apply(grey.to(DType::u8), again).to_vector<uint8_t>();
  for (size_t i = 0; i < bytes.size(); ++i) {
    EXPECT_EQ(bytes[i], std::lround(std::clamp(noisy[i], 0.f, 255.f))) << i;
  }
  Generator black_gen(5);
  const std::vector<uint8_t> black = data::gaussian_noise(20)
                                         ->apply(zeros({8, 32, 32}, DType::u8), black_gen)
                                         .to_vector<uint8_t>();
  const auto zeros_left = std::count(black.begin(), black.end(), uint8_t{0});
  EXPECT_NEAR(static_cast<double>(zeros_left) / static_cast<double>(black.size()), 0.5, 0.03);
  // Floats clip to the range asked for, and stddev 0 changes nothing.
  Generator clip_gen(5);
  const std::vector<float> clipped = data::gaussian_noise(0.5, 0, 1)
                                         ->apply(full({4, 16, 16}, 0.5, DType::f32), clip_gen)
                                         .to_vector<float>();
  EXPECT_EQ(*std::min_element(clipped.begin(), clipped.end()), 0.f);
  EXPECT_EQ(*std::max_element(clipped.begin(), clipped.end()), 1.f);
  Generator still(5);
  EXPECT_EQ(data::gaussian_noise(0)->apply(grey, still).to_vector<float>(),
            grey.to_vector<float>());
  EXPECT_EQ(data::gaussian_noise(51)->to_string(), "GaussianNoise(stddev=51)");
  EXPECT_EQ(data::gaussian_noise(0.2, 0, 1)->to_string(), "GaussianNoise(stddev=0.2, clip=[0, 1])");
  EXPECT_EQ(error_message([] { data::gaussian_noise(-1); }),
            "augmentation GaussianNoise: stddev must be finite and >= 0, got -1");
  EXPECT_EQ(error_message([] { data::gaussian_noise(1, 2, 1); }),
            "augmentation GaussianNoise: expected clip [low, high] with low <= high, got [2, 1]");
  // From a spec's training section.
  const io::ModelSpec spec =
      io::parse_model_spec(R"({"layers": [{"type": "Flatten"}], "training": {"augmentation": [)"
                           R"({"type": "GaussianNoise", "stddev": 51, "clip": [0, 255]}]}})",
                           "spec");
  EXPECT_EQ(spec.training.augmentation->to_string(), "GaussianNoise(stddev=51, clip=[0, 255])");
}

TEST(Augment, SameSeedSameBatchAndDtypesAgree) {
  const auto steps = data::compose({data::random_crop(2, 1), data::random_flip(true, true),
                                    data::random_translation(0.2, 0.2, 2),
                                    data::random_erasing(0.7, 0.02, 0.33, 0.3, 3.3, 4)});
  const Tensor small = numbered_images(16, 1, 7, 7);
  Generator a(42), b(42), c(43), d(42), e(42);
  const Tensor first = steps->apply(small, a);
  EXPECT_EQ(first.to_vector<float>(), steps->apply(small, b).to_vector<float>());
  EXPECT_NE(first.to_vector<float>(), steps->apply(small, c).to_vector<float>());
  // u8 and f64 batches take the same draws and move the same pixels.
  const Tensor as_u8 = steps->apply(small.to(DType::u8), d);
  const Tensor as_f64 = steps->apply(small.to(DType::f64), e);
  EXPECT_EQ(as_u8.dtype(), DType::u8);
  EXPECT_EQ(as_f64.dtype(), DType::f64);
  EXPECT_EQ(as_u8.to(DType::f32).to_vector<float>(), first.to_vector<float>());
  EXPECT_EQ(as_f64.to(DType::f32).to_vector<float>(), first.to_vector<float>());
}

TEST(Augment, NonContiguousInputAndU8Fill) {
  const Tensor base = numbered_images(4, 1, 5, 5).to(DType::u8);
  const Tensor strided = base.transpose(2, 3);  // a non-contiguous view
  Generator a(8), b(8);
  const auto crop = data::random_crop(1, 300);  // saturates to 255 in u8
  const Tensor out = crop->apply(strided, a);
  const Tensor expected = crop->apply(strided.contiguous(), b);
  EXPECT_EQ(out.to_vector<uint8_t>(), expected.to_vector<uint8_t>());
  const Tensor as_f32 = strided.to(DType::f32).contiguous();
  Generator c(8);
  const Tensor out_f32 = data::random_crop(1, 255)->apply(as_f32, c);
  EXPECT_EQ(out.to(DType::f32).to_vector<float>(), out_f32.to_vector<float>());
}

TEST(Augment, Errors) {
  Generator gen(0);
  EXPECT_EQ(error_message([&] {
              data::random_crop(1)->apply(zeros({4, 5}), gen);
            }),
            "augmentation RandomCrop: expected images [N, C, H, W] or [N, H, W], got shape [4, 5]");
  EXPECT_EQ(error_message([&] {
              data::random_flip()->apply(zeros({1, 1, 1, 2, 2}), gen);
            }),
            "augmentation RandomFlip: expected images [N, C, H, W] or [N, H, W], got shape "
            "[1, 1, 1, 2, 2]");
  EXPECT_EQ(error_message([&] {
              data::random_crop(1)->apply(zeros({1, 2, 2}, DType::i64), gen);
            }),
            "augmentation RandomCrop: expected a u8, f32 or f64 batch, got i64");
  EXPECT_EQ(error_message([] { data::random_crop(-1); }),
            "augmentation RandomCrop: padding must be >= 0, got -1");
  EXPECT_EQ(error_message([] { data::random_translation(1, 0); }),
            "augmentation RandomTranslation: height_factor must be in [0, 1), got 1");
  EXPECT_EQ(error_message([] { data::random_translation(0, -0.1); }),
            "augmentation RandomTranslation: width_factor must be in [0, 1), got -0.1");
  EXPECT_EQ(error_message([] { data::random_flip(true, false, 1.5); }),
            "augmentation RandomFlip: p must be in [0, 1], got 1.5");
  EXPECT_EQ(error_message([] { data::random_flip(false, false); }),
            "augmentation RandomFlip: expected horizontal and/or vertical flips, got neither");
  EXPECT_EQ(error_message([] { data::random_erasing(-0.1); }),
            "augmentation RandomErasing: p must be in [0, 1], got -0.1");
  EXPECT_EQ(
      error_message([] { data::random_erasing(0.5, 0.4, 0.2); }),
      "augmentation RandomErasing: expected 0 <= scale_min <= scale_max <= 1, got [0.4, 0.2]");
  EXPECT_EQ(
      error_message([] { data::random_erasing(0.5, 0.1, 1.2); }),
      "augmentation RandomErasing: expected 0 <= scale_min <= scale_max <= 1, got [0.1, 1.2]");
  EXPECT_EQ(error_message([] { data::random_erasing(0.5, 0.1, 0.2, 0, 2); }),
            "augmentation RandomErasing: expected 0 < ratio_min <= ratio_max, got [0, 2]");
  EXPECT_EQ(error_message([] { data::random_erasing(0.5, 0.1, 0.2, 3, 2); }),
            "augmentation RandomErasing: expected 0 < ratio_min <= ratio_max, got [3, 2]");
  EXPECT_EQ(error_message([] { data::normalize({0.5}, {0}); }),
            "augmentation Normalize: std[0] must be positive, got 0");
  EXPECT_EQ(error_message([] { data::normalize({}, {1}); }),
            "augmentation Normalize: expected at least one mean and one std, got 0 and 1");
  EXPECT_EQ(error_message([] {
              data::normalize({1, 2}, {1, 2, 3});
            }),
            "augmentation Normalize: expected as many means as stds (or one of either), got 2 "
            "and 3");
  EXPECT_EQ(error_message([&] {
              data::normalize({1, 2}, {1, 2})->apply(zeros({2, 3, 4, 4}), gen);
            }),
            "augmentation Normalize: expected 1 or 3 means and stds for 3 channels (shape "
            "[2, 3, 4, 4]), got 2 and 2");
  EXPECT_EQ(error_message([] {
              data::compose({data::random_flip(), nullptr});
            }),
            "augmentation Compose: step 1 is null");
}

namespace {

// Batches of `loader`'s next epoch: inputs and targets.
std::vector<std::pair<std::vector<float>, std::vector<int64_t>>> epoch(data::DataLoader& loader) {
  std::vector<std::pair<std::vector<float>, std::vector<int64_t>>> out;
  for (auto& batch : loader) {
    out.push_back(
        {batch.inputs.to(DType::f32).to_vector<float>(), batch.targets.to_vector<int64_t>()});
  }
  return out;
}

}  // namespace

TEST(Augment, DataLoaderAugmentsTheSameWithAndWithoutPrefetch) {
  const int64_t n = 37;
  const Tensor images = numbered_images(n, 1, 6, 6).to(DType::u8);
  const Tensor labels = arange(0, static_cast<double>(n));
  data::DataLoaderOptions options;
  options.batch_size = 8;
  options.seed = 123;
  options.augmentation =
      data::compose({data::random_crop(2), data::random_flip(), data::random_erasing(0.5, 0.1)});
  data::DataLoader prefetching(images, labels, options);
  options.prefetch = false;
  data::DataLoader direct(images, labels, options);

  const auto epoch0 = epoch(prefetching);
  const auto epoch1 = epoch(prefetching);
  EXPECT_EQ(epoch0, epoch(direct));
  EXPECT_EQ(epoch1, epoch(direct));
  ASSERT_EQ(epoch0.size(), 5u);
  EXPECT_NE(epoch0, epoch1);

  // Targets follow the shuffle; inputs are the augmented images of those samples.
  options.augmentation = nullptr;
  data::DataLoader plain(images, labels, options);
  const auto plain0 = epoch(plain);
  int64_t differing = 0;
  for (size_t b = 0; b < epoch0.size(); ++b) {
    EXPECT_EQ(epoch0[b].second, plain0[b].second);
    ASSERT_EQ(epoch0[b].first.size(), plain0[b].first.size());
    for (size_t k = 0; k < plain0[b].first.size(); ++k) {
      if (epoch0[b].first[k] != plain0[b].first[k]) ++differing;
    }
  }
  EXPECT_GT(differing, 0);

  // Same options, new loader: the same batches again.
  options.augmentation = prefetching.options().augmentation;
  data::DataLoader again(images, labels, options);
  EXPECT_EQ(epoch(again), epoch0);
}

TEST(Augment, DataLoaderSeedsEachBatchFromSeedEpochAndIndex) {
  // Identical samples, no shuffle: batches differ only through their augmentation draws.
  const Tensor image = numbered_images(1, 1, 5, 5);
  const Tensor images = image.expand({16, 1, 5, 5}).contiguous();
  data::DataLoaderOptions options;
  options.batch_size = 8;
  options.shuffle = false;
  options.seed = 1;
  options.augmentation = data::random_translation(0.4, 0.4);
  data::DataLoader loader(images, arange(0, 16), options);
  const auto epoch0 = epoch(loader);
  const auto epoch1 = epoch(loader);
  ASSERT_EQ(epoch0.size(), 2u);
  EXPECT_NE(epoch0[0].first, epoch0[1].first);
  EXPECT_NE(epoch0, epoch1);
  options.seed = 2;
  data::DataLoader other_seed(images, arange(0, 16), options);
  EXPECT_NE(epoch(other_seed), epoch0);
  // start_epoch(1) on a fresh loader recomputes epoch 1's batches on their own.
  options.seed = 1;
  data::DataLoader resumed(images, arange(0, 16), options);
  resumed.start_epoch(1);
  std::vector<std::pair<std::vector<float>, std::vector<int64_t>>> batches;
  while (auto batch = resumed.next()) {
    batches.push_back({batch->inputs.to_vector<float>(), batch->targets.to_vector<int64_t>()});
  }
  EXPECT_EQ(batches, epoch1);
}
