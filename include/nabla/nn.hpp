// Neural-network building blocks: Module (named parameters, buffers and submodules, train/eval,
// state dicts), layers and initializers. Layers infer their input size at the first forward
// (Keras-style lazy build) unless given one. Weights use PyTorch's layout ([out, in] for Linear),
// so PyTorch state dicts load by name.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "nabla/ops.hpp"
#include "nabla/tensor.hpp"

namespace nabla::nn {

using StateDict = std::map<std::string, Tensor>;

struct GraphNode;

// A symbolic tensor (Keras's KerasTensor): what Input() returns and what calling a layer on
// symbolic tensors returns. It holds no values, only where it comes from and its shape, so that
// a graph model (nn::Graph) can be built from the calls. See "Functional graph models" below.
class SymbolicTensor {
 public:
  SymbolicTensor() = default;
  explicit SymbolicTensor(std::shared_ptr<GraphNode> node) : node_(std::move(node)) {}
  const Shape& shape() const;  // without the batch axis
  DType dtype() const;
  const std::shared_ptr<GraphNode>& node() const { return node_; }

 private:
  std::shared_ptr<GraphNode> node_;
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
  // Layers with several inputs (Add, Concatenate, graph models with several inputs) override
  // this; by default a module takes exactly one input.
  virtual Tensor forward_multi(const std::vector<Tensor>& inputs);
  // Keras's functional API: calling a layer on symbolic tensors records the call (the layer is
  // built on the way, so its output shape is known) and returns the output's symbolic tensor.
  // Calling one layer twice shares its weights.
  SymbolicTensor operator()(const SymbolicTensor& x);
  SymbolicTensor operator()(const std::vector<SymbolicTensor>& inputs);

  // The layer's name in a graph model, its summary and its spec ("dense_1"); "" until given
  // (a graph then names it after its type, as Keras does).
  const std::string& name() const { return name_; }
  Module& set_name(std::string name);

  // Keras-style masking for padded sequences: a bool mask [N, T] (true = a real time step) travels
  // with [N, T, ...] activations through Sequential. A layer that uses it (recurrent layers,
  // attention, sequence pooling) overrides forward_masked; compute_mask gives the mask its output
  // carries: by default none (the mask stops at a layer that does not know about it).
  virtual Tensor forward_masked(const Tensor& x, const Tensor& mask) {
    (void)mask;
    return forward(x);
  }
  virtual Tensor compute_mask(const Tensor& x, const Tensor& mask) const {
    (void)x;
    (void)mask;
    return Tensor();
  }

  // Type name as in Keras/PyTorch summaries ("Linear", "ReLU", "Sequential", ...).
  virtual std::string type_name() const = 0;
  // One-line configuration for printing ("in=784, out=128, activation=relu").
  virtual std::string extra_repr() const { return ""; }

  // Runs one forward on zeros of shape [1, input_shape...] (of input_dtype()) in eval mode
  // without grad, so that lazy layers create their parameters. Returns the output shape (batch
  // axis included).
  Shape build(const Shape& input_shape);
  // What the module takes: f32 values, or i64 token ids (embeddings, seq2seq models).
  virtual DType input_dtype() const { return DType::f32; }

  // Parameters and buffers of this module and (recursively) its children, in registration order,
  // named by dotted path ("0.weight", "encoder.1.bias").
  std::vector<Tensor> parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_parameters(bool recurse = true) const;
  std::vector<std::pair<std::string, Tensor>> named_buffers(bool recurse = true) const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  int64_t num_parameters() const;

  // Parameters and buffers by name. load_state_dict copies values in place (optimizers holding
  // the parameters stay valid); strict: missing/unexpected keys or shape mismatches are Errors.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state, bool strict = true);

  // Converts every floating parameter and buffer (and gradient) to `dtype` (f32 or f64) in
  // place, as PyTorch's module.to(dtype) / .double(): handles held elsewhere see the converted
  // values. Integer buffers (BatchNorm's num_batches_tracked) stay. Convert before creating an
  // optimizer: its state keeps the dtype it was created with.
  Module& to(DType dtype);

  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Keras's layer.trainable = false (fine-tuning): the module's parameters, its children's and
  // those created later by lazy layers get requires_grad off, so no gradient reaches them and
  // compile() leaves them out of the optimizer; layers with running statistics
  // (BatchNormalization) then normalize with them, in training too, as Keras's frozen layers do.
  // Dropout still drops: freezing concerns weights, not the training mode.
  void set_trainable(bool trainable);
  bool trainable() const { return trainable_; }
  void zero_grad(bool set_to_none = true);

  // Multi-line description of the tree, PyTorch-style.
  std::string to_string() const;

 protected:
  Tensor& register_parameter(const std::string& name, Tensor value);  // sets requires_grad
  Tensor& register_buffer(const std::string& name, Tensor value);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    register_child(name, module);
    return module;
  }
  void register_child(const std::string& name, std::shared_ptr<Module> module);
  void remove_child(const std::string& name);  // Error when there is none of that name

  bool training_ = true;
  bool trainable_ = true;

