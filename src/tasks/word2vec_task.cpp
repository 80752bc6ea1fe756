// Task "word2vec": word vectors of a text corpus (the King James Bible by default) by skip-gram or
// CBOW with negative sampling, trained by word2vec's own Hogwild loop (nabla/word2vec.hpp) rather
// than by fit: the task runs the whole of `nabla train` itself (Task::run_own).
//
// The spec: one Embedding layer (output_dim: the vectors' dimension; input_dim: the most words the
// vocabulary keeps), a "word2vec" section {"architecture": "skipgram" | "cbow", "window",
// "negative", "min_count", "sample"}, the "training" section's lr and epochs, and the "data"
// section's corpus (<corpus>.txt in the corpus folder; --data names another folder or a file).
// --limit N trains on the first N lines. Judged by the mean rank of related words of the KJV
// (word2vec::kjv_word_pairs) among the whole vocabulary, and the training speed in words per
// second. With --out: model.safetensors (the vectors as the Embedding's weight [V, D], the spec
// with input_dim = V), model.json, metrics.csv (one row per epoch) and vectors.txt in the word2vec
// text format, each written atomically.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "io/spec_reader.hpp"
#include "nabla/data.hpp"
#include "nabla/nn.hpp"
#include "nabla/tasks.hpp"
#include "nabla/word2vec.hpp"
#include "tasks/task_loop.hpp"

