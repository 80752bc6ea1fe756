// MultiHeadAttention: PyTorch's nn.MultiheadAttention (packed in_proj_weight [3E, E] and
// in_proj_bias [3E], out_proj; the same initialization), on batch-first inputs by default. The
// heads are views: a projection [N, L, E] is read as [N, H, L, E/H] without copying, and
// scaled_dot_product_attention reads such strided operands in place.
#include <cmath>
#include <limits>

#include "nabla/nn.hpp"

namespace nabla::nn {

MultiHeadAttention::MultiHeadAttention(int64_t embed_dim, int64_t num_heads,
                                       MultiHeadAttentionOptions options)
    : embed_dim_(embed_dim), num_heads_(num_heads), options_(options) {
  NABLA_CHECK(embed_dim >= 1 && num_heads >= 1,
              "MultiHeadAttention: embed_dim and num_heads must be >= 1, got ", embed_dim, " and ",
              num_heads);
  NABLA_CHECK(embed_dim % num_heads == 0, "MultiHeadAttention: embed_dim ", embed_dim,
              " must be divisible by num_heads ", num_heads);
  NABLA_CHECK(options_.dropout >= 0 && options_.dropout < 1,
              "MultiHeadAttention: dropout must be in [0, 1), got ", options_.dropout);
  Tensor in_proj_weight = empty({3 * embed_dim, embed_dim});
  init::xavier_uniform_(in_proj_weight);
  in_proj_weight_ = register_parameter("in_proj_weight", in_proj_weight);
  if (options_.bias) in_proj_bias_ = register_parameter("in_proj_bias", zeros({3 * embed_dim}));
  out_proj_ = register_module(
      "out_proj", std::make_shared<Linear>(embed_dim, LinearOptions{.in_features = embed_dim,
                                                                    .bias = options_.bias,
                                                                    .bias_initializer = "zeros"}));
  // PyTorch's Linear default, U(-1/sqrt(E), 1/sqrt(E)); its bias starts at zero as above.
  Tensor out_weight = out_proj_->weight();
  init::kaiming_uniform_(out_weight, std::sqrt(5.0));
}

namespace {

// [N, L, E] -> [N, H, L, E/H], a view.
Tensor split_heads(const Tensor& x, int64_t heads) {
  return x.reshape({x.size(0), x.size(1), heads, x.size(2) / heads}).transpose(1, 2);
}

// Rows [begin, end) of the packed projection: the weight slice and its bias slice (if any).
Tensor project(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t begin,
               int64_t end) {
  return linear(x, weight.slice(0, begin, end),
                bias.defined() ? bias.slice(0, begin, end) : Tensor());
}

}  // namespace

Tensor MultiHeadAttention::attend(const Tensor& query, const Tensor& key, const Tensor& value,
                                  const Tensor& key_padding_mask, const Tensor& attn_mask,
                                  bool is_causal) {
  const char* layout = options_.batch_first ? "[N, L, E]" : "[L, N, E]";
  for (const Tensor* t : {&query, &key, &value}) {
    NABLA_CHECK(t->defined() && t->dim() == 3 && t->size(2) == embed_dim_,
                "MultiHeadAttention: expected query, key and value ", layout,
                " with E = ", embed_dim_, ", got shapes ", query.shape(), ", ", key.shape(),
                " and ", value.shape());
  }
  const bool self = query.is_same(key) && key.is_same(value);
  const Tensor q_in = options_.batch_first ? query : query.transpose(0, 1);
  const Tensor k_in = options_.batch_first ? key : key.transpose(0, 1);
  const Tensor v_in = options_.batch_first ? value : value.transpose(0, 1);
  const int64_t n = q_in.size(0), l = q_in.size(1), s = k_in.size(1), e = embed_dim_;
  NABLA_CHECK(k_in.size(0) == n && v_in.size(0) == n && v_in.size(1) == s,
              "MultiHeadAttention: query, key and value must agree on the batch size and key and "
              "value on the length, got shapes ",
              query.shape(), ", ", key.shape(), " and ", value.shape());

  Tensor q, k, v;
  if (self) {  // one product for all three projections, as PyTorch
    const Tensor qkv = linear(q_in, in_proj_weight_, in_proj_bias_);
    q = qkv.slice(2, 0, e);
    k = qkv.slice(2, e, 2 * e);
    v = qkv.slice(2, 2 * e, 3 * e);
  } else {
    q = project(q_in, in_proj_weight_, in_proj_bias_, 0, e);
    if (key.is_same(value)) {
      const Tensor kv = project(k_in, in_proj_weight_, in_proj_bias_, e, 3 * e);
      k = kv.slice(2, 0, e);
      v = kv.slice(2, e, 2 * e);
    } else {
      k = project(k_in, in_proj_weight_, in_proj_bias_, e, 2 * e);
      v = project(v_in, in_proj_weight_, in_proj_bias_, 2 * e, 3 * e);
    }
  }

  Tensor mask = attn_mask;
  if (mask.defined() && mask.dim() == 3 && mask.size(0) == n * num_heads_) {
    mask = mask.reshape({n, num_heads_, mask.size(1), mask.size(2)});  // PyTorch's [N*H, L, S]
  }
  if (key_padding_mask.defined()) {
    NABLA_CHECK(
        key_padding_mask.dtype() == DType::boolean && key_padding_mask.shape() == (Shape{n, s}),
        "MultiHeadAttention: key_padding_mask must be bool [N, S] = [", n, ", ", s,
        "] (true = a real key), got ", key_padding_mask.dtype(), " of shape ",
        key_padding_mask.shape());
    const Tensor keys = key_padding_mask.reshape({n, 1, 1, s});
    if (!mask.defined()) {
      mask = keys;
    } else {  // padded keys are disallowed whatever attn_mask says
      const double blocked =
          mask.dtype() == DType::boolean ? 0.0 : -std::numeric_limits<double>::infinity();
      mask = where(keys, mask, scalar_tensor(blocked, mask.dtype()));
    }
  }

  const Tensor heads = scaled_dot_product_attention(
      split_heads(q, num_heads_), split_heads(k, num_heads_), split_heads(v, num_heads_), mask,
      is_causal, options_.dropout, training_);
  const Tensor merged = heads.transpose(1, 2).reshape({n, l, e});
  const Tensor out = out_proj_->forward(merged);
  return options_.batch_first ? out : out.transpose(0, 1);
}

Tensor MultiHeadAttention::forward(const Tensor& x) { return attend(x, x, x); }

Tensor MultiHeadAttention::forward_masked(const Tensor& x, const Tensor& mask) {
  return attend(x, x, x, mask);
}

std::string MultiHeadAttention::extra_repr() const {
  return detail::str("embed_dim=", embed_dim_, ", num_heads=", num_heads_,
                     ", dropout=", options_.dropout, ", bias=", options_.bias ? "True" : "False",
                     options_.batch_first ? "" : ", batch_first=False");
}

}  // namespace nabla::nn
