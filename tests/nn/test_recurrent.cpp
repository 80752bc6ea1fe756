// Recurrent layers (LSTM, GRU, SimpleRNN): PyTorch state dicts loaded by name give PyTorch's
// outputs, final states and gradients (2-layer bidirectional LSTM; packed variable-length batches
// against masks), output and state shapes for every option combination, masked batches against
// each sequence alone, parameter names and order, Keras and PyTorch initializations, dropout
// between layers, masks through Sequential, and the errors that name the layer.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/parameter_names.hpp"
#include "support/reference.hpp"

using nabla::testing::parameter_names;
using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::tensor_from_json;

namespace {

const nlohmann::json& rnn_reference() {
  static const nlohmann::json cases = nabla::testing::load_reference("rnn");
  return cases;
}

nn::StateDict state_from_json(const nlohmann::json& params) {
  nn::StateDict state;
  for (const auto& [name, value] : params.items()) state[name] = tensor_from_json(value);
  return state;
}

// mask[n, t] = t < lengths[n], batch first.
Tensor length_mask(const std::vector<int64_t>& lengths, int64_t steps) {
  std::vector<bool> m;
  for (int64_t len : lengths)
    for (int64_t t = 0; t < steps; ++t) m.push_back(t < len);
  return from_vector(m, {static_cast<int64_t>(lengths.size()), steps});
}

// Runs a reference case through `layer` (built, weights loaded from the case) and compares the
// outputs, the final states and the gradients of the case's loss.
void expect_matches_reference(nn::Recurrent& layer, const nlohmann::json& c) {
  layer.load_state_dict(state_from_json(c.at("params")));
  const bool lstm = layer.mode() == RnnMode::lstm;
  Tensor x = tensor_from_json(c.at("x")).requires_grad_();
  nn::RecurrentState initial;
  if (c.contains("h0")) initial.h = tensor_from_json(c.at("h0")).requires_grad_();
  if (c.contains("c0")) initial.c = tensor_from_json(c.at("c0")).requires_grad_();
  Tensor mask;
  if (c.contains("lengths"))
    mask = length_mask(c.at("lengths").get<std::vector<int64_t>>(), x.size(1));
  nn::RecurrentOutput r = layer.forward_with_state(x, initial, mask);
  EXPECT_ALL_CLOSE(r.output, tensor_from_json(c.at("out")));
  EXPECT_ALL_CLOSE(r.state.h, tensor_from_json(c.at("h_n")));
  Tensor loss = (r.output * tensor_from_json(c.at("grad_out"))).sum() +
                (r.state.h * tensor_from_json(c.at("grad_h"))).sum();
  if (lstm) {
    EXPECT_ALL_CLOSE(r.state.c, tensor_from_json(c.at("c_n")));
    loss = loss + (r.state.c * tensor_from_json(c.at("grad_c"))).sum();
  }
  loss.backward();
  EXPECT_ALL_CLOSE(x.grad(), tensor_from_json(c.at("grad_x")));
  if (initial.h.defined()) {
    EXPECT_ALL_CLOSE(initial.h.grad(), tensor_from_json(c.at("grad_h0")));
  }
  if (initial.c.defined()) {
    EXPECT_ALL_CLOSE(initial.c.grad(), tensor_from_json(c.at("grad_c0")));
  }
  const nlohmann::json& grads = c.at("grad_params");
  for (const auto& [name, p] : layer.named_parameters()) {
    SCOPED_TRACE(name);
    EXPECT_ALL_CLOSE(p.grad(), tensor_from_json(grads.at(name)));
  }
}

}  // namespace

TEST(Recurrent, TwoLayerBidirectionalLstmMatchesPyTorch) {
  nn::LSTM lstm(
      4, {.input_size = 3, .num_layers = 2, .bidirectional = true, .return_sequences = true});
  expect_matches_reference(lstm, rnn_reference().at("lstm_2layer_bidirectional"));
}

