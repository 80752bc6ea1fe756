// nabla generate: samples text from a language model trained by `nabla train --model charlm
// --out DIR` (the checkpoint holds the tokenizer): the prompt, then --length new tokens.
#include <iostream>
#include <memory>

#include "common.hpp"

namespace nabla::cli {
namespace {

struct GenerateOptions {
  std::string checkpoint;
  std::string prompt = "In the beginning";
  int64_t length = 300;
  double temperature = 0.8;
  uint64_t seed = 0;
  int threads = 0;
};

void run_generate(const GenerateOptions& options) {
  apply_threads(options.threads);
  LoadedCheckpoint loaded = load_checkpoint(options.checkpoint);
  const auto tokenizer_it = loaded.metadata.find(io::kTokenizerKey);
  NABLA_CHECK(
      tokenizer_it != loaded.metadata.end(), "generate: ", options.checkpoint,
      " holds no tokenizer; train a text model (e.g. nabla train --model charlm --out DIR)");
  const data::Tokenizer tokenizer = data::Tokenizer::from_json(tokenizer_it->second);
  const std::vector<int64_t> prompt = tokenizer.encode(options.prompt);
  NABLA_CHECK(!prompt.empty(), "generate: --prompt holds no token");
  Generator gen(options.seed);
  const std::vector<int64_t> tokens =
      train::sample_tokens(loaded.model.module(), prompt,
                           {.length = options.length,
                            .temperature = options.temperature,
                            .vocab_size = tokenizer.vocab_size(),
                            .first_id = data::Tokenizer::kUnknown + 1},
                           gen);
  const std::string sep = tokenizer.options().level == "word" ? " " : "";
  std::cout << options.prompt << sep << tokenizer.decode(tokens) << "\n";
}

}  // namespace

Command add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* sub = app.add_subcommand("generate", "Sample text from a trained language model");
  sub->add_option("--checkpoint,-c", options->checkpoint,
                  "Folder written by `nabla train --out` for a text model")
      ->required();
  sub->add_option("--prompt,-p", options->prompt, "Text to continue")->capture_default_str();
  sub->add_option("--length,-n", options->length, "Tokens (characters) to generate")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--temperature,-t", options->temperature,
                  "Lower is more conservative; 0 always takes the likeliest token")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  sub->add_option("--seed", options->seed, "Seed of the sampling")->capture_default_str();
  sub->add_option("--threads", options->threads, "Compute threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  sub->footer(
      "Example:\n"
      "  nabla train --model charlm --out runs/charlm\n"
      "  nabla generate --checkpoint runs/charlm --prompt \"In the beginning\" --length 300 "
      "--temperature 0.8");
  return {sub, [options] { run_generate(*options); }};
}

}  // namespace nabla::cli
