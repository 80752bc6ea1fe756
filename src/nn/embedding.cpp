// Embedding: a trained [num_embeddings, embedding_dim] lookup table (Keras's Embedding, PyTorch's
// nn.Embedding). With mask_zero, id 0 marks padding and the layer starts a Keras-style mask.
#include "nabla/nn.hpp"

namespace nabla::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, EmbeddingOptions options)
    : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim), options_(std::move(options)) {
  NABLA_CHECK(num_embeddings >= 1, "Embedding: num_embeddings must be >= 1, got ", num_embeddings);
  NABLA_CHECK(embedding_dim >= 1, "Embedding: embedding_dim must be >= 1, got ", embedding_dim);
  NABLA_CHECK(options_.padding_idx >= -1 && options_.padding_idx < num_embeddings,
              "Embedding: padding_idx ", options_.padding_idx, " is out of range for ",
              num_embeddings, " embeddings (expected -1 for none, or 0 <= padding_idx < ",
              num_embeddings, ")");
  NABLA_CHECK(options_.max_norm >= 0, "Embedding: max_norm must be >= 0 (0 = none), got ",
              options_.max_norm);
  Tensor weight = empty({num_embeddings, embedding_dim});
  init::apply(options_.initializer, weight);
  // The padding row starts at zero and, since it gets no gradient, stays there.
  if (options_.padding_idx >= 0) weight.select(0, options_.padding_idx).fill_(0);
  weight_ = register_parameter("weight", weight);
}

Tensor Embedding::forward(const Tensor& ids) {
  return nabla::embedding(ids, weight_, options_.padding_idx, options_.max_norm, options_.sparse);
}

Tensor Embedding::compute_mask(const Tensor& ids, const Tensor&) const {
  if (!options_.mask_zero) return Tensor();
  return ne(ids, scalar_tensor(0, ids.dtype()));
}

std::string Embedding::extra_repr() const {
  std::string s = detail::str(num_embeddings_, ", ", embedding_dim_);
  if (options_.padding_idx >= 0) s += detail::str(", padding_idx=", options_.padding_idx);
  if (options_.max_norm > 0) s += detail::str(", max_norm=", options_.max_norm);
  if (options_.mask_zero) s += ", mask_zero=True";
  if (options_.sparse) s += ", sparse=True";
  return s;
}

}  // namespace nabla::nn