TEST(Recurrent, MaskMatchesPyTorchPackedSequences) {
  nn::LSTM lstm(4, {.input_size = 3, .bidirectional = true, .return_sequences = true});
  expect_matches_reference(lstm, rnn_reference().at("packed_lstm_bidirectional"));
  nn::GRU gru(4, {.input_size = 3, .bidirectional = true, .return_sequences = true});
  expect_matches_reference(gru, rnn_reference().at("packed_gru_bidirectional"));
}

TEST(Recurrent, OutputAndStateShapesForEveryOption) {
  const int64_t batch = 2, steps = 5, features = 3, hidden = 4;
  for (int mode = 0; mode < 3; ++mode) {
    for (int64_t layers : {1, 2}) {
      for (bool bidirectional : {false, true}) {
        for (bool sequences : {false, true}) {
          for (bool batch_first : {true, false}) {
            SCOPED_TRACE(detail::str(mode, layers, bidirectional, sequences, batch_first));
            nn::RecurrentOptions o{.num_layers = layers,
                                   .batch_first = batch_first,
                                   .bidirectional = bidirectional,
                                   .return_sequences = sequences};
            nn::ModulePtr m = mode == 0   ? nn::ModulePtr(std::make_shared<nn::LSTM>(hidden, o))
                              : mode == 1 ? nn::ModulePtr(std::make_shared<nn::GRU>(hidden, o))
                                          : std::make_shared<nn::SimpleRNN>(hidden, o);
            auto& layer = dynamic_cast<nn::Recurrent&>(*m);
            const Shape in =
                batch_first ? Shape{batch, steps, features} : Shape{steps, batch, features};
            const int64_t d = bidirectional ? 2 : 1;
            const Tensor y = layer(randn(in));
            if (sequences) {
              EXPECT_EQ(y.shape(), batch_first ? (Shape{batch, steps, d * hidden})
                                               : (Shape{steps, batch, d * hidden}));
            } else {
              EXPECT_EQ(y.shape(), (Shape{batch, d * hidden}));
            }
            nn::RecurrentOutput r = layer.forward_with_state(randn(in));
            EXPECT_EQ(r.state.h.shape(), (Shape{layers * d, batch, hidden}));
            EXPECT_EQ(r.state.c.defined(), mode == 0);
            if (mode == 0) {
              EXPECT_EQ(r.state.c.shape(), (Shape{layers * d, batch, hidden}));
            }
            EXPECT_EQ(layer.options().input_size, features);
          }
        }
      }
    }
  }
}

TEST(Recurrent, LastStateOutputIsTheFinalStates) {
  // return_sequences false: the last layer's forward final h and backward final h, concatenated;
  // they are the forward output's last step and the backward output's first.
  manual_seed(3);
  nn::GRU gru(5, {.num_layers = 2, .bidirectional = true, .return_sequences = true});
  const Tensor x = randn({3, 6, 2});
  const Tensor seq = gru(x);
  nn::GRU last(5, {.num_layers = 2, .bidirectional = true});
  last(x);
  last.load_state_dict(gru.state_dict());
  const Tensor y = last(x);
  EXPECT_ALL_CLOSE(y.slice(1, 0, 5), seq.select(1, 5).slice(1, 0, 5), 0, 0);
  EXPECT_ALL_CLOSE(y.slice(1, 5, 10), seq.select(1, 0).slice(1, 5, 10), 0, 0);
}