 private:
  std::string name_;
  std::vector<std::pair<std::string, Tensor>> parameters_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

using ModulePtr = std::shared_ptr<Module>;

// ---- initializers (in place, under no-grad; follow the papers and PyTorch's formulas) ----
namespace init {
enum class FanMode { fan_in, fan_out };
// fan_in/fan_out of a weight in PyTorch layout [out, in, *receptive_field].
std::pair<int64_t, int64_t> fans(const Tensor& weight);
// Recommended gain: linear/sigmoid 1, tanh 5/3, relu sqrt(2), leaky_relu sqrt(2/(1+slope^2)),
// selu 3/4.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);
void zeros_(Tensor& t);
void ones_(Tensor& t);
void constant_(Tensor& t, double value);
void uniform_(Tensor& t, double low = 0, double high = 1, Generator* gen = nullptr);
void normal_(Tensor& t, double mean = 0, double std = 1, Generator* gen = nullptr);
void xavier_uniform_(Tensor& t, double gain = 1, Generator* gen = nullptr);  // Glorot
void xavier_normal_(Tensor& t, double gain = 1, Generator* gen = nullptr);
void kaiming_uniform_(Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                      const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
void kaiming_normal_(Tensor& t, double a = 0, FanMode mode = FanMode::fan_in,
                     const std::string& nonlinearity = "leaky_relu", Generator* gen = nullptr);
void lecun_normal_(Tensor& t,
                   Generator* gen = nullptr);  // truncated normal as Keras, std 1/sqrt(fan_in)
void orthogonal_(Tensor& t, double gain = 1, Generator* gen = nullptr);
// By Keras or PyTorch name: "zeros", "ones", "glorot_uniform"/"xavier_uniform", "glorot_normal",
// "xavier_normal", "he_uniform"/"kaiming_uniform", "he_normal", "kaiming_normal", "lecun_normal",
// "lecun_uniform", "orthogonal", "normal"/"random_normal", "uniform"/"random_uniform". Each name
// follows its library: Keras's glorot_normal/he_normal draw from a truncated normal (as
// lecun_normal), PyTorch's xavier_normal/kaiming_normal from a plain one; "normal" and "uniform"
// use Keras's defaults (stddev 0.05, range +-0.05). Unknown name -> Error listing the known names.
void apply(const std::string& name, Tensor& t, Generator* gen = nullptr);
}  // namespace init

// ---- layers ----

// What post-training int8 quantization (nabla/quantize.hpp) keeps in a layer it can run in int8
// (Linear/Dense, Conv1d/Conv2d): the calibrated input range, then the quantized kernels. Opaque
// here (src/nn/int8_layer.hpp); null until quantize_int8 reaches the layer.
struct Int8State;
class Int8Quantizable {
 public:
  virtual ~Int8Quantizable() = default;
  const std::shared_ptr<Int8State>& int8_state() const { return int8_state_; }
  void set_int8_state(std::shared_ptr<Int8State> state) { int8_state_ = std::move(state); }
  // The weight that int8 quantizes, [C_out, ...]; undefined before the layer is built.
  virtual Tensor int8_weight() const = 0;

 private:
  std::shared_ptr<Int8State> int8_state_;
};

struct LinearOptions {
  int64_t in_features = -1;  // -1: inferred at the first forward
  bool bias = true;
  std::string activation = "";                        // applied after the affine map ("" = none)
  std::string kernel_initializer = "glorot_uniform";  // Keras defaults for Dense
  std::string bias_initializer = "zeros";
};

class Linear : public Module, public Int8Quantizable {
 public:
  explicit Linear(int64_t out_features, LinearOptions options = {});
  Tensor forward(const Tensor& x) override;
  Tensor compute_mask(const Tensor&, const Tensor& mask) const override { return mask; }
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  int64_t in_features() const { return options_.in_features; }
  int64_t out_features() const { return out_features_; }
  const std::string& activation() const { return options_.activation; }
  Tensor weight() const;  // [out, in]; undefined before the build
  Tensor bias() const;
  // x W^T + b without the activation: the logits a fused softmax + cross-entropy takes (Model).
  Tensor logits(const Tensor& x);
  Tensor int8_weight() const override { return weight_; }

 private:
  void build_parameters(int64_t in_features, DType dtype);
  // x W^T + b, in int8 when quantized and inferring; with relu in the same pass when `relu`
  // (*relu_applied then set).
  Tensor affine(const Tensor& x, bool relu, bool* relu_applied);
  int64_t out_features_;
  LinearOptions options_;
  Tensor weight_;  // the registered parameters themselves (shared handles)
  Tensor bias_;
};

// Keras's name for the same layer: Dense(128, "relu").
class Dense : public Linear {
 public:
  explicit Dense(int64_t units, const std::string& activation = "", LinearOptions options = {});
  std::string type_name() const override { return "Dense"; }
};

// An activation as a layer, by name ("relu", "softmax", ...; see nabla::activation).
// `negative_slope` is leaky_relu's slope below zero (PyTorch's LeakyReLU(negative_slope), Keras's
// LeakyReLU(alpha); PyTorch's default 0.01, DCGAN's 0.2); the other activations have none.
class Activation : public Module {
 public:
  static constexpr double kDefaultNegativeSlope = 0.01;
  explicit Activation(std::string name, double negative_slope = kDefaultNegativeSlope);
  Tensor forward(const Tensor& x) override;
  Tensor compute_mask(const Tensor&, const Tensor& mask) const override { return mask; }
  std::string type_name() const override;  // "ReLU", "Sigmoid", "Softmax", ...
  std::string extra_repr() const override;
  const std::string& name() const { return name_; }
  double negative_slope() const { return negative_slope_; }

 private:
  std::string name_;
  double negative_slope_;
};
std::shared_ptr<Activation> ReLU();
std::shared_ptr<Activation> Sigmoid();
std::shared_ptr<Activation> Tanh();
std::shared_ptr<Activation> Softmax();

// x * scale + offset, in f32 for integer inputs: Keras's Rescaling(1/255) turns raw pixel values
// into [0, 1] inside the model, so that image data can stay in memory as bytes.
class Rescaling : public Module {
 public:
  explicit Rescaling(double scale, double offset = 0);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Rescaling"; }
  std::string extra_repr() const override;
  double scale() const { return scale_; }
  double offset() const { return offset_; }

 private:
  double scale_;
  double offset_;
};

// Flattens all axes after the batch axis.
class Flatten : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  Tensor compute_mask(const Tensor&, const Tensor& mask) const override { return mask; }
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p() const { return p_; }

