// Encoder-decoder models over token ids: an LSTM encoder-decoder with global attention (Luong et
// al. 2015, or Bahdanau et al.'s additive score) and the Transformer (Vaswani et al. 2017).
//
// The LSTM model applies attention after the decoder RNN (Luong's global attention): with teacher
// forcing the decoder runs over all T steps in one call and attention takes all its outputs at
// once, so a training step is one batched computation rather than T small ones. The source and the
// target have separate embeddings (as in NMT: the two sides are different languages in general).
#include <cmath>

#include "nabla/nn.hpp"

namespace nabla::nn {
namespace {

constexpr int64_t kPadId = 0;
constexpr int64_t kStartId = 1;
constexpr int64_t kEndId = 2;
constexpr double kMaskedScore = -1e9;  // padded keys: exp() underflows to exactly zero weight

// Where each submodule sits in Seq2Seq::parts_.
enum Part : size_t {
  kEncoderEmbedding,
  kDecoderEmbedding,
  kEncoder,
  kDecoder,
  kOutput,
  kAttention,               // LSTM (null for attention "none")
  kPositions = kAttention,  // Transformer
  kCombine,                 // LSTM: tanh(W [h; context]), Luong's attentional hidden state
  kNumParts
};

template <class M>
M& part(const std::vector<ModulePtr>& parts, Part which) {
  return static_cast<M&>(*parts[which]);
}

// Attention of decoder states over encoder outputs. "luong": score(h, a) = h . (W a);
// "bahdanau": score(h, a) = v . tanh(W1 h + W2 a). Padded source positions get no weight.
class SequenceAttention : public Module {
 public:
  SequenceAttention(std::string score, int64_t hidden_size)
      : score_(std::move(score)), hidden_size_(hidden_size) {
    const LinearOptions square{.in_features = hidden_size, .bias = false};
    key_ = register_module("key", std::make_shared<Linear>(hidden_size, square));
    if (score_ == "bahdanau") {
      query_ = register_module("query", std::make_shared<Linear>(hidden_size, square));
      score_vector_ = register_module("v", std::make_shared<Linear>(1, square));
    }
  }

  // The memory's projection, computed once per source (greedy decoding reuses it every step).
  Tensor keys(const Tensor& memory) { return key_->forward(memory); }

  // query [N, T, H] over memory [N, S, H] (keys = keys(memory)); memory_mask bool [N, S], true =
  // a real position. Returns the contexts [N, T, H].
  Tensor attend(const Tensor& query, const Tensor& keys, const Tensor& memory,
                const Tensor& memory_mask) {
    const Tensor mask = memory_mask.defined() ? memory_mask.unsqueeze(1) : Tensor();  // [N, 1, S]
    if (score_ == "luong") {
      return scaled_dot_product_attention(query, keys, memory, mask, false, 0, false, nullptr, 1.0);
    }
    // [N, T, 1, H] + [N, 1, S, H] -> scores [N, T, S]
    const Tensor hidden = tanh(query_->forward(query).unsqueeze(2) + keys.unsqueeze(1));
    Tensor scores = score_vector_->forward(hidden).squeeze(-1);
    if (mask.defined()) scores = scores + (mask.to(scores.dtype()) - 1.0) * -kMaskedScore;
    return matmul(softmax(scores, -1), memory);
  }

  // Self-attention of a sequence [N, T, H] over itself, unmasked.
  Tensor forward(const Tensor& x) override { return attend(x, keys(x), x, Tensor()); }
  std::string type_name() const override {
    return score_ == "luong" ? "LuongAttention" : "BahdanauAttention";
  }
  std::string extra_repr() const override {
    return detail::str("hidden_size=", hidden_size_, ", score=", score_);
  }

