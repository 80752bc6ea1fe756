// Word vectors: the word2vec text format, nearest neighbours, analogies and the word-pair score
// (see include/nabla/word2vec.hpp).
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "nabla/data.hpp"
#include "nabla/error.hpp"
#include "nabla/word2vec.hpp"

namespace nabla::word2vec {
namespace {

// Unit-length copies of the rows (a zero row stays zero): cosine similarity is then a dot product.
std::vector<float> unit_rows(const Vectors& vectors) {
  std::vector<float> unit = vectors.values;
  const int64_t dim = vectors.dim;
  for (size_t w = 0; w < vectors.words.size(); ++w) {
    float* row = unit.data() + w * dim;
    double norm = 0;
    for (int64_t i = 0; i < dim; ++i) norm += double{row[i]} * row[i];
    if (norm > 0) {
      const auto scale = static_cast<float>(1 / std::sqrt(norm));
      for (int64_t i = 0; i < dim; ++i) row[i] *= scale;
    }
  }
  return unit;
}

// Cosine similarity of every word to `query` (a unit vector).
std::vector<double> similarities(const std::vector<float>& unit, int64_t dim, const float* query) {
  const size_t words = unit.size() / static_cast<size_t>(dim);
  std::vector<double> out(words);
  for (size_t w = 0; w < words; ++w) {
    const float* row = unit.data() + w * dim;
    double sum = 0;
    for (int64_t i = 0; i < dim; ++i) sum += double{row[i]} * query[i];
    out[w] = sum;
  }
  return out;
}

std::vector<std::pair<std::string, double>> top_k(const Vectors& vectors,
                                                  const std::vector<double>& similarity,
                                                  const std::vector<int32_t>& excluded, int64_t k) {
  NABLA_CHECK(k >= 1, "word2vec: expected k >= 1 neighbours, got ", k);
  std::vector<int32_t> order;
  for (int32_t w = 0; w < static_cast<int32_t>(similarity.size()); ++w) {
    if (std::find(excluded.begin(), excluded.end(), w) == excluded.end()) order.push_back(w);
  }
  const auto shown = static_cast<size_t>(std::min<int64_t>(k, static_cast<int64_t>(order.size())));
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(shown), order.end(),
                    [&](int32_t a, int32_t b) {
                      return similarity[a] != similarity[b] ? similarity[a] > similarity[b] : a < b;
                    });
  std::vector<std::pair<std::string, double>> out;
  for (size_t i = 0; i < shown; ++i)
    out.emplace_back(vectors.words[order[i]], similarity[order[i]]);
  return out;
}

int32_t require_word(const Vectors& vectors, const std::string& word) {
  const int32_t id = vectors.find(word);
  NABLA_CHECK(id >= 0, "word2vec: \"", word, "\" is not in the vocabulary (", vectors.words.size(),
              " words; the KJV preset lowercases words and keeps those seen 5 times or more)");
  return id;
}

}  // namespace

int32_t Vectors::find(const std::string& word) const {
  const auto it = index.find(word);
  return it == index.end() ? -1 : it->second;
}

Vectors make_vectors(std::vector<std::string> words, int64_t dim, std::vector<float> values) {
  NABLA_CHECK(dim >= 1 && values.size() == words.size() * static_cast<size_t>(dim),
              "word2vec: expected ", words.size(), " x ", dim, " values, got ", values.size());
  Vectors vectors;
  vectors.dim = dim;
  vectors.values = std::move(values);
  vectors.words = std::move(words);
  for (size_t w = 0; w < vectors.words.size(); ++w) {
    vectors.index.emplace(vectors.words[w], static_cast<int32_t>(w));
  }
  return vectors;
}

void write_vectors(const std::string& path, const Vectors& vectors) {
  std::string text =
      std::to_string(vectors.words.size()) + " " + std::to_string(vectors.dim) + "\n";
  char number[32];
  for (size_t w = 0; w < vectors.words.size(); ++w) {
    text += vectors.words[w];
    const float* row = vectors.row(static_cast<int32_t>(w));
    for (int64_t i = 0; i < vectors.dim; ++i) {
      const auto done = std::to_chars(number, number + sizeof(number), row[i]);
      text += ' ';
      text.append(number, done.ptr);
    }
    text += '\n';
  }
  data::write_file_atomic(path, text, "word vectors");
}