 private:
  double p_;
};

class Sequential;

// ---- convolution layers (src/nn/conv.cpp) ----
// Inputs [N, C, *spatial] (channels first, as PyTorch); weights in PyTorch's layout
// [out, in / groups, *kernel], so PyTorch state dicts load by name. in_channels is inferred at the
// first forward unless given. He (Kaiming) normal initialization by default.
struct ConvLayerOptions {
  int64_t in_channels = -1;
  std::vector<int64_t> stride = {1};  // one value for every spatial axis, or one per axis
  std::vector<int64_t> padding = {0};
  std::string padding_mode{};  // "" (use padding), "valid" or "same" (Keras semantics)
  std::vector<int64_t> dilation = {1};
  int64_t groups = 1;
  // > 0: depthwise convolution (groups = in_channels, out = in_channels * depth_multiplier);
  // out_channels is then ignored.
  int64_t depth_multiplier = 0;
  bool bias = true;
  std::string activation{};  // applied after the bias ("" = none)
  std::string kernel_initializer = "he_normal";
  std::string bias_initializer = "zeros";
  // 1-d only: input and output [N, T, C] (Keras's Conv1D on sequences, e.g. after an Embedding)
  // instead of [N, C, T]. The weights keep PyTorch's layout.
  bool channels_last = false;
};

// Convolution over `rank` (1 or 2) spatial axes. The named classes below fix the rank and the
// type name that summaries print (PyTorch's Conv2d or Keras's Conv2D).
class Conv : public Module, public Int8Quantizable {
 public:
  Conv(int rank, int64_t out_channels, std::vector<int64_t> kernel_size,
       ConvLayerOptions options = {}, std::string type_name = "");
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return type_name_; }
  std::string extra_repr() const override;
  int rank() const { return rank_; }
  int64_t in_channels() const { return options_.in_channels; }
  int64_t out_channels() const { return out_channels_; }
  const std::vector<int64_t>& kernel_size() const { return kernel_size_; }
  const ConvLayerOptions& options() const { return options_; }
  Tensor weight() const { return weight_; }
  Tensor bias() const { return bias_; }
  Tensor int8_weight() const override { return weight_; }
  // This layer, then relu (its own activation "relu", or `relu`: a ReLU layer after it), then a
  // max pooling over whole windows of `pool_window` with stride = window (a MaxPooling2D after
  // it), as one pass over the output (conv2d's ConvOptions::fused_max_pool): the values and
  // gradients of the layers one after the other, without the convolution's full output.
  // Sequential and Model run such layers through it. Only where fuses_max_pool() (2-d,
  // channels-first, activation "relu" or none); an int8 layer runs its own forward, then pools.
  bool fuses_max_pool() const;
  Tensor forward_max_pool(const Tensor& x, const std::vector<int64_t>& pool_window, bool relu);

 private:
  void build_parameters(int64_t in_channels, DType dtype);
  Tensor forward_channels_first(const Tensor& x, const std::vector<int64_t>& pool_window = {},
                                bool relu_after = false);
  nabla::ConvOptions op_options() const;
  int rank_;
  int64_t out_channels_;
  std::vector<int64_t> kernel_size_;
  ConvLayerOptions options_;
  std::string type_name_;
  Tensor weight_, bias_;
};
class Conv1d : public Conv {
 public:
  Conv1d(int64_t out_channels, int64_t kernel_size, ConvLayerOptions options = {})
      : Conv(1, out_channels, {kernel_size}, std::move(options), "Conv1d") {}
};
class Conv2d : public Conv {
 public:
  Conv2d(int64_t out_channels, std::vector<int64_t> kernel_size, ConvLayerOptions options = {})
      : Conv(2, out_channels, std::move(kernel_size), std::move(options), "Conv2d") {}
};
// Keras: Conv2D(filters, kernel_size, activation); padding "valid" unless options say otherwise.
class Conv2D : public Conv {
 public:
  Conv2D(int64_t filters, std::vector<int64_t> kernel_size, const std::string& activation = "",
         ConvLayerOptions options = {});
};

// Transposed convolution ("deconvolution"), weight [in, out / groups, kH, kW] as PyTorch.
struct ConvTransposeLayerOptions {
  int64_t in_channels = -1;
  std::vector<int64_t> stride = {1};
  std::vector<int64_t> padding = {0};
  std::vector<int64_t> output_padding = {0};
  std::vector<int64_t> dilation = {1};
  int64_t groups = 1;
  bool bias = true;
  std::string activation{};
  std::string kernel_initializer = "he_normal";
  std::string bias_initializer = "zeros";
};
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t out_channels, std::vector<int64_t> kernel_size,
                  ConvTransposeLayerOptions options = {},
                  std::string type_name = "ConvTranspose2d");
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return type_name_; }
  std::string extra_repr() const override;
  int64_t out_channels() const { return out_channels_; }
  const std::vector<int64_t>& kernel_size() const { return kernel_size_; }
  const ConvTransposeLayerOptions& options() const { return options_; }

 private:
  void build_parameters(int64_t in_channels, DType dtype);
  int64_t out_channels_;
  std::vector<int64_t> kernel_size_;
  ConvTransposeLayerOptions options_;
  std::string type_name_;
  Tensor weight_, bias_;
};

// Keras's SeparableConv2D: a depthwise convolution (depth_multiplier filters per input channel)
// followed by a 1x1 pointwise convolution to `filters` channels; one bias, after the pointwise.
class SeparableConv2D : public Module {
 public:
  SeparableConv2D(int64_t filters, std::vector<int64_t> kernel_size, ConvLayerOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SeparableConv2D"; }
  std::string extra_repr() const override;
  int64_t filters() const { return filters_; }
  const std::vector<int64_t>& kernel_size() const { return kernel_size_; }
  const ConvLayerOptions& options() const { return options_; }

 private:
  int64_t filters_;
  std::vector<int64_t> kernel_size_;
  ConvLayerOptions options_;
  std::shared_ptr<Conv> depthwise_, pointwise_;
};

// ---- pooling, resampling and spatial dropout layers (src/nn/pool_layers.cpp) ----
enum class PoolKind { max, average };
// 2-d max or average pooling. stride empty = kernel. padding_mode "same" (Keras) is supported when
// stride == kernel (it then equals ceil_mode, windows at the edge being partial) or when the
// padding it needs is symmetric.
struct Pool2dOptions {
  std::vector<int64_t> stride{};
  std::vector<int64_t> padding = {0};
  std::string padding_mode{};  // "", "valid" or "same"
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling
};
class Pool2d : public Module {
 public:
  Pool2d(PoolKind kind, std::vector<int64_t> kernel_size, Pool2dOptions options = {},
         std::string type_name = "");
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return type_name_; }
  std::string extra_repr() const override;
  PoolKind kind() const { return kind_; }
  const std::vector<int64_t>& kernel_size() const { return kernel_size_; }
  const Pool2dOptions& options() const { return options_; }

