// word2vec's corpus, vocabulary and training loop (see include/nabla/word2vec.hpp). The loop is
// word2vec.c's, kept tight on purpose: one (center, context) pair touches 1 + negative rows of
// the output table and one row of the input table, a few hundred flops; going through tensors and
// autograd would cost more per pair than the arithmetic itself (see docs/architecture.md).
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <climits>
#include <cmath>
#include <fstream>

#include "nabla/error.hpp"
#include "nabla/word2vec.hpp"

namespace nabla::word2vec {
namespace {

constexpr int kSigmoidTableSize = 1000;
constexpr float kMaxExp = 6;  // sigmoid(6) = 0.9975: beyond it the gradient is taken as saturated
constexpr int kLogTableSize = 1024;
constexpr int64_t kNegativeTableSize = 10'000'000;  // fastText's size; word2vec.c's is 1e8
constexpr int64_t kLrUpdateWords = 10'000;          // words between learning-rate updates

bool is_word_char(unsigned char c) { return std::isalpha(c) != 0 || c == '\''; }

// word2vec.c's linear congruential generator: cheap, and the same stream on every platform.
inline uint64_t next_random(uint64_t& state) {
  state = state * 25214903917ULL + 11;
  return state;
}

struct Tables {
  float sigmoid[kSigmoidTableSize + 1];
  float log[kLogTableSize + 1];
  Tables() {
    for (int i = 0; i <= kSigmoidTableSize; ++i) {
      const double e = std::exp((2.0 * i / kSigmoidTableSize - 1) * kMaxExp);
      sigmoid[i] = static_cast<float>(e / (e + 1));
    }
    for (int i = 0; i <= kLogTableSize; ++i) {
      log[i] = static_cast<float>(std::log((i + 1e-5) / kLogTableSize));
    }
  }
  float log_of(float p) const {
    return log[std::clamp(static_cast<int>(p * kLogTableSize), 0, kLogTableSize)];
  }
};

inline float dot(const float* a, const float* b, int64_t n) {
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

inline void axpy(float alpha, const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// The negatives' table: word i fills a share of it proportional to count_i^0.75.
std::vector<int32_t> negative_table(const std::vector<int64_t>& counts) {
  const int64_t size =
      std::min<int64_t>(kNegativeTableSize, std::max<int64_t>(1000, 1000 * (int64_t)counts.size()));
  std::vector<int32_t> table(static_cast<size_t>(size));
  double total = 0;
  for (int64_t c : counts) total += std::pow(static_cast<double>(c), 0.75);
  size_t word = 0;
  double cumulative = std::pow(static_cast<double>(counts[0]), 0.75) / total;
  for (int64_t i = 0; i < size; ++i) {
    table[i] = static_cast<int32_t>(word);
    if (static_cast<double>(i) / static_cast<double>(size) > cumulative &&
        word + 1 < counts.size()) {
      ++word;
      cumulative += std::pow(static_cast<double>(counts[word]), 0.75) / total;
    }
  }
  return table;
}

void check_options(const Options& o) {
  NABLA_CHECK(o.architecture == "skipgram" || o.architecture == "cbow",
              "word2vec: architecture must be \"skipgram\" or \"cbow\", got \"", o.architecture,
              "\"");
  NABLA_CHECK(o.dim >= 1 && o.window >= 1 && o.negative >= 1 && o.epochs >= 1 && o.threads >= 1,
              "word2vec: dim, window, negative, epochs and threads must be >= 1, got dim ", o.dim,
              ", window ", o.window, ", negative ", o.negative, ", epochs ", o.epochs, ", threads ",
              o.threads);
  NABLA_CHECK(o.sample >= 0 && std::isfinite(o.sample), "word2vec: sample must be >= 0, got ",
              o.sample);
  NABLA_CHECK(o.lr > 0 && std::isfinite(o.lr), "word2vec: lr must be > 0, got ", o.lr);
}

// What the threads share while training: the tables (updated Hogwild) and the word counter the
// learning rate decays with.
struct Trainer {
  const Corpus& corpus;
  const Options& options;
  Tables tables;
  std::vector<int32_t> negatives;
  std::vector<float> keep_probability;  // per word: subsampling
  std::vector<float> input, output;
  std::atomic<int64_t> words_done{0};
  int64_t total_words = 0;  // epochs * corpus words: the learning rate reaches 0 there

  Trainer(const Corpus& c, const Options& o) : corpus(c), options(o) {
    const int64_t vocab = c.vocabulary.size();
    negatives = negative_table(c.vocabulary.counts);
    const double kept_words = static_cast<double>(c.ids.size());
    keep_probability.resize(static_cast<size_t>(vocab), 1.f);
    if (o.sample > 0) {
      // word2vec.c's formula: frequent words are kept with probability sqrt(t/f) + t/f.
      const double threshold = o.sample * kept_words;
      for (int64_t w = 0; w < vocab; ++w) {
        const double count = static_cast<double>(c.vocabulary.counts[w]);
        keep_probability[w] = static_cast<float>(
            std::min(1.0, (std::sqrt(count / threshold) + 1) * threshold / count));
      }
    }
    input.resize(static_cast<size_t>(vocab * o.dim));
    output.assign(static_cast<size_t>(vocab * o.dim), 0.f);
    uint64_t state = o.seed + 1;
    for (float& v : input) {
      v = ((static_cast<float>(next_random(state) & 0xFFFF) / 65536.f) - 0.5f) /
          static_cast<float>(o.dim);
    }
    total_words = o.epochs * static_cast<int64_t>(c.ids.size());
  }

  float learning_rate() const {
    const double done = static_cast<double>(words_done.load(std::memory_order_relaxed));
    const double lr = options.lr * (1 - done / (static_cast<double>(total_words) + 1));
    return static_cast<float>(std::max(lr, options.lr * 1e-4));
  }

  // One positive pair and its negatives: `hidden` predicts `word`; the error of `hidden` is
  // added to `hidden_grad`. Returns the pair's loss.
  float negative_sampling(const float* hidden, int32_t word, float lr, float* hidden_grad,
                          uint64_t& state) {
    const int64_t dim = options.dim;
    float loss = 0;
    for (int64_t d = 0; d <= options.negative; ++d) {
      int32_t target = word;
      float label = 1;
      if (d > 0) {
        target = negatives[(next_random(state) >> 16) % negatives.size()];
        if (target == word) continue;
        label = 0;
      }
      float* out = output.data() + static_cast<size_t>(target) * dim;
      const float f = dot(hidden, out, dim);
      float p;
      if (f > kMaxExp) {
        p = 1;
      } else if (f < -kMaxExp) {
        p = 0;
      } else {
        p = tables.sigmoid[static_cast<int>((f + kMaxExp) * (kSigmoidTableSize / kMaxExp / 2))];
      }
      loss -= tables.log_of(label > 0 ? p : 1 - p);
      const float g = (label - p) * lr;
      axpy(g, out, hidden_grad, dim);
      axpy(g, hidden, out, dim);
    }
    return loss;
  }

  struct ThreadState {
    uint64_t random = 0;
    double loss = 0;
    int64_t pairs = 0;
  };

  // One epoch over sentences [first, last) of the corpus.
  void train_part(int64_t first, int64_t last, ThreadState& thread) {
    const int64_t dim = options.dim;
    const bool cbow = options.architecture == "cbow";
    std::vector<float> hidden(static_cast<size_t>(dim)), grad(static_cast<size_t>(dim));
    std::vector<int32_t> sentence;
    int64_t unreported = 0;
    float lr = learning_rate();
    for (int64_t s = first; s < last; ++s) {
      const int64_t begin = s == 0 ? 0 : corpus.sentence_ends[s - 1];
      const int64_t end = corpus.sentence_ends[s];
      sentence.clear();
      for (int64_t i = begin; i < end; ++i) {
        const int32_t word = corpus.ids[i];
        if (keep_probability[word] < 1 &&
            keep_probability[word] <
                static_cast<float>(next_random(thread.random) & 0xFFFF) / 65536.f) {
          continue;
        }
        sentence.push_back(word);
      }
      unreported += end - begin;
      if (unreported >= kLrUpdateWords) {
        words_done.fetch_add(unreported, std::memory_order_relaxed);
        unreported = 0;
        lr = learning_rate();
      }
      const auto length = static_cast<int64_t>(sentence.size());
      for (int64_t pos = 0; pos < length; ++pos) {
        const int64_t reach =
            options.window - static_cast<int64_t>(next_random(thread.random) % options.window);
        const int64_t from = std::max<int64_t>(0, pos - reach);
        const int64_t to = std::min(length - 1, pos + reach);
        if (cbow) {
          std::fill(hidden.begin(), hidden.end(), 0.f);
          int64_t context = 0;
          for (int64_t c = from; c <= to; ++c) {
            if (c == pos) continue;
            axpy(1, input.data() + static_cast<size_t>(sentence[c]) * dim, hidden.data(), dim);
            ++context;
          }
          if (context == 0) continue;
          for (float& h : hidden) h /= static_cast<float>(context);
          std::fill(grad.begin(), grad.end(), 0.f);
          thread.loss +=
              negative_sampling(hidden.data(), sentence[pos], lr, grad.data(), thread.random);
          ++thread.pairs;
          for (int64_t c = from; c <= to; ++c) {
            if (c == pos) continue;
            axpy(1, grad.data(), input.data() + static_cast<size_t>(sentence[c]) * dim, dim);
          }
        } else {
          for (int64_t c = from; c <= to; ++c) {
            if (c == pos) continue;
            // As word2vec.c: the context word's vector predicts the center word.
            float* in = input.data() + static_cast<size_t>(sentence[c]) * dim;
            std::fill(grad.begin(), grad.end(), 0.f);
            thread.loss += negative_sampling(in, sentence[pos], lr, grad.data(), thread.random);
            ++thread.pairs;
            axpy(1, grad.data(), in, dim);
          }
        }
      }
    }
    words_done.fetch_add(unreported, std::memory_order_relaxed);
  }
};

}  // namespace

std::vector<std::string> tokenize(const std::string& line) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && !is_word_char(static_cast<unsigned char>(line[i]))) ++i;
    size_t end = i;
    while (end < line.size() && is_word_char(static_cast<unsigned char>(line[end]))) ++end;
    size_t first = i, last = end;
    while (first < last && line[first] == '\'') ++first;
    while (last > first && line[last - 1] == '\'') --last;
    if (last > first) {
      std::string word = line.substr(first, last - first);
      for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      words.push_back(std::move(word));
    }
    i = end;
  }
  return words;
}

