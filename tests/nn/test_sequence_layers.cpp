// Sequence layers: Embedding (init, padding row, mask_zero), GlobalPooling1D (masked max and
// mean), MultiHeadAttention and the Transformer layers against PyTorch 1.13 with its state dicts
// loaded by name (outputs and input gradients, f64 and f32), gradchecks w.r.t. the inputs,
// masking (padded keys and future positions do not change real results), PositionalEncoding,
// and error messages that name the layer.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/gradcheck.hpp"
#include "support/parameter_names.hpp"
#include "support/reference.hpp"

using nabla::testing::parameter_names;
using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::leaf;
using nabla::testing::tensor_from_json;
using Inputs = std::vector<Tensor>;

namespace {

const nlohmann::json& reference() {
  static const nlohmann::json cases = nabla::testing::load_reference("attention");
  return cases;
}

void load_reference_weights(nn::Module& module, const std::string& name, DType dtype) {
  module.to(dtype);
  nn::StateDict state;
  for (const auto& [key, value] : reference().at("state_dicts").at(name).items()) {
    state[key] = tensor_from_json(value).to(dtype);
  }
  module.load_state_dict(state);
  module.eval();
}

Tensor input(const nlohmann::json& c, const char* key, DType dtype) {
  return tensor_from_json(c.at(key)).to(dtype).detach().requires_grad_();
}

Tensor optional_mask(const nlohmann::json& c, const char* key, DType dtype) {
  if (!c.contains(key)) return Tensor();
  const Tensor mask = tensor_from_json(c.at(key));
  return mask.dtype() == DType::boolean ? mask : mask.to(dtype);
}

Tensor logical_and_for_test(const Tensor& a, const Tensor& b) {
  return gt(a.to(DType::f32) * b.to(DType::f32), scalar_tensor(0));
}

double rtol_for(DType dtype) { return dtype == DType::f64 ? 1e-10 : 1e-5; }
double atol_for(DType dtype) { return dtype == DType::f64 ? 1e-12 : 1e-5; }

nn::TransformerLayerOptions layer_options(const nlohmann::json& c) {
  return {.dim_feedforward = c.at("dim_feedforward"),
          .dropout = 0,
          .activation = c.at("activation"),
          .norm_first = c.at("norm_first")};
}

// Values of `t` at positions [:, begin:end, :].
std::vector<double> steps(const Tensor& t, int64_t begin, int64_t end) {
  return t.slice(1, begin, end).to(DType::f64).to_vector<double>();
}

void expect_near(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "element " << i;
}

}  // namespace

// ---- Embedding ----

TEST(EmbeddingLayer, KerasUniformInitPaddingRowAndNames) {
  manual_seed(0);
  nn::Embedding emb(20, 6, {.padding_idx = 3});
  EXPECT_EQ(emb.weight().shape(), (Shape{20, 6}));
  EXPECT_EQ(parameter_names(emb), (std::vector<std::string>{"weight"}));
  const auto w = emb.weight().to_vector<float>();
  float largest = 0;
  for (float v : w) largest = std::max(largest, std::abs(v));
  EXPECT_LE(largest, 0.05f);
  EXPECT_GT(largest, 0.04f);
  EXPECT_EQ(emb.weight().select(0, 3).to_vector<float>(), std::vector<float>(6, 0.0f));
  EXPECT_EQ(emb.extra_repr(), "20, 6, padding_idx=3");
  EXPECT_EQ(emb.type_name(), "Embedding");
  nn::Embedding normal(4, 2, {.max_norm = 1.5, .mask_zero = true, .initializer = "glorot_normal"});
  EXPECT_EQ(normal.extra_repr(), "4, 2, max_norm=1.5, mask_zero=True");
}