 private:
  PoolKind kind_;
  std::vector<int64_t> kernel_size_;
  Pool2dOptions options_;
  std::string type_name_;
};
std::shared_ptr<Pool2d> MaxPool2d(std::vector<int64_t> kernel_size, Pool2dOptions options = {});
std::shared_ptr<Pool2d> AvgPool2d(std::vector<int64_t> kernel_size, Pool2dOptions options = {});

// Average over the spatial axes. keepdims = false (Keras's GlobalAveragePooling2D): [N, C];
// PyTorch's AdaptiveAvgPool2d(output_size) keeps [N, C, h, w].
class GlobalAveragePooling2D : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GlobalAveragePooling2D"; }
};
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::vector<int64_t> output_size);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;
  const std::vector<int64_t>& output_size() const { return output_size_; }

 private:
  std::vector<int64_t> output_size_;
};

// Resizes [N, C, H, W] by an integer factor (nearest or bilinear): PyTorch's Upsample,
// Keras's UpSampling2D.
class Upsample : public Module {
 public:
  explicit Upsample(double scale_factor, std::string mode = "nearest", bool align_corners = false,
                    std::string type_name = "Upsample");
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return type_name_; }
  std::string extra_repr() const override;
  double scale_factor() const { return scale_factor_; }
  const std::string& mode() const { return mode_; }
  bool align_corners() const { return align_corners_; }

 private:
  double scale_factor_;
  std::string mode_;
  bool align_corners_;
  std::string type_name_;
};

// Zeroes whole channels when training (PyTorch's Dropout2d, Keras's SpatialDropout2D).
class Dropout2d : public Module {
 public:
  explicit Dropout2d(double p = 0.5, std::string type_name = "Dropout2d");
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return type_name_; }
  std::string extra_repr() const override;
  double p() const { return p_; }

 private:
  double p_;
  std::string type_name_;
};

// ---- normalization layers (src/nn/norm_layers.cpp) ----
// Batch normalization over channel axis 1 of [N, C, *] (PyTorch's BatchNorm1d/2d). momentum is
// PyTorch's (weight of the new batch statistic): Keras's BatchNormalization(momentum=0.99,
// epsilon=1e-3) is BatchNorm with momentum 0.01, eps 1e-3. Buffers running_mean, running_var and
// num_batches_tracked as PyTorch, so state dicts load by name.
struct BatchNormOptions {
  int64_t num_features = -1;  // inferred at the first forward
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
};
class BatchNorm : public Module {
 public:
  explicit BatchNorm(BatchNormOptions options = {}, std::string type_name = "BatchNorm2d");
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return type_name_; }
  std::string extra_repr() const override;
  const BatchNormOptions& options() const { return options_; }

 private:
  void build_parameters(int64_t num_features, DType dtype);
  BatchNormOptions options_;
  std::string type_name_;
  Tensor weight_, bias_, running_mean_, running_var_, num_batches_tracked_;
};
std::shared_ptr<BatchNorm> BatchNorm2d(int64_t num_features = -1, double eps = 1e-5,
                                       double momentum = 0.1);
// Keras's BatchNormalization (axis 1 here, channels first): momentum 0.99, epsilon 1e-3.
std::shared_ptr<BatchNorm> BatchNormalization(double momentum = 0.99, double epsilon = 1e-3);

// Layer normalization over the trailing axes `normalized_shape` (empty: the last axis, size
// inferred at the first forward), with elementwise affine weight and bias.
class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape = {}, double eps = 1e-5, bool elementwise_affine = true,
                     std::string type_name = "LayerNorm");
  Tensor forward(const Tensor& x) override;
  Tensor compute_mask(const Tensor&, const Tensor& mask) const override { return mask; }
  std::string type_name() const override { return type_name_; }
  std::string extra_repr() const override;
  const Shape& normalized_shape() const { return normalized_shape_; }
  double eps() const { return eps_; }
  bool elementwise_affine() const { return affine_; }

 private:
  void build_parameters(const Shape& normalized_shape, DType dtype);
  Shape normalized_shape_;
  double eps_;
  bool affine_;
  std::string type_name_;
  Tensor weight_, bias_;
  bool built_ = false;
};

class GroupNorm : public Module {
 public:
  explicit GroupNorm(int64_t num_groups, int64_t num_channels = -1, double eps = 1e-5,
                     bool affine = true);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;
  int64_t num_groups() const { return num_groups_; }
  double eps() const { return eps_; }
  bool affine() const { return affine_; }

 private:
  void build_parameters(int64_t num_channels, DType dtype);
  int64_t num_groups_, num_channels_;
  double eps_;
  bool affine_;
  Tensor weight_, bias_;
};

// ---- reusable CNN blocks (src/nn/blocks.cpp) ----
// The basic residual block of He et al. 2016 (ResNet-18/34, ResNet-20 for CIFAR):
//   conv3x3(stride) - BN - ReLU - conv3x3 - BN, plus the shortcut, then ReLU.
// The shortcut is the identity, or conv1x1(stride) - BN when the stride or the channel count
// changes (option B of the paper), created at the first forward once in_channels is known.
class ResidualBlock : public Module {
 public:
  explicit ResidualBlock(int64_t filters, int64_t stride = 1);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ResidualBlock"; }
  std::string extra_repr() const override;
  int64_t filters() const { return filters_; }
  int64_t stride() const { return stride_; }

 private:
  int64_t filters_, stride_;
  std::shared_ptr<Conv> conv1_, conv2_;
  std::shared_ptr<BatchNorm> bn1_, bn2_;
  std::shared_ptr<Sequential> shortcut_;  // null: identity
  bool built_ = false;
};

