// ONNX forms of the attention layers, as the primitive ops they compute (opset 17 has no attention
// operator): MultiHeadAttention, TransformerEncoderLayer, TransformerDecoderLayer and the
// Transformer kind of Seq2Seq. Each is written as nabla's forward computes it: PyTorch's packed
// projections (in_proj_weight [3E, E]) as three MatMul + Add, the heads as Reshape + Transpose,
// the scores scaled by 1/sqrt(E/H) after the product, masks as Where, Softmax over the keys.
#include <cmath>
#include <limits>

#include "io/onnx_builder.hpp"
#include "nabla/ops.hpp"

namespace nabla::io::onnx_export {
namespace {

// A [N, T, E] value and its (static) length T.
struct Sequence {
  std::string value;
  int64_t length = 0;
};

// x [N, T, in] times weight [out, in]^T, plus bias when it is defined: Gemm takes matrices only.
std::string affine(GraphBuilder& b, const std::string& x, const Tensor& weight, const Tensor& bias,
                   const std::string& prefix, const std::string& output = "") {
  const std::string w = b.weight(prefix + ".weight_t", weight.t());
  if (!bias.defined()) {
    const std::string out = output.empty() ? b.fresh(prefix, "MatMul") : output;
    b.node("MatMul", {x, w}, {out}, prefix + "/MatMul");
    return out;
  }
  const std::string product = b.value("MatMul", {x, w}, prefix);
  const std::string out = output.empty() ? b.fresh(prefix, "Add") : output;
  b.node("Add", {product, b.weight(prefix + ".bias", bias)}, {out}, prefix + "/Add");
  return out;
}

std::string linear(GraphBuilder& b, const nn::Module& layer, const std::string& x,
                   const std::string& prefix, const std::string& output = "") {
  const auto& l = static_cast<const nn::Linear&>(layer);
  return affine(b, x, l.weight(), l.bias(), prefix, output);
}

std::string reshape(GraphBuilder& b, const std::string& x, const std::vector<int64_t>& shape,
                    const std::string& prefix) {
  return b.value("Reshape", {x, b.ints(prefix + ".shape", shape)}, prefix);
}

std::string transpose(GraphBuilder& b, const std::string& x, const std::vector<int64_t>& perm,
                      const std::string& prefix) {
  const std::string out = b.fresh(prefix, "Transpose");
  GraphBuilder::set(b.node("Transpose", {x}, {out}, out), "perm", perm);
  return out;
}

// A LayerNorm part, converted by its own family's converter under the name "<prefix>.<name>".
std::string norm(GraphBuilder& b, const nn::Module& owner, const std::string& name,
                 const std::string& prefix, const Sequence& x, int64_t width,
                 const std::string& output = "") {
  LayerCall owner_call;
  owner_call.name = prefix;
  Shape shape;
  return convert_part(owner_call, child(owner, name), name, x.value, Shape{1, x.length, width},
                      shape, b, output);
}

// nabla's MultiHeadAttention::attend (batch-first) of `query` over `memory` (the same value for
// self-attention). key_padding: bool [N, S], true = a real key, or "" for none; causal: query l
// sees keys s <= l. As nabla's fused op, a query row with no allowed key gives zeros: Where picks
// the scores of allowed keys (the lowest float elsewhere, whose exp is 0 next to any allowed key),
// and where a padding mask can block a whole row, a second Where zeroes the weights it blocks.
std::string attention(GraphBuilder& b, const nn::MultiHeadAttention& mha, const std::string& prefix,
                      const Sequence& query, const Sequence& memory, const std::string& key_padding,
                      bool causal, const std::string& output = "") {
  const int64_t e = mha.embed_dim(), h = mha.num_heads(), d = e / h;
  const int64_t l = query.length, s = memory.length;
  Tensor w, bias;
  for (const auto& [name, t] : mha.named_parameters(false)) {
    if (name == "in_proj_weight") w = t;
    if (name == "in_proj_bias") bias = t;
  }
  // Rows [part * E, (part + 1) * E) of the packed projection: q, k, v.
  auto project = [&](const std::string& x, int64_t part, const char* what) {
    return affine(b, x, w.slice(0, part * e, (part + 1) * e),
                  bias.defined() ? bias.slice(0, part * e, (part + 1) * e) : Tensor(),
                  prefix + "." + what);
  };
  // [N, T, E] -> [N, T, H, E/H] -> [N, H, T, E/H] (perm 0 2 1 3), or [N, H, E/H, T] for the keys.
  auto heads = [&](const std::string& x, const std::vector<int64_t>& perm) {
    return transpose(b, reshape(b, x, {0, 0, h, d}, prefix), perm, prefix);
  };
  const std::string q = heads(project(query.value, 0, "q_proj"), {0, 2, 1, 3});
  const std::string k = heads(project(memory.value, 1, "k_proj"), {0, 2, 3, 1});
  const std::string v = heads(project(memory.value, 2, "v_proj"), {0, 2, 1, 3});
  const std::string scores = b.value("MatMul", {q, k}, prefix);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  std::string x = b.value("Mul", {scores, b.scalar(prefix + ".scale", scale)}, prefix);

  std::string allowed;  // bool, broadcasting to the scores [N, H, L, S]
  if (causal) {
    std::vector<bool> table(static_cast<size_t>(l * s));
    for (int64_t i = 0; i < l; ++i) {
      for (int64_t j = 0; j < s; ++j) table[static_cast<size_t>(i * s + j)] = j <= i;
    }
    allowed = b.bools(prefix + ".causal_mask", {l, s}, table);
  }
  if (!key_padding.empty()) {
    const std::string keys = reshape(b, key_padding, {0, 1, 1, s}, prefix);
    allowed = allowed.empty() ? keys : b.value("And", {allowed, keys}, prefix);
  }
  if (!allowed.empty()) {
    const float lowest = std::numeric_limits<float>::lowest();
    x = b.value("Where", {allowed, x, b.scalar(prefix + ".blocked", lowest)}, prefix);
  }
  std::string weights = b.fresh(prefix, "Softmax");
  GraphBuilder::set(b.node("Softmax", {x}, {weights}, weights), "axis", int64_t{-1});
  if (!key_padding.empty()) {
    weights = b.value("Where", {allowed, weights, b.scalar(prefix + ".zero", 0.0f)}, prefix);
  }
  const std::string context = b.value("MatMul", {weights, v}, prefix);
  const std::string merged =
      reshape(b, transpose(b, context, {0, 2, 1, 3}, prefix), {0, 0, e}, prefix);
  return linear(b, child(mha, "out_proj"), merged, prefix + ".out_proj", output);
}

void check_batch_first(bool batch_first) {
  // The export keeps axis 0 as the (dynamic) batch axis, and sizes the masks by the length.
  if (!batch_first) throw Unsupported("batch_first = false (time on axis 0) has no ONNX form here");
}

// dropout(linear2(dropout(activation(linear1(h))))) in inference form.
std::string feed_forward(GraphBuilder& b, const nn::Module& layer, const std::string& activation,
                         const std::string& h, const std::string& prefix,
                         const std::string& output = "") {
  const std::string hidden = linear(b, child(layer, "linear1"), h, prefix + ".linear1");
  const std::string activated = b.fresh(prefix + ".linear1", activation);
  emit_activation(b, activation, hidden, activated, prefix + ".linear1");
  return linear(b, child(layer, "linear2"), activated, prefix + ".linear2", output);
}

// TransformerEncoderLayer::encode: post-norm (norm1(x + attention(x)), then norm2(x + ff(x))) or
// pre-norm (x + attention(norm1(x)), then x + ff(norm2(x))).
std::string encoder_layer(GraphBuilder& b, const nn::TransformerEncoderLayer& layer,
                          const std::string& prefix, const Sequence& x,
                          const std::string& key_padding, bool causal,
                          const std::string& output = "") {
  const nn::TransformerLayerOptions& o = layer.options();
  check_batch_first(o.batch_first);
  const auto& mha = static_cast<const nn::MultiHeadAttention&>(child(layer, "self_attn"));
  const int64_t e = layer.d_model();
  const std::string attn = prefix + ".self_attn";
  if (o.norm_first) {
    const Sequence normed{norm(b, layer, "norm1", prefix, x, e), x.length};
    const Sequence h{
        b.value("Add", {x.value, attention(b, mha, attn, normed, normed, key_padding, causal)},
                prefix),
        x.length};
    const std::string f =
        feed_forward(b, layer, o.activation, norm(b, layer, "norm2", prefix, h, e), prefix);
    const std::string out = output.empty() ? b.fresh(prefix, "Add") : output;
    b.node("Add", {h.value, f}, {out}, prefix + "/Add");
    return out;
  }
  const std::string a = attention(b, mha, attn, x, x, key_padding, causal);
  const Sequence h{
      norm(b, layer, "norm1", prefix, {b.value("Add", {x.value, a}, prefix), x.length}, e),
      x.length};
  const std::string f = feed_forward(b, layer, o.activation, h.value, prefix);
  return norm(b, layer, "norm2", prefix, {b.value("Add", {h.value, f}, prefix), x.length}, e,
              output);
}

// TransformerDecoderLayer::decode: causal self-attention (with the target's padding mask), then,
// when there is a memory, attention over it (with the source's), then the feed-forward block;
// post-norm or pre-norm as the encoder layer.
std::string decoder_layer(GraphBuilder& b, const nn::TransformerDecoderLayer& layer,
                          const std::string& prefix, const Sequence& x, const Sequence* memory,
                          const std::string& target_padding, const std::string& source_padding,
                          const std::string& output = "") {
  const nn::TransformerLayerOptions& o = layer.options();
  check_batch_first(o.batch_first);
  const auto& self_attn = static_cast<const nn::MultiHeadAttention&>(child(layer, "self_attn"));
  const auto& cross_attn =
      static_cast<const nn::MultiHeadAttention&>(child(layer, "multihead_attn"));
  const int64_t e = layer.d_model();
  // One residual step: x + f(x) post-norm as norm(x + f(x)), pre-norm as x + f(norm(x)).
  auto step = [&](const Sequence& h, const char* norm_name, auto&& f, bool last) {
    const std::string out = last ? output : std::string();
    if (o.norm_first) {
      const std::string sum = out.empty() ? b.fresh(prefix, "Add") : out;
      const Sequence normed{norm(b, layer, norm_name, prefix, h, e), h.length};
      b.node("Add", {h.value, f(normed)}, {sum}, prefix + "/Add");
      return Sequence{sum, h.length};
    }
    const Sequence sum{b.value("Add", {h.value, f(h)}, prefix), h.length};
    return Sequence{norm(b, layer, norm_name, prefix, sum, e, out), h.length};
  };
  Sequence h = step(
      x, "norm1",
      [&](const Sequence& in) {
        return attention(b, self_attn, prefix + ".self_attn", in, in, target_padding, true);
      },
      false);
  if (memory != nullptr) {
    h = step(
        h, "norm2",
        [&](const Sequence& in) {
          return attention(b, cross_attn, prefix + ".multihead_attn", in, *memory, source_padding,
                           false);
        },
        false);
  }
  return step(
             h, "norm3",
             [&](const Sequence& in) {
               return feed_forward(b, layer, o.activation, in.value, prefix);
             },
             true)
      .value;
}

// Seq2Seq (kind "transformer") on ids [N, S + T]: the source and the decoder input sliced apart,
// their padding masks (id 0) compared out of the ids, embeddings scaled by sqrt(d_model) plus the
// sinusoidal positions, the encoder and decoder stacks, the output layer: logits [N, T, V].
void convert_seq2seq(const LayerCall& c, const nn::Seq2Seq& model, GraphBuilder& b) {
  if (model.kind() != "transformer") {
    throw Unsupported("kind \"" + model.kind() + "\" has no ONNX form (the Transformer has)");
  }
  const nn::Seq2SeqOptions& o = model.options();
  const int64_t s = o.source_length, t = c.input_shapes[0][1] - s, e = o.hidden_size;
  auto slice = [&](int64_t begin, int64_t end, const char* what) {
    const std::string p = c.name + "." + what;
    return b.value("Slice",
                   {c.inputs[0], b.ints(p + ".starts", {begin}), b.ints(p + ".ends", {end}),
                    b.ints(p + ".axes", {1})},
                   p);
  };
  const std::string pad_id = b.ints(c.name + ".pad_id", {0});
  auto real = [&](const std::string& ids, const std::string& p) {  // ids != 0
    return b.value("Not", {b.value("Equal", {ids, pad_id}, p)}, p);
  };
  const auto& positions = child(model, "positional_encoding");
  Tensor table;
  for (const auto& [name, tensor] : positions.named_buffers(false)) {
    if (name == "pe") table = tensor;
  }
  auto embed = [&](const std::string& ids, int64_t length, const char* which) {
    const std::string p = c.name + "." + which;
    const auto& embedding = static_cast<const nn::Embedding&>(child(model, which));
    const std::string rows =
        b.value("Gather", {b.weight(p + ".weight", embedding.weight()), ids}, p);
    const std::string scaled = b.value(
        "Mul",
        {rows, b.scalar(p + ".scale", static_cast<float>(std::sqrt(static_cast<double>(e))))}, p);
    const std::string q = c.name + ".positional_encoding";
    return Sequence{b.value("Add", {scaled, b.weight(q + ".pe", table.slice(0, 0, length))}, q),
                    length};
  };
  const std::string source = slice(0, s, "source"), tokens = slice(s, s + t, "target");
  const std::string source_mask = real(source, c.name + ".source_mask");
  const std::string target_mask = real(tokens, c.name + ".target_mask");

  Sequence memory = embed(source, s, "encoder_embedding");
  for (const auto& [name, layer] : child(model, "encoder").named_children()) {
    memory.value = encoder_layer(b, static_cast<const nn::TransformerEncoderLayer&>(*layer),
                                 c.name + ".encoder." + name, memory, source_mask, false);
  }
  Sequence y = embed(tokens, t, "decoder_embedding");
  for (const auto& [name, layer] : child(model, "decoder").named_children()) {
    y.value = decoder_layer(b, static_cast<const nn::TransformerDecoderLayer&>(*layer),
                            c.name + ".decoder." + name, y, &memory, target_mask, source_mask);
  }
  linear(b, child(model, "output"), y.value, c.name + ".output", c.output);
}

}  // namespace

bool convert_attention_layer(const LayerCall& c, GraphBuilder& b) {
  nn::Module* layer = c.layer;
  if (auto* mha = dynamic_cast<nn::MultiHeadAttention*>(layer)) {
    check_batch_first(mha->options().batch_first);
    const Sequence x{c.inputs[0], c.input_shapes[0][1]};
    attention(b, *mha, c.name, x, x, "", false, c.output);
  } else if (auto* encoder = dynamic_cast<nn::TransformerEncoderLayer*>(layer)) {
    encoder_layer(b, *encoder, c.name, {c.inputs[0], c.input_shapes[0][1]}, "",
                  encoder->options().causal, c.output);
  } else if (auto* decoder = dynamic_cast<nn::TransformerDecoderLayer*>(layer)) {
    // forward(x) alone: causal self-attention and the feed-forward block, no memory.
    decoder_layer(b, *decoder, c.name, {c.inputs[0], c.input_shapes[0][1]}, nullptr, "", "",
                  c.output);
  } else if (auto* seq2seq = dynamic_cast<nn::Seq2Seq*>(layer)) {
    convert_seq2seq(c, *seq2seq, b);
  } else {
    return false;
  }
  return true;
}

}  // namespace nabla::io::onnx_export