TEST(EmbeddingLayer, ForwardShapeGradientAndMaskZero) {
  nn::Embedding emb(10, 4, {.padding_idx = 0, .mask_zero = true});
  const Tensor ids = from_vector(std::vector<int64_t>{5, 2, 0, 0, 7, 1, 3, 0}, {2, 4});
  const Tensor y = emb(ids);
  EXPECT_EQ(y.shape(), (Shape{2, 4, 4}));
  EXPECT_EQ(y.select(0, 0).select(0, 0).to_vector<float>(),
            emb.weight().select(0, 5).to_vector<float>());
  const Tensor mask = emb.compute_mask(ids, Tensor());
  EXPECT_EQ(mask.dtype(), DType::boolean);
  EXPECT_EQ(mask.to_vector<bool>(),
            (std::vector<bool>{true, true, false, false, true, true, true, false}));
  y.sum().backward();
  // Padding rows get no gradient; id 5 appears once.
  EXPECT_EQ(emb.weight().grad().select(0, 0).to_vector<float>(), std::vector<float>(4, 0.0f));
  EXPECT_EQ(emb.weight().grad().select(0, 5).to_vector<float>(), std::vector<float>(4, 1.0f));
  nn::Embedding plain(10, 4);
  EXPECT_FALSE(plain.compute_mask(ids, Tensor()).defined());
}

TEST(EmbeddingLayer, ErrorsNameTheLayerAndTheId) {
  EXPECT_EQ(error_message([] { nn::Embedding(10, 4, {.padding_idx = 10}); }),
            "Embedding: padding_idx 10 is out of range for 10 embeddings (expected -1 for none, "
            "or 0 <= padding_idx < 10)");
  nn::Embedding emb(10, 4);
  EXPECT_EQ(error_message([&] {
              emb(from_vector(std::vector<int64_t>{3, 12}, {1, 2}));
            }),
            "embedding: id 12 is out of range for a vocabulary of 10 (ids must be in [0, 10))");
}

// ---- GlobalPooling1D ----

TEST(GlobalPooling1D, MaxAndMeanOverTime) {
  const Tensor x =
      from_vector(std::vector<float>{1, -2, 5, 0, 3, 4, -1, 8, 2, 2, 0, -6}, {2, 3, 2});
  nn::GlobalPooling1D max_pool(true), mean_pool(false);
  EXPECT_EQ(max_pool.type_name(), "GlobalMaxPooling1D");
  EXPECT_EQ(mean_pool.type_name(), "GlobalAveragePooling1D");
  EXPECT_EQ(max_pool(x).to_vector<float>(), (std::vector<float>{5, 4, 2, 8}));
  EXPECT_EQ(mean_pool(x).to_vector<float>(), (std::vector<float>{3, 2.0f / 3, 1.0f / 3, 4.0f / 3}));
  EXPECT_FALSE(max_pool.compute_mask(x, ones({2, 3}, DType::boolean)).defined());
}

