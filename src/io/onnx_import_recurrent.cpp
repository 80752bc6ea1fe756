// ONNX's LSTM and GRU (forward or bidirectional) as nabla's batch-first Recurrent layer, with
// the gate blocks reordered from ONNX's layout (LSTM i,o,f,c; GRU z,r,h) to PyTorch's, which nabla
// keeps (LSTM i,f,g,o; GRU r,z,n): the inverse of the exporter's mapping in
// onnx_sequence_layers.cpp. The layer is built when a reader brings Y or Y_h to a batch-first
// layout (onnx_import_shapes.cpp), since only then is it known which of the two is used.
#include "io/onnx_importer.hpp"
#include "nabla/ops.hpp"

namespace nabla::io::onnx_import {
namespace {

// For each of nabla's gate blocks, the ONNX block it comes from.
std::vector<int64_t> nabla_gate_sources(bool lstm) {
  return lstm ? std::vector<int64_t>{0, 2, 3, 1} : std::vector<int64_t>{1, 0, 2};
}

// Rows [G * H, ...] of one direction, from ONNX's gate order to nabla's.
Tensor reorder_gates(const Tensor& t, bool lstm, int64_t hidden) {
  std::vector<Tensor> blocks;
  for (int64_t g : nabla_gate_sources(lstm)) {
    blocks.push_back(t.slice(0, g * hidden, (g + 1) * hidden));
  }
  return concat(blocks, 0).contiguous();
}

}  // namespace

bool convert_recurrent_op(Importer& im, const onnx::NodeProto& node, int index) {
  const std::string& op = node.op_type();
  if (op != "LSTM" && op != "GRU") return false;
  Value x = im.value(node, 0);
  if (x.kind == Value::Kind::recurrent && x.view == RnnView::y_time_major) {
    // A stacked layer (PyTorch writes one node per layer): the steps of the layer below, which
    // nabla gives batch-first.
    x.tensor = im.recurrent_output(x, true, node);
    x.kind = Value::Kind::tensor;
    x.time_major = true;
  }
  if (x.kind != Value::Kind::tensor || !x.time_major) {
    refuse(im, node,
           "its input X must be a batch-first sequence transposed to [T, N, F] (PyTorch's "
           "batch_first=True export); a time-first graph input has no nabla form");
  }
  const std::string direction = attr_string(node, "direction", "forward");
  if (direction != "forward" && direction != "bidirectional") {
    refuse(im, node, "the reverse direction alone is not supported");
  }
  if (attr_int(node, "layout", 0) != 0) refuse(im, node, "only layout = 0 is supported");
  for (const char* a : {"activations", "clip", "activation_alpha", "activation_beta"}) {
    for (const auto& attr : node.attribute()) {
      if (attr.name() == a)
        refuse(im, node, std::string("the attribute ") + a + " is not supported");
    }
  }
  if (op == "LSTM" && attr_int(node, "input_forget", 0) != 0) {
    refuse(im, node, "input_forget = 1 is not supported");
  }
  if (op == "GRU" && attr_int(node, "linear_before_reset", 0) != 1) {
    // PyTorch's (and nabla's) GRU applies the reset gate after the recurrent product.
    refuse(im, node, "only linear_before_reset = 1 (PyTorch's GRU) is supported");
  }
  if (im.has_input(node, 4)) refuse(im, node, "sequence_lens is not supported");
  const size_t states = op == "LSTM" ? 2 : 1;
  for (size_t i = 5; i < 5 + states; ++i) {
    if (im.has_input(node, i) && im.value(node, i).kind != Value::Kind::zeros) {
      refuse(im, node, "only zero initial states are supported");
    }
  }
  if (op == "LSTM" && im.has_input(node, 7)) refuse(im, node, "peepholes (P) are not supported");
  if (op == "LSTM" && node.output_size() > 2 && !node.output(2).empty() &&
      im.uses(node.output(2)) > 0) {
    refuse(im, node, "the final cell state Y_c is not supported");
  }
  Value y;
  y.kind = Value::Kind::recurrent;
  y.tensor = x.tensor;
  y.node = index;
  y.view = RnnView::y;
  y.directions = direction == "bidirectional" ? 2 : 1;
  im.set(node, 0, y);
  y.view = RnnView::state;
  im.set(node, 1, y);
  return true;
}

nn::SymbolicTensor build_recurrent(Importer& im, const onnx::NodeProto& node,
                                   const nn::SymbolicTensor& x, bool sequences) {
  const bool lstm = node.op_type() == "LSTM";
  const int64_t gates = lstm ? 4 : 3;
  const int64_t hidden = attr_int(node, "hidden_size", -1);
  const int64_t directions = attr_string(node, "direction", "forward") == "bidirectional" ? 2 : 1;
  const Tensor& w = im.constant(node, 1);
  const Tensor& r = im.constant(node, 2);
  const int64_t features = x.shape().back();
  const int64_t rows = gates * hidden;
  if (hidden <= 0 || w.shape() != Shape{directions, rows, features} ||
      r.shape() != Shape{directions, rows, hidden}) {
    refuse(im, node,
           detail::str("expected hidden_size, W [", directions, ", ", gates, "H, ", features,
                       "] and R [", directions, ", ", gates, "H, H]"));
  }
  nn::RecurrentOptions o;
  o.input_size = features;
  o.batch_first = true;
  o.bidirectional = directions == 2;
  o.return_sequences = sequences;
  o.bias = im.has_input(node, 3);
  const Tensor b = o.bias ? im.constant(node, 3) : Tensor();
  if (o.bias && b.shape() != Shape{directions, 2 * rows}) {
    refuse(im, node, detail::str("expected B [", directions, ", ", 2 * gates, "H]"));
  }
  std::map<std::string, Tensor> weights;
  for (int64_t d = 0; d < directions; ++d) {
    // nabla (as PyTorch) names the backward direction's weights "..._reverse".
    const std::string suffix = d == 0 ? "_l0" : "_l0_reverse";
    weights["weight_ih" + suffix] =
        reorder_gates(w.slice(0, d, d + 1).reshape({rows, features}), lstm, hidden);
    weights["weight_hh" + suffix] =
        reorder_gates(r.slice(0, d, d + 1).reshape({rows, hidden}), lstm, hidden);
    if (o.bias) {
      const Tensor flat = b.slice(0, d, d + 1).reshape({2 * rows});
      weights["bias_ih" + suffix] = reorder_gates(flat.slice(0, 0, rows), lstm, hidden);
      weights["bias_hh" + suffix] = reorder_gates(flat.slice(0, rows, 2 * rows), lstm, hidden);
    }
  }
  nn::ModulePtr layer;
  if (lstm) {
    layer = std::make_shared<nn::LSTM>(hidden, o);
  } else {
    layer = std::make_shared<nn::GRU>(hidden, o);
  }
  return call_layer(im, node, layer, {x}, weights);
}

}  // namespace nabla::io::onnx_import
