// Sequence layers of JSON model specs: embeddings, recurrent layers (Keras's LSTM/GRU/SimpleRNN
// and Bidirectional wrapper, PyTorch's LSTM/GRU/RNN keys), 1-d global pooling, attention,
// positional encodings, Transformer encoder layers and the encoder-decoder Seq2Seq model.
#include "io/layer_args.hpp"

namespace nabla::io::internal {
namespace {

const std::vector<const char*> kRecurrentKeys = {"units",
                                                 "hidden_size",
                                                 "return_sequences",
                                                 "bidirectional",
                                                 "num_layers",
                                                 "dropout",
                                                 "batch_first",
                                                 "input_size",
                                                 "use_bias",
                                                 "bias",
                                                 "activation",
                                                 "nonlinearity",
                                                 "kernel_initializer",
                                                 "recurrent_initializer",
                                                 "unit_forget_bias"};

nn::RecurrentOptions recurrent_options(const LayerArgs& args) {
  nn::RecurrentOptions o;
  o.input_size = args.positive_int_or({"input_size"}, -1);
  o.num_layers = args.positive_int_or({"num_layers"}, 1);
  o.bias = args.boolean_or({"use_bias", "bias"}, true);
  o.batch_first = args.boolean_or({"batch_first"}, true);
  o.dropout = args.number_or({"dropout"}, 0, 1, 0);
  o.bidirectional = args.boolean_or({"bidirectional"}, false);
  o.return_sequences = args.boolean_or({"return_sequences"}, false);
  o.nonlinearity = args.string_or({"activation", "nonlinearity"}, {"tanh", "relu"}, "tanh");
  o.kernel_initializer = args.initializer_or("kernel_initializer", o.kernel_initializer);
  o.recurrent_initializer = args.initializer_or("recurrent_initializer", o.recurrent_initializer);
  o.unit_forget_bias = args.boolean_or({"unit_forget_bias"}, true);
  return o;
}

nn::ModulePtr make_recurrent(const LayerArgs& args, const std::string& type) {
  const int64_t units = args.positive_int({"units", "hidden_size"}, "the number of units");
  nn::RecurrentOptions options = recurrent_options(args);
  if (type == "LSTM") return std::make_shared<nn::LSTM>(units, options);
  if (type == "GRU") return std::make_shared<nn::GRU>(units, options);
  if (type == "SimpleRNN") return std::make_shared<nn::SimpleRNN>(units, options);
  const RnnMode mode = options.nonlinearity == "relu" ? RnnMode::rnn_relu : RnnMode::rnn_tanh;
  return std::make_shared<nn::Recurrent>(mode, units, options, "RNN");
}

// Keras's Bidirectional(LSTM(64)): the wrapped layer with bidirectional set.
nn::ModulePtr make_bidirectional(const LayerArgs& args, const std::string&) {
  std::string at;
  const Json& inner = args.require({"layer"}, "the recurrent layer to run both ways", &at);
  if (!inner.is_object() || !inner.contains("type") || !inner["type"].is_string()) {
    args.reader().fail(at, "expected a layer object such as {\"type\": \"LSTM\", \"units\": 64}");
  }
  const std::string type = inner["type"].get<std::string>();
  if (type != "LSTM" && type != "GRU" && type != "SimpleRNN") {
    args.reader().fail(at + ".type", "expected LSTM, GRU or SimpleRNN, got \"" + type + "\"");
  }
  // Only concatenation is supported; the key is read so that Keras's spelling is accepted.
  args.string_or({"merge_mode"}, {"concat"}, "concat");
  Json copy = inner;
  copy.erase("type");
  copy["bidirectional"] = true;
  args.reader().check_keys(copy, at, kRecurrentKeys, "a " + type + " layer");
  return make_recurrent(LayerArgs(args.reader(), copy, at), type);
}

nn::ModulePtr make_embedding(const LayerArgs& args, const std::string&) {
  const int64_t vocab =
      args.positive_int({"input_dim", "num_embeddings"}, "the vocabulary size (ids 0 .. size-1)");
  const int64_t dim = args.positive_int({"output_dim", "embedding_dim"}, "the vector size");
  nn::EmbeddingOptions o;
  std::string at;
  if (const Json* pad = args.find({"padding_idx"}, &at)) {
    if (!pad->is_number_integer() || pad->get<int64_t>() < 0 || pad->get<int64_t>() >= vocab) {
      args.reader().fail(
          at, detail::str("expected an id in [0, ", vocab, "), got ", json_excerpt(*pad)));
    }
    o.padding_idx = pad->get<int64_t>();
  }
  o.max_norm = args.number_or({"max_norm"}, 0, 1e30, 0);
  o.mask_zero = args.boolean_or({"mask_zero"}, false);
  o.sparse = args.boolean_or({"sparse"}, false);
  o.initializer = args.initializer_or("embeddings_initializer", o.initializer);
  return std::make_shared<nn::Embedding>(vocab, dim, o);
}

nn::ModulePtr make_attention(const LayerArgs& args, const std::string&) {
  nn::MultiHeadAttentionOptions o;
  o.dropout = args.number_or({"dropout"}, 0, 1, 0);
  o.bias = args.boolean_or({"use_bias", "bias"}, true);
  return std::make_shared<nn::MultiHeadAttention>(
      args.positive_int({"embed_dim"}, "the model width (all heads together)"),
      args.positive_int({"num_heads"}, "the number of heads"), o);
}

nn::ModulePtr make_positional(const LayerArgs& args, const std::string&) {
  return std::make_shared<nn::PositionalEncoding>(
      args.positive_int({"max_length"}, "the longest sequence it encodes"),
      args.string_or({"kind"}, {"sinusoidal", "learned"}, "sinusoidal"),
      args.number_or({"dropout"}, 0, 1, 0));
}

nn::ModulePtr make_encoder_layer(const LayerArgs& args, const std::string&) {
  nn::TransformerLayerOptions o;
  o.dim_feedforward = args.positive_int_or({"dim_feedforward"}, o.dim_feedforward);
  o.dropout = args.number_or({"dropout"}, 0, 1, o.dropout);
  o.activation = args.string_or({"activation"}, {"relu", "gelu"}, o.activation);
  o.layer_norm_eps = args.number_or({"layer_norm_eps"}, 1e-12, 1, o.layer_norm_eps);
  o.norm_first = args.boolean_or({"norm_first"}, false);
  o.causal = args.boolean_or({"causal"}, false);
  return std::make_shared<nn::TransformerEncoderLayer>(
      args.positive_int({"d_model"}, "the model width"),
      args.positive_int({"nhead", "num_heads"}, "the number of heads"), o);
}

nn::ModulePtr make_seq2seq(const LayerArgs& args, const std::string&) {
  nn::Seq2SeqOptions o;
  o.vocab_size = args.positive_int({"vocab_size"}, "the number of token ids");
  o.source_length = args.positive_int({"source_length"}, "the source part of each input row");
  o.embedding_dim = args.positive_int_or({"embedding_dim"}, o.embedding_dim);
  o.hidden_size = args.positive_int_or({"hidden_size"}, o.hidden_size);
  o.num_layers = args.positive_int_or({"num_layers"}, o.num_layers);
  o.attention = args.string_or({"attention"}, {"luong", "bahdanau", "none"}, o.attention);
  o.num_heads = args.positive_int_or({"num_heads"}, o.num_heads);
  o.dim_feedforward = args.positive_int_or({"dim_feedforward"}, o.dim_feedforward);
  o.max_length = args.positive_int_or({"max_length"}, o.max_length);
  o.dropout = args.number_or({"dropout"}, 0, 1, o.dropout);
  return std::make_shared<nn::Seq2Seq>(args.string_or({"kind"}, {"lstm", "transformer"}, "lstm"),
                                       o);
}

nn::ModulePtr make_global_pooling_1d(const LayerArgs&, const std::string& type) {
  return std::make_shared<nn::GlobalPooling1D>(type == "GlobalMaxPooling1D");
}

OrderedJson recurrent_to_json(const nn::Recurrent& rnn) {
  const auto& o = rnn.options();
  OrderedJson out{{"type", rnn.type_name()}, {"units", rnn.hidden_size()}};
  if (o.return_sequences) out["return_sequences"] = true;
  if (o.bidirectional) out["bidirectional"] = true;
  if (o.num_layers != 1) out["num_layers"] = o.num_layers;
  if (o.dropout > 0) out["dropout"] = o.dropout;
  if (!o.batch_first) out["batch_first"] = false;
  if (!o.bias) out["use_bias"] = false;
  if (rnn.mode() == RnnMode::rnn_relu) out["activation"] = "relu";
  const nn::RecurrentOptions defaults;
  if (o.kernel_initializer != defaults.kernel_initializer) {
    out["kernel_initializer"] = o.kernel_initializer;
  }
  if (o.recurrent_initializer != defaults.recurrent_initializer) {
    out["recurrent_initializer"] = o.recurrent_initializer;
  }
  if (!o.unit_forget_bias) out["unit_forget_bias"] = false;
  return out;
}

OrderedJson seq2seq_to_json(const nn::Seq2Seq& model) {
  const auto& o = model.options();
  return OrderedJson{{"type", "Seq2Seq"},
                     {"kind", model.kind()},
                     {"vocab_size", o.vocab_size},
                     {"source_length", o.source_length},
                     {"embedding_dim", o.embedding_dim},
                     {"hidden_size", o.hidden_size},
                     {"num_layers", o.num_layers},
                     {"attention", o.attention},
                     {"num_heads", o.num_heads},
                     {"dim_feedforward", o.dim_feedforward},
                     {"max_length", o.max_length},
                     {"dropout", o.dropout}};
}

OrderedJson embedding_to_json(const nn::Embedding& emb) {
  const auto& o = emb.options();
  OrderedJson out{{"type", "Embedding"},
                  {"input_dim", emb.num_embeddings()},
                  {"output_dim", emb.embedding_dim()}};
  if (o.mask_zero) out["mask_zero"] = true;
  if (o.padding_idx >= 0) out["padding_idx"] = o.padding_idx;
  if (o.max_norm > 0) out["max_norm"] = o.max_norm;
  if (o.sparse) out["sparse"] = true;
  if (o.initializer != nn::EmbeddingOptions{}.initializer) {
    out["embeddings_initializer"] = o.initializer;
  }
  return out;
}

OrderedJson attention_to_json(const nn::MultiHeadAttention& mha) {
  OrderedJson out{{"type", "MultiHeadAttention"},
                  {"embed_dim", mha.embed_dim()},
                  {"num_heads", mha.num_heads()}};
  if (mha.options().dropout > 0) out["dropout"] = mha.options().dropout;
  if (!mha.options().bias) out["use_bias"] = false;
  return out;
}

OrderedJson positional_to_json(const nn::PositionalEncoding& pe) {
  OrderedJson out{
      {"type", "PositionalEncoding"}, {"max_length", pe.max_length()}, {"kind", pe.kind()}};
  if (pe.dropout() > 0) out["dropout"] = pe.dropout();
  return out;
}

OrderedJson encoder_layer_to_json(const nn::TransformerEncoderLayer& enc) {
  const auto& o = enc.options();
  return OrderedJson{{"type", "TransformerEncoderLayer"},
                     {"d_model", enc.d_model()},
                     {"nhead", enc.nhead()},
                     {"dim_feedforward", o.dim_feedforward},
                     {"dropout", o.dropout},
                     {"activation", o.activation},
                     {"layer_norm_eps", o.layer_norm_eps},
                     {"norm_first", o.norm_first},
                     {"causal", o.causal}};
}

}  // namespace

void add_sequence_layer_types(LayerRegistry& registry) {
  registry.add({{"Embedding"},
                {"input_dim", "num_embeddings", "output_dim", "embedding_dim", "padding_idx",
                 "max_norm", "mask_zero", "embeddings_initializer", "sparse"},
                make_embedding,
                writes<nn::Embedding>(embedding_to_json)});
  registry.add({{"LSTM", "GRU", "SimpleRNN", "RNN"},
                kRecurrentKeys,
                make_recurrent,
                writes<nn::Recurrent>(recurrent_to_json)});
  registry.add({{"Bidirectional"}, {"layer", "merge_mode"}, make_bidirectional, {}});
  registry.add({{"GlobalMaxPooling1D", "GlobalAveragePooling1D"},
                {},
                make_global_pooling_1d,
                writes<nn::GlobalPooling1D>([](const nn::GlobalPooling1D& pool) {
                  return OrderedJson{{"type", pool.type_name()}};
                })});
  registry.add({{"MultiHeadAttention"},
                {"embed_dim", "num_heads", "dropout", "use_bias", "bias"},
                make_attention,
                writes<nn::MultiHeadAttention>(attention_to_json)});
  registry.add({{"PositionalEncoding"},
                {"max_length", "kind", "dropout"},
                make_positional,
                writes<nn::PositionalEncoding>(positional_to_json)});
  registry.add({{"TransformerEncoderLayer"},
                {"d_model", "nhead", "num_heads", "dim_feedforward", "dropout", "activation",
                 "layer_norm_eps", "norm_first", "causal"},
                make_encoder_layer,
                writes<nn::TransformerEncoderLayer>(encoder_layer_to_json)});
  registry.add(
      {{"Seq2Seq"},
       {"kind", "vocab_size", "source_length", "embedding_dim", "hidden_size", "num_layers",
        "attention", "num_heads", "dim_feedforward", "max_length", "dropout"},
       make_seq2seq,
       writes<nn::Seq2Seq>(seq2seq_to_json)});
}

}  // namespace nabla::io::internal