TEST(GlobalPooling1D, MaskedStepsAreLeftOut) {
  const Tensor x =
      from_vector(std::vector<float>{1, -2, 5, 0, 3, 4, -1, 8, 2, 2, 0, -6}, {2, 3, 2});
  // Sample 0 keeps steps 0 and 2, sample 1 none.
  const Tensor mask =
      from_vector(std::vector<bool>{true, false, true, false, false, false}, {2, 3});
  nn::GlobalPooling1D max_pool(true), mean_pool(false);
  Tensor xg = x.clone().requires_grad_();
  const Tensor mx = max_pool.forward_masked(xg, mask);
  EXPECT_EQ(mx.to_vector<float>(), (std::vector<float>{3, 4, 0, 0}));
  mx.sum().backward();
  EXPECT_EQ(xg.grad().to_vector<float>(), (std::vector<float>{0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(mean_pool.forward_masked(x, mask).to_vector<float>(), (std::vector<float>{2, 1, 0, 0}));
  EXPECT_EQ(error_message([&] {
              max_pool.forward_masked(x, ones({3, 2}, DType::boolean));
            }),
            "GlobalMaxPooling1D: expected a bool mask [N, T] = [2, 3], got bool of shape [3, 2]");
  EXPECT_EQ(error_message([&] {
              mean_pool(zeros({2, 3}));
            }),
            "GlobalAveragePooling1D: expected input [N, T, C], got shape [2, 3]");
}

TEST(GlobalPooling1D, SequentialCarriesTheEmbeddingMask) {
  auto emb = std::make_shared<nn::Embedding>(6, 3, nn::EmbeddingOptions{.mask_zero = true});
  nn::Sequential model({emb, std::make_shared<nn::GlobalPooling1D>(false)});
  const Tensor ids = from_vector(std::vector<int64_t>{4, 2, 0, 0, 5, 0}, {2, 3});
  const Tensor y = model(ids);
  const Tensor w = emb->weight();
  const Tensor expected0 = (w.select(0, 4) + w.select(0, 2)) / 2.0;
  EXPECT_ALL_CLOSE(y.select(0, 0), expected0, 1e-6, 1e-7);
  EXPECT_ALL_CLOSE(y.select(0, 1), w.select(0, 5), 1e-6, 1e-7);
}

// ---- MultiHeadAttention ----

TEST(MultiHeadAttention, ParametersAndPyTorchInitialization) {
  manual_seed(1);
  nn::MultiHeadAttention mha(16, 4);
  EXPECT_EQ(parameter_names(mha), (std::vector<std::string>{"in_proj_weight", "in_proj_bias",
                                                            "out_proj.weight", "out_proj.bias"}));
  const auto state = mha.state_dict();
  EXPECT_EQ(state.at("in_proj_weight").shape(), (Shape{48, 16}));
  EXPECT_EQ(state.at("in_proj_bias").to_vector<float>(), std::vector<float>(48, 0.0f));
  EXPECT_EQ(state.at("out_proj.bias").to_vector<float>(), std::vector<float>(16, 0.0f));
  auto largest = [](const Tensor& t) {
    double m = 0;
    for (float v : t.to_vector<float>()) m = std::max(m, std::abs(static_cast<double>(v)));
    return m;
  };
  const double xavier = std::sqrt(6.0 / (16 + 48)), kaiming = 1 / std::sqrt(16.0);
  EXPECT_LE(largest(state.at("in_proj_weight")), xavier);
  EXPECT_GT(largest(state.at("in_proj_weight")), 0.9 * xavier);
  EXPECT_LE(largest(state.at("out_proj.weight")), kaiming);
  EXPECT_GT(largest(state.at("out_proj.weight")), 0.9 * kaiming);
  EXPECT_EQ(mha.extra_repr(), "embed_dim=16, num_heads=4, dropout=0, bias=True");
  nn::MultiHeadAttention no_bias(8, 2, {.bias = false});
  EXPECT_EQ(parameter_names(no_bias),
            (std::vector<std::string>{"in_proj_weight", "out_proj.weight"}));
  EXPECT_EQ(no_bias(randn({2, 3, 8})).shape(), (Shape{2, 3, 8}));
}

TEST(MultiHeadAttention, MatchesPyTorch) {
  for (const char* name :
       {"mha/self_padding", "mha/self_bool_mask", "mha/cross_float_mask_padding"}) {
    for (DType dtype : {DType::f64, DType::f32}) {
      SCOPED_TRACE(std::string(name) + " " + dtype_name(dtype));
      const auto& c = reference().at(name);
      nn::MultiHeadAttention mha(8, c.at("num_heads"));
      load_reference_weights(mha, c.at("weights"), dtype);
      Tensor query = input(c, "query", dtype);
      const bool cross = c.contains("key");
      Tensor key = cross ? input(c, "key", dtype) : query;
      Tensor value = cross ? input(c, "value", dtype) : query;
      const Tensor out = mha.attend(query, key, value, optional_mask(c, "key_padding_mask", dtype),
                                    optional_mask(c, "attn_mask", dtype));
      out.backward(tensor_from_json(c.at("grad_out")).to(dtype));
      const double rtol = rtol_for(dtype), atol = atol_for(dtype);
      EXPECT_ALL_CLOSE(out, tensor_from_json(c.at("out")), rtol, atol);
      EXPECT_ALL_CLOSE(query.grad(), tensor_from_json(c.at("grad_query")), rtol, atol);
      if (cross) {
        EXPECT_ALL_CLOSE(key.grad(), tensor_from_json(c.at("grad_key")), rtol, atol);
        EXPECT_ALL_CLOSE(value.grad(), tensor_from_json(c.at("grad_value")), rtol, atol);
      }
    }
  }
}

TEST(MultiHeadAttention, GradcheckWithRespectToInputs) {
  manual_seed(2);
  nn::MultiHeadAttention mha(6, 3);
  mha.to(DType::f64);
  const Tensor padding =
      from_vector(std::vector<bool>{true, true, true, true, true, false, false, true}, {2, 4});
  EXPECT_GRADCHECK([&](const Inputs& in) { return mha.forward_masked(in[0], padding); },
                   {leaf({2, 4, 6}, 1)});
  const Tensor attn_mask = randn({3, 4}, DType::f64);
  EXPECT_GRADCHECK(
      [&](const Inputs& in) { return mha.attend(in[0], in[1], in[2], padding, attn_mask); },
      {leaf({2, 3, 6}, 2), leaf({2, 4, 6}, 3), leaf({2, 4, 6}, 4)});
  EXPECT_GRADCHECK(
      [&](const Inputs& in) { return mha.attend(in[0], in[1], in[1], Tensor(), Tensor(), true); },
      {leaf({2, 4, 6}, 5), leaf({2, 4, 6}, 6)});
}

TEST(MultiHeadAttention, PaddedKeysDoNotChangeRealResults) {
  manual_seed(3);
  nn::MultiHeadAttention mha(8, 2);
  const Tensor mask = from_vector(std::vector<bool>{true, true, true, false, false}, {1, 5});
  const Tensor x = randn({1, 5, 8});
  Tensor changed = x.clone();
  changed.slice(1, 3, 5).copy_(randn({1, 2, 8}) * 10.0);
  const Tensor a = mha.forward_masked(x, mask), b = mha.forward_masked(changed, mask);
  expect_near(steps(a, 0, 3), steps(b, 0, 3), 1e-5);
  // The same as attending over the first three steps alone.
  expect_near(steps(a, 0, 3), steps(mha(x.slice(1, 0, 3)), 0, 3), 1e-5);
  // A bool attn_mask and the key padding mask combine: a key must be allowed by both.
  const Tensor allowed =
      from_vector(std::vector<bool>{true, false, true, true, true, true,  true, false, true,
                                    true, false, true, true, true, true,  true, false, true,
                                    true, true,  true, true, true, false, true},
                  {5, 5});
  const Tensor both = mha.attend(x, x, x, mask, allowed);
  const Tensor combined = logical_and_for_test(allowed, mask.reshape({1, 5}));
  expect_near(both.to(DType::f64).to_vector<double>(),
              mha.attend(x, x, x, Tensor(), combined).to(DType::f64).to_vector<double>(), 1e-6);
  // PyTorch's per-head attn_mask [N * H, L, S] is read as [N, H, L, S].
  const Tensor x2 = randn({2, 5, 8}), per_head = randn({4, 5, 5});
  expect_near(mha.attend(x2, x2, x2, Tensor(), per_head).to(DType::f64).to_vector<double>(),
              mha.attend(x2, x2, x2, Tensor(), per_head.reshape({2, 2, 5, 5}))
                  .to(DType::f64)
                  .to_vector<double>(),
              1e-6);
  // batch_first = false reads [L, N, E].
  nn::MultiHeadAttention seq_first(8, 2, {.batch_first = false});
  seq_first.load_state_dict(mha.state_dict());
  expect_near(seq_first(x.transpose(0, 1)).transpose(0, 1).to(DType::f64).to_vector<double>(),
              mha(x).to(DType::f64).to_vector<double>(), 1e-6);
}

TEST(MultiHeadAttention, DropoutOnlyWhenTraining) {
  manual_seed(4);
  nn::MultiHeadAttention mha(8, 2, {.dropout = 0.5});
  const Tensor x = randn({2, 6, 8});
  mha.eval();
  const auto a = mha(x).to_vector<float>(), b = mha(x).to_vector<float>();
  EXPECT_EQ(a, b);
  mha.train();
  EXPECT_NE(mha(x).to_vector<float>(), a);
}

TEST(MultiHeadAttention, ErrorsNameTheLayer) {
  EXPECT_EQ(error_message([] { nn::MultiHeadAttention(10, 3); }),
            "MultiHeadAttention: embed_dim 10 must be divisible by num_heads 3");
  nn::MultiHeadAttention mha(8, 2);
  EXPECT_EQ(error_message([&] {
              mha(zeros({2, 3, 6}));
            }),
            "MultiHeadAttention: expected query, key and value [N, L, E] with E = 8, got shapes "
            "[2, 3, 6], [2, 3, 6] and [2, 3, 6]");
  EXPECT_EQ(error_message([&] {
              mha.forward_masked(zeros({2, 3, 8}), ones({2, 4}, DType::boolean));
            }),
            "MultiHeadAttention: key_padding_mask must be bool [N, S] = [2, 3] (true = a real "
            "key), got bool of shape [2, 4]");
}

// ---- TransformerEncoderLayer / TransformerDecoderLayer ----

TEST(TransformerEncoderLayer, PyTorchStateDictNames) {
  nn::TransformerEncoderLayer layer(8, 2, {.dim_feedforward = 12});
  std::vector<std::string> expected;
  for (const auto& [key, value] : reference().at("state_dicts").at("encoder").items()) {
    expected.push_back(key);
  }
  std::vector<std::string> names = parameter_names(layer);
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);
  EXPECT_EQ(layer.extra_repr(),
            "d_model=8, nhead=2, dim_feedforward=12, dropout=0.1, activation=relu, "
            "norm_first=False");
  EXPECT_EQ(layer.type_name(), "TransformerEncoderLayer");
}

TEST(TransformerEncoderLayer, MatchesPyTorch) {
  for (const char* name : {"encoder/post_relu_padding", "encoder/pre_gelu_causal",
                           "encoder/post_gelu", "encoder/pre_relu_padding"}) {
    for (DType dtype : {DType::f64, DType::f32}) {
      SCOPED_TRACE(std::string(name) + " " + dtype_name(dtype));
      const auto& c = reference().at(name);
      nn::TransformerEncoderLayer layer(8, c.at("nhead"), layer_options(c));
      load_reference_weights(layer, c.at("weights"), dtype);
      Tensor src = input(c, "src", dtype);
      const Tensor out = layer.encode(
          src, Tensor(), optional_mask(c, "src_key_padding_mask", dtype), c.at("is_causal"));
      out.backward(tensor_from_json(c.at("grad_out")).to(dtype));
      EXPECT_ALL_CLOSE(out, tensor_from_json(c.at("out")), rtol_for(dtype), atol_for(dtype));
      EXPECT_ALL_CLOSE(src.grad(), tensor_from_json(c.at("grad_src")), rtol_for(dtype),
                       atol_for(dtype));
    }
  }
}

TEST(TransformerEncoderLayer, GradcheckPostAndPreNorm) {
  const Tensor padding =
      from_vector(std::vector<bool>{true, true, true, true, true, false}, {2, 3});
  for (bool norm_first : {false, true}) {
    manual_seed(5);
    nn::TransformerEncoderLayer layer(
        4, 2, {.dim_feedforward = 6, .dropout = 0, .activation = "gelu", .norm_first = norm_first});
    layer.to(DType::f64);
    EXPECT_GRADCHECK([&](const Inputs& in) { return layer.forward_masked(in[0], padding); },
                     {leaf({2, 3, 4}, 7)});
  }
}

TEST(TransformerEncoderLayer, CausalOptionHidesTheFuture) {
  manual_seed(6);
  nn::TransformerEncoderLayer layer(8, 2, {.dim_feedforward = 16, .dropout = 0, .causal = true});
  EXPECT_EQ(layer.extra_repr(),
            "d_model=8, nhead=2, dim_feedforward=16, dropout=0, activation=relu, "
            "norm_first=False, causal=True");
  const Tensor x = randn({2, 5, 8});
  Tensor changed = x.clone();
  changed.slice(1, 3, 5).copy_(randn({2, 2, 8}));
  const Tensor a = layer(x), b = layer(changed);
  expect_near(steps(a, 0, 3), steps(b, 0, 3), 1e-5);
  EXPECT_GT(std::abs(steps(a, 3, 4)[0] - steps(b, 3, 4)[0]), 1e-4);
  // Padded keys (forward_masked) do not change the real steps either.
  const Tensor mask = from_vector(
      std::vector<bool>{true, true, true, false, false, true, true, true, true, true}, {2, 5});
  nn::TransformerEncoderLayer bidirectional(8, 2, {.dim_feedforward = 16, .dropout = 0});
  const Tensor m1 = bidirectional.forward_masked(x, mask);
  const Tensor m2 = bidirectional.forward_masked(changed, mask);
  expect_near(steps(m1.slice(0, 0, 1), 0, 3), steps(m2.slice(0, 0, 1), 0, 3), 1e-5);
}

TEST(TransformerEncoderLayer, SequenceFirstLayoutAndErrors) {
  manual_seed(7);
  nn::TransformerEncoderLayer batch_first(8, 2, {.dim_feedforward = 16, .dropout = 0});
  nn::TransformerEncoderLayer seq_first(
      8, 2, {.dim_feedforward = 16, .dropout = 0, .batch_first = false});
  seq_first.load_state_dict(batch_first.state_dict());
  const Tensor x = randn({2, 3, 8});
  expect_near(seq_first(x.transpose(0, 1)).transpose(0, 1).to(DType::f64).to_vector<double>(),
              batch_first(x).to(DType::f64).to_vector<double>(), 1e-5);
  EXPECT_EQ(error_message([] { nn::TransformerEncoderLayer(8, 2, {.activation = "tanh"}); }),
            "TransformerEncoderLayer: activation must be \"relu\" or \"gelu\", got \"tanh\"");
  EXPECT_EQ(error_message([&] {
              batch_first(zeros({2, 3, 6}));
            }),
            "TransformerEncoderLayer: expected src [N, T, 8], got shape [2, 3, 6]");
}

TEST(TransformerDecoderLayer, MatchesPyTorch) {
  for (const char* name : {"decoder/post_relu_memory_padding", "decoder/pre_gelu"}) {
    for (DType dtype : {DType::f64, DType::f32}) {
      SCOPED_TRACE(std::string(name) + " " + dtype_name(dtype));
      const auto& c = reference().at(name);
      nn::TransformerDecoderLayer layer(8, c.at("nhead"), layer_options(c));
      load_reference_weights(layer, c.at("weights"), dtype);
      Tensor tgt = input(c, "tgt", dtype), memory = input(c, "memory", dtype);
      const Tensor out = layer.decode(tgt, memory, true, Tensor(),
                                      optional_mask(c, "memory_key_padding_mask", dtype));
      out.backward(tensor_from_json(c.at("grad_out")).to(dtype));
      const double rtol = rtol_for(dtype), atol = atol_for(dtype);
      EXPECT_ALL_CLOSE(out, tensor_from_json(c.at("out")), rtol, atol);
      EXPECT_ALL_CLOSE(tgt.grad(), tensor_from_json(c.at("grad_tgt")), rtol, atol);
      EXPECT_ALL_CLOSE(memory.grad(), tensor_from_json(c.at("grad_memory")), rtol, atol);
    }
  }
}

TEST(TransformerDecoderLayer, NamesGradcheckAndCausalForward) {
  manual_seed(8);
  nn::TransformerDecoderLayer layer(4, 2, {.dim_feedforward = 6, .dropout = 0, .norm_first = true});
  std::vector<std::string> expected;
  for (const auto& [key, value] : reference().at("state_dicts").at("decoder").items()) {
    expected.push_back(key);
  }
  std::vector<std::string> names = parameter_names(layer);
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);
  layer.to(DType::f64);
  const Tensor memory_padding =
      from_vector(std::vector<bool>{true, true, true, true, false, false}, {2, 3});
  EXPECT_GRADCHECK(
      [&](const Inputs& in) { return layer.decode(in[0], in[1], true, Tensor(), memory_padding); },
      {leaf({2, 3, 4}, 8), leaf({2, 3, 4}, 9)});
  // forward(x): causal self-attention without memory.
  const Tensor x = randn({1, 4, 4}, DType::f64);
  Tensor changed = x.clone();
  changed.slice(1, 2, 4).copy_(randn({1, 2, 4}, DType::f64));
  expect_near(steps(layer(x), 0, 2), steps(layer(changed), 0, 2), 1e-12);
  EXPECT_EQ(error_message([&] {
              layer.decode(x, zeros({1, 3, 5}, DType::f64));
            }),
            "TransformerDecoderLayer: expected memory [N, T, 4], got shape [1, 3, 5]");
}

// ---- PositionalEncoding ----

TEST(PositionalEncoding, SinusoidalTableIsABuffer) {
  nn::PositionalEncoding pe(16);
  const Tensor x = zeros({2, 5, 6});
  const Tensor y = pe(x);
  EXPECT_EQ(y.shape(), (Shape{2, 5, 6}));
  EXPECT_TRUE(pe.named_parameters().empty());
  ASSERT_EQ(pe.named_buffers().size(), 1u);
  EXPECT_EQ(pe.named_buffers()[0].first, "pe");
  EXPECT_EQ(pe.named_buffers()[0].second.shape(), (Shape{16, 6}));
  for (int64_t t : {0, 1, 4}) {
    for (int64_t i = 0; i < 3; ++i) {
      const double angle = t / std::pow(10000.0, 2.0 * i / 6);
      EXPECT_NEAR(y.at<float>({1, t, 2 * i}), std::sin(angle), 1e-6);
      EXPECT_NEAR(y.at<float>({1, t, 2 * i + 1}), std::cos(angle), 1e-6);
    }
  }
  EXPECT_EQ(pe.extra_repr(), "max_length=16, kind=sinusoidal, dim=6, dropout=0");
  EXPECT_EQ(error_message([&] {
              pe(zeros({1, 17, 6}));
            }),
            "PositionalEncoding: sequence length 17 exceeds max_length 16 (input shape [1, 17, "
            "6])");
  EXPECT_EQ(error_message([&] {
              pe(zeros({1, 3, 4}));
            }),
            "PositionalEncoding: expected input with D = 6 features (last axis), got shape "
            "[1, 3, 4]");
}

TEST(PositionalEncoding, LearnedTableIsTrained) {
  manual_seed(9);
  nn::PositionalEncoding pe(50, "learned", 0.1);
  EXPECT_EQ(pe.extra_repr(), "max_length=50, kind=learned, dropout=0.1");
  pe.eval();
  const Tensor x = randn({3, 40, 32});
  const Tensor y = pe(x);
  ASSERT_EQ(parameter_names(pe), (std::vector<std::string>{"pe"}));
  const Tensor table = pe.named_parameters()[0].second;
  double sq = 0;
  for (float v : table.to_vector<float>()) sq += v * v;
  EXPECT_NEAR(std::sqrt(sq / table.numel()), 0.02, 0.002);
  EXPECT_ALL_CLOSE(y - x, table.slice(0, 0, 40).unsqueeze(0).expand({3, 40, 32}), 1e-6, 1e-6);
  y.sum().backward();
  EXPECT_EQ(table.grad().select(0, 0).to_vector<float>(), std::vector<float>(32, 3.0f));
  EXPECT_EQ(table.grad().select(0, 45).to_vector<float>(), std::vector<float>(32, 0.0f));
  pe.train();
  const Tensor dropped = pe(x);
  EXPECT_NE(dropped.to_vector<float>(), y.to_vector<float>());
  EXPECT_EQ(error_message([] { nn::PositionalEncoding(8, "rotary"); }),
            "PositionalEncoding: kind must be \"sinusoidal\" or \"learned\", got \"rotary\"");
}
