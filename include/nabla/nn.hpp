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

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Type name as in Keras/PyTorch summaries ("Linear", "ReLU", "Sequential", ...).
  virtual std::string type_name() const = 0;
  // One-line configuration for printing ("in=784, out=128, activation=relu").
  virtual std::string extra_repr() const { return ""; }

  // Runs one forward on zeros of shape [1, input_shape...] in eval mode without grad, so that
  // lazy layers create their parameters. Returns the output shape (batch axis included).
  Shape build(const Shape& input_shape);

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

  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
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

  bool training_ = true;

 private:
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
struct LinearOptions {
  int64_t in_features = -1;  // -1: inferred at the first forward
  bool bias = true;
  std::string activation = "";                        // applied after the affine map ("" = none)
  std::string kernel_initializer = "glorot_uniform";  // Keras defaults for Dense
  std::string bias_initializer = "zeros";
};

class Linear : public Module {
 public:
  explicit Linear(int64_t out_features, LinearOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  int64_t in_features() const { return options_.in_features; }
  int64_t out_features() const { return out_features_; }
  const std::string& activation() const { return options_.activation; }
  Tensor weight() const;  // [out, in]; undefined before the build
  Tensor bias() const;

 private:
  void build_parameters(int64_t in_features, DType dtype);
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
class Activation : public Module {
 public:
  explicit Activation(std::string name);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override;  // "ReLU", "Sigmoid", "Softmax", ...
  const std::string& name() const { return name_; }

 private:
  std::string name_;
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
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p() const { return p_; }

 private:
  double p_;
};

class Sequential : public Module {
 public:
  Sequential() = default;
  explicit Sequential(std::vector<ModulePtr> layers);
  Sequential& add(ModulePtr layer);  // named "0", "1", ... as in PyTorch
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sequential"; }
  const std::vector<ModulePtr>& layers() const { return layers_; }
  size_t size() const { return layers_.size(); }

 private:
  std::vector<ModulePtr> layers_;
};

}  // namespace nabla::nn