int32_t Vocabulary::find(const std::string& word) const {
  const auto it = index.find(word);
  return it == index.end() ? -1 : it->second;
}

Corpus read_corpus(const std::string& path, int64_t min_count, int64_t max_words,
                   int64_t max_lines) {
  NABLA_CHECK(min_count >= 1, "word2vec: min_count must be >= 1, got ", min_count);
  std::ifstream file(path);
  NABLA_CHECK(file.good(), "word2vec: cannot read the corpus ", path,
              ": no such file or not readable (the KJV is prepared by scripts/prepare-corpora.sh, "
              "which needs Debian's bible-kjv package)");
  // One pass: each distinct word gets a provisional id at first sight and the text is kept as
  // those ids (4 bytes a word), renumbered once the counts are known.
  std::unordered_map<std::string, int32_t> seen;
  std::vector<std::string> seen_words;
  std::vector<int64_t> counts;
  std::vector<int32_t> provisional;
  std::vector<int64_t> line_ends;
  Corpus corpus;
  corpus.source = path;
  std::string line;
  while ((max_lines <= 0 || corpus.lines < max_lines) && std::getline(file, line)) {
    ++corpus.lines;
    for (std::string& word : tokenize(line)) {
      const auto [it, added] = seen.try_emplace(word, static_cast<int32_t>(seen_words.size()));
      if (added) {
        NABLA_CHECK(seen_words.size() < static_cast<size_t>(INT32_MAX), "word2vec: the corpus ",
                    path, " holds more than 2^31 distinct words");
        seen_words.push_back(std::move(word));
        counts.push_back(0);
      }
      ++counts[it->second];
      provisional.push_back(it->second);
    }
    line_ends.push_back(static_cast<int64_t>(provisional.size()));
  }
  corpus.tokens = static_cast<int64_t>(provisional.size());
  NABLA_CHECK(!file.bad(), "word2vec: reading the corpus ", path, " failed");
  NABLA_CHECK(corpus.tokens > 0, "word2vec: the corpus ", path, " is empty: expected text, one ",
              "sentence a line (", corpus.lines, " lines read, no word in them)");
  std::vector<int32_t> kept;
  for (int32_t w = 0; w < static_cast<int32_t>(seen_words.size()); ++w) {
    if (counts[w] >= min_count) kept.push_back(w);
  }
  NABLA_CHECK(!kept.empty(), "word2vec: no word of the corpus ", path,
              " occurs min_count = ", min_count, " times or more (", seen_words.size(),
              " distinct words in ", corpus.tokens, "); lower min_count or give a longer text");
  std::sort(kept.begin(), kept.end(), [&](int32_t a, int32_t b) {
    return counts[a] != counts[b] ? counts[a] > counts[b] : seen_words[a] < seen_words[b];
  });
  if (max_words > 0 && static_cast<int64_t>(kept.size()) > max_words) kept.resize(max_words);
  std::vector<int32_t> final_id(seen_words.size(), -1);
  Vocabulary& vocabulary = corpus.vocabulary;
  for (const int32_t w : kept) {
    final_id[w] = static_cast<int32_t>(vocabulary.words.size());
    vocabulary.index.emplace(seen_words[w], final_id[w]);
    vocabulary.words.push_back(seen_words[w]);
    vocabulary.counts.push_back(counts[w]);
  }
  // Renumbered in place, the rare words dropped.
  size_t kept_words = 0, current = 0;
  for (size_t i = 0; i < provisional.size(); ++i) {
    while (static_cast<int64_t>(i) >= line_ends[current]) {
      corpus.sentence_ends.push_back(static_cast<int64_t>(kept_words));
      ++current;
    }
    if (final_id[provisional[i]] >= 0) provisional[kept_words++] = final_id[provisional[i]];
  }
  while (current < line_ends.size()) {
    corpus.sentence_ends.push_back(static_cast<int64_t>(kept_words));
    ++current;
  }
  provisional.resize(kept_words);
  provisional.shrink_to_fit();
  corpus.ids = std::move(provisional);
  return corpus;
}