Vectors read_vectors(const std::string& path) {
  std::ifstream file(path);
  NABLA_CHECK(file.good(), "word2vec: cannot read the vectors file ", path,
              ": no such file or not readable");
  std::string line;
  NABLA_CHECK(std::getline(file, line), "word2vec: the vectors file ", path,
              " is empty: expected the word2vec text format, a header \"WORDS DIM\" then "
              "\"word v1 ... vDIM\" a line");
  std::istringstream header(line);
  int64_t count = 0, dim = 0;
  std::string rest;
  NABLA_CHECK((header >> count >> dim) && !(header >> rest) && count >= 1 && dim >= 1,
              "word2vec: ", path, " line 1: expected the header \"WORDS DIM\" (two positive ",
              "integers) of the word2vec text format, got \"", line.substr(0, 80), "\"");
  std::vector<std::string> words;
  std::vector<float> values;
  values.reserve(static_cast<size_t>(std::min<int64_t>(count * dim, 1 << 26)));
  int64_t line_number = 1;
  while (static_cast<int64_t>(words.size()) < count && std::getline(file, line)) {
    ++line_number;
    const char* p = line.c_str();
    while (*p == ' ') ++p;
    const char* word_end = p;
    while (*word_end != ' ' && *word_end != '\0') ++word_end;
    NABLA_CHECK(word_end > p, "word2vec: ", path, " line ", line_number, ": expected a word and ",
                dim, " numbers, got an empty line");
    words.emplace_back(p, word_end);
    p = word_end;
    for (int64_t i = 0; i < dim; ++i) {
      char* end = nullptr;
      errno = 0;
      const float v = std::strtof(p, &end);
      NABLA_CHECK(end != p && errno == 0 && std::isfinite(v), "word2vec: ", path, " line ",
                  line_number, ": expected ", dim, " numbers after the word \"", words.back(),
                  "\", number ", i + 1, " is missing or not a finite number");
      values.push_back(v);
      p = end;
    }
    while (*p == ' ' || *p == '\r') ++p;
    NABLA_CHECK(*p == '\0', "word2vec: ", path, " line ", line_number, ": expected ", dim,
                " numbers after the word \"", words.back(), "\", got more");
  }
  NABLA_CHECK(static_cast<int64_t>(words.size()) == count, "word2vec: ", path,
              " is truncated: its header promises ", count, " words, got ", words.size());
  return make_vectors(std::move(words), dim, std::move(values));
}

std::vector<std::pair<std::string, double>> neighbors(const Vectors& vectors,
                                                      const std::string& word, int64_t k) {
  const int32_t id = require_word(vectors, word);
  const std::vector<float> unit = unit_rows(vectors);
  return top_k(vectors, similarities(unit, vectors.dim, unit.data() + id * vectors.dim), {id}, k);
}

std::vector<std::pair<std::string, double>> analogy(const Vectors& vectors, const std::string& a,
                                                    const std::string& b, const std::string& c,
                                                    int64_t k) {
  const int32_t ia = require_word(vectors, a), ib = require_word(vectors, b),
                ic = require_word(vectors, c);
  const std::vector<float> unit = unit_rows(vectors);
  const int64_t dim = vectors.dim;
  // As word2vec.c's word-analogy: unit vectors combined, the result normalized.
  std::vector<float> query(static_cast<size_t>(dim));
  double norm = 0;
  for (int64_t i = 0; i < dim; ++i) {
    query[i] = unit[ib * dim + i] - unit[ia * dim + i] + unit[ic * dim + i];
    norm += double{query[i]} * query[i];
  }
  if (norm > 0) {
    for (float& q : query) q = static_cast<float>(q / std::sqrt(norm));
  }
  return top_k(vectors, similarities(unit, dim, query.data()), {ia, ib, ic}, k);
}

WordPairs read_word_pairs(const std::string& path) {
  std::ifstream file(path);
  NABLA_CHECK(file.good(), "word2vec: cannot read the word pairs ", path,
              ": no such file or not readable");
  WordPairs pairs;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(file, line)) {
    ++line_number;
    std::istringstream words(line);
    std::string a, b, extra;
    if (!(words >> a) || a[0] == '#') continue;
    NABLA_CHECK((words >> b) && !(words >> extra), "word2vec: ", path, " line ", line_number,
                ": expected two words, got \"", line.substr(0, 80), "\"");
    pairs.emplace_back(a, b);
  }
  NABLA_CHECK(!pairs.empty(), "word2vec: ", path, " holds no word pair (\"word word\" a line)");
  return pairs;
}