TEST(Recurrent, MaskedBatchEqualsEachSequenceAlone) {
  manual_seed(5);
  const std::vector<int64_t> lengths = {6, 3, 1, 4};
  const int64_t steps = 6, features = 3;
  for (bool sequences : {false, true}) {
    nn::LSTM lstm(5, {.num_layers = 2, .bidirectional = true, .return_sequences = sequences});
    const Tensor x = randn({4, steps, features});
    const Tensor mask = length_mask(lengths, steps);
    const Tensor y = lstm.forward_masked(x, mask);
    for (int64_t n = 0; n < 4; ++n) {
      const int64_t len = lengths[n];
      const Tensor alone = lstm(x.slice(0, n, n + 1).slice(1, 0, len));
      if (sequences) {
        EXPECT_ALL_CLOSE(y.slice(0, n, n + 1).slice(1, 0, len), alone, 1e-6, 1e-7);
        EXPECT_ALL_CLOSE(y.slice(0, n, n + 1).slice(1, len, steps), zeros({1, steps - len, 10}), 0,
                         0);
      } else {
        EXPECT_ALL_CLOSE(y.slice(0, n, n + 1), alone, 1e-6, 1e-7);
      }
    }
    // The mask travels on only with the sequences.
    EXPECT_EQ(lstm.compute_mask(x, mask).defined(), sequences);
  }
}

TEST(Recurrent, MaskPassesThroughSequential) {
  manual_seed(8);
  auto first = std::make_shared<nn::GRU>(4, nn::RecurrentOptions{.return_sequences = true});
  auto second = std::make_shared<nn::SimpleRNN>(3);
  nn::Sequential model({first, second});
  const Tensor x = randn({2, 5, 2});
  const Tensor mask = length_mask({5, 2}, 5);
  const Tensor y = model.forward_masked(x, mask);
  // The second sequence alone through both layers.
  const Tensor alone = second->forward(first->forward(x.slice(0, 1, 2).slice(1, 0, 2)));
  EXPECT_ALL_CLOSE(y.slice(0, 1, 2), alone, 1e-6, 1e-7);
  EXPECT_FALSE(model.compute_mask(x, mask).defined());
}

