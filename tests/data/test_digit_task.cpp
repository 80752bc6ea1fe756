// The generated digit-string tasks: layout of sources, decoder inputs and targets, and seeding.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "nabla/data.hpp"
#include "support/errors.hpp"

using namespace nabla;
using nabla::testing::error_message;

namespace {

struct Row {
  std::vector<int64_t> source;          // the real (non-padding) source ids
  std::vector<int64_t> source_padding;  // the rest of the source part
  std::vector<int64_t> decoder_input;   // all T ids
  std::vector<int64_t> target;          // all T ids
};

Row row(const data::DigitTaskData& d, int64_t i) {
  const int64_t s = d.source_length, t = d.target_length;
  const std::vector<int64_t> inputs = d.inputs.to_vector<int64_t>();
  const std::vector<int64_t> targets = d.targets.to_vector<int64_t>();
  const auto begin = inputs.begin() + i * (s + t);
  const auto first_pad = std::find(begin, begin + s, 0);
  return {{begin, first_pad},
          {first_pad, begin + s},
          {begin + s, begin + s + t},
          {targets.begin() + i * t, targets.begin() + (i + 1) * t}};
}

// The expected decoder input and target of an answer: 1, answer, 0... and answer, 2, 0...
void expect_answer_layout(const Row& r, const std::vector<int64_t>& answer, int64_t t) {
  std::vector<int64_t> decoder_input{1}, target = answer;
  decoder_input.insert(decoder_input.end(), answer.begin(), answer.end());
  target.push_back(2);
  decoder_input.resize(t, 0);
  target.resize(t, 0);
  EXPECT_EQ(r.decoder_input, decoder_input);
  EXPECT_EQ(r.target, target);
}

TEST(DigitTask, ReverseLayout) {
  const data::DigitTaskData d = data::make_digit_task("reverse", 50, 2, 5, 7);
  EXPECT_EQ(d.source_length, 5);
  EXPECT_EQ(d.target_length, 6);
  EXPECT_EQ(d.inputs.shape(), (Shape{50, 11}));
  EXPECT_EQ(d.targets.shape(), (Shape{50, 6}));
  EXPECT_EQ(d.inputs.dtype(), DType::i64);
  EXPECT_EQ(d.targets.dtype(), DType::i64);
  for (int64_t i = 0; i < 50; ++i) {
    const Row r = row(d, i);
    ASSERT_GE(r.source.size(), 2u);
    ASSERT_LE(r.source.size(), 5u);
    for (int64_t id : r.source) {
      EXPECT_GE(id, 3);
      EXPECT_LE(id, 12);
    }
    for (int64_t id : r.source_padding) EXPECT_EQ(id, 0);
    expect_answer_layout(r, {r.source.rbegin(), r.source.rend()}, 6);
  }
  // The first sample pinned, so that a change in how the generator is drawn from shows.
  EXPECT_EQ(d.inputs.slice(0, 0, 1).to_vector<int64_t>(),
            (std::vector<int64_t>{7, 11, 7, 7, 0, 1, 7, 7, 11, 7, 0}));
}

TEST(DigitTask, SortLayout) {
  const data::DigitTaskData d = data::make_digit_task("sort", 40, 1, 6, 3);
  EXPECT_EQ(d.inputs.shape(), (Shape{40, 13}));
  EXPECT_EQ(d.targets.shape(), (Shape{40, 7}));
  for (int64_t i = 0; i < 40; ++i) {
    const Row r = row(d, i);
    std::vector<int64_t> sorted = r.source;
    std::sort(sorted.begin(), sorted.end());
    expect_answer_layout(r, sorted, 7);
  }
}

TEST(DigitTask, LengthsCoverTheRangeAndDigitsVary) {
  const data::DigitTaskData d = data::make_digit_task("reverse", 300, 1, 4, 11);
  std::set<size_t> lengths;
  std::set<int64_t> ids;
  for (int64_t i = 0; i < 300; ++i) {
    const Row r = row(d, i);
    lengths.insert(r.source.size());
    ids.insert(r.source.begin(), r.source.end());
  }
  EXPECT_EQ(lengths, (std::set<size_t>{1, 2, 3, 4}));
  EXPECT_EQ(ids.size(), 10u);  // every digit 0-9 (ids 3-12) appears
  // min_length == max_length: every source fills the source part.
  const data::DigitTaskData fixed = data::make_digit_task("sort", 20, 3, 3, 1);
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(row(fixed, i).source.size(), 3u);
}

TEST(DigitTask, SeedDeterminesTheSamples) {
  const data::DigitTaskData a = data::make_digit_task("reverse", 30, 1, 8, 42);
  const data::DigitTaskData b = data::make_digit_task("reverse", 30, 1, 8, 42);
  const data::DigitTaskData c = data::make_digit_task("reverse", 30, 1, 8, 43);
  EXPECT_EQ(a.inputs.to_vector<int64_t>(), b.inputs.to_vector<int64_t>());
  EXPECT_EQ(a.targets.to_vector<int64_t>(), b.targets.to_vector<int64_t>());
  EXPECT_NE(a.inputs.to_vector<int64_t>(), c.inputs.to_vector<int64_t>());
  // The same seed gives the same sources whatever the task.
  const data::DigitTaskData sorted = data::make_digit_task("sort", 30, 1, 8, 42);
  for (int64_t i = 0; i < 30; ++i) EXPECT_EQ(row(a, i).source, row(sorted, i).source);
}

TEST(DigitTask, Errors) {
  EXPECT_EQ(error_message([] { data::make_digit_task("copy", 10, 1, 4, 0); }),
            "make_digit_task: unknown task \"copy\"; expected \"reverse\" or \"sort\"");
  EXPECT_EQ(error_message([] { data::make_digit_task("reverse", 0, 1, 4, 0); }),
            "make_digit_task: count must be >= 1, got 0");
  EXPECT_EQ(error_message([] { data::make_digit_task("reverse", 10, 0, 4, 0); }),
            "make_digit_task: min_length must be >= 1, got 0");
  EXPECT_EQ(error_message([] { data::make_digit_task("sort", 10, 5, 4, 0); }),
            "make_digit_task: max_length (4) must be >= min_length (5)");
}

}  // namespace