PairScore score_pairs(const Vectors& vectors, const WordPairs& pairs) {
  const std::vector<float> unit = unit_rows(vectors);
  const int64_t dim = vectors.dim;
  PairScore score;
  double rank_sum = 0;
  for (const auto& [a, b] : pairs) {
    const int32_t ia = vectors.find(a), ib = vectors.find(b);
    if (ia < 0) score.missing.push_back(a);
    if (ib < 0) score.missing.push_back(b);
    if (ia < 0 || ib < 0 || ia == ib) continue;
    for (const auto& [from, to] : {std::pair{ia, ib}, std::pair{ib, ia}}) {
      const std::vector<double> s = similarities(unit, dim, unit.data() + from * dim);
      int64_t rank = 1;
      for (int32_t w = 0; w < static_cast<int32_t>(s.size()); ++w) {
        if (w != from && w != to && s[w] > s[to]) ++rank;
      }
      rank_sum += static_cast<double>(rank);
    }
    ++score.pairs_scored;
  }
  NABLA_CHECK(score.pairs_scored > 0, "word2vec: none of the ", pairs.size(),
              " word pairs has both words in the vocabulary of ", vectors.words.size(), " words");
  score.mean_rank = rank_sum / static_cast<double>(2 * score.pairs_scored);
  return score;
}

const WordPairs& kjv_word_pairs() {
  // Related words of the King James Bible, each seen at least 5 times once lowercased: family,
  // numbers and ordinals, singular and plural, places that go together, the tribes of Israel,
  // and pairs of opposites that share contexts.
  static const WordPairs pairs = {// family
                                  {"father", "mother"},
                                  {"son", "daughter"},
                                  {"sons", "daughters"},
                                  {"brother", "sister"},
                                  {"brethren", "sisters"},
                                  {"husband", "wife"},
                                  {"king", "queen"},
                                  {"man", "woman"},
                                  {"men", "women"},
                                  // numbers and ordinals
                                  {"two", "three"},
                                  {"four", "five"},
                                  {"six", "seven"},
                                  {"eight", "nine"},
                                  {"ten", "twenty"},
                                  {"thirty", "forty"},
                                  {"fifty", "sixty"},
                                  {"hundred", "thousand"},
                                  {"first", "second"},
                                  {"third", "fourth"},
                                  {"fifth", "sixth"},
                                  // singular and plural
                                  {"city", "cities"},
                                  {"house", "houses"},
                                  {"day", "days"},
                                  {"year", "years"},
                                  {"king", "kings"},
                                  {"priest", "priests"},
                                  {"camel", "camels"},
                                  {"horse", "horses"},
                                  {"ox", "oxen"},
                                  {"hand", "hands"},
                                  {"eye", "eyes"},
                                  {"tree", "trees"},
                                  {"servant", "servants"},
                                  {"enemy", "enemies"},
                                  {"nation", "nations"},
                                  // places and peoples
                                  {"egypt", "egyptians"},
                                  {"jerusalem", "zion"},
                                  {"babylon", "chaldeans"},
                                  {"sodom", "gomorrah"},
                                  {"tyre", "sidon"},
                                  {"bethel", "ai"},
                                  {"moab", "ammon"},
                                  {"jordan", "river"},
                                  // the tribes of Israel
                                  {"reuben", "simeon"},
                                  {"judah", "benjamin"},
                                  {"ephraim", "manasseh"},
                                  {"dan", "naphtali"},
                                  {"gad", "asher"},
                                  {"issachar", "zebulun"},
                                  {"levi", "levites"},
                                  // things that go together
                                  {"sheep", "goats"},
                                  {"gold", "silver"},
                                  {"bread", "wine"},
                                  {"heaven", "earth"},
                                  {"sun", "moon"},
                                  {"summer", "winter"},
                                  {"morning", "evening"},
                                  {"east", "west"},
                                  {"north", "south"}};
  return pairs;
}

}  // namespace nabla::word2vec