TEST(Recurrent, ParameterNamesFollowPyTorch) {
  nn::LSTM lstm(4, {.input_size = 3, .num_layers = 2, .bidirectional = true});
  EXPECT_EQ(parameter_names(lstm),
            (std::vector<std::string>{
                "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_ih_l0_reverse",
                "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse", "weight_ih_l1",
                "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_ih_l1_reverse",
                "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse"}));
  const nn::StateDict state = lstm.state_dict();
  EXPECT_EQ(state.at("weight_ih_l0").shape(), (Shape{16, 3}));
  EXPECT_EQ(state.at("weight_ih_l1").shape(), (Shape{16, 8}));
  EXPECT_EQ(state.at("weight_hh_l1_reverse").shape(), (Shape{16, 4}));
  EXPECT_EQ(state.at("bias_hh_l0").shape(), (Shape{16}));
  nn::GRU gru(6, {.input_size = 2, .bias = false});
  EXPECT_EQ(parameter_names(gru), (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0"}));
  EXPECT_EQ(gru.num_parameters(), 18 * 2 + 18 * 6);
  nn::SimpleRNN rnn(5);
  EXPECT_TRUE(parameter_names(rnn).empty());  // lazy until the first forward
  rnn(zeros({1, 2, 7}));
  EXPECT_EQ(rnn.state_dict().at("weight_ih_l0").shape(), (Shape{5, 7}));
}

TEST(Recurrent, KerasInitialization) {
  manual_seed(1);
  const int64_t hidden = 16, input = 10;
  nn::LSTM lstm(hidden, {.input_size = input});
  const nn::StateDict s = lstm.state_dict();
  // Forget-gate block of b_ih at 1, everything else zero.
  const auto b_ih = s.at("bias_ih_l0").to_vector<float>();
  for (int64_t j = 0; j < 4 * hidden; ++j)
    EXPECT_EQ(b_ih[j], j >= hidden && j < 2 * hidden ? 1.0f : 0.0f) << j;
  for (float v : s.at("bias_hh_l0").to_vector<float>()) EXPECT_EQ(v, 0.0f);
  // Glorot uniform over [4H, I]: bound sqrt(6 / (I + 4H)), variance bound^2 / 3.
  const double bound = std::sqrt(6.0 / (input + 4 * hidden));
  double sq = 0, peak = 0;
  const auto w_ih = s.at("weight_ih_l0").to_vector<float>();
  for (float v : w_ih) {
    sq += v * v;
    peak = std::max(peak, std::abs(static_cast<double>(v)));
  }
  EXPECT_LE(peak, bound);
  EXPECT_NEAR(sq / w_ih.size(), bound * bound / 3, 0.2 * bound * bound / 3);
  // Orthogonal W_hh [G*H, H]: orthonormal columns, W_hh^T W_hh = I (Keras's [H, G*H] recurrent
  // kernel has orthonormal rows).
  Tensor eye = zeros({hidden, hidden}, DType::f64);
  for (int64_t i = 0; i < hidden; ++i) eye.slice(0, i, i + 1).slice(1, i, i + 1).fill_(1);
  auto expect_orthonormal_columns = [&](const Tensor& weight) {
    const Tensor w = weight.detach().to(DType::f64);
    EXPECT_ALL_CLOSE(matmul(w.t(), w), eye, 0, 1e-5);
  };
  expect_orthonormal_columns(s.at("weight_hh_l0"));
  nn::GRU gru(hidden, {.input_size = input, .unit_forget_bias = true});
  expect_orthonormal_columns(gru.state_dict().at("weight_hh_l0"));
  for (float v : gru.state_dict().at("bias_ih_l0").to_vector<float>()) EXPECT_EQ(v, 0.0f);
  nn::SimpleRNN rnn(hidden, {.input_size = input});
  expect_orthonormal_columns(rnn.state_dict().at("weight_hh_l0"));
  nn::LSTM no_forget(hidden, {.input_size = input, .unit_forget_bias = false});
  for (float v : no_forget.state_dict().at("bias_ih_l0").to_vector<float>()) EXPECT_EQ(v, 0.0f);
}

TEST(Recurrent, PyTorchInitialization) {
  manual_seed(2);
  const int64_t hidden = 64;
  nn::GRU gru(
      hidden,
      {.input_size = 4, .kernel_initializer = "pytorch", .recurrent_initializer = "pytorch"});
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  for (const auto& [name, p] : gru.named_parameters()) {
    SCOPED_TRACE(name);
    double peak = 0, sq = 0;
    const auto v = p.to_vector<float>();
    for (float e : v) {
      peak = std::max(peak, std::abs(static_cast<double>(e)));
      sq += e * e;
    }
    EXPECT_LE(peak, bound);
    EXPECT_NEAR(sq / v.size(), bound * bound / 3, 0.25 * bound * bound / 3);
  }
}

TEST(Recurrent, DropoutBetweenLayersOnlyWhenTraining) {
  manual_seed(4);
  nn::LSTM lstm(6, {.num_layers = 2, .dropout = 0.5, .return_sequences = true});
  nn::LSTM plain(6, {.num_layers = 2, .return_sequences = true});
  const Tensor x = randn({2, 4, 3});
  plain(x);
  lstm(x);
  plain.load_state_dict(lstm.state_dict());
  const Tensor trained = lstm(x);
  lstm.eval();
  EXPECT_ALL_CLOSE(lstm(x), plain(x), 0, 0);
  EXPECT_FALSE(nabla::testing::all_close(trained, plain(x), 1e-3, 1e-4));
}

TEST(Recurrent, TypeNamesAndRepr) {
  nn::LSTM lstm(128, {.bidirectional = true, .return_sequences = true});
  EXPECT_EQ(lstm.type_name(), "LSTM");
  EXPECT_EQ(lstm.extra_repr(), "hidden=128, layers=1, bidirectional, return_sequences");
  nn::GRU gru(8, {.num_layers = 2, .dropout = 0.25});
  EXPECT_EQ(gru.type_name(), "GRU");
  EXPECT_EQ(gru.extra_repr(), "hidden=8, layers=2, dropout=0.25");
  nn::SimpleRNN rnn(4, {.batch_first = false, .nonlinearity = "relu"});
  EXPECT_EQ(rnn.type_name(), "SimpleRNN");
  EXPECT_EQ(rnn.mode(), RnnMode::rnn_relu);
  EXPECT_EQ(rnn.extra_repr(), "hidden=4, layers=1, nonlinearity=relu, batch_first=false");
  EXPECT_EQ(nn::SimpleRNN(4).mode(), RnnMode::rnn_tanh);
}

TEST(Recurrent, GradientsReachEveryParameterAndInput) {
  manual_seed(6);
  nn::GRU gru(3, {.num_layers = 2, .bidirectional = true});
  Tensor x = randn({2, 4, 3}).requires_grad_();
  gru(x).sum().backward();
  EXPECT_GT(abs(x.grad()).sum().item(), 0.0);  // x [N, T, F] non-contiguous to the op
  for (const auto& [name, p] : gru.named_parameters()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(p.grad().defined());
    EXPECT_GT(abs(p.grad()).sum().item(), 0.0);
  }
}

TEST(Recurrent, Errors) {
  nn::LSTM lstm(4);
  EXPECT_EQ(error_message([&] {
              lstm(zeros({2, 3}));
            }),
            "LSTM expects [N, T, F] input (batch_first), got shape [2, 3]");
  lstm(zeros({2, 3, 5}));
  EXPECT_EQ(error_message([&] {
              lstm(zeros({2, 3, 6}));
            }),
            "LSTM: expected input with 5 features (last axis), got shape [2, 3, 6]");
  EXPECT_EQ(error_message([&] {
              lstm.forward_masked(zeros({2, 3, 5}), zeros({3, 2}, DType::boolean));
            }),
            "LSTM: mask of shape [3, 2] and dtype bool does not match input of shape [2, 3, 5]; "
            "expected a bool mask [N, T] = [2, 3]");
  EXPECT_NE(error_message([&] {
              lstm.forward_masked(zeros({2, 3, 5}), zeros({2, 3}));
            }).find("mask of shape [2, 3] and dtype f32"),
            std::string::npos);
  EXPECT_EQ(error_message([&] {
              lstm.forward_with_state(zeros({2, 3, 5}), {zeros({2, 2, 4}), Tensor()});
            }),
            "LSTM: initial h of shape [2, 2, 4] does not match; expected [num_layers * "
            "directions, N, H] = [1, 2, 4]");
  nn::GRU gru(4, {.batch_first = false});
  EXPECT_EQ(error_message([&] {
              gru(zeros({2, 3}));
            }),
            "GRU expects [T, N, F] input, got shape [2, 3]");
  EXPECT_EQ(error_message([&] {
              gru.forward_with_state(zeros({2, 3, 5}), {zeros({1, 3, 4}), zeros({1, 3, 4})});
            }),
            "GRU: an initial c (cell state) is for LSTM only, got one of shape [1, 3, 4]");
  EXPECT_EQ(error_message([&] { nn::SimpleRNN(4, {.nonlinearity = "gelu"}); }),
            "SimpleRNN: nonlinearity must be 'tanh' or 'relu', got 'gelu'");
  EXPECT_EQ(error_message([&] { nn::LSTM(4, {.num_layers = 0}); }),
            "LSTM: num_layers must be >= 1, got 0");
  EXPECT_EQ(error_message([&] { nn::GRU(4, {.dropout = 1}); }),
            "GRU: dropout must be in [0, 1), got 1");
  EXPECT_EQ(error_message([&] { nn::GRU(4, {.dropout = -0.1}); }),
            "GRU: dropout must be in [0, 1), got -0.1");
  EXPECT_EQ(error_message([&] { nn::LSTM(0); }), "LSTM: hidden_size must be >= 1, got 0");
  EXPECT_NE(error_message([&] {
              nn::LSTM(4, {.input_size = 3, .kernel_initializer = "nope"});
            }).find("unknown initializer 'nope'"),
            std::string::npos);
}
