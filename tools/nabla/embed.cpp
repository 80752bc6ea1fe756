// nabla embed: queries word vectors in the word2vec text format (a run folder of the word2vec task,
// or any .vec file such as fastText's): the nearest neighbours of a word, an analogy (B - A + C),
// or the word-pair score the word2vec task is judged by. The work is nabla::word2vec's.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "common.hpp"
#include "nabla/word2vec.hpp"

namespace nabla::cli {
namespace {

struct EmbedOptions {
  std::string vectors;
  std::string checkpoint;
  std::string neighbors;
  std::vector<std::string> analogy;
  int64_t top = 10;
  bool score = false;
  std::string pairs;
};

void print_ranked(const std::vector<std::pair<std::string, double>>& ranked) {
  for (size_t i = 0; i < ranked.size(); ++i) {
    std::printf("%2zu. %-20s %.4f\n", i + 1, ranked[i].first.c_str(), ranked[i].second);
  }
}

void run_embed(const EmbedOptions& options) {
  if (options.vectors.empty() == options.checkpoint.empty()) {
    throw UsageError(
        "embed: give the vectors with --vectors FILE or --checkpoint DIR (one of them)");
  }
  if (options.neighbors.empty() && options.analogy.empty() && !options.score) {
    throw UsageError("embed: nothing to do; give --neighbors WORD, --analogy A B C or --score");
  }
  const std::string path =
      !options.vectors.empty()
          ? options.vectors
          : (std::filesystem::path(options.checkpoint) / "vectors.txt").string();
  const word2vec::Vectors vectors = word2vec::read_vectors(path);
  if (!options.neighbors.empty()) {
    std::cout << "Nearest to " << options.neighbors << ":" << std::endl;
    print_ranked(word2vec::neighbors(vectors, options.neighbors, options.top));
  }
  if (!options.analogy.empty()) {
    const auto& a = options.analogy;
    std::cout << a[1] << " - " << a[0] << " + " << a[2] << ":" << std::endl;
    print_ranked(word2vec::analogy(vectors, a[0], a[1], a[2], options.top));
  }
  if (options.score) {
    const word2vec::WordPairs pairs = options.pairs.empty()
                                          ? word2vec::kjv_word_pairs()
                                          : word2vec::read_word_pairs(options.pairs);
    const word2vec::PairScore score = word2vec::score_pairs(vectors, pairs);
    std::printf("Word-pair mean rank: %.2f (%lld of %zu pairs, among %zu words; lower is better)\n",
                score.mean_rank, static_cast<long long>(score.pairs_scored), pairs.size(),
                vectors.words.size());
    if (!score.missing.empty()) {
      std::string missing;
      for (const std::string& word : score.missing) missing += " " + word;
      std::printf("Not in the vocabulary:%s\n", missing.c_str());
    }
  }
}

}  // namespace

Command add_embed_command(CLI::App& app) {
  auto options = std::make_shared<EmbedOptions>();
  CLI::App* sub = app.add_subcommand(
      "embed", "Query word vectors: nearest neighbours, analogies, the word-pair score");
  sub->add_option("--vectors", options->vectors,
                  "Vectors in the word2vec text format (nabla's vectors.txt, fastText's .vec)");
  sub->add_option("--checkpoint", options->checkpoint,
                  "Folder written by `nabla train --model word2vec --out DIR` (its vectors.txt)");
  sub->add_option("--neighbors", options->neighbors, "Print the words nearest to WORD");
  sub->add_option("--analogy", options->analogy, "A B C: the words nearest to B - A + C")
      ->expected(3);
  sub->add_option("--top,-k", options->top, "How many words to print")
      ->check(in_range<int64_t>(1))
      ->capture_default_str();
  sub->add_flag("--score", options->score,
                "Print the mean rank of related words (the word2vec task's judged figure)");
  sub->add_option("--pairs", options->pairs,
                  "With --score: a file of word pairs, \"word word\" a line (default: the KJV "
                  "pairs built in)");
  sub->footer(
      "Examples:\n"
      "  nabla train --model word2vec --out runs/w2v\n"
      "  nabla embed --checkpoint runs/w2v --neighbors moses --top 5\n"
      "  nabla embed --checkpoint runs/w2v --analogy man king woman   # king - man + woman\n"
      "  nabla embed --vectors fasttext.vec --score");
  return {sub, [options] { run_embed(*options); }};
}

}  // namespace nabla::cli
