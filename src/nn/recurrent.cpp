// Recurrent layers (Keras's SimpleRNN/LSTM/GRU, PyTorch's RNN/LSTM/GRU): a stack of rnn_layer
// calls, one per layer and direction, with PyTorch's parameter names and order, so that a PyTorch
// state dict loads by name. Initialization follows Keras by default: Glorot uniform over the whole
// input matrix W_ih [G*H, I] (fans I and G*H, as Keras's kernel [I, G*H]); orthogonal W_hh
// [G*H, H] with orthonormal columns, which is Keras's recurrent kernel [H, G*H] (orthonormal
// rows) transposed; zero biases, with LSTM's forget-gate block of b_ih at 1 (unit_forget_bias).
#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "nabla/nn.hpp"
#include "nn/layer_util.hpp"

namespace nabla::nn {

namespace {

// PyTorch's initialization, U(-1/sqrt(H), 1/sqrt(H)) for every weight and bias, by this name.
constexpr const char* kPytorchInit = "pytorch";

std::string default_type_name(RnnMode mode) {
  switch (mode) {
    case RnnMode::lstm:
      return "LSTM";
    case RnnMode::gru:
      return "GRU";
    default:
      return "SimpleRNN";
  }
}

int64_t gate_count(RnnMode mode) {
  switch (mode) {
    case RnnMode::lstm:
      return 4;
    case RnnMode::gru:
      return 3;
    default:
      return 1;
  }
}

RnnMode simple_rnn_mode(const std::string& nonlinearity) {
  NABLA_CHECK(nonlinearity == "tanh" || nonlinearity == "relu",
              "SimpleRNN: nonlinearity must be 'tanh' or 'relu', got '", nonlinearity, "'");
  return nonlinearity == "relu" ? RnnMode::rnn_relu : RnnMode::rnn_tanh;
}

// Slots of one (layer, direction) in Recurrent::weights_.
enum Slot { kWeightIh, kWeightHh, kBiasIh, kBiasHh, kSlots };

}  // namespace

Recurrent::Recurrent(RnnMode mode, int64_t hidden_size, RecurrentOptions options,
                     std::string type_name)
    : mode_(mode),
      hidden_size_(hidden_size),
      options_(std::move(options)),
      type_name_(type_name.empty() ? default_type_name(mode) : std::move(type_name)) {
  NABLA_CHECK(hidden_size >= 1, type_name_, ": hidden_size must be >= 1, got ", hidden_size);
  NABLA_CHECK(options_.num_layers >= 1, type_name_, ": num_layers must be >= 1, got ",
              options_.num_layers);
  NABLA_CHECK(options_.dropout >= 0 && options_.dropout < 1, type_name_,
              ": dropout must be in [0, 1), got ", options_.dropout);
  NABLA_CHECK(options_.input_size == -1 || options_.input_size >= 1, type_name_,
              ": input_size must be >= 1 (or -1 to infer it at the first forward), got ",
              options_.input_size);
  // For the simple RNN the mode decides; the option then reports it.
  if (mode == RnnMode::rnn_tanh) options_.nonlinearity = "tanh";
  if (mode == RnnMode::rnn_relu) options_.nonlinearity = "relu";
  if (options_.input_size > 0) build_parameters(options_.input_size, DType::f32);
}

SimpleRNN::SimpleRNN(int64_t hidden_size, RecurrentOptions options)
    : Recurrent(simple_rnn_mode(options.nonlinearity), hidden_size, options, "SimpleRNN") {}

void Recurrent::build_parameters(int64_t input_size, DType dtype) {
  const int64_t directions = options_.bidirectional ? 2 : 1;
  const int64_t gate_rows = gate_count(mode_) * hidden_size_;
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size_));
  const bool pytorch_biases = options_.kernel_initializer == kPytorchInit;
  auto init_weight = [&](Tensor& w, const std::string& name) {
    if (name == kPytorchInit) return init::uniform_(w, -bound, bound);
    init::apply(name, w);
  };
  auto init_bias = [&](Tensor& b, bool forget_gate) {
    if (pytorch_biases) return init::uniform_(b, -bound, bound);
    init::zeros_(b);
    if (forget_gate) b.slice(0, hidden_size_, 2 * hidden_size_).fill_(1);
  };
  for (int64_t layer = 0; layer < options_.num_layers; ++layer) {
    const int64_t in = layer == 0 ? input_size : directions * hidden_size_;
    for (int64_t dir = 0; dir < directions; ++dir) {
      const std::string suffix = "_l" + std::to_string(layer) + (dir == 1 ? "_reverse" : "");
      Tensor w_ih = empty({gate_rows, in}, dtype), w_hh = empty({gate_rows, hidden_size_}, dtype);
      init_weight(w_ih, options_.kernel_initializer);
      init_weight(w_hh, options_.recurrent_initializer);
      weights_.push_back(register_parameter("weight_ih" + suffix, w_ih));
      weights_.push_back(register_parameter("weight_hh" + suffix, w_hh));
      if (!options_.bias) {
        weights_.resize(weights_.size() + 2);
        continue;
      }
      Tensor b_ih = empty({gate_rows}, dtype), b_hh = empty({gate_rows}, dtype);
      init_bias(b_ih, mode_ == RnnMode::lstm && options_.unit_forget_bias);
      init_bias(b_hh, false);
      weights_.push_back(register_parameter("bias_ih" + suffix, b_ih));
      weights_.push_back(register_parameter("bias_hh" + suffix, b_hh));
    }
  }
  options_.input_size = input_size;
}

