// nabla generate: samples text from a language model trained by `nabla train --model charlm
// --out DIR` (the checkpoint holds the tokenizer): the prompt, then --length new tokens, printed
// as they are drawn.
#include <iostream>
#include <memory>

#include "common.hpp"

namespace nabla::cli {
namespace {

// The most tokens one call generates (documented in docs/guide.md): pages of text, where an
// unchecked --length 1000000000000 ran for ever. Longer texts: call again with the end as prompt.
constexpr int64_t kMaxLength = 100000;

struct GenerateOptions {
  std::string checkpoint;
  std::string prompt = "In the beginning";
  int64_t length = 300;
  double temperature = 0.8;
  uint64_t seed = 0;
  int64_t threads = 0;
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
  // Each token is printed and flushed as soon as it is drawn: a long text shows as it grows, and
  // whatever was generated before an interrupt is on the screen.
  const std::string sep = tokenizer.options().level == "word" ? " " : "";
  std::cout << options.prompt << std::flush;
  train::sample_tokens(loaded.model.module(), prompt,
                       {.length = options.length,
                        .temperature = options.temperature,
                        .vocab_size = tokenizer.vocab_size(),
                        .first_id = data::Tokenizer::kUnknown + 1,
                        .on_token =
                            [&](int64_t token) {
                              std::cout << sep << tokenizer.decode({token}) << std::flush;
                              // The reader is gone (`| head` with SIGPIPE ignored): stop drawing
                              // tokens.
                              NABLA_CHECK(std::cout.good(),
                                          "generate: cannot write to the standard output");
                            }},
                       gen);
  std::cout << "\n";
}

}  // namespace

Command add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateOptions>();
  CLI::App* sub = app.add_subcommand("generate", "Sample text from a trained language model");
  sub->add_option("--checkpoint,-c", options->checkpoint,
                  "Folder written by `nabla train --out` for a text model")
      ->required();
  sub->add_option("--prompt,-p", options->prompt, "Text to continue")->capture_default_str();
  sub->add_option("--length,-n", options->length, "Tokens (characters) to generate, at most 100000")
      ->check(in_range<int64_t>(0, kMaxLength))
      ->capture_default_str();
  sub->add_option("--temperature,-t", options->temperature,
                  "Lower is more conservative; 0 always takes the likeliest token")
      ->check(in_range<double>(0))
      ->capture_default_str();
  sub->add_option("--seed", options->seed, "Seed of the sampling")
      ->check(in_range<uint64_t>(0))
      ->capture_default_str();
  sub->add_option("--threads", options->threads, "Compute threads (default: all cores)")
      ->check(in_range<int64_t>(0));
  sub->footer(
      "Example:\n"
      "  nabla train --model charlm --out runs/charlm\n"
      "  nabla generate --checkpoint runs/charlm --prompt \"In the beginning\" --length 300 "
      "--temperature 0.8");
  return {sub, [options] { run_generate(*options); }};
}

}  // namespace nabla::cli