 private:
  std::string score_;
  int64_t hidden_size_;
  std::shared_ptr<Linear> key_, query_, score_vector_;
};

// Eval mode for a scope; the module's previous mode comes back at its end.
class EvalScope {
 public:
  explicit EvalScope(Module& module) : module_(module), was_training_(module.is_training()) {
    module_.eval();
  }
  ~EvalScope() { module_.train(was_training_); }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  Module& module_;
  bool was_training_;
};

// Token ids: a 2-d i64 tensor (Model passes i64 batches to a module whose input_dtype() is i64).
void check_ids(const Tensor& x, const std::string& where, const std::string& expected) {
  NABLA_CHECK(x.defined() && x.dim() == 2 && x.dtype() == DType::i64, where,
              ": expected token ids ", expected, " as a 2-d i64 tensor, got ",
              x.defined() ? detail::str("shape ", x.shape(), " (", dtype_name(x.dtype()), ")")
                          : std::string("none"));
}

Tensor real_positions(const Tensor& ids) { return ne(ids, scalar_tensor(kPadId, DType::i64)); }

// ---- LSTM with attention ----
struct LstmMemory {
  Tensor outputs;  // encoder outputs [N, S, H]
  Tensor keys;     // their attention projection (undefined without attention)
  Tensor mask;     // bool [N, S]
  RecurrentState state;
};

LstmMemory encode_lstm(const std::vector<ModulePtr>& parts, const Tensor& source, double dropout,
                       bool training) {
  LstmMemory memory;
  memory.mask = real_positions(source);
  const Tensor embedded =
      nabla::dropout(part<Embedding>(parts, kEncoderEmbedding).forward(source), dropout, training);
  RecurrentOutput encoded =
      part<Recurrent>(parts, kEncoder).forward_with_state(embedded, {}, memory.mask);
  memory.outputs = encoded.output;
  memory.state = encoded.state;
  if (parts[kAttention]) {
    memory.keys = part<SequenceAttention>(parts, kAttention).keys(memory.outputs);
  }
  return memory;
}

struct LstmStep {
  Tensor logits;  // [N, T, V]
  RecurrentState state;
};

// Decoder over `tokens` [N, T] from `state`: all T steps in one call (teacher forcing) or one
// step at a time (greedy decoding, state carried between calls).
LstmStep decode_lstm(const std::vector<ModulePtr>& parts, const LstmMemory& memory,
                     const Tensor& tokens, const RecurrentState& state, double dropout,
                     bool training) {
  const Tensor embedded =
      nabla::dropout(part<Embedding>(parts, kDecoderEmbedding).forward(tokens), dropout, training);
  RecurrentOutput decoded = part<Recurrent>(parts, kDecoder).forward_with_state(embedded, state);
  Tensor features = decoded.output;
  if (parts[kAttention]) {
    const Tensor context = part<SequenceAttention>(parts, kAttention)
                               .attend(decoded.output, memory.keys, memory.outputs, memory.mask);
    features = concat({decoded.output, context}, -1);
  }
  const Tensor attentional =
      nabla::dropout(part<Linear>(parts, kCombine).forward(features), dropout, training);
  return {part<Linear>(parts, kOutput).forward(attentional), decoded.state};
}

// ---- Transformer ----
Tensor embed_with_positions(const std::vector<ModulePtr>& parts, Part embedding,
                            const Tensor& ids) {
  auto& table = part<Embedding>(parts, embedding);
  const double scale = std::sqrt(static_cast<double>(table.embedding_dim()));
  return part<PositionalEncoding>(parts, kPositions).forward(table.forward(ids) * scale);
}

Tensor encode_transformer(const std::vector<ModulePtr>& parts, const Tensor& source,
                          const Tensor& source_mask) {
  Tensor x = embed_with_positions(parts, kEncoderEmbedding, source);
  for (const ModulePtr& layer : part<Sequential>(parts, kEncoder).layers()) {
    x = static_cast<TransformerEncoderLayer&>(*layer).encode(x, Tensor(), source_mask);
  }
  return x;
}

// Logits [N, T, V] for decoder input `tokens` [N, T] (causal: position t sees tokens <= t).
Tensor decode_transformer(const std::vector<ModulePtr>& parts, const Tensor& memory,
                          const Tensor& source_mask, const Tensor& tokens) {
  Tensor y = embed_with_positions(parts, kDecoderEmbedding, tokens);
  const Tensor target_mask = real_positions(tokens);
  for (const ModulePtr& layer : part<Sequential>(parts, kDecoder).layers()) {
    y = static_cast<TransformerDecoderLayer&>(*layer).decode(y, memory, true, target_mask,
                                                             source_mask);
  }
  return part<Linear>(parts, kOutput).forward(y);
}

// Embedding rows from N(0, 1/d), so that scaled by sqrt(d) they have unit variance, as the
// positions they are added to (Vaswani et al.); the padding row stays zero.
void init_transformer_embedding(Embedding& embedding) {
  NoGradGuard no_grad;
  Tensor weight = embedding.weight();
  init::normal_(weight, 0, 1.0 / std::sqrt(static_cast<double>(embedding.embedding_dim())));
  weight.select(0, kPadId).fill_(0);
}

// Greedy decoding's bookkeeping: row r's i-th token, until its end id.
class DecodedRows {
 public:
  DecodedRows(int64_t rows, int64_t max_length)
      : max_length_(max_length),
        ids_(rows * max_length, kPadId),
        finished_(rows, max_length == 0),
        remaining_(max_length == 0 ? 0 : rows) {}

