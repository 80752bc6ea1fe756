// The data behind a model spec's "data" section: fortunes by category (text classification), a
// text corpus cut into next-token windows (language modelling), or generated digit strings
// (sequence to sequence). Tokenizers are fitted on the training part only, so that the test
// part measures generalization to unseen text.
#include <cstdlib>
#include <filesystem>

#include "nabla/data.hpp"
#include "nabla/error.hpp"

namespace nabla::data {
namespace {

TextTaskData fortunes_task(const TextTaskOptions& options, const std::string& dir) {
  const std::string folder = dir.empty() ? kFortunesDir : dir;
  NABLA_CHECK(!options.categories.empty(), "fortunes task: no categories given");
  NABLA_CHECK(options.sequence_length >= 1, "fortunes task: sequence_length must be >= 1, got ",
              options.sequence_length);
  NABLA_CHECK(std::filesystem::is_directory(folder), "fortunes task: folder ", folder,
              " not found; install Debian's fortunes package (apt-get install fortunes) or give "
              "another folder with --data");
  TextClassificationData texts = read_fortunes(folder, options.categories);
  const auto n = static_cast<int64_t>(texts.texts.size());
  Generator generator(options.seed);
  const std::vector<int64_t> order = randperm(n, &generator).to_vector<int64_t>();
  const auto held_out = static_cast<int64_t>(options.test_fraction * static_cast<double>(n));
  NABLA_CHECK(held_out >= 1 && held_out < n, "fortunes task: test_fraction ", options.test_fraction,
              " of ", n, " fortunes leaves no test or no training sample");
  std::vector<std::string> train_texts, test_texts;
  std::vector<int64_t> train_labels, test_labels;
  for (int64_t i = 0; i < n; ++i) {
    const bool test = i >= n - held_out;
    (test ? test_texts : train_texts).push_back(texts.texts[order[i]]);
    (test ? test_labels : train_labels).push_back(texts.labels[order[i]]);
  }
  Tokenizer tokenizer({.level = options.level,
                       .max_vocab = options.max_vocab,
                       .min_count = 1,
                       .lowercase = options.lowercase});
  tokenizer.fit(train_texts);
  const auto encode_all = [&](const std::vector<std::string>& items) {
    std::vector<std::vector<int64_t>> ids;
    ids.reserve(items.size());
    for (const auto& text : items) ids.push_back(tokenizer.encode(text));
    return pad_sequences(ids, options.sequence_length);
  };
  TextTaskData data;
  data.train_inputs = encode_all(train_texts);
  data.test_inputs = encode_all(test_texts);
  data.train_targets = from_vector(train_labels);
  data.test_targets = from_vector(test_labels);
  data.class_names = texts.class_names;
  data.tokenizer_json = tokenizer.to_json();
  data.source = folder;
  return data;
}

// Non-overlapping windows [count, window] of `ids` starting at `begin`, and the same shifted by
// one token (the next-token targets).
void windows(const std::vector<int64_t>& ids, size_t begin, size_t end, int64_t window,
             Tensor& inputs, Tensor& targets) {
  const auto w = static_cast<size_t>(window);
  const size_t count = end > begin + w ? (end - begin - 1) / w : 0;
  NABLA_CHECK(count >= 1, "corpus task: a part of ", end - begin,
              " tokens is too short for windows of ", window);
  std::vector<int64_t> x(count * w), y(count * w);
  for (size_t i = 0; i < count; ++i) {
    for (size_t t = 0; t < w; ++t) {
      x[i * w + t] = ids[begin + i * w + t];
      y[i * w + t] = ids[begin + i * w + t + 1];
    }
  }
  const Shape shape{static_cast<int64_t>(count), window};
  inputs = from_vector(x, shape);
  targets = from_vector(y, shape);
}

TextTaskData corpus_task(const TextTaskOptions& options, const std::string& dir) {
  const std::string folder = dir.empty() ? default_corpus_dir() : dir;
  const std::string path = (std::filesystem::path(folder) / (options.corpus + ".txt")).string();
  NABLA_CHECK(std::filesystem::exists(path), "corpus task: ", path,
              " not found; run scripts/prepare-corpora.sh (it needs Debian's bible-kjv package) "
              "or give a folder holding ",
              options.corpus, ".txt with --data");
  NABLA_CHECK(options.sequence_length >= 1, "corpus task: sequence_length must be >= 1, got ",
              options.sequence_length);
  const std::string text = read_text_file(path);
  // The held-out part is the end of the text (for the KJV: the last books), never seen in
  // training, so that validation measures the model on new text.
  const auto split =
      static_cast<size_t>(static_cast<double>(text.size()) * (1.0 - options.test_fraction));
  size_t cut = split;
  while (cut < text.size() && text[cut] != '\n') ++cut;  // a line boundary (and UTF-8 boundary)
  Tokenizer tokenizer({.level = options.level,
                       .max_vocab = options.max_vocab,
                       .min_count = 1,
                       .lowercase = options.lowercase});
  const std::string train_text = text.substr(0, cut);
  tokenizer.fit({train_text});
  const std::vector<int64_t> train_ids = tokenizer.encode(train_text);
  const std::vector<int64_t> test_ids = tokenizer.encode(text.substr(cut));
  TextTaskData data;
  windows(train_ids, 0, train_ids.size(), options.sequence_length, data.train_inputs,
          data.train_targets);
  windows(test_ids, 0, test_ids.size(), options.sequence_length, data.test_inputs,
          data.test_targets);
  data.tokenizer_json = tokenizer.to_json();
  data.source = path;
  return data;
}

TextTaskData digits_task(const TextTaskOptions& options) {
  TextTaskData data;
  // Different seeds for the two parts: test strings are drawn independently of training ones.
  const DigitTaskData train = make_digit_task(options.task, options.train_samples,
                                              options.min_length, options.max_length, options.seed);
  const DigitTaskData test = make_digit_task(options.task, options.test_samples, options.min_length,
                                             options.max_length, options.seed + 1000003);
  data.train_inputs = train.inputs;
  data.train_targets = train.targets;
  data.test_inputs = test.inputs;
  data.test_targets = test.targets;
  data.source = "generated " + options.task + " task";
  return data;
}

}  // namespace

std::string default_corpus_dir() {
  if (const char* dir = std::getenv("NABLA_DATA_DIR"); dir != nullptr && *dir != '\0') return dir;
  if (const char* cache = std::getenv("XDG_CACHE_HOME"); cache != nullptr && *cache != '\0') {
    return (std::filesystem::path(cache) / "nabla").string();
  }
  const char* home = std::getenv("HOME");
  return (std::filesystem::path(home != nullptr ? home : ".") / ".cache" / "nabla").string();
}

TextTaskData load_text_task(const TextTaskOptions& options, const std::string& dir) {
  NABLA_CHECK(options.test_fraction > 0 && options.test_fraction < 1,
              "text task: test_fraction must be in (0, 1), got ", options.test_fraction);
  if (options.type == "fortunes") return fortunes_task(options, dir);
  if (options.type == "corpus") return corpus_task(options, dir);
  if (options.type == "digits") return digits_task(options);
  detail::throw_error(detail::str("text task: unknown type \"", options.type,
                                  "\"; expected fortunes, corpus or digits"));
}

}  // namespace nabla::data