// A dense block of DenseNet-BC (Huang et al. 2017): `layers` times
//   x = concat(x, conv3x3(ReLU(BN(conv1x1_{4k}(ReLU(BN(x)))))))   (k = growth_rate)
// so the output has in_channels + layers * growth_rate channels.
class DenseBlock : public Module {
 public:
  DenseBlock(int64_t layers, int64_t growth_rate);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "DenseBlock"; }
  std::string extra_repr() const override;
  int64_t num_layers() const { return num_layers_; }
  int64_t growth_rate() const { return growth_rate_; }

 private:
  int64_t num_layers_, growth_rate_;
  std::vector<std::shared_ptr<Sequential>> layers_;
};

// DenseNet-BC's transition between dense blocks: BN - ReLU - conv1x1 to
// floor(compression * in_channels) channels - 2x2 average pooling.
class TransitionBlock : public Module {
 public:
  explicit TransitionBlock(double compression = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "TransitionBlock"; }
  std::string extra_repr() const override;
  double compression() const { return compression_; }

 private:
  double compression_;
  std::shared_ptr<Sequential> body_;
};

// Reshapes everything after the batch axis to `shape` (one entry may be -1), as Keras's Reshape.
class Reshape : public Module {
 public:
  explicit Reshape(Shape shape);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Reshape"; }
  std::string extra_repr() const override;
  const Shape& target_shape() const { return shape_; }

 private:
  Shape shape_;
};

// Permutes the axes after the batch axis, as Keras's Permute: `dims` numbers them from 1, and
// output axis i + 1 is input axis dims[i]. Permute({2, 3, 1}) turns [N, C, H, W] into
// [N, H, W, C] (class scores last, where the losses and softmax look for them).
class Permute : public Module {
 public:
  explicit Permute(std::vector<int64_t> dims);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Permute"; }
  std::string extra_repr() const override;
  const std::vector<int64_t>& dims() const { return dims_; }

 private:
  std::vector<int64_t> dims_;
};

// ---- sequence layers (src/nn/embedding.cpp, recurrent.cpp, attention.cpp, transformer.cpp,
// sequence_pool.cpp). Sequences are batch first, [N, T, F], unless an option says otherwise;
// weights and parameter names follow PyTorch so that its state dicts load by name. ----
struct EmbeddingOptions {
  int64_t padding_idx = -1;  // >= 0: that row gets no gradient (and starts at zero)
  double max_norm = 0;       // > 0: looked-up rows are renormalized to at most this L2 norm
  bool mask_zero = false;    // Keras: id 0 is padding; the output carries the mask ids != 0
  std::string initializer = "uniform";  // Keras's default (+-0.05); PyTorch draws from N(0, 1)
  // PyTorch's sparse=True: the weight's gradient is row-sparse (only the looked-up rows; see
  // Tensor::is_row_sparse), for SGD without momentum, Adagrad and SparseAdam.
  bool sparse = false;
};
// Keras: Embedding(input_dim, output_dim); PyTorch: Embedding(num_embeddings, embedding_dim).
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, EmbeddingOptions options = {});
  Tensor forward(const Tensor& ids) override;  // i64 (or u8) [N, T] -> [N, T, D]
  Tensor compute_mask(const Tensor& ids, const Tensor& mask) const override;
  DType input_dtype() const override { return DType::i64; }
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;
  int64_t num_embeddings() const { return num_embeddings_; }
  int64_t embedding_dim() const { return embedding_dim_; }
  const EmbeddingOptions& options() const { return options_; }
  Tensor weight() const { return weight_; }

 private:
  int64_t num_embeddings_, embedding_dim_;
  EmbeddingOptions options_;
  Tensor weight_;
};

struct RecurrentOptions {
  int64_t input_size = -1;  // -1: inferred at the first forward
  int64_t num_layers = 1;
  bool bias = true;
  bool batch_first = true;  // [N, T, F] as Keras (PyTorch's nn.LSTM defaults to [T, N, F])
  double dropout = 0;       // on the outputs of every layer but the last, when training
  bool bidirectional = false;
  // Keras: true returns the output of every step [N, T, D*H]; false (the default, as Keras) only
  // the last layer's final state [N, D*H] (forward direction's last step, backward direction's
  // first, concatenated).
  bool return_sequences = false;
  std::string nonlinearity = "tanh";  // simple RNN only: "tanh" or "relu"
  // Keras's defaults (Glorot uniform input weights, orthogonal recurrent weights, zero biases,
  // LSTM forget-gate bias 1); "pytorch" as initializer draws every weight and bias from
  // U(-1/sqrt(H), 1/sqrt(H)) as torch.nn does.
  std::string kernel_initializer = "glorot_uniform";
  std::string recurrent_initializer = "orthogonal";
  bool unit_forget_bias = true;
};

// Final states [num_layers * directions, N, H], as PyTorch.
struct RecurrentState {
  Tensor h;
  Tensor c;  // LSTM only
};
struct RecurrentOutput {
  Tensor output;  // every step of the last layer: [N, T, D*H] (batch_first) or [T, N, D*H]
  RecurrentState state;
};

// Multi-layer, optionally bidirectional RNN/LSTM/GRU. Parameters weight_ih_l{k}[_reverse],
// weight_hh_l{k}[_reverse], bias_ih_l{k}[_reverse], bias_hh_l{k}[_reverse] as PyTorch.
class Recurrent : public Module {
 public:
  Recurrent(RnnMode mode, int64_t hidden_size, RecurrentOptions options = {},
            std::string type_name = "");
  Tensor forward(const Tensor& x) override;
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override;
  Tensor compute_mask(const Tensor& x, const Tensor& mask) const override;  // kept with sequences
  // The PyTorch-style call: all outputs and the final states, from initial states (undefined =
  // zeros) and an optional mask [N, T] (batch_first) or [T, N].
  RecurrentOutput forward_with_state(const Tensor& x, const RecurrentState& initial = {},
                                     const Tensor& mask = Tensor());
  std::string type_name() const override { return type_name_; }
  std::string extra_repr() const override;
  RnnMode mode() const { return mode_; }
  int64_t hidden_size() const { return hidden_size_; }
  const RecurrentOptions& options() const { return options_; }