RecurrentOutput Recurrent::forward_with_state(const Tensor& x, const RecurrentState& initial,
                                              const Tensor& mask) {
  const bool batch_first = options_.batch_first;
  NABLA_CHECK(x.dim() == 3, type_name_, " expects ",
              batch_first ? "[N, T, F] input (batch_first)" : "[T, N, F] input", ", got shape ",
              x.shape());
  if (weights_.empty()) {
    build_parameters(x.size(2), internal::param_dtype(x));
  } else {
    NABLA_CHECK(x.size(2) == options_.input_size, type_name_, ": expected input with ",
                options_.input_size, " features (last axis), got shape ", x.shape());
  }
  const Tensor input = is_floating(x.dtype()) ? x : x.to(weights_[kWeightIh].dtype());
  const Tensor seq = batch_first ? input.transpose(0, 1) : input;  // time-major [T, N, F]
  const int64_t steps = seq.size(0), batch = seq.size(1);
  const int64_t directions = options_.bidirectional ? 2 : 1;
  const int64_t layers = options_.num_layers;

  Tensor time_mask;
  if (mask.defined()) {
    const Shape expected = batch_first ? Shape{batch, steps} : Shape{steps, batch};
    NABLA_CHECK(mask.dtype() == DType::boolean && mask.shape() == expected, type_name_,
                ": mask of shape ", mask.shape(), " and dtype ", mask.dtype(),
                " does not match input of shape ", x.shape(), "; expected a bool mask ",
                batch_first ? "[N, T] = " : "[T, N] = ", expected);
    time_mask = batch_first ? mask.transpose(0, 1) : mask;
  }
  const Shape state_shape = {layers * directions, batch, hidden_size_};
  NABLA_CHECK(!initial.h.defined() || initial.h.shape() == state_shape, type_name_,
              ": initial h of shape ", initial.h.shape(),
              " does not match; expected [num_layers * directions, N, H] = ", state_shape);
  NABLA_CHECK(!initial.c.defined() || mode_ == RnnMode::lstm, type_name_,
              ": an initial c (cell state) is for LSTM only, got one of shape ", initial.c.shape());
  NABLA_CHECK(!initial.c.defined() || initial.c.shape() == state_shape, type_name_,
              ": initial c of shape ", initial.c.shape(),
              " does not match; expected [num_layers * directions, N, H] = ", state_shape);

  Tensor layer_input = seq;
  std::vector<Tensor> final_h, final_c;
  for (int64_t layer = 0; layer < layers; ++layer) {
    std::vector<Tensor> outputs;
    for (int64_t dir = 0; dir < directions; ++dir) {
      const int64_t index = layer * directions + dir;
      const Tensor* w = weights_.data() + index * kSlots;
      const Tensor h0 = initial.h.defined() ? initial.h.select(0, index) : Tensor();
      const Tensor c0 = initial.c.defined() ? initial.c.select(0, index) : Tensor();
      RnnLayerResult r = rnn_layer(mode_, layer_input, h0, c0, w[kWeightIh], w[kWeightHh],
                                   w[kBiasIh], w[kBiasHh], time_mask, dir == 1);
      outputs.push_back(r.output);
      final_h.push_back(r.h_n);
      if (r.c_n.defined()) final_c.push_back(r.c_n);
    }
    layer_input = directions == 1 ? outputs[0] : concat(outputs, 2);
    if (layer + 1 < layers && training_ && options_.dropout > 0)
      layer_input = dropout(layer_input, options_.dropout, true);
  }
  RecurrentOutput result;
  result.output = batch_first ? layer_input.transpose(0, 1) : layer_input;
  result.state.h = stack(final_h, 0);
  if (!final_c.empty()) result.state.c = stack(final_c, 0);
  return result;
}

Tensor Recurrent::forward(const Tensor& x) { return forward_masked(x, Tensor()); }

Tensor Recurrent::forward_masked(const Tensor& x, const Tensor& mask) {
  RecurrentOutput r = forward_with_state(x, {}, mask);
  if (options_.return_sequences) return r.output;
  // The last layer's final states: the forward direction's after the last (real) step, the
  // backward direction's after the first.
  const int64_t directions = options_.bidirectional ? 2 : 1;
  const int64_t last = (options_.num_layers - 1) * directions;
  if (directions == 1) return r.state.h.select(0, last);
  return concat({r.state.h.select(0, last), r.state.h.select(0, last + 1)}, 1);
}

Tensor Recurrent::compute_mask(const Tensor&, const Tensor& mask) const {
  return options_.return_sequences ? mask : Tensor();
}

std::string Recurrent::extra_repr() const {
  std::string s =
      "hidden=" + std::to_string(hidden_size_) + ", layers=" + std::to_string(options_.num_layers);
  if (options_.bidirectional) s += ", bidirectional";
  if (options_.return_sequences) s += ", return_sequences";
  if (mode_ == RnnMode::rnn_relu) s += ", nonlinearity=relu";
  if (options_.dropout > 0) {
    std::ostringstream os;
    os << options_.dropout;
    s += ", dropout=" + os.str();
  }
  if (!options_.bias) s += ", bias=false";
  if (!options_.batch_first) s += ", batch_first=false";
  return s;
}

}  // namespace nabla::nn
