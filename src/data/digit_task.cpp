// Generated sequence-to-sequence tasks on digit strings (reverse, sort): the classic toy problems
// for encoder-decoder models, exact-answer and free of downloads.
#include <algorithm>

#include "nabla/data.hpp"

namespace nabla::data {
namespace {

constexpr int64_t kStartId = 1;
constexpr int64_t kEndId = 2;
constexpr int64_t kFirstDigitId = 3;

}  // namespace

DigitTaskData make_digit_task(const std::string& task, int64_t count, int64_t min_length,
                              int64_t max_length, uint64_t seed) {
  NABLA_CHECK(task == "reverse" || task == "sort", "make_digit_task: unknown task \"", task,
              "\"; expected \"reverse\" or \"sort\"");
  NABLA_CHECK(count >= 1, "make_digit_task: count must be >= 1, got ", count);
  NABLA_CHECK(min_length >= 1, "make_digit_task: min_length must be >= 1, got ", min_length);
  NABLA_CHECK(max_length >= min_length, "make_digit_task: max_length (", max_length,
              ") must be >= min_length (", min_length, ")");
  const int64_t source_length = max_length;
  const int64_t target_length = max_length + 1;  // room for the end id (targets) or start id
  const int64_t width = source_length + target_length;
  std::vector<int64_t> inputs(count * width, 0);
  std::vector<int64_t> targets(count * target_length, 0);
  Generator gen(seed);
  std::vector<int64_t> digits;
  for (int64_t i = 0; i < count; ++i) {
    digits.resize(gen.next_int(min_length, max_length));
    for (int64_t& d : digits) d = kFirstDigitId + gen.next_int(0, 9);
    std::vector<int64_t> answer = digits;
    if (task == "reverse") {
      std::reverse(answer.begin(), answer.end());
    } else {
      std::sort(answer.begin(), answer.end());
    }
    int64_t* source_row = inputs.data() + i * width;
    int64_t* decoder_row = source_row + source_length;
    int64_t* target_row = targets.data() + i * target_length;
    std::copy(digits.begin(), digits.end(), source_row);
    decoder_row[0] = kStartId;
    std::copy(answer.begin(), answer.end(), decoder_row + 1);
    std::copy(answer.begin(), answer.end(), target_row);
    target_row[answer.size()] = kEndId;
  }
  return {from_vector(inputs, {count, width}), from_vector(targets, {count, target_length}),
          source_length, target_length};
}

}  // namespace nabla::data
