// word2vec: tokenization, the vocabulary, training (it learns which words share contexts, and one
// thread repeats bit for bit), the word2vec text format, neighbours, analogies, the word-pair
// score, and the task run end to end on a small corpus of its own.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>

#include "../data/test_util.hpp"
#include "nabla/tasks.hpp"
#include "nabla/word2vec.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::read_bytes;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

namespace {

// Two topics that never meet in a sentence: xa..xj and ya..yj, ten words a sentence, drawn with
// a fixed generator. Vectors that learned anything put each x-word nearer the x-words.
std::string word2vec_topic_corpus(int sentences) {
  std::string text;
  uint64_t state = 12345;
  for (int s = 0; s < sentences; ++s) {
    const char topic = s % 2 == 0 ? 'x' : 'y';
    for (int w = 0; w < 10; ++w) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      text += std::string(w ? " " : "") + topic + static_cast<char>('a' + (state >> 33) % 10);
    }
    text += "\n";
  }
  return text;
}

word2vec::WordPairs word2vec_topic_pairs() {
  word2vec::WordPairs pairs;
  for (const char topic : {'x', 'y'}) {
    for (char c = 'a'; c < 'j'; ++c) {
      pairs.emplace_back(std::string{topic, c}, std::string{topic, static_cast<char>(c + 1)});
    }
  }
  return pairs;
}

word2vec::Options word2vec_small_options(const std::string& architecture) {
  word2vec::Options options;
  options.architecture = architecture;
  options.dim = 16;
  options.window = 3;
  options.sample = 0;  // every word of a 20-word corpus is "frequent"
  options.epochs = 3;
  options.lr = 0.05;
  return options;
}

}  // namespace

TEST(Word2VecTest, TokenizeLowercasesAndSplitsOnPunctuation) {
  EXPECT_EQ(
      word2vec::tokenize("And Noah's sons' wives, (the LORD-God) 'said':  1 2"),
      (std::vector<std::string>{"and", "noah's", "sons", "wives", "the", "lord", "god", "said"}));
  EXPECT_TRUE(word2vec::tokenize(" ,.; 12 ' ").empty());
}