 private:
  void build_parameters(int64_t input_size, DType dtype);
  RnnMode mode_;
  int64_t hidden_size_;
  RecurrentOptions options_;
  std::string type_name_;
  std::vector<Tensor> weights_;  // per (layer, direction): w_ih, w_hh, b_ih, b_hh
};
// Keras's SimpleRNN / PyTorch's RNN, LSTM, GRU.
class LSTM : public Recurrent {
 public:
  explicit LSTM(int64_t hidden_size, RecurrentOptions options = {})
      : Recurrent(RnnMode::lstm, hidden_size, std::move(options), "LSTM") {}
};
class GRU : public Recurrent {
 public:
  explicit GRU(int64_t hidden_size, RecurrentOptions options = {})
      : Recurrent(RnnMode::gru, hidden_size, std::move(options), "GRU") {}
};
class SimpleRNN : public Recurrent {
 public:
  explicit SimpleRNN(int64_t hidden_size, RecurrentOptions options = {});
};

// Global pooling over the time axis of [N, T, C] (Keras's GlobalMaxPooling1D and
// GlobalAveragePooling1D): -> [N, C]. With a mask, padded steps are left out.
class GlobalPooling1D : public Module {
 public:
  explicit GlobalPooling1D(bool max);
  Tensor forward(const Tensor& x) override;
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override;
  std::string type_name() const override;
  bool is_max() const { return max_; }

 private:
  bool max_;
};

struct MultiHeadAttentionOptions {
  double dropout = 0;  // on the attention weights, when training
  bool bias = true;
  bool batch_first = true;
};
// PyTorch's nn.MultiheadAttention (parameters in_proj_weight [3E, E], in_proj_bias,
// out_proj.weight, out_proj.bias). forward(x) is self-attention; forward_masked ignores padded
// keys.
class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(int64_t embed_dim, int64_t num_heads, MultiHeadAttentionOptions options = {});
  Tensor forward(const Tensor& x) override;
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override;
  Tensor compute_mask(const Tensor&, const Tensor& mask) const override { return mask; }
  // query [N, L, E], key/value [N, S, E] (batch_first). key_padding_mask: bool [N, S], true = a
  // real key (Keras's convention; PyTorch's is the opposite). attn_mask as
  // scaled_dot_product_attention. Returns [N, L, E].
  Tensor attend(const Tensor& query, const Tensor& key, const Tensor& value,
                const Tensor& key_padding_mask = Tensor(), const Tensor& attn_mask = Tensor(),
                bool is_causal = false);
  std::string type_name() const override { return "MultiHeadAttention"; }
  std::string extra_repr() const override;
  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }
  const MultiHeadAttentionOptions& options() const { return options_; }

 private:
  int64_t embed_dim_, num_heads_;
  MultiHeadAttentionOptions options_;
  Tensor in_proj_weight_, in_proj_bias_;
  std::shared_ptr<Linear> out_proj_;
};

// Adds position information to [N, T, D]: "sinusoidal" (Vaswani et al., fixed) or "learned" (a
// trained [max_length, D] table). D is inferred at the first forward. A sequence longer than
// max_length is an Error naming both.
class PositionalEncoding : public Module {
 public:
  explicit PositionalEncoding(int64_t max_length, std::string kind = "sinusoidal",
                              double dropout = 0);
  Tensor forward(const Tensor& x) override;
  Tensor compute_mask(const Tensor&, const Tensor& mask) const override { return mask; }
  std::string type_name() const override { return "PositionalEncoding"; }
  std::string extra_repr() const override;
  int64_t max_length() const { return max_length_; }
  const std::string& kind() const { return kind_; }
  double dropout() const { return dropout_; }

 private:
  int64_t max_length_;
  std::string kind_;
  double dropout_;
  Tensor table_;  // [max_length, D]: a buffer (sinusoidal) or a parameter (learned)
};

struct TransformerLayerOptions {
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;
  std::string activation = "relu";  // or "gelu"
  double layer_norm_eps = 1e-5;
  bool norm_first = false;  // pre-norm (true) or post-norm (false, the original Transformer)
  bool batch_first = true;
  bool causal = false;  // encoder only: forward() masks future positions (a GPT-style block)
};
// PyTorch's nn.TransformerEncoderLayer (submodules self_attn, linear1, linear2, norm1, norm2).
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions options = {});
  Tensor forward(const Tensor& x) override;
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override;
  Tensor compute_mask(const Tensor&, const Tensor& mask) const override { return mask; }
  // src_key_padding_mask: bool [N, S], true = real (Keras's convention).
  Tensor encode(const Tensor& src, const Tensor& src_mask = Tensor(),
                const Tensor& src_key_padding_mask = Tensor(), bool is_causal = false);
  std::string type_name() const override { return "TransformerEncoderLayer"; }
  std::string extra_repr() const override;
  int64_t d_model() const { return d_model_; }
  int64_t nhead() const { return nhead_; }
  const TransformerLayerOptions& options() const { return options_; }

 private:
  int64_t d_model_, nhead_;
  TransformerLayerOptions options_;
  std::shared_ptr<MultiHeadAttention> self_attn_;
  std::shared_ptr<Linear> linear1_, linear2_;
  std::shared_ptr<LayerNorm> norm1_, norm2_;
};
// PyTorch's nn.TransformerDecoderLayer (self_attn, multihead_attn, linear1, linear2, norm1..3).
// forward(x) alone runs causal self-attention without memory; decode() is the full layer.
class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, TransformerLayerOptions options = {});
  Tensor forward(const Tensor& x) override;
  Tensor decode(const Tensor& tgt, const Tensor& memory, bool tgt_is_causal = true,
                const Tensor& tgt_key_padding_mask = Tensor(),
                const Tensor& memory_key_padding_mask = Tensor());
  std::string type_name() const override { return "TransformerDecoderLayer"; }
  std::string extra_repr() const override;
  int64_t d_model() const { return d_model_; }
  int64_t nhead() const { return nhead_; }
  const TransformerLayerOptions& options() const { return options_; }

 private:
  int64_t d_model_, nhead_;
  TransformerLayerOptions options_;
  std::shared_ptr<MultiHeadAttention> self_attn_, multihead_attn_;
  std::shared_ptr<Linear> linear1_, linear2_;
  std::shared_ptr<LayerNorm> norm1_, norm2_, norm3_;
};