  // Records step `step`'s predictions [N] (or [N, 1]); rows already finished ignore theirs.
  void add(int64_t step, const Tensor& predictions) {
    const std::vector<int64_t> next = predictions.to_vector<int64_t>();
    for (size_t row = 0; row < next.size(); ++row) {
      if (finished_[row]) continue;
      if (next[row] == kEndId) {
        finished_[row] = true;
        --remaining_;
      } else {
        ids_[row * max_length_ + step] = next[row];
      }
    }
  }
  bool done() const { return remaining_ == 0; }
  Tensor result() const {
    return from_vector(ids_, {static_cast<int64_t>(finished_.size()), max_length_});
  }

 private:
  int64_t max_length_;
  std::vector<int64_t> ids_;
  std::vector<bool> finished_;
  int64_t remaining_;
};

}  // namespace

Seq2Seq::Seq2Seq(std::string kind, Seq2SeqOptions options)
    : kind_(std::move(kind)), options_(std::move(options)) {
  const Seq2SeqOptions& o = options_;
  NABLA_CHECK(kind_ == "lstm" || kind_ == "transformer", "Seq2Seq: unknown kind \"", kind_,
              "\"; expected \"lstm\" or \"transformer\"");
  NABLA_CHECK(o.vocab_size >= 3, "Seq2Seq: vocab_size must be set to >= 3 (ids 0 pad, 1 start, ",
              "2 end, then the task's symbols), got ", o.vocab_size);
  NABLA_CHECK(o.source_length >= 1,
              "Seq2Seq: source_length must be set to >= 1 (the width S of the source part of ",
              "the input), got ", o.source_length);
  NABLA_CHECK(o.embedding_dim >= 1, "Seq2Seq: embedding_dim must be >= 1, got ", o.embedding_dim);
  NABLA_CHECK(o.hidden_size >= 1, "Seq2Seq: hidden_size must be >= 1, got ", o.hidden_size);
  NABLA_CHECK(o.num_layers >= 1, "Seq2Seq: num_layers must be >= 1, got ", o.num_layers);
  NABLA_CHECK(o.dropout >= 0 && o.dropout < 1, "Seq2Seq: dropout must be in [0, 1), got ",
              o.dropout);
  parts_.resize(kNumParts);
  const EmbeddingOptions embedding_options{.padding_idx = kPadId};
  if (kind_ == "lstm") {
    NABLA_CHECK(o.attention == "luong" || o.attention == "bahdanau" || o.attention == "none",
                "Seq2Seq: unknown attention \"", o.attention,
                "\"; expected \"luong\", \"bahdanau\" or \"none\"");
    const RecurrentOptions lstm_options{.input_size = o.embedding_dim,
                                        .num_layers = o.num_layers,
                                        .dropout = o.num_layers > 1 ? o.dropout : 0.0};
    parts_[kEncoderEmbedding] = register_module(
        "encoder_embedding",
        std::make_shared<Embedding>(o.vocab_size, o.embedding_dim, embedding_options));
    parts_[kDecoderEmbedding] = register_module(
        "decoder_embedding",
        std::make_shared<Embedding>(o.vocab_size, o.embedding_dim, embedding_options));
    parts_[kEncoder] =
        register_module("encoder", std::make_shared<LSTM>(o.hidden_size, lstm_options));
    parts_[kDecoder] =
        register_module("decoder", std::make_shared<LSTM>(o.hidden_size, lstm_options));
    const bool attends = o.attention != "none";
    if (attends) {
      parts_[kAttention] = register_module(
          "attention", std::make_shared<SequenceAttention>(o.attention, o.hidden_size));
    }
    parts_[kCombine] = register_module(
        "combine",
        std::make_shared<Linear>(
            o.hidden_size,
            LinearOptions{.in_features = (attends ? 2 : 1) * o.hidden_size, .activation = "tanh"}));
  } else {
    NABLA_CHECK(o.num_heads >= 1 && o.hidden_size % o.num_heads == 0,
                "Seq2Seq: the Transformer's hidden_size (d_model, ", o.hidden_size,
                ") must be a multiple of num_heads (", o.num_heads, ")");
    NABLA_CHECK(o.dim_feedforward >= 1, "Seq2Seq: dim_feedforward must be >= 1, got ",
                o.dim_feedforward);
    NABLA_CHECK(o.max_length >= o.source_length, "Seq2Seq: max_length (", o.max_length,
                ", the positional encoding's length) must be >= source_length (", o.source_length,
                ")");
    // The Transformer embeds straight to d_model: embedding_dim is not used.
    for (Part side : {kEncoderEmbedding, kDecoderEmbedding}) {
      auto embedding = std::make_shared<Embedding>(o.vocab_size, o.hidden_size, embedding_options);
      init_transformer_embedding(*embedding);
      parts_[side] = register_module(
          side == kEncoderEmbedding ? "encoder_embedding" : "decoder_embedding", embedding);
    }
    parts_[kPositions] = register_module(
        "positional_encoding",
        std::make_shared<PositionalEncoding>(o.max_length, "sinusoidal", o.dropout));
    const TransformerLayerOptions layer_options{.dim_feedforward = o.dim_feedforward,
                                                .dropout = o.dropout};
    auto encoder = std::make_shared<Sequential>();
    auto decoder = std::make_shared<Sequential>();
    for (int64_t i = 0; i < o.num_layers; ++i) {
      encoder->add(
          std::make_shared<TransformerEncoderLayer>(o.hidden_size, o.num_heads, layer_options));
      decoder->add(
          std::make_shared<TransformerDecoderLayer>(o.hidden_size, o.num_heads, layer_options));
    }
    parts_[kEncoder] = register_module("encoder", encoder);
    parts_[kDecoder] = register_module("decoder", decoder);
  }
  parts_[kOutput] = register_module(
      "output",
      std::make_shared<Linear>(o.vocab_size, LinearOptions{.in_features = o.hidden_size}));
}

Tensor Seq2Seq::forward(const Tensor& x) {
  const int64_t source_length = options_.source_length;
  check_ids(x, "Seq2Seq", "[N, S + T]");
  NABLA_CHECK(x.size(1) > source_length,
              "Seq2Seq: expected input [N, S + T] with S = source_length = ", source_length,
              " source ids and T >= 1 decoder inputs, got width ", x.size(1), " (shape ", x.shape(),
              ")");
  const Tensor source = x.slice(1, 0, source_length);
  const Tensor decoder_input = x.slice(1, source_length, x.size(1));
  if (kind_ == "lstm") {
    const LstmMemory memory = encode_lstm(parts_, source, options_.dropout, is_training());
    return decode_lstm(parts_, memory, decoder_input, memory.state, options_.dropout, is_training())
        .logits;
  }
  const Tensor source_mask = real_positions(source);
  return decode_transformer(parts_, encode_transformer(parts_, source, source_mask), source_mask,
                            decoder_input);
}

Tensor Seq2Seq::greedy_decode(const Tensor& source, int64_t max_length) {
  NABLA_CHECK(max_length >= 0, "Seq2Seq::greedy_decode: max_length must be >= 0, got ", max_length);
  check_ids(source, "Seq2Seq::greedy_decode", "(the source) [N, S]");
  NABLA_CHECK(source.size(1) >= 1, "Seq2Seq::greedy_decode: expected a source [N, S] with S >= 1, ",
              "got shape ", source.shape());
  EvalScope eval(*this);
  NoGradGuard no_grad;
  const int64_t rows = source.size(0);
  DecodedRows decoded(rows, max_length);
  Tensor tokens = full({rows, 1}, kStartId, DType::i64);
  if (kind_ == "lstm") {
    const LstmMemory memory = encode_lstm(parts_, source, 0, false);
    RecurrentState state = memory.state;
    for (int64_t step = 0; step < max_length && !decoded.done(); ++step) {
      LstmStep next = decode_lstm(parts_, memory, tokens, state, 0, false);
      tokens = argmax(next.logits, -1);  // [N, 1]: the next step's input
      state = next.state;
      decoded.add(step, tokens);
    }
    return decoded.result();
  }
  const Tensor source_mask = real_positions(source);
  const Tensor memory = encode_transformer(parts_, source, source_mask);
  // The decoder re-reads the whole prefix each step (no key/value cache): outputs are exact and
  // the sequences here are short.
  for (int64_t step = 0; step < max_length && !decoded.done(); ++step) {
    const Tensor logits = decode_transformer(parts_, memory, source_mask, tokens);
    const Tensor next = argmax(logits.select(1, step), -1, true);  // [N, 1]
    decoded.add(step, next);
    tokens = concat({tokens, next}, 1);
  }
  return decoded.result();
}

std::string Seq2Seq::extra_repr() const {
  const Seq2SeqOptions& o = options_;
  std::string s = detail::str("kind=", kind_, ", vocab_size=", o.vocab_size,
                              ", source_length=", o.source_length);
  if (kind_ == "lstm") {
    s += detail::str(", embedding_dim=", o.embedding_dim, ", hidden_size=", o.hidden_size,
                     ", num_layers=", o.num_layers, ", attention=", o.attention);
  } else {
    s += detail::str(", d_model=", o.hidden_size, ", num_layers=", o.num_layers,
                     ", num_heads=", o.num_heads, ", dim_feedforward=", o.dim_feedforward,
                     ", max_length=", o.max_length);
  }
  return s + detail::str(", dropout=", o.dropout);
}

}  // namespace nabla::nn
