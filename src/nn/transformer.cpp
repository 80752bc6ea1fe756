// Transformer blocks with PyTorch 1.13's math, submodule names and initialization, so that its
// state dicts load by name: TransformerEncoderLayer, TransformerDecoderLayer (post-norm as in
// Vaswani et al., or pre-norm with norm_first), and PositionalEncoding for their inputs.
#include <cmath>

#include "nabla/nn.hpp"
#include "nn/layer_util.hpp"

namespace nabla::nn {

namespace {

// A Linear with torch.nn.Linear's initialization: weight kaiming_uniform(a = sqrt(5)) and bias,
// both U(-1/sqrt(in), 1/sqrt(in)).
std::shared_ptr<Linear> torch_linear(int64_t in_features, int64_t out_features) {
  auto layer = std::make_shared<Linear>(out_features, LinearOptions{.in_features = in_features});
  Tensor weight = layer->weight(), bias = layer->bias();
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  init::uniform_(bias, -bound, bound);
  return layer;
}

void check_options(const char* layer, int64_t d_model, const TransformerLayerOptions& options) {
  NABLA_CHECK(options.activation == "relu" || options.activation == "gelu", layer,
              ": activation must be \"relu\" or \"gelu\", got \"", options.activation, "\"");
  NABLA_CHECK(d_model >= 1 && options.dim_feedforward >= 1, layer,
              ": d_model and dim_feedforward must be >= 1, got ", d_model, " and ",
              options.dim_feedforward);
  NABLA_CHECK(options.dropout >= 0 && options.dropout < 1, layer,
              ": dropout must be in [0, 1), got ", options.dropout);
}

// [N, T, d_model] (or [T, N, d_model] when not batch_first), named in the error.
void check_sequence(const char* layer, const char* what, const Tensor& x, int64_t d_model,
                    bool batch_first) {
  NABLA_CHECK(x.defined() && x.dim() == 3 && x.size(2) == d_model, layer, ": expected ", what, " ",
              batch_first ? "[N, T, " : "[T, N, ", d_model, "], got shape ",
              x.defined() ? detail::str(x.shape()) : std::string("undefined"));
}

std::string describe(int64_t d_model, int64_t nhead, const TransformerLayerOptions& options) {
  return detail::str("d_model=", d_model, ", nhead=", nhead,
                     ", dim_feedforward=", options.dim_feedforward, ", dropout=", options.dropout,
                     ", activation=", options.activation,
                     ", norm_first=", options.norm_first ? "True" : "False",
                     options.batch_first ? "" : ", batch_first=False");
}

// PyTorch's _ff_block and the dropout after it: dropout(linear2(dropout(activation(linear1(h))))).
Tensor feed_forward_block(Linear& linear1, Linear& linear2, const TransformerLayerOptions& options,
                          bool training, const Tensor& h) {
  const Tensor hidden = nabla::dropout(nabla::activation(linear1.forward(h), options.activation),
                                       options.dropout, training);
  return nabla::dropout(linear2.forward(hidden), options.dropout, training);
}

MultiHeadAttentionOptions attention_options(const TransformerLayerOptions& options) {
  return {.dropout = options.dropout, .bias = true, .batch_first = true};
}

}  // namespace

// ---- TransformerEncoderLayer ----

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead,
                                                 TransformerLayerOptions options)
    : d_model_(d_model), nhead_(nhead), options_(std::move(options)) {
  check_options("TransformerEncoderLayer", d_model, options_);
  self_attn_ = register_module("self_attn", std::make_shared<MultiHeadAttention>(
                                                d_model, nhead, attention_options(options_)));
  linear1_ = register_module("linear1", torch_linear(d_model, options_.dim_feedforward));
  linear2_ = register_module("linear2", torch_linear(options_.dim_feedforward, d_model));
  norm1_ = register_module("norm1",
                           std::make_shared<LayerNorm>(Shape{d_model}, options_.layer_norm_eps));
  norm2_ = register_module("norm2",
                           std::make_shared<LayerNorm>(Shape{d_model}, options_.layer_norm_eps));
}

Tensor TransformerEncoderLayer::encode(const Tensor& src, const Tensor& src_mask,
                                       const Tensor& src_key_padding_mask, bool is_causal) {
  check_sequence("TransformerEncoderLayer", "src", src, d_model_, options_.batch_first);
  const double p = options_.dropout;
  const bool causal = is_causal || options_.causal;  // options.causal: a GPT-style block
  auto self_attention = [&](const Tensor& h) {
    return nabla::dropout(self_attn_->attend(h, h, h, src_key_padding_mask, src_mask, causal), p,
                          training_);
  };
  auto feed_forward = [&](const Tensor& h) {
    return feed_forward_block(*linear1_, *linear2_, options_, training_, h);
  };
  Tensor x = options_.batch_first ? src : src.transpose(0, 1);
  if (options_.norm_first) {
    x = x + self_attention(norm1_->forward(x));
    x = x + feed_forward(norm2_->forward(x));
  } else {
    x = norm1_->forward(x + self_attention(x));
    x = norm2_->forward(x + feed_forward(x));
  }
  return options_.batch_first ? x : x.transpose(0, 1);
}

Tensor TransformerEncoderLayer::forward(const Tensor& x) { return encode(x); }

Tensor TransformerEncoderLayer::forward_masked(const Tensor& x, const Tensor& mask) {
  return encode(x, Tensor(), mask);
}

std::string TransformerEncoderLayer::extra_repr() const {
  return describe(d_model_, nhead_, options_) + (options_.causal ? ", causal=True" : "");
}