// ---- encoder-decoder models (src/nn/seq2seq.cpp) ----
// Token ids: 0 = padding, 1 = start of sequence, 2 = end of sequence, then the task's symbols.
struct Seq2SeqOptions {
  int64_t vocab_size = 0;     // shared by source and target
  int64_t source_length = 0;  // S: the source part of the input (right-padded with 0)
  int64_t embedding_dim = 64;
  int64_t hidden_size = 128;  // LSTM units, or d_model of the Transformer
  int64_t num_layers = 1;     // per side
  // LSTM: "luong" (multiplicative, Luong et al. 2015: general score), "bahdanau" (additive) or
  // "none" (the encoder's final state only). Unused by the Transformer.
  std::string attention = "luong";
  int64_t num_heads = 4;          // Transformer
  int64_t dim_feedforward = 256;  // Transformer
  int64_t max_length = 64;        // Transformer: positional encoding length
  double dropout = 0.1;
};
// kind "lstm": embedding -> LSTM encoder (padding masked) -> LSTM decoder initialised with the
// encoder's final state, attention over the encoder outputs at every decoder step, output layer
// over [decoder state; context]. kind "transformer": embeddings + sinusoidal positions ->
// TransformerEncoderLayer x num_layers, TransformerDecoderLayer x num_layers (causal, attending to
// the padded-masked memory) -> output layer.
// forward(x): x i64 [N, S + T] = source (S ids) then the decoder input (start id, then the target
// shifted right, padded with 0); returns logits [N, T, vocab_size] (teacher forcing).
class Seq2Seq : public Module {
 public:
  Seq2Seq(std::string kind, Seq2SeqOptions options);
  Tensor forward(const Tensor& x) override;
  // Greedy decoding from source [N, S] (eval mode, no grad): [N, max_length] ids, 0 after each
  // row's end id (the end id itself is not included).
  Tensor greedy_decode(const Tensor& source, int64_t max_length);
  DType input_dtype() const override { return DType::i64; }
  std::string type_name() const override { return "Seq2Seq"; }
  std::string extra_repr() const override;
  const std::string& kind() const { return kind_; }
  const Seq2SeqOptions& options() const { return options_; }

 private:
  std::string kind_;
  Seq2SeqOptions options_;
  std::vector<ModulePtr> parts_;  // submodules, by kind (see seq2seq.cpp)
};

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<ModulePtr> layers);
  Sequential& add(ModulePtr layer);  // named "0", "1", ... as in PyTorch
  // Removes and returns the last layer (Keras's model.pop(): replacing a classifier's head).
  ModulePtr pop();
  Tensor forward(const Tensor& x) override;  // passes masks between layers (see Module)
  Tensor forward_masked(const Tensor& x, const Tensor& mask) override;
  Tensor compute_mask(const Tensor& x, const Tensor& mask) const override;  // the last forward's
  DType input_dtype() const override;                                       // the first layer's
  std::string type_name() const override { return "Sequential"; }
  const std::vector<ModulePtr>& layers() const { return layers_; }
  size_t size() const { return layers_.size(); }
  // Keras's name of layer `index`, as summary() prints it: its type in snake case, numbered from
  // the second layer of that type on (dense, dense_1). Anomaly messages name layers by it.
  std::string layer_name(size_t index) const;

 private:
  std::vector<ModulePtr> layers_;
  Tensor output_mask_;  // the mask of the last forward's output
};

// ---- merge layers (src/nn/merge.cpp): Keras's Add, Subtract, Multiply, Average, Maximum,
// Minimum and Concatenate. They take several inputs (forward_multi); elementwise merges need
// equal shapes, as Keras's (no broadcasting across the batch: that hides wiring mistakes).
enum class MergeKind { add, subtract, multiply, average, maximum, minimum };
class Merge : public Module {
 public:
  explicit Merge(MergeKind kind);
  Tensor forward(const Tensor& x) override;  // Error: a merge takes two or more inputs
  Tensor forward_multi(const std::vector<Tensor>& inputs) override;
  std::string type_name() const override;  // "Add", "Subtract", ...
  MergeKind kind() const { return kind_; }

 private:
  MergeKind kind_;
};
// Joins the inputs along `axis` (Keras's default -1, the last; 1 is the channel axis of
// [N, C, H, W] images). All other axes must agree.
class Concatenate : public Module {
 public:
  explicit Concatenate(int64_t axis = -1);
  Tensor forward(const Tensor& x) override;  // Error: takes two or more inputs
  Tensor forward_multi(const std::vector<Tensor>& inputs) override;
  std::string type_name() const override { return "Concatenate"; }
  std::string extra_repr() const override;
  int64_t axis() const { return axis_; }

 private:
  int64_t axis_;
};

// ---- variational layers (src/nn/sampling.cpp) ----
// The reparameterization layer of a variational autoencoder (Keras's VAE example's Sampling):
// from the encoder's Gaussian q(z|x) = N(mean, diag(exp(log_var))) it draws z = mean +
// exp(0.5 * log_var) * eps, eps ~ N(0, I), in training and in evaluation alike (the evidence
// lower bound is an expectation over q). Input: [N, 2D] (mean, then log_var: the two halves of
// the last axis) or two inputs [N, D] (mean, log_var); output [N, D]. Draws come from the
// generator set with set_generator (the default generator when none), one per element in
// row-major order, so a seed gives the same draws. kl() is KL(q(z|x) || N(0, I)) per sample ([N])
// of the last forward, in the graph of that forward: the term a training loop adds to the
// reconstruction loss (as Keras's add_loss).
class Sampling : public Module {
 public:
  Sampling() = default;
  Tensor forward(const Tensor& x) override;
  Tensor forward_multi(const std::vector<Tensor>& inputs) override;
  std::string type_name() const override { return "Sampling"; }
  const Tensor& kl() const { return kl_; }
  // Not owned; null = the default generator.
  void set_generator(Generator* gen) { gen_ = gen; }

