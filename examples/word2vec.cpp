// word2vec as in Mikolov et al.'s word2vec.c and the TensorFlow tutorial "word2vec": skip-gram
// with negative sampling on a text corpus (the King James Bible that scripts/prepare-corpora.sh
// writes), then the words nearest to a few others, an analogy, and the mean rank of related
// words (the figure `nabla train --model word2vec` is judged by).
//
//   ./word2vec -train kjv.txt -cbow 0 -size 100 -window 5 -negative 5 -hs 0 -sample 1e-4
//              -min-count 5 -iter 5 -alpha 0.05 -threads 1
//
// Usage: word2vec [EPOCHS [CORPUS [VECTORS_OUT]]] (default: 5 epochs on the KJV). One thread: the
// same vectors every run.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nabla/nabla.hpp>

using namespace nabla;

int main(int argc, char** argv) try {
  const std::string corpus_file = argc > 2 ? argv[2] : data::default_corpus_dir() + "/kjv.txt";
  const word2vec::Corpus corpus = word2vec::read_corpus(corpus_file, /*min_count=*/5);
  std::printf("%lld words, %lld in the vocabulary\n", static_cast<long long>(corpus.tokens),
              static_cast<long long>(corpus.vocabulary.size()));

  word2vec::Options options;  // skip-gram, dim 100, window 5, 5 negatives, sample 1e-4
  options.lr = 0.05;
  options.epochs = argc > 1 ? std::atoll(argv[1]) : 5;
  const word2vec::Result result =
      word2vec::train(corpus, options, [](const word2vec::EpochStats& e) {
        std::printf("epoch %lld: loss %.4f, %.0f words/s\n", static_cast<long long>(e.epoch + 1),
                    e.loss, e.words_per_second);
      });
  const word2vec::Vectors vectors =
      word2vec::make_vectors(result.model.words, result.model.dim, result.model.input);
  if (argc > 3) word2vec::write_vectors(argv[3], vectors);  // the word2vec text format

  for (const std::string word : {"moses", "jerusalem", "seven"}) {
    if (vectors.find(word) < 0) continue;
    std::printf("nearest to %s:", word.c_str());
    for (const auto& [other, similarity] : word2vec::neighbors(vectors, word, 5)) {
      std::printf(" %s (%.2f)", other.c_str(), similarity);
    }
    std::printf("\n");
  }
  if (vectors.find("son") >= 0 && vectors.find("daughter") >= 0 && vectors.find("sons") >= 0) {
    std::printf("daughter - son + sons: %s\n",
                word2vec::analogy(vectors, "son", "daughter", "sons", 1)[0].first.c_str());
  }
  const word2vec::PairScore score = word2vec::score_pairs(vectors, word2vec::kjv_word_pairs());
  std::printf("word-pair mean rank: %.2f (%lld pairs; lower is better)\n", score.mean_rank,
              static_cast<long long>(score.pairs_scored));
  return 0;
} catch (const std::exception& e) {
  std::cerr << "word2vec: " << e.what() << "\n";
  return 1;
}
