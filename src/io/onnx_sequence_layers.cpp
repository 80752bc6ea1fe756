// ONNX forms of the sequence layers: LSTM, GRU and SimpleRNN (ONNX's recurrent ops, with the
// gates reordered from PyTorch's layout), Embedding (Gather), global pooling over time and
// positional encodings.
#include "io/onnx_builder.hpp"
#include "nabla/ops.hpp"

namespace nabla::io::onnx_export {
namespace {

Tensor named(const nn::Module& layer, const std::string& name, bool buffers = false) {
  const auto tensors = buffers ? layer.named_buffers(false) : layer.named_parameters(false);
  for (const auto& [n, t] : tensors) {
    if (n == name) return t;
  }
  return Tensor();
}

// PyTorch's gate blocks (nabla keeps its layout) in ONNX's order: LSTM i,f,g,o -> i,o,f,c;
// GRU r,z,n -> z,r,h; a simple RNN has one block.
std::vector<int64_t> onnx_gate_order(RnnMode mode) {
  switch (mode) {
    case RnnMode::lstm:
      return {0, 3, 1, 2};
    case RnnMode::gru:
      return {1, 0, 2};
    default:
      return {0};
  }
}

// The rows of a weight [G * H, ...] or bias [G * H] with the gate blocks in ONNX's order.
Tensor reorder_gates(const Tensor& t, RnnMode mode, int64_t hidden) {
  std::vector<Tensor> blocks;
  for (int64_t g : onnx_gate_order(mode))
    blocks.push_back(t.slice(0, g * hidden, (g + 1) * hidden));
  return concat(blocks, 0);
}

std::string transpose(GraphBuilder& b, const std::string& input, const std::vector<int64_t>& perm,
                      const std::string& prefix, const std::string& output = "") {
  const std::string out = output.empty() ? b.fresh(prefix, "Transpose") : output;
  GraphBuilder::set(b.node("Transpose", {input}, {out}, prefix + "/Transpose"), "perm", perm);
  return out;
}

std::string reshape(GraphBuilder& b, const std::string& input, const std::vector<int64_t>& shape,
                    const std::string& prefix, const std::string& output = "") {
  const std::string out = output.empty() ? b.fresh(prefix, "Reshape") : output;
  b.node("Reshape", {input, b.ints(prefix + ".shape", shape)}, {out}, prefix + "/Reshape");
  return out;
}

void convert_recurrent(const LayerCall& c, const nn::Recurrent& rnn, GraphBuilder& b) {
  const nn::RecurrentOptions& o = rnn.options();
  const RnnMode mode = rnn.mode();
  const int64_t hidden = rnn.hidden_size();
  const int64_t directions = o.bidirectional ? 2 : 1;
  const std::string op = mode == RnnMode::lstm ? "LSTM" : mode == RnnMode::gru ? "GRU" : "RNN";
  // ONNX's recurrent ops read [T, N, F] (layout 0; ONNX Runtime does not run layout 1).
  std::string x = o.batch_first ? transpose(b, c.inputs[0], {1, 0, 2}, c.name) : c.inputs[0];
  std::string last_y, last_h;
  for (int64_t layer = 0; layer < o.num_layers; ++layer) {
    std::vector<Tensor> w, r, bias;
    for (int64_t dir = 0; dir < directions; ++dir) {
      const std::string suffix = "_l" + std::to_string(layer) + (dir == 1 ? "_reverse" : "");
      w.push_back(reorder_gates(named(rnn, "weight_ih" + suffix), mode, hidden));
      r.push_back(reorder_gates(named(rnn, "weight_hh" + suffix), mode, hidden));
      if (o.bias) {
        bias.push_back(concat({reorder_gates(named(rnn, "bias_ih" + suffix), mode, hidden),
                               reorder_gates(named(rnn, "bias_hh" + suffix), mode, hidden)},
                              0));
      }
    }
    const std::string l = std::to_string(layer);
    std::vector<std::string> inputs = {x, b.weight(c.name + ".W_l" + l, stack(w, 0)),
                                       b.weight(c.name + ".R_l" + l, stack(r, 0))};
    if (o.bias) inputs.push_back(b.weight(c.name + ".B_l" + l, stack(bias, 0)));
    const std::string y = b.fresh(c.name, op + "_Y"), h = b.fresh(c.name, op + "_Y_h");
    onnx::NodeProto& n = b.node(op, inputs, {y, h}, c.name + "/" + op);
    GraphBuilder::set(n, "hidden_size", hidden);
    GraphBuilder::set(n, "direction", std::string(o.bidirectional ? "bidirectional" : "forward"));
    if (mode == RnnMode::gru) {
      // PyTorch's GRU applies the reset gate after the recurrent product: r * (W_hn h + b_hn).
      GraphBuilder::set(n, "linear_before_reset", int64_t{1});
    }
    if (mode == RnnMode::rnn_relu || mode == RnnMode::rnn_tanh) {
      const std::string f = mode == RnnMode::rnn_relu ? "Relu" : "Tanh";
      GraphBuilder::set(n, "activations", std::vector<std::string>(directions, f));
    }
    last_y = y;
    last_h = h;
    // Y [T, D, N, H] -> [T, N, D * H], the next layer's input (directions side by side).
    if (layer + 1 < o.num_layers) {
      x = reshape(b, transpose(b, y, {0, 2, 1, 3}, c.name), {0, 0, -1}, c.name);
    }
  }
  if (o.return_sequences) {
    const std::vector<int64_t> perm =
        o.batch_first ? std::vector<int64_t>{2, 0, 1, 3} : std::vector<int64_t>{0, 2, 1, 3};
    reshape(b, transpose(b, last_y, perm, c.name), {0, 0, -1}, c.name, c.output);
  } else {
    // Y_h [D, N, H]: the forward direction's last step and the backward one's first -> [N, D * H].
    reshape(b, transpose(b, last_h, {1, 0, 2}, c.name), {0, -1}, c.name, c.output);
  }
}

}  // namespace

bool convert_sequence_layer(const LayerCall& c, GraphBuilder& b) {
  nn::Module* layer = c.layer;
  if (auto* rnn = dynamic_cast<nn::Recurrent*>(layer)) {
    convert_recurrent(c, *rnn, b);
  } else if (auto* embedding = dynamic_cast<nn::Embedding*>(layer)) {
    // The padding mask of mask_zero steers the layers after it, which ONNX graphs cannot carry;
    // max_norm renormalizes rows at lookup time.
    if (embedding->options().mask_zero) throw Unsupported("mask_zero has no ONNX form");
    if (embedding->options().max_norm > 0) throw Unsupported("max_norm has no ONNX form");
    b.node("Gather", {b.weight(c.name + ".weight", embedding->weight()), c.inputs[0]}, {c.output},
           c.name + "/Gather");
  } else if (auto* pool = dynamic_cast<nn::GlobalPooling1D*>(layer)) {
    const std::string op = pool->is_max() ? "ReduceMax" : "ReduceMean";
    onnx::NodeProto& n = b.node(op, {c.inputs[0]}, {c.output}, c.name + "/" + op);
    GraphBuilder::set(n, "axes", std::vector<int64_t>{1});
    GraphBuilder::set(n, "keepdims", int64_t{0});
  } else if (auto* encoding = dynamic_cast<nn::PositionalEncoding*>(layer)) {
    // x + table[:T]: the exported length T is the model's, so the slice is an initializer.
    const Tensor table =
        encoding->kind() == "sinusoidal" ? named(*encoding, "pe", true) : named(*encoding, "pe");
    const int64_t length = c.input_shapes[0][1];
    b.node("Add", {c.inputs[0], b.weight(c.name + ".pe", table.slice(0, 0, length))}, {c.output},
           c.name + "/Add");
  } else {
    return false;
  }
  return true;
}

}  // namespace nabla::io::onnx_export