 private:
  Tensor sample(const Tensor& mean, const Tensor& log_var);
  Tensor kl_;
  Generator* gen_ = nullptr;
};

// Scales each sample to unit L2 norm along `axis` (x / max(||x||, 1e-12), nabla::normalize), as
// Keras's UnitNormalization: the last layer of an embedding network whose distances are compared
// (src/nn/unit_normalization.cpp).
class UnitNormalization : public Module {
 public:
  explicit UnitNormalization(int64_t axis = -1) : axis_(axis) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "UnitNormalization"; }
  std::string extra_repr() const override { return "axis=" + std::to_string(axis_); }
  int64_t axis() const { return axis_; }

 private:
  int64_t axis_;
};

// ---- functional graph models (src/nn/graph.cpp) ----
// Keras's functional API:
//   nn::SymbolicTensor wide = nn::Input({13}, "wide"), deep = nn::Input({8}, "deep");
//   nn::SymbolicTensor h = (*layers::Dense(32, "relu"))(deep);
//   nn::SymbolicTensor joined = (*layers::Concatenate())({wide, h});
//   auto graph = std::make_shared<nn::Graph>(std::vector{wide, deep},
//   std::vector{(*layers::Dense(1))(joined)});
// One node per call: an Input, or a layer applied to earlier nodes' outputs.
struct GraphNode {
  std::string name;  // unique in its graph: the layer's name, or "layer[k]" for its k-th reuse
  ModulePtr layer;   // null for an Input
  std::vector<std::shared_ptr<GraphNode>> inputs;
  Shape shape;  // the output's shape without the batch axis
  DType dtype = DType::f32;
};
// An input of a graph model: `shape` without the batch axis; integer dtype for token ids.
SymbolicTensor Input(Shape shape, std::string name = "", DType dtype = DType::f32);

// A model made of the layer calls that lead from `inputs` to `outputs`. Layers are registered as
// submodules under their names (state dict "dense.weight", ...); a layer called several times is
// one submodule. Nodes not on a path to an output are left out. Errors: an output that does not
// depend on the given inputs only (a dangling input), an input listed twice, two layers with one
// name.
class Graph : public Module {
 public:
  Graph(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs,
        std::string name = "");
  Tensor forward(const Tensor& x) override;                          // one input, one output
  Tensor forward_multi(const std::vector<Tensor>& inputs) override;  // one output
  // Every output, for inputs in the order of the constructor's list. `pre_activation` (one entry
  // per output, or empty) names an activation to leave out where an output's layer ends with it
  // ("softmax" before a cross-entropy computed from logits); "" leaves the output as it is.
  // `stripped`, when given, receives which outputs it was left out of.
  std::vector<Tensor> forward_all(const std::vector<Tensor>& inputs,
                                  const std::vector<std::string>& pre_activation = {},
                                  std::vector<bool>* stripped = nullptr);
  DType input_dtype() const override;  // the first input's
  std::string type_name() const override { return "Functional"; }
  std::string extra_repr() const override;

  // In topological order (inputs first, each node after the nodes it reads).
  const std::vector<std::shared_ptr<GraphNode>>& nodes() const { return nodes_; }
  const std::vector<std::shared_ptr<GraphNode>>& inputs() const { return inputs_; }
  const std::vector<std::shared_ptr<GraphNode>>& outputs() const { return outputs_; }
  std::vector<Shape> input_shapes() const;
  std::vector<Shape> output_shapes() const;
  // The layer named `name` (Error listing the names when there is none).
  ModulePtr layer(const std::string& name) const;

 private:
  std::vector<std::shared_ptr<GraphNode>> nodes_, inputs_, outputs_;
  // Positions in nodes_, worked out once so that a forward pass looks nothing up.
  std::vector<std::vector<size_t>> reads_;    // per node: the nodes it reads
  std::vector<size_t> input_at_, output_at_;  // the model's inputs and outputs
  std::vector<int> uses_;                     // per node: how many later nodes and outputs read it
};

// Keras's layer names: "Dense" -> "dense", "MaxPooling2D" -> "max_pooling2d", "ReLU" -> "re_lu".
std::string snake_case(const std::string& type_name);

// ---- highway layers (src/nn/highway.cpp) ----
// A highway layer (Srivastava, Greff and Schmidhuber 2015): y = H(x) * T(x) + x * (1 - T(x)),
// with the transform H(x) = activation(x W_H^T + b_H) and the transform gate
// T(x) = sigmoid(x W_T^T + b_T); 1 - T is the carry gate. The output has the input's size (the
// last axis). The gate's bias starts at `transform_bias` (negative: the layer carries its input
// through at first, so a deep stack of them trains as a shallow one would), both kernels at
// `kernel_initializer`, H's bias at zero. Built at the first forward unless in_features is given.
struct HighwayOptions {
  std::string activation = "relu";
  double transform_bias = -2;  // the paper's -2 for its deep networks
  std::string kernel_initializer = "glorot_uniform";
  int64_t in_features = -1;
};

class Highway : public Module {
 public:
  explicit Highway(HighwayOptions options = {});
  Tensor forward(const Tensor& x) override;
  Tensor compute_mask(const Tensor&, const Tensor& mask) const override { return mask; }
  std::string type_name() const override { return "Highway"; }
  std::string extra_repr() const override;
  const HighwayOptions& options() const { return options_; }
  int64_t in_features() const { return options_.in_features; }
  // H and T as the Linear layers they are ("transform", "gate"); null before the build.
  const std::shared_ptr<Linear>& transform() const { return transform_; }
  const std::shared_ptr<Linear>& gate() const { return gate_; }

 private:
  void build_layers(int64_t in_features, DType dtype);
  HighwayOptions options_;
  std::shared_ptr<Linear> transform_, gate_;
};

}  // namespace nabla::nn
