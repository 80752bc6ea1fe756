// word2vec: word vectors learned from a text corpus by skip-gram or CBOW with negative sampling
// (Mikolov et al. 2013), as the reference word2vec.c trains them: a vocabulary of the words seen
// at least min_count times, frequent words subsampled, negatives drawn from the unigram
// distribution raised to 3/4, a learning rate decaying linearly to zero over the run, and a tight
// loop of its own updating the two tables in place (Hogwild over the threads, each thread a part
// of the corpus). With one thread a seed gives the same vectors bit for bit; with more, the
// threads' unsynchronized updates interleave as the scheduler runs them, so runs differ slightly
// (as word2vec.c's and fastText's do).
//
// The vectors are read and written in the word2vec text format ("V D" on the first line, then
// "word v1 ... vD" a line) that gensim, fastText (.vec) and word2vec.c read; nearest neighbours,
// analogies (b - a + c) and a judged figure: the mean rank of related words (word pairs) among
// the whole vocabulary by cosine similarity. The task "word2vec" (nabla train --model word2vec)
// runs all of this on the King James Bible.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nabla::word2vec {

// The words of a line: runs of ASCII letters and apostrophes, lowercased, apostrophes trimmed at
// both ends ("Noah's," -> "noah's", "sons'" -> "sons"); everything else separates words.
std::vector<std::string> tokenize(const std::string& line);

// The words kept: seen at least min_count times, most frequent first (ties alphabetically), at
// most max_words of them (0: no cap).
struct Vocabulary {
  std::vector<std::string> words;
  std::vector<int64_t> counts;
  std::unordered_map<std::string, int32_t> index;
  int64_t size() const { return static_cast<int64_t>(words.size()); }
  int32_t find(const std::string& word) const;  // -1 when absent
};

// A tokenized corpus: the ids of the kept words, sentence (line) by sentence.
struct Corpus {
  Vocabulary vocabulary;
  std::vector<int32_t> ids;            // every kept word, in order
  std::vector<int64_t> sentence_ends;  // ids[sentence_ends[i-1] .. sentence_ends[i])
  int64_t tokens = 0;                  // all words read, rare ones included
  int64_t lines = 0;
  std::string source;
};

// Reads `path` (one sentence a line; the first max_lines lines when max_lines > 0). Errors name the
// file: missing, unreadable, empty, or without a word seen min_count times.
Corpus read_corpus(const std::string& path, int64_t min_count, int64_t max_words = 0,
                   int64_t max_lines = 0);

struct Options {
  std::string architecture = "skipgram";  // or "cbow"
  int64_t dim = 100;
  int64_t window = 5;    // the largest distance to a context word; each position draws 1..window
  int64_t negative = 5;  // negatives per positive
  double sample = 1e-4;  // subsampling threshold t (0: keep every word)
  double lr = 0.025;     // the starting learning rate, decayed linearly to 0 over all epochs
  int64_t epochs = 5;
  int64_t threads = 1;  // Hogwild workers; 1 is deterministic
  uint64_t seed = 0;
};

// One epoch's figures, for progress reports.
struct EpochStats {
  int64_t epoch = 0;            // 0-based
  double loss = 0;              // mean negative-sampling loss per positive pair
  double lr = 0;                // at the end of the epoch
  double words_per_second = 0;  // corpus words (rare ones included) per second of training
  double seconds = 0;
};

struct Model {
  std::vector<std::string> words;
  int64_t dim = 0;
  std::vector<float> input;   // [V, dim] row-major: the word vectors
  std::vector<float> output;  // [V, dim]: the negative-sampling output vectors
};

struct Result {
  Model model;
  std::vector<EpochStats> epochs;
  double seconds = 0;           // training only (the corpus read before excluded)
  double words_per_second = 0;  // epochs * corpus words / seconds
};

// Trains on `corpus`; `on_epoch` (optional) is called after each epoch. Errors on bad options.
Result train(const Corpus& corpus, const Options& options,
             const std::function<void(const EpochStats&)>& on_epoch = {});

// ---- vectors ----
struct Vectors {
  std::vector<std::string> words;
  int64_t dim = 0;
  std::vector<float> values;  // [words.size(), dim]
  std::unordered_map<std::string, int32_t> index;
  int32_t find(const std::string& word) const;  // -1 when absent
  const float* row(int32_t i) const { return values.data() + static_cast<size_t>(i) * dim; }
};
Vectors make_vectors(std::vector<std::string> words, int64_t dim, std::vector<float> values);

// The word2vec text format, written atomically. Reading checks the header and every line; errors
// name the file, the line and what was expected.
void write_vectors(const std::string& path, const Vectors& vectors);
Vectors read_vectors(const std::string& path);

// The k words nearest to `word` by cosine similarity (the word itself excluded), best first;
// Error naming the word when it is not in the vocabulary.
std::vector<std::pair<std::string, double>> neighbors(const Vectors& vectors,
                                                      const std::string& word, int64_t k);
// The k words nearest to b - a + c ("man king woman" -> queen), the three excluded.
std::vector<std::pair<std::string, double>> analogy(const Vectors& vectors, const std::string& a,
                                                    const std::string& b, const std::string& c,
                                                    int64_t k);

// ---- the judged figure ----
using WordPairs = std::vector<std::pair<std::string, std::string>>;
// The committed list of related word pairs of the KJV (family, numbers, plurals, places, tribes),
// every word seen at least 5 times.
const WordPairs& kjv_word_pairs();
// "word word" a line; blank lines and lines starting with '#' are skipped. Errors name the line.
WordPairs read_word_pairs(const std::string& path);

struct PairScore {
  double mean_rank = 0;  // over both directions of every pair scored; 1 is best
  int64_t pairs_scored = 0;
  std::vector<std::string> missing;  // words of the list not in the vocabulary
};
// For each pair (a, b) with both words in the vocabulary: the rank of b among all words but a by
// cosine similarity to a (1 = the nearest), and of a from b; their mean. Error when no pair can be
// scored.
PairScore score_pairs(const Vectors& vectors, const WordPairs& pairs);

}  // namespace nabla::word2vec