namespace nabla::tasks {
namespace {

namespace fs = std::filesystem;

constexpr const char* kWord2VecVectorsFile = "vectors.txt";

struct Word2VecSettings {
  word2vec::Options options;
  int64_t min_count = 5;
  int64_t max_words = 0;
  std::string corpus = "kjv";
};

// The spec's settings; errors name the spec and the JSON path.
Word2VecSettings word2vec_settings(const io::ModelSpec& spec) {
  using io::internal::Json;
  const io::internal::SpecReader reader(spec.name);
  const Json root = data::internal::parse_json(spec.json);
  Word2VecSettings s;
  const Json& layers = root.at("layers");
  const Json& layer = layers[0];
  if (layers.size() != 1 || !layer.is_object() || layer.value("type", "") != "Embedding") {
    reader.fail("layers",
                "the word2vec task takes one Embedding layer (output_dim: the vectors' "
                "dimension, input_dim: the most words kept)");
  }
  if (const Json* v = reader.find(layer, "layers[0]", {"output_dim", "embedding_dim"})) {
    s.options.dim = reader.positive_int(*v, "layers[0].output_dim");
  }
  if (const Json* v = reader.find(layer, "layers[0]", {"input_dim", "num_embeddings"})) {
    s.max_words = reader.positive_int(*v, "layers[0].input_dim");
  }
  if (const auto it = root.find("word2vec"); it != root.end()) {
    const Json& section = *it;
    if (!section.is_object()) reader.fail("word2vec", "expected an object");
    reader.check_keys(section, "word2vec",
                      {"architecture", "window", "negative", "min_count", "sample"},
                      "\"word2vec\"");
    if (const Json* v = reader.find(section, "word2vec", {"architecture"})) {
      s.options.architecture = reader.string(*v, "word2vec.architecture");
      if (s.options.architecture != "skipgram" && s.options.architecture != "cbow") {
        reader.fail("word2vec.architecture",
                    "expected \"skipgram\" or \"cbow\", got \"" + s.options.architecture + "\"");
      }
    }
    if (const Json* v = reader.find(section, "word2vec", {"window"})) {
      s.options.window = reader.positive_int(*v, "word2vec.window");
    }
    if (const Json* v = reader.find(section, "word2vec", {"negative"})) {
      s.options.negative = reader.positive_int(*v, "word2vec.negative");
    }
    if (const Json* v = reader.find(section, "word2vec", {"min_count"})) {
      s.min_count = reader.positive_int(*v, "word2vec.min_count");
    }
    if (const Json* v = reader.find(section, "word2vec", {"sample"})) {
      s.options.sample = reader.number(*v, "word2vec.sample", 0, 1);
    }
  }
  s.options.lr = spec.training.lr;
  s.options.epochs = spec.training.epochs;
  if (spec.data) s.corpus = spec.data->corpus;
  return s;
}

// The corpus file: --data as a file, else <folder>/<corpus>.txt.
std::string word2vec_corpus_path(const std::string& data_dir, const std::string& corpus) {
  if (!data_dir.empty() && fs::is_regular_file(data_dir)) return data_dir;
  const std::string folder = data_dir.empty() ? data::default_corpus_dir() : data_dir;
  return (fs::path(folder) / (corpus + ".txt")).string();
}

void reject_fit_options(const RunOptions& o) {
  // Its own loop has no optimizer to choose and trains word by word: no batches either.
  std::vector<std::string> also;
  if (o.optimizer) also.push_back("--optimizer");
  if (o.momentum) also.push_back("--momentum");
  if (o.nesterov) also.push_back("--nesterov");
  if (o.weight_decay) also.push_back("--weight-decay");
  if (o.batch_size) also.push_back("--batch-size");
  internal::reject_fit_only_options(o,
                                    "the word2vec task trains with its own loop (linear "
                                    "learning-rate decay, no validation data, no resumable "
                                    "checkpoints)",
                                    also);
}

std::string format_figure(const char* format, double value) {
  char text[160];
  std::snprintf(text, sizeof(text), format, value);
  return text;
}

// The spec as trained: input_dim = the vocabulary's size, the run's training settings.
std::string trained_spec_json(const io::ModelSpec& spec, int64_t vocabulary) {
  nlohmann::ordered_json root = nlohmann::ordered_json::parse(spec.json);
  auto& layer = root["layers"][0];
  if (layer.contains("num_embeddings")) layer.erase("num_embeddings");
  layer["input_dim"] = vocabulary;
  root["training"]["lr"] = spec.training.lr;
  root["training"]["epochs"] = spec.training.epochs;
  return root.dump(2) + "\n";
}

void write_word2vec_outputs(const std::string& dir, const io::ModelSpec& spec,
                            const word2vec::Result& result) {
  std::error_code error;
  fs::create_directories(dir, error);
  NABLA_CHECK(!error && fs::is_directory(dir), "--out: cannot create the output folder ", dir,
              error ? ": " + error.message() : "");
  const word2vec::Model& model = result.model;
  const auto vocabulary = static_cast<int64_t>(model.words.size());
  const std::string spec_json = trained_spec_json(spec, vocabulary);
  // The checkpoint: the vectors as the weight of the spec's Embedding layer.
  const nn::ModulePtr module = io::model_from_spec(spec_json, spec.name);
  std::vector<Tensor> parameters = module->parameters();
  NABLA_CHECK(parameters.size() == 1 && parameters[0].numel() == vocabulary * model.dim,
              "word2vec: the spec's Embedding layer does not hold ", vocabulary, " x ", model.dim,
              " vectors");
  std::copy(model.input.begin(), model.input.end(), parameters[0].data<float>());
  nlohmann::json words = model.words;
  io::save_model((fs::path(dir) / kWeightsFile).string(), *module,
                 {{io::kModelSpecKey, spec_json}, {"nabla.word2vec.vocabulary", words.dump()}});
  data::write_file_atomic((fs::path(dir) / kSpecFile).string(), spec_json, "model spec");
  std::string metrics = "epoch,loss,lr,words_per_second\n";
  for (const word2vec::EpochStats& e : result.epochs) {
    metrics += std::to_string(e.epoch) + "," + std::to_string(e.loss) + "," + std::to_string(e.lr) +
               "," + std::to_string(e.words_per_second) + "\n";
  }
  data::write_file_atomic((fs::path(dir) / kMetricsFile).string(), metrics, "metrics");
  word2vec::write_vectors((fs::path(dir) / kWord2VecVectorsFile).string(),
                          word2vec::make_vectors(model.words, model.dim, model.input));
}

class Word2VecTask : public Task {
 public:
  std::string name() const override { return "word2vec"; }

