// Sampling text from a language model, one token at a time. Recurrent models are stepped with
// their states carried between tokens, so that generating n tokens costs n steps, not n^2/2.
#include <algorithm>
#include <cmath>

#include "nabla/nn.hpp"
#include "nabla/train.hpp"

namespace nabla::train {
namespace {

// Layers that treat each time step on its own (or carry state we can hold): the model can then
// be fed one token at a time.
bool steps_one_token_at_a_time(const nn::Module& layer) {
  return dynamic_cast<const nn::Embedding*>(&layer) != nullptr ||
         dynamic_cast<const nn::Recurrent*>(&layer) != nullptr ||
         dynamic_cast<const nn::Dropout*>(&layer) != nullptr ||
         dynamic_cast<const nn::Linear*>(&layer) != nullptr ||
         dynamic_cast<const nn::Activation*>(&layer) != nullptr ||
         dynamic_cast<const nn::LayerNorm*>(&layer) != nullptr;
}

// Whether the model's outputs are probabilities (a final softmax) rather than logits.
bool ends_with_softmax(const nn::Module& model) {
  const auto* net = dynamic_cast<const nn::Sequential*>(&model);
  const nn::Module* last = net != nullptr && net->size() > 0 ? net->layers().back().get() : &model;
  if (const auto* linear = dynamic_cast<const nn::Linear*>(last)) {
    return linear->activation() == "softmax";
  }
  if (const auto* act = dynamic_cast<const nn::Activation*>(last)) return act->name() == "softmax";
  return false;
}

// Draws an id in [first, end) from the scores of one position.
int64_t draw(const std::vector<double>& scores, bool probabilities, const SamplingOptions& options,
             Generator& gen) {
  const auto size = static_cast<int64_t>(scores.size());
  const int64_t end = options.vocab_size > 0 ? std::min(options.vocab_size, size) : size;
  const int64_t first = std::min(options.first_id, end - 1);
  std::vector<double> logp(scores.begin() + first, scores.begin() + end);
  if (probabilities) {
    for (double& v : logp) v = std::log(std::max(v, 1e-30));
  }
  if (options.temperature <= 1e-6) {
    return first + (std::max_element(logp.begin(), logp.end()) - logp.begin());
  }
  const double top = *std::max_element(logp.begin(), logp.end());
  double total = 0;
  for (double& v : logp) total += v = std::exp((v - top) / options.temperature);
  double u = gen.next_double() * total;
  for (size_t i = 0; i < logp.size(); ++i) {
    u -= logp[i];
    if (u <= 0) return first + static_cast<int64_t>(i);
  }
  return end - 1;
}

std::vector<double> last_scores(const Tensor& output) {
  NABLA_CHECK(output.dim() == 3 && output.size(0) == 1,
              "sample_tokens: the model must map ids [1, T] to scores [1, T, V], got outputs of "
              "shape ",
              output.shape());
  return output.select(1, output.size(1) - 1).reshape({-1}).to(DType::f64).to_vector<double>();
}

Tensor ids_tensor(const std::vector<int64_t>& ids) {
  return from_vector(ids, {1, static_cast<int64_t>(ids.size())});
}

}  // namespace

std::vector<int64_t> sample_tokens(nn::Module& model, const std::vector<int64_t>& prompt,
                                   const SamplingOptions& options, Generator& gen) {
  const int64_t length = options.length, max_context = options.max_context;
  NABLA_CHECK(!prompt.empty(), "sample_tokens: the prompt holds no token");
  NABLA_CHECK(length >= 0, "sample_tokens: length must be >= 0, got ", length);
  NABLA_CHECK(options.temperature >= 0, "sample_tokens: temperature must be >= 0, got ",
              options.temperature);
  NABLA_CHECK(max_context >= 1, "sample_tokens: max_context must be >= 1, got ", max_context);
  NABLA_CHECK(
      options.first_id >= 0 && (options.vocab_size == 0 || options.first_id < options.vocab_size),
      "sample_tokens: first_id ", options.first_id, " must be in [0, vocab_size ",
      options.vocab_size, ")");
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const bool probabilities = ends_with_softmax(model);
  std::vector<int64_t> out;
  const auto emit = [&](int64_t token) {
    out.push_back(token);
    if (options.on_token) options.on_token(token);
  };
  auto* net = dynamic_cast<nn::Sequential*>(&model);
  const bool stepped = net != nullptr && std::all_of(net->layers().begin(), net->layers().end(),
                                                     [](const nn::ModulePtr& layer) {
                                                       return steps_one_token_at_a_time(*layer);
                                                     });
  if (stepped) {
    std::vector<nn::RecurrentState> states(net->size());
    const auto run = [&](const std::vector<int64_t>& ids) {
      Tensor x = ids_tensor(ids);
      for (size_t i = 0; i < net->size(); ++i) {
        if (auto* rnn = dynamic_cast<nn::Recurrent*>(net->layers()[i].get())) {
          NABLA_CHECK(rnn->options().return_sequences && rnn->options().batch_first,
                      "sample_tokens: recurrent layer ", i,
                      " must return sequences, batch first (a language model)");
          nn::RecurrentOutput result = rnn->forward_with_state(x, states[i]);
          states[i] = result.state;
          x = result.output;
        } else {
          x = net->layers()[i]->forward(x);
        }
      }
      return last_scores(x);
    };
    std::vector<double> scores = run(prompt);
    for (int64_t step = 0; step < length; ++step) {
      emit(draw(scores, probabilities, options, gen));
      if (step + 1 < length) scores = run({out.back()});
    }
  } else {
    std::vector<int64_t> context = prompt;
    for (int64_t step = 0; step < length; ++step) {
      const auto from = static_cast<int64_t>(context.size()) > max_context
                            ? context.end() - max_context
                            : context.begin();
      const std::vector<double> scores =
          last_scores(model.forward(ids_tensor(std::vector<int64_t>(from, context.end()))));
      emit(draw(scores, probabilities, options, gen));
      context.push_back(out.back());
    }
  }
  model.train(was_training);
  return out;
}

}  // namespace nabla::train