// ---- TransformerDecoderLayer ----

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d_model, int64_t nhead,
                                                 TransformerLayerOptions options)
    : d_model_(d_model), nhead_(nhead), options_(std::move(options)) {
  check_options("TransformerDecoderLayer", d_model, options_);
  self_attn_ = register_module("self_attn", std::make_shared<MultiHeadAttention>(
                                                d_model, nhead, attention_options(options_)));
  multihead_attn_ = register_module(
      "multihead_attn",
      std::make_shared<MultiHeadAttention>(d_model, nhead, attention_options(options_)));
  linear1_ = register_module("linear1", torch_linear(d_model, options_.dim_feedforward));
  linear2_ = register_module("linear2", torch_linear(options_.dim_feedforward, d_model));
  for (auto [name, norm] : {std::pair{"norm1", &norm1_}, {"norm2", &norm2_}, {"norm3", &norm3_}}) {
    *norm =
        register_module(name, std::make_shared<LayerNorm>(Shape{d_model}, options_.layer_norm_eps));
  }
}

// Without memory (forward(x)), the cross-attention block is skipped: a decoder-only stack.
Tensor TransformerDecoderLayer::decode(const Tensor& tgt, const Tensor& memory, bool tgt_is_causal,
                                       const Tensor& tgt_key_padding_mask,
                                       const Tensor& memory_key_padding_mask) {
  const char* layer = "TransformerDecoderLayer";
  check_sequence(layer, "tgt", tgt, d_model_, options_.batch_first);
  if (memory.defined()) {
    check_sequence(layer, "memory", memory, d_model_, options_.batch_first);
  }
  const double p = options_.dropout;
  const Tensor mem = memory.defined() && !options_.batch_first ? memory.transpose(0, 1) : memory;
  auto self_attention = [&](const Tensor& h) {
    return nabla::dropout(
        self_attn_->attend(h, h, h, tgt_key_padding_mask, Tensor(), tgt_is_causal), p, training_);
  };
  auto cross_attention = [&](const Tensor& h) {
    return nabla::dropout(multihead_attn_->attend(h, mem, mem, memory_key_padding_mask), p,
                          training_);
  };
  auto feed_forward = [&](const Tensor& h) {
    return feed_forward_block(*linear1_, *linear2_, options_, training_, h);
  };
  Tensor x = options_.batch_first ? tgt : tgt.transpose(0, 1);
  if (options_.norm_first) {
    x = x + self_attention(norm1_->forward(x));
    if (mem.defined()) x = x + cross_attention(norm2_->forward(x));
    x = x + feed_forward(norm3_->forward(x));
  } else {
    x = norm1_->forward(x + self_attention(x));
    if (mem.defined()) x = norm2_->forward(x + cross_attention(x));
    x = norm3_->forward(x + feed_forward(x));
  }
  return options_.batch_first ? x : x.transpose(0, 1);
}

Tensor TransformerDecoderLayer::forward(const Tensor& x) { return decode(x, Tensor()); }

std::string TransformerDecoderLayer::extra_repr() const {
  return describe(d_model_, nhead_, options_);
}

// ---- PositionalEncoding ----

PositionalEncoding::PositionalEncoding(int64_t max_length, std::string kind, double dropout)
    : max_length_(max_length), kind_(std::move(kind)), dropout_(dropout) {
  NABLA_CHECK(max_length >= 1, "PositionalEncoding: max_length must be >= 1, got ", max_length);
  NABLA_CHECK(kind_ == "sinusoidal" || kind_ == "learned",
              "PositionalEncoding: kind must be \"sinusoidal\" or \"learned\", got \"", kind_,
              "\"");
  NABLA_CHECK(dropout >= 0 && dropout < 1, "PositionalEncoding: dropout must be in [0, 1), got ",
              dropout);
}

namespace {
// Vaswani et al.: pe[t, 2i] = sin(t / 10000^(2i/D)), pe[t, 2i+1] = cos(t / 10000^(2i/D)).
Tensor sinusoidal_table(int64_t length, int64_t dim, DType dtype) {
  std::vector<double> values(length * dim);
  for (int64_t t = 0; t < length; ++t) {
    for (int64_t j = 0; j < dim; ++j) {
      const double angle = t * std::exp(-std::log(10000.0) * (j - j % 2) / dim);
      values[t * dim + j] = j % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  }
  return from_vector(values, {length, dim}).to(dtype);
}
}  // namespace

Tensor PositionalEncoding::forward(const Tensor& x) {
  NABLA_CHECK(x.dim() == 3, "PositionalEncoding: expected input [N, T, D], got shape ", x.shape());
  const int64_t length = x.size(1), dim = x.size(2);
  NABLA_CHECK(length <= max_length_, "PositionalEncoding: sequence length ", length,
              " exceeds max_length ", max_length_, " (input shape ", x.shape(), ")");
  if (!table_.defined()) {  // D is known from the first input
    const DType dtype = internal::param_dtype(x);
    if (kind_ == "sinusoidal") {
      table_ = register_buffer("pe", sinusoidal_table(max_length_, dim, dtype));
    } else {
      Tensor table = empty({max_length_, dim}, dtype);
      init::normal_(table, 0, 0.02);
      table_ = register_parameter("pe", table);
    }
  }
  NABLA_CHECK(dim == table_.size(1), "PositionalEncoding: expected input with D = ", table_.size(1),
              " features (last axis), got shape ", x.shape());
  return nabla::dropout(x + table_.slice(0, 0, length), dropout_, training_);
}

std::string PositionalEncoding::extra_repr() const {
  return detail::str("max_length=", max_length_, ", kind=", kind_,
                     table_.defined() ? detail::str(", dim=", table_.size(1)) : std::string(),
                     ", dropout=", dropout_);
}

}  // namespace nabla::nn
