// Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad), learning-rate schedulers and gradient
// clipping, with PyTorch's update rules. Each step is one fused pass per parameter. Optimizers may
// be created before the model's lazy layers exist: set_parameters() attaches them later.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nabla/tensor.hpp"

namespace nabla::optim {

class Optimizer {
 public:
  Optimizer(std::vector<Tensor> params, double lr);
  virtual ~Optimizer() = default;

  virtual void step() = 0;
  void zero_grad(bool set_to_none = true);
  virtual std::string name() const = 0;

  double lr() const { return lr_; }
  void set_lr(double lr);
  void set_parameters(std::vector<Tensor> params);  // resets the per-parameter state
  const std::vector<Tensor>& parameters() const { return params_; }

  // Everything needed to resume: per-parameter tensors named "<index>.<slot>" (e.g.
  // "0.exp_avg", "3.momentum_buffer") plus scalars such as "step" and "lr" as 0-d f64 tensors.
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  // The named state slot of parameter i, created as zeros like the parameter on first use.
  Tensor& slot(size_t i, const std::string& name);
  std::vector<Tensor> params_;
  std::vector<std::map<std::string, Tensor>> state_;
  int64_t steps_ = 0;
  double lr_;
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
};
class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<Tensor> params, SGDOptions options = {});
  explicit SGD(SGDOptions options) : SGD({}, options) {}
  void step() override;
  std::string name() const override { return "SGD"; }

 private:
  void step_sparse(size_t i);
  SGDOptions options_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;  // PyTorch's default (Keras uses 1e-7)
  double weight_decay = 0;
  bool amsgrad = false;
};
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, AdamOptions options = {});
  explicit Adam(AdamOptions options) : Adam({}, options) {}
  void step() override;
  std::string name() const override { return "Adam"; }

 protected:
  Adam(std::vector<Tensor> params, AdamOptions options, bool decoupled_weight_decay);

 private:
  AdamOptions options_;
  bool decoupled_;
};

// Adam with decoupled weight decay (Loshchilov & Hutter); PyTorch's default weight_decay 1e-2.
class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Tensor> params, AdamOptions options = {.weight_decay = 1e-2});
  explicit AdamW(AdamOptions options) : AdamW({}, options) {}
  std::string name() const override { return "AdamW"; }
};

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
};
class RMSprop : public Optimizer {
 public:
  explicit RMSprop(std::vector<Tensor> params, RMSpropOptions options = {});
  explicit RMSprop(RMSpropOptions options) : RMSprop({}, options) {}
  void step() override;
  std::string name() const override { return "RMSprop"; }

 private:
  RMSpropOptions options_;
};

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
};
class Adagrad : public Optimizer {
 public:
  explicit Adagrad(std::vector<Tensor> params, AdagradOptions options = {});
  explicit Adagrad(AdagradOptions options) : Adagrad({}, options) {}
  void step() override;
  std::string name() const override { return "Adagrad"; }

 private:
  AdagradOptions options_;
};

// FTRL-Proximal (McMahan et al., "Ad Click Prediction: a View from the Trenches", KDD 2013,
// Algorithm 1), the optimizer of Wide&Deep's wide part: per coordinate, with n the sum of squared
// gradients and z the adjusted sum of gradients,
//   sigma = (sqrt(n + g^2) - sqrt(n)) / lr,  z += g - sigma * w,  n += g^2,
//   w = 0 if |z| <= l1, else -(z - sign(z) l1) / ((beta + sqrt(n)) / lr + l2).
// The weights are a function of (z, n): parameters start from their initial values only through
// the first step's sigma * w; L1 sets weights of rarely useful features to exactly 0. l2 is the
// paper's lambda_2 (TensorFlow's l2_regularization_strength enters twice as large).
struct FtrlOptions {
  double lr = 0.1;  // the paper's alpha
  double beta = 1.0;
  double l1 = 0;
  double l2 = 0;
  double initial_accumulator_value = 0;  // n at the start
};
class Ftrl : public Optimizer {
 public:
  explicit Ftrl(std::vector<Tensor> params, FtrlOptions options = {});
  explicit Ftrl(FtrlOptions options) : Ftrl({}, options) {}
  void step() override;
  std::string name() const override { return "Ftrl"; }

 private:
  FtrlOptions options_;
};