TEST(Word2VecTest, ReadCorpusKeepsFrequentWordsMostFrequentFirst) {
  TempDir dir;
  write_bytes(dir.file("c.txt"), "b a c\na b\nb rare\n\nb a\n");
  const word2vec::Corpus corpus = word2vec::read_corpus(dir.file("c.txt"), 2);
  EXPECT_EQ(corpus.vocabulary.words, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(corpus.vocabulary.counts, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(corpus.tokens, 9);
  EXPECT_EQ(corpus.lines, 5);
  EXPECT_EQ(corpus.ids, (std::vector<int32_t>{0, 1, 1, 0, 0, 0, 1}));
  EXPECT_EQ(corpus.sentence_ends, (std::vector<int64_t>{2, 4, 5, 5, 7}));
  EXPECT_EQ(corpus.vocabulary.find("c"), -1);
  // The first lines only, and a cap on the vocabulary.
  EXPECT_EQ(word2vec::read_corpus(dir.file("c.txt"), 1, 0, 2).tokens, 5);
  EXPECT_EQ(word2vec::read_corpus(dir.file("c.txt"), 1, 1).vocabulary.size(), 1);
}

TEST(Word2VecTest, ReadCorpusErrorsNameTheFile) {
  TempDir dir;
  write_bytes(dir.file("empty.txt"), "");
  std::string message = error_message([&] { word2vec::read_corpus(dir.file("empty.txt"), 5); });
  EXPECT_NE(message.find("empty.txt is empty"), std::string::npos) << message;
  write_bytes(dir.file("blank.txt"), "\n ... \n");
  message = error_message([&] { word2vec::read_corpus(dir.file("blank.txt"), 5); });
  EXPECT_NE(message.find("blank.txt is empty"), std::string::npos) << message;
  write_bytes(dir.file("short.txt"), "a b c\n");
  message = error_message([&] { word2vec::read_corpus(dir.file("short.txt"), 5); });
  EXPECT_NE(message.find("short.txt occurs min_count = 5 times"), std::string::npos) << message;
  message = error_message([&] { word2vec::read_corpus(dir.file("missing.txt"), 5); });
  EXPECT_NE(message.find("missing.txt"), std::string::npos) << message;
}

TEST(Word2VecTest, SkipGramAndCbowLearnWhichWordsShareContexts) {
  TempDir dir;
  write_bytes(dir.file("topics.txt"), word2vec_topic_corpus(2000));
  const word2vec::Corpus corpus = word2vec::read_corpus(dir.file("topics.txt"), 5);
  ASSERT_EQ(corpus.vocabulary.size(), 20);
  for (const std::string architecture : {"skipgram", "cbow"}) {
    const word2vec::Result result = word2vec::train(corpus, word2vec_small_options(architecture));
    const word2vec::Vectors vectors =
        word2vec::make_vectors(result.model.words, result.model.dim, result.model.input);
    // A partner among 19 other words: 5 on average if its topic's 9 words come first, 10 by
    // chance. Measured: 5.0 for both.
    const double rank = word2vec::score_pairs(vectors, word2vec_topic_pairs()).mean_rank;
    EXPECT_LT(rank, 5.5) << architecture;
    // The loss falls from log(2) * 6 = 4.2 per pair of random vectors.
    EXPECT_LT(result.epochs.back().loss, result.epochs.front().loss) << architecture;
    EXPECT_LT(result.epochs.back().loss, 3.0) << architecture;
    EXPECT_EQ(word2vec::neighbors(vectors, "xd", 1)[0].first[0], 'x') << architecture;
  }
}

TEST(Word2VecTest, OneThreadRepeatsBitForBit) {
  TempDir dir;
  write_bytes(dir.file("topics.txt"), word2vec_topic_corpus(300));
  const word2vec::Corpus corpus = word2vec::read_corpus(dir.file("topics.txt"), 1);
  word2vec::Options options = word2vec_small_options("skipgram");
  options.sample = 1e-2;  // subsampling draws from the generator too
  const word2vec::Result first = word2vec::train(corpus, options);
  const word2vec::Result second = word2vec::train(corpus, options);
  EXPECT_EQ(first.model.input, second.model.input);
  EXPECT_EQ(first.model.output, second.model.output);
  options.seed = 1;
  EXPECT_NE(word2vec::train(corpus, options).model.input, first.model.input);
  // Two Hogwild threads still learn.
  options.threads = 2;
  options.sample = 0;
  const word2vec::Result two = word2vec::train(corpus, options);
  EXPECT_LT(two.epochs.back().loss, two.epochs.front().loss);
}

TEST(Word2VecTest, BadOptionsAreErrors) {
  TempDir dir;
  write_bytes(dir.file("topics.txt"), word2vec_topic_corpus(10));
  const word2vec::Corpus corpus = word2vec::read_corpus(dir.file("topics.txt"), 1);
  word2vec::Options options;
  options.architecture = "glove";
  EXPECT_NE(error_message([&] { word2vec::train(corpus, options); }).find("\"glove\""),
            std::string::npos);
  options = {};
  options.window = 0;
  EXPECT_NE(error_message([&] { word2vec::train(corpus, options); }).find("window 0"),
            std::string::npos);
  options = {};
  options.lr = -1;
  EXPECT_NE(error_message([&] { word2vec::train(corpus, options); }).find("lr must be > 0"),
            std::string::npos);
}

TEST(Word2VecTest, TextFormatRoundTripsExactly) {
  TempDir dir;
  const word2vec::Vectors vectors =
      word2vec::make_vectors({"in", "the", "beginning"}, 2, {0.1f, -2.5e-7f, 3, 4, 1e20f, -0.f});
  word2vec::write_vectors(dir.file("v.txt"), vectors);
  EXPECT_EQ(read_bytes(dir.file("v.txt")).substr(0, 4), "3 2\n");
  const word2vec::Vectors read = word2vec::read_vectors(dir.file("v.txt"));
  EXPECT_EQ(read.words, vectors.words);
  EXPECT_EQ(read.values, vectors.values);
  EXPECT_EQ(read.find("beginning"), 2);
  // fastText's .vec ends each line with a space.
  write_bytes(dir.file("ft.vec"), "2 3\nthe 1 2 3 \nand 4 5 6 \n");
  EXPECT_EQ(word2vec::read_vectors(dir.file("ft.vec")).values,
            (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(Word2VecTest, BadVectorFilesNameTheLine) {
  TempDir dir;
  const auto message_for = [&](const std::string& text) {
    write_bytes(dir.file("v.txt"), text);
    return error_message([&] { word2vec::read_vectors(dir.file("v.txt")); });
  };
  EXPECT_NE(message_for("").find("v.txt is empty"), std::string::npos);
  EXPECT_NE(message_for("3\n").find("line 1: expected the header"), std::string::npos);
  EXPECT_NE(message_for("2 2\na 1 2\nb 1\n").find("line 3: expected 2 numbers"), std::string::npos);
  EXPECT_NE(message_for("2 2\na 1 2 3\n").find("line 2: expected 2 numbers"), std::string::npos);
  EXPECT_NE(message_for("2 2\na 1 x\n").find("number 2 is missing"), std::string::npos);
  EXPECT_NE(message_for("3 2\na 1 2\nb 3 4\n").find("truncated"), std::string::npos);
}

TEST(Word2VecTest, NeighborsAnalogyAndScore) {
  // king - man + woman = queen exactly; apple is far from all of them.
  const word2vec::Vectors vectors =
      word2vec::make_vectors({"man", "woman", "king", "queen", "apple"}, 3,
                             {1, 0, 0.2f, 0, 1, 0.2f, 1, 0, 1, 0, 1, 1, -1, -1, -1});
  const auto analogy = word2vec::analogy(vectors, "man", "king", "woman", 2);
  ASSERT_EQ(analogy.size(), 2u);
  EXPECT_EQ(analogy[0].first, "queen");
  EXPECT_EQ(analogy[1].first, "apple");
  const auto nearest = word2vec::neighbors(vectors, "king", 10);
  ASSERT_EQ(nearest.size(), 4u);  // every other word, the word itself excluded
  EXPECT_EQ(nearest[0].first, "man");
  EXPECT_NEAR(nearest[0].second, 1.2 / std::sqrt(1.04 * 2), 1e-6);
  EXPECT_EQ(nearest[3].first, "apple");
  EXPECT_NE(error_message([&] { word2vec::neighbors(vectors, "pear", 3); }).find("\"pear\""),
            std::string::npos);
  // Cosines from king: man 0.83, queen 0.5, woman 0.14, apple -0.82, so queen ranks 2nd; from
  // queen, king ranks 2nd after woman; man and king are each other's nearest. Mean of 2, 2, 1, 1.
  const word2vec::PairScore score =
      word2vec::score_pairs(vectors, {{"king", "queen"}, {"man", "king"}, {"pear", "apple"}});
  EXPECT_EQ(score.pairs_scored, 2);
  EXPECT_EQ(score.missing, (std::vector<std::string>{"pear"}));
  EXPECT_DOUBLE_EQ(score.mean_rank, 1.5);
}

TEST(Word2VecTest, KjvPairsAreEnoughAndWellFormed) {
  const word2vec::WordPairs& pairs = word2vec::kjv_word_pairs();
  EXPECT_GE(pairs.size(), 40u);
  for (const auto& [a, b] : pairs) {
    EXPECT_NE(a, b);
    EXPECT_EQ(word2vec::tokenize(a), std::vector<std::string>{a});
    EXPECT_EQ(word2vec::tokenize(b), std::vector<std::string>{b});
  }
  TempDir dir;
  write_bytes(dir.file("pairs.txt"), "# family\nfather mother\n\n  son daughter\n");
  EXPECT_EQ(word2vec::read_word_pairs(dir.file("pairs.txt")).size(), 2u);
  write_bytes(dir.file("bad.txt"), "father mother\nson\n");
  EXPECT_NE(error_message([&] { word2vec::read_word_pairs(dir.file("bad.txt")); }).find("line 2"),
            std::string::npos);
}

TEST(Word2VecTest, TaskTrainsJudgesAndWritesTheVectors) {
  TempDir dir;
  write_bytes(dir.file("topics.txt"), word2vec_topic_corpus(400));
  tasks::RunOptions options;
  options.data_dir = dir.file("topics.txt");  // a file: the corpus itself
  options.out = dir.file("run");
  options.epochs = 2;
  options.verbose = 0;
  std::ostringstream log;
  options.log = &log;
  const tasks::RunResult result = tasks::run("word2vec", options);
  EXPECT_EQ(result.task, "word2vec");
  // None of the KJV pairs is in this vocabulary: no word-pair figure, and the log says so.
  std::map<std::string, double> figures;
  for (const tasks::Figure& figure : result.figures) figures[figure.name] = figure.value;
  EXPECT_EQ(figures.count("word_pair_mean_rank"), 0u);
  EXPECT_EQ(figures.at("vocabulary_size"), 20);
  EXPECT_GT(figures.at("words_per_second"), 0);
  // The preset subsamples at t = 1e-4, which keeps few words of a 20-word corpus: the loss
  // stays near log(2) * 6 = 4.2 of untrained vectors, and only its being a loss is checked.
  EXPECT_GT(figures.at("final_loss"), 0);
  EXPECT_LT(figures.at("final_loss"), 4.5);
  EXPECT_NE(log.str().find("none of the 59 KJV word pairs"), std::string::npos) << log.str();
  EXPECT_EQ(result.history.epoch.size(), 2u);
  EXPECT_NE(log.str().find("20 in the vocabulary"), std::string::npos) << log.str();
  const word2vec::Vectors vectors = word2vec::read_vectors(dir.file("run/vectors.txt"));
  EXPECT_EQ(vectors.words.size(), 20u);
  EXPECT_EQ(vectors.dim, 100);
  // The checkpoint holds the same vectors as an Embedding layer [20, 100].
  const io::LoadedModel loaded = io::load_model(dir.file("run/model.safetensors"));
  const std::vector<Tensor> weights = loaded.model->parameters();
  ASSERT_EQ(weights.size(), 1u);
  EXPECT_EQ(weights[0].shape(), (Shape{20, 100}));
  EXPECT_EQ(weights[0].contiguous().data<float>()[5], vectors.values[5]);
  EXPECT_NE(read_bytes(dir.file("run/metrics.csv")).find("epoch,loss"), std::string::npos);
  options.resume = true;
  EXPECT_NE(error_message([&] { tasks::run("word2vec", options); }).find("--resume"),
            std::string::npos);
}