Result train(const Corpus& corpus, const Options& options,
             const std::function<void(const EpochStats&)>& on_epoch) {
  check_options(options);
  NABLA_CHECK(corpus.vocabulary.size() > 0 && !corpus.ids.empty(), "word2vec: the corpus ",
              corpus.source, " has no word to train on");
  Trainer trainer(corpus, options);
  const auto sentences = static_cast<int64_t>(corpus.sentence_ends.size());
  const int64_t threads = std::min<int64_t>(options.threads, sentences);
  // Each thread trains on an equal share of the words: its own run of sentences.
  std::vector<int64_t> bounds = {0};
  for (int64_t t = 1; t < threads; ++t) {
    const int64_t target = static_cast<int64_t>(corpus.ids.size()) * t / threads;
    const auto it =
        std::lower_bound(corpus.sentence_ends.begin(), corpus.sentence_ends.end(), target);
    bounds.push_back(
        std::max(bounds.back(), static_cast<int64_t>(it - corpus.sentence_ends.begin())));
  }
  bounds.push_back(sentences);
  std::vector<Trainer::ThreadState> states(static_cast<size_t>(threads));
  for (int64_t t = 0; t < threads; ++t) {
    states[t].random = options.seed * 1000003ULL + static_cast<uint64_t>(t) + 7;
  }
  Result result;
  const auto start = std::chrono::steady_clock::now();
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    for (auto& s : states) s.loss = 0, s.pairs = 0;
      // Hogwild: the threads update the shared tables without locks (word2vec.c's design).
#pragma omp parallel for num_threads(static_cast <int>(threads)) schedule(static, 1)
    for (int64_t t = 0; t < threads; ++t) {
      trainer.train_part(bounds[t], bounds[t + 1], states[t]);
    }
    EpochStats stats;
    stats.epoch = epoch;
    double loss = 0;
    int64_t pairs = 0;
    for (const auto& s : states) loss += s.loss, pairs += s.pairs;
    stats.loss = pairs > 0 ? loss / static_cast<double>(pairs) : 0;
    stats.lr = trainer.learning_rate();
    stats.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    stats.words_per_second = static_cast<double>(corpus.tokens) / std::max(stats.seconds, 1e-9);
    result.epochs.push_back(stats);
    if (on_epoch) on_epoch(stats);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.words_per_second =
      static_cast<double>(options.epochs * corpus.tokens) / std::max(result.seconds, 1e-9);
  result.model.words = corpus.vocabulary.words;
  result.model.dim = options.dim;
  result.model.input = std::move(trainer.input);
  result.model.output = std::move(trainer.output);
  return result;
}

}  // namespace nabla::word2vec
