// ONNX nodes that move data around rather than compute: Flatten and Reshape (nabla layers), the
// shape computations PyTorch's exporter writes for dynamic batch sizes (Shape, Gather, Unsqueeze,
// ConstantOfShape, Slice: evaluated here, the batch size standing as kBatch), Identity and Dropout
// (the inference form passes the input through), Gather on a constant table (an Embedding), and
// the Transpose/Squeeze/Gather/Reshape nodes around ONNX's LSTM and GRU, which bring their outputs
// to the batch-first layouts nabla's layer gives.
#include <algorithm>

#include "io/onnx_importer.hpp"

namespace nabla::io::onnx_import {
namespace {

Value recurrent_view(const Value& v, RnnView view) {
  Value out = v;
  out.view = view;
  return out;
}

Value ints_value(std::vector<int64_t> values, Shape shape) {
  Value v;
  v.kind = Value::Kind::ints;
  v.ints = std::move(values);
  v.ints_shape = std::move(shape);
  return v;
}

// Axes given as an attribute (before opset 13) or as the second input.
std::vector<int64_t> axes_of(Importer& im, const onnx::NodeProto& node) {
  if (im.has_input(node, 1)) return im.ints(node, 1);
  return attr_ints(node, "axes", {});
}

void shape(Importer& im, const onnx::NodeProto& node) {
  const nn::SymbolicTensor x = im.tensor(node, 0);
  std::vector<int64_t> dims = {kBatch};
  dims.insert(dims.end(), x.shape().begin(), x.shape().end());
  const auto rank = static_cast<int64_t>(dims.size());
  int64_t start = attr_int(node, "start", 0), end = attr_int(node, "end", rank);
  start = std::clamp(start < 0 ? start + rank : start, int64_t{0}, rank);
  end = std::clamp(end < 0 ? end + rank : end, int64_t{0}, rank);
  dims = std::vector<int64_t>(dims.begin() + start, dims.begin() + std::max(start, end));
  im.set(node, 0, ints_value(dims, {static_cast<int64_t>(dims.size())}));
}

// The one index of a scalar (or one-element) index input.
int64_t single_index(Importer& im, const onnx::NodeProto& node, size_t input) {
  const std::vector<int64_t>& index = im.ints(node, input);
  if (index.size() != 1) refuse(im, node, "only a single index is supported");
  return index[0];
}

void gather(Importer& im, const onnx::NodeProto& node) {
  const Value& data = im.value(node, 0);
  const int64_t axis = attr_int(node, "axis", 0);
  if (data.kind == Value::Kind::ints && axis == 0) {
    const auto n = static_cast<int64_t>(data.ints.size());
    const Value& indices = im.value(node, 1);
    std::vector<int64_t> picked;
    for (int64_t i : im.ints(node, 1)) {
      if (i < -n || i >= n) refuse(im, node, "index out of range");
      picked.push_back(data.ints[static_cast<size_t>(i < 0 ? i + n : i)]);
    }
    im.set(node, 0, ints_value(picked, indices.ints_shape));
    return;
  }
  if (data.kind == Value::Kind::constant && data.constant.dim() == 2 && axis == 0 &&
      im.value(node, 1).kind == Value::Kind::tensor) {
    // Rows of a constant table picked by token ids: an Embedding (PyTorch's nn.Embedding).
    const nn::SymbolicTensor ids = im.tensor(node, 1);
    if (ids.dtype() != DType::i64) refuse(im, node, "an Embedding's indices must be int64 ids");
    const auto layer =
        std::make_shared<nn::Embedding>(data.constant.size(0), data.constant.size(1));
    im.set_tensor(node, call_layer(im, node, layer, {ids}, {{"weight", data.constant}}));
    return;
  }
  if (data.kind == Value::Kind::recurrent && data.view == RnnView::state && data.directions == 1 &&
      axis == 0) {
    // h_n[-1] (or [0]) of a one-layer, one-direction LSTM/GRU: the final state [N, H].
    const int64_t i = single_index(im, node, 1);
    if (i != 0 && i != -1) refuse(im, node, "index out of range of the final state");
    if (!im.value(node, 1).ints_shape.empty()) refuse(im, node, "expected a scalar index");
    im.set_tensor(node, im.recurrent_output(data, false, node));
    return;
  }
  if (data.kind == Value::Kind::recurrent && data.view == RnnView::y_batch_first &&
      data.directions == 1 && axis == 1 && single_index(im, node, 1) == -1 &&
      im.value(node, 1).ints_shape.empty()) {
    // y[:, -1] of a forward LSTM/GRU: its last step, the final state [N, H].
    im.set_tensor(node, im.recurrent_output(data, false, node));
    return;
  }
  refuse(im, node,
         "Gather is supported only on shapes, on a constant table with int64 ids (an Embedding), "
         "on an LSTM/GRU's final state and on the last step of a forward LSTM/GRU");
}

void unsqueeze(Importer& im, const onnx::NodeProto& node) {
  const Value& v = im.value(node, 0);
  if (v.kind != Value::Kind::ints || !v.ints_shape.empty() ||
      axes_of(im, node) != std::vector<int64_t>{0}) {
    refuse(im, node, "Unsqueeze is supported only on a scalar of a shape computation");
  }
  im.set(node, 0, ints_value(v.ints, {1}));
}

void squeeze(Importer& im, const onnx::NodeProto& node) {
  const Value& v = im.value(node, 0);
  const std::vector<int64_t> axes = axes_of(im, node);
  const bool one_direction = v.kind == Value::Kind::recurrent && v.directions == 1;
  if (one_direction && v.view == RnnView::y && axes == std::vector<int64_t>{1}) {
    im.set(node, 0, recurrent_view(v, RnnView::y_time_major));
  } else if (one_direction && v.view == RnnView::state && axes == std::vector<int64_t>{0}) {
    im.set_tensor(node, im.recurrent_output(v, false, node));
  } else {
    refuse(im, node, "Squeeze is supported only on the direction axis of an LSTM/GRU output");
  }
}

void constant_of_shape(Importer& im, const onnx::NodeProto& node) {
  const onnx::TensorProto* t = attr_tensor(node, "value");
  if (t != nullptr) {
    const Tensor value = float_tensor(*t, im.path());
    if (value.numel() != 1 || value.item<float>() != 0.0f) {
      refuse(im, node, "only zeros (an LSTM/GRU's initial state) are supported");
    }
  }
  Value v;
  v.kind = Value::Kind::zeros;
  im.set(node, 0, v);
}

// torch slices the zero initial state [layers, N, H] of a stacked LSTM/GRU per layer (still
// zeros), and at opsets below 11 writes h[-1] as a Slice of Y_h [1, N, H] keeping its one entry
// (still the state) before a Squeeze.
void slice(Importer& im, const onnx::NodeProto& node) {
  const Value& v = im.value(node, 0);
  if (v.kind == Value::Kind::zeros) {
    im.set(node, 0, v);
    return;
  }
  if (v.kind == Value::Kind::recurrent && v.view == RnnView::state && v.directions == 1) {
    // Opset 10 moved starts, ends and axes from attributes to inputs.
    const bool inputs = im.has_input(node, 1);
    const std::vector<int64_t> starts = inputs ? im.ints(node, 1) : attr_ints(node, "starts", {});
    const std::vector<int64_t> ends = inputs ? im.ints(node, 2) : attr_ints(node, "ends", {});
    const std::vector<int64_t> axes =
        inputs ? (im.has_input(node, 3) ? im.ints(node, 3) : std::vector<int64_t>{0})
               : attr_ints(node, "axes", {0});
    const std::vector<int64_t> steps =
        inputs && im.has_input(node, 4) ? im.ints(node, 4) : std::vector<int64_t>{1};
    auto clamp_to_one = [](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + 1 : i, 0, 1); };
    if (axes == std::vector<int64_t>{0} && starts.size() == 1 && ends.size() == 1 &&
        steps == std::vector<int64_t>{1} && clamp_to_one(starts[0]) == 0 &&
        clamp_to_one(ends[0]) == 1) {
      im.set(node, 0, v);
      return;
    }
  }
  refuse(im, node,
         "Slice is supported only on an LSTM/GRU's zero initial state and on its final state "
         "(keeping it whole)");
}

void transpose(Importer& im, const onnx::NodeProto& node) {
  const Value& v = im.value(node, 0);
  const std::vector<int64_t> perm = attr_ints(node, "perm", {});
  using P = std::vector<int64_t>;
  if (v.kind == Value::Kind::tensor && !v.time_major && v.tensor.shape().size() == 2 &&
      perm == P{1, 0, 2}) {
    // [N, T, F] -> [T, N, F], the layout ONNX's recurrent ops read: kept batch-first, flagged.
    Value out = v;
    out.time_major = true;
    im.set(node, 0, out);
  } else if (v.kind == Value::Kind::recurrent && v.view == RnnView::y_time_major &&
             perm == P{1, 0, 2}) {
    // Built as nabla's sequences where it is read (Importer::materialize), unless the reader
    // picks the last step of one direction, which is the layer's final state.
    im.set(node, 0, recurrent_view(v, RnnView::y_batch_first));
  } else if (v.kind == Value::Kind::recurrent && v.view == RnnView::y && perm == P{0, 2, 1, 3}) {
    im.set(node, 0, recurrent_view(v, RnnView::y_steps_split));
  } else if (v.kind == Value::Kind::recurrent && v.view == RnnView::y && perm == P{2, 0, 1, 3}) {
    im.set(node, 0, recurrent_view(v, RnnView::y_batch_major));
  } else if (v.kind == Value::Kind::recurrent && v.view == RnnView::state && perm == P{1, 0, 2}) {
    im.set(node, 0, recurrent_view(v, RnnView::state_batch_major));
  } else {
    refuse(im, node,
           "Transpose is supported only between batch-first and time-first sequences around "
           "LSTM/GRU");
  }
}

// The target of a Reshape without its batch axis: the first entry must keep the batch (0, the
// batch size itself, or a -1 that nothing else claims).
Shape reshape_target(const Importer& im, const onnx::NodeProto& node,
                     const std::vector<int64_t>& target) {
  if (target.empty()) refuse(im, node, "an empty target shape is not supported");
  const Shape rest(target.begin() + 1, target.end());
  const bool rest_has_minus_one = std::find(rest.begin(), rest.end(), -1) != rest.end();
  if (target[0] != 0 && target[0] != kBatch && !(target[0] == -1 && !rest_has_minus_one)) {
    refuse(im, node, "the target shape must keep the batch axis (0, or the batch size)");
  }
  for (int64_t d : rest) {
    if (d == 0 || d == kBatch) refuse(im, node, "only the batch axis may be copied from the input");
  }
  return rest;
}

void reshape(Importer& im, const onnx::NodeProto& node) {
  if (attr_int(node, "allowzero", 0) != 0) refuse(im, node, "allowzero = 1 is not supported");
  const Value& v = im.value(node, 0);
  const std::vector<int64_t>& target = im.ints(node, 1);
  if (v.kind == Value::Kind::group_norm) {
    // GroupNorm's groups back to x's shape (Shape(x), or [0, C, ...] as nabla writes it).
    if (im.uses(node.input(0)) != 1 || reshape_target(im, node, target) != v.tensor.shape()) {
      refuse(im, node, "GroupNorm's normalized groups must be reshaped back to the input's shape");
    }
    Value restored = v;
    restored.kind = Value::Kind::group_norm_restored;
    im.set(node, 0, restored);
    return;
  }
  if (v.kind == Value::Kind::recurrent && v.view != RnnView::y_batch_first) {
    using P = std::vector<int64_t>;
    // nabla's exporter: the final state [N, 1, H] -> [N, H]; the steps [N, T, 1, H] -> [N, T, H].
    if (v.view == RnnView::state_batch_major && target.size() == 2 && target[1] == -1) {
      im.set_tensor(node, im.recurrent_output(v, false, node));
    } else if (v.view == RnnView::y_batch_major && target == P{0, 0, -1}) {
      im.set_tensor(node, im.recurrent_output(v, true, node));
    } else if (v.view == RnnView::y_steps_split && target.size() == 3 && target[2] == -1 &&
               (target[1] == 0 || target[1] == kBatch)) {
      // torch's bidirectional layers: the directions side by side, still time-first.
      im.set(node, 0, recurrent_view(v, RnnView::y_time_major));
    } else {
      refuse(im, node, "this reshape of an LSTM/GRU output is not supported");
    }
    return;
  }
  const Shape rest = reshape_target(im, node, target);
  const nn::SymbolicTensor x = im.tensor(node, 0);
  const nn::ModulePtr layer = rest == Shape{-1} ? nn::ModulePtr(std::make_shared<nn::Flatten>())
                                                : std::make_shared<nn::Reshape>(rest);
  im.set_tensor(node, call_layer(im, node, layer, {x}, {}));
}

void flatten(Importer& im, const onnx::NodeProto& node) {
  if (attr_int(node, "axis", 1) != 1) refuse(im, node, "only axis = 1 is supported");
  const Value& v = im.value(node, 0);
  if (v.kind == Value::Kind::recurrent && v.view == RnnView::state_batch_major) {
    im.set_tensor(node, im.recurrent_output(v, false, node));
    return;
  }
  im.set_tensor(node,
                call_layer(im, node, std::make_shared<nn::Flatten>(), {im.tensor(node, 0)}, {}));
}

}  // namespace

bool convert_shape_op(Importer& im, const onnx::NodeProto& node) {
  const std::string& op = node.op_type();
  if (op == "Shape") {
    shape(im, node);
  } else if (op == "Gather") {
    gather(im, node);
  } else if (op == "Unsqueeze") {
    unsqueeze(im, node);
  } else if (op == "Squeeze") {
    squeeze(im, node);
  } else if (op == "ConstantOfShape") {
    constant_of_shape(im, node);
  } else if (op == "Slice") {
    slice(im, node);
  } else if (op == "Transpose") {
    transpose(im, node);
  } else if (op == "Reshape") {
    reshape(im, node);
  } else if (op == "Flatten") {
    flatten(im, node);
  } else if (op == "Identity" || op == "Dropout") {
    // Inference: dropout passes its input through; its mask output has no nabla form.
    if (node.output_size() > 1 && !node.output(1).empty() && im.uses(node.output(1)) > 0) {
      refuse(im, node, "its mask output is not supported");
    }
    im.set(node, 0, im.value(node, 0));
  } else {
    return false;
  }
  return true;
}

}  // namespace nabla::io::onnx_import