// Row-sparse gradients (Embedding with sparse=true, sampled_softmax_loss): SGD without momentum
// and weight decay, and Adagrad without weight decay, update the gradient's rows only, with the
// same values as for the dense gradient (the other rows' update is zero); SparseAdam is for them.
// Any other optimizer or option given one is an Error (PyTorch refuses the same cases).
//
// PyTorch's SparseAdam: Adam made lazy for row-sparse gradients. Only the rows of the gradient have
// their moments updated, and the parameter moves only there, with the parameter's step count
// for the bias corrections:
//   m_r += (1 - beta1) (g_r - m_r),  v_r += (1 - beta2) (g_r^2 - v_r),
//   w_r -= lr sqrt(1 - beta2^t) / (1 - beta1^t) * m_r / (sqrt(v_r) + eps).
// A dense gradient is an Error, as in PyTorch (use Adam for the dense parameters).
struct SparseAdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
};
class SparseAdam : public Optimizer {
 public:
  explicit SparseAdam(std::vector<Tensor> params, SparseAdamOptions options = {});
  explicit SparseAdam(SparseAdamOptions options) : SparseAdam({}, options) {}
  void step() override;
  std::string name() const override { return "SparseAdam"; }

 private:
  SparseAdamOptions options_;
};

// What a spec's "training" section or the command line may set beside the optimizer's name; each
// setting left unset keeps that optimizer's default.
struct OptimizerSettings {
  double lr = -1;                      // <= 0: the optimizer's default
  std::optional<double> momentum;      // sgd, rmsprop
  std::optional<bool> nesterov;        // sgd, with momentum
  std::optional<double> weight_decay;  // all but ftrl (L2 on the gradient; adamw: decoupled)
};

// By Keras/PyTorch name ("sgd", "adam", "adamw", "rmsprop", "adagrad", "ftrl"), with that name's
// default settings and the given learning rate (<= 0: the optimizer's default). An unknown name,
// or a setting the optimizer does not have (momentum for adam), is an Error.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name,
                                          const OptimizerSettings& settings);
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, double lr = -1);

// ---- gradient clipping ----
// Scales all gradients so that their joint norm is at most max_norm; returns the norm before.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm, double norm_type = 2);
void clip_grad_value(const std::vector<Tensor>& params, double clip_value);

// ---- learning-rate schedulers (call step() once per epoch, as in PyTorch) ----
class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  virtual void step();
  int64_t last_epoch() const { return epoch_; }
  // Puts the schedule at `epoch` steps done (a resumed run) and sets the optimizer's rate from
  // the closed form, as PyTorch's last_epoch argument does.
  void set_last_epoch(int64_t epoch);
  double base_lr() const { return base_lr_; }

 protected:
  virtual double lr_at(int64_t epoch) const = 0;  // closed form of the schedule
  Optimizer& optimizer_;
  double base_lr_;
  int64_t epoch_ = 0;
};

class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);

 protected:
  double lr_at(int64_t epoch) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma = 0.1);

 protected:
  double lr_at(int64_t epoch) const override;

 private:
  std::vector<int64_t> milestones_;
  double gamma_;
};

class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  double lr_at(int64_t epoch) const override;

 private:
  double gamma_;
};

class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min = 0);

 protected:
  double lr_at(int64_t epoch) const override;

 private:
  int64_t t_max_;
  double eta_min_;
};

// Linear warmup from start_factor * lr to lr over warmup_steps, then constant (PyTorch LinearLR).
class LinearWarmup : public LRScheduler {
 public:
  LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor = 1.0 / 3);

 protected:
  double lr_at(int64_t epoch) const override;

 private:
  int64_t warmup_steps_;
  double start_factor_;
};

// Lowers the learning rate by `factor` after `patience` epochs without improvement of a metric.
struct ReduceLROnPlateauOptions {
  std::string mode = "min";  // "min" (loss) or "max" (accuracy)
  double factor = 0.1;
  int64_t patience = 10;
  double threshold = 1e-4;  // relative, as PyTorch's default threshold_mode "rel"
  int64_t cooldown = 0;
  double min_lr = 0;
};
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  void step(double metric);

 private:
  Optimizer& optimizer_;
  ReduceLROnPlateauOptions options_;
  double best_;
  int64_t bad_epochs_ = 0;
  int64_t cooldown_left_ = 0;
};

}  // namespace nabla::optim