  std::optional<RunResult> run_own(const io::ModelSpec& spec,
                                   const RunOptions& options) const override {
    reject_fit_options(options);
    std::ostream& log = options.log != nullptr ? *options.log : std::cout;
    Word2VecSettings settings = word2vec_settings(spec);
    settings.options.seed = options.seed;
    settings.options.threads = get_num_threads();
    const std::string path = word2vec_corpus_path(options.data_dir, settings.corpus);
    const word2vec::Corpus corpus =
        word2vec::read_corpus(path, settings.min_count, settings.max_words, options.limit);
    const word2vec::Options& o = settings.options;
    log << "Training " << spec.name << " (" << o.architecture << ", dim " << o.dim << ", window "
        << o.window << ", " << o.negative << " negatives, min count " << settings.min_count
        << ", sample " << o.sample << ") on " << path << ": " << corpus.lines << " lines, "
        << corpus.tokens << " words, " << corpus.vocabulary.size() << " in the vocabulary, "
        << o.epochs << (o.epochs == 1 ? " epoch" : " epochs") << ", lr " << o.lr
        << " decaying linearly, " << o.threads
        << (o.threads == 1 ? " thread" : " threads (Hogwild)") << ", seed " << o.seed << std::endl;
    RunResult result;
    result.task = name();
    const word2vec::Result trained = word2vec::train(corpus, o, [&](const word2vec::EpochStats& e) {
      result.history.epoch.push_back(e.epoch);
      result.history.history["loss"].push_back(e.loss);
      result.history.history["lr"].push_back(e.lr);
      if (options.verbose > 0) {
        char line[160];
        std::snprintf(line, sizeof(line), "Epoch %lld/%lld: loss %.4f, lr %.5f, %.0f words/s",
                      static_cast<long long>(e.epoch + 1), static_cast<long long>(o.epochs), e.loss,
                      e.lr, e.words_per_second);
        log << line << std::endl;
      }
      if (options.json != nullptr) {
        *options.json << nlohmann::json{{"epoch", e.epoch},
                                        {"loss", e.loss},
                                        {"lr", e.lr},
                                        {"words_per_second", e.words_per_second}}
                             .dump()
                      << std::endl;
      }
    });
    const word2vec::Vectors vectors =
        word2vec::make_vectors(trained.model.words, trained.model.dim, trained.model.input);
    const word2vec::WordPairs& pairs = word2vec::kjv_word_pairs();
    const bool scorable = std::any_of(pairs.begin(), pairs.end(), [&](const auto& pair) {
      return vectors.find(pair.first) >= 0 && vectors.find(pair.second) >= 0;
    });
    if (scorable) {
      const word2vec::PairScore score = word2vec::score_pairs(vectors, pairs);
      char text[200];
      std::snprintf(text, sizeof(text),
                    "Word-pair mean rank: %.2f (%lld of %zu KJV pairs, among %lld words; lower is "
                    "better)",
                    score.mean_rank, static_cast<long long>(score.pairs_scored), pairs.size(),
                    static_cast<long long>(vectors.words.size()));
      result.figures.push_back({"word_pair_mean_rank", score.mean_rank, text});
    } else {
      log << "No word-pair figure: none of the " << pairs.size() << " KJV word pairs has both "
          << "words in this corpus's vocabulary (nabla embed --score --pairs FILE scores a list "
          << "of one's own)" << std::endl;
    }
    result.figures.push_back(
        {"words_per_second", trained.words_per_second,
         format_figure("Training speed: %.0f words/s", trained.words_per_second) + " (" +
             std::to_string(o.threads) + (o.threads == 1 ? " thread)" : " threads)")});
    result.figures.push_back(
        {"final_loss", trained.epochs.back().loss,
         format_figure("Final training loss: %.4f", trained.epochs.back().loss)});
    result.figures.push_back({"vocabulary_size", static_cast<double>(vectors.words.size()),
                              "Vocabulary: " + std::to_string(vectors.words.size()) + " words"});
    if (!options.out.empty()) {
      write_word2vec_outputs(options.out, spec, trained);
      result.saved = std::string(kWeightsFile) + ", " + kSpecFile + ", " + kMetricsFile + " and " +
                     kWord2VecVectorsFile;
    }
    return result;
  }

  // run_own trains and judges; what evaluate, predict and report would ask of a checkpoint (test
  // data, a model's answers) word vectors do not have.
  TaskData load(const io::ModelSpec&, const train::Model&, const std::string&) const override {
    NABLA_CHECK(false, "a word2vec checkpoint has no test data to evaluate or predict on; query ",
                "its vectors with nabla embed --checkpoint DIR (--neighbors WORD, --analogy A B ",
                "C, --score)");
  }
  std::vector<Figure> judge(const io::ModelSpec&, train::Model&, const TaskData&,
                            const train::EvaluationReport&) const override {
    NABLA_CHECK(false, "the word2vec task judges its vectors as it trains them (nabla train)");
  }
};

const bool kWord2VecRegistered =
    register_task("word2vec", [] { return std::make_unique<Word2VecTask>(); });

}  // namespace
}  // namespace nabla::tasks
