// GradientWatch: warns, with the step, when a parameter's gradient norm explodes or every gradient
// of a layer vanishes. The norms are NormLogger's (l2_norm), read at the same point: after the
// batch, before the next step's zero_grad.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "nabla/report.hpp"
#include "train/layer_graph.hpp"

namespace nabla::train {
namespace {

// "3.2e+05": two significant digits are enough to see how far past a threshold a norm is.
std::string short_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2g", value);
  return buffer;
}

}  // namespace

GradientWatch::GradientWatch(GradientWatchOptions options) : options_(options) {
  NABLA_CHECK(options_.every_steps >= 1, "GradientWatch: every_steps must be at least 1, got ",
              options_.every_steps);
  NABLA_CHECK(options_.explode_threshold > 0 && options_.vanish_threshold >= 0 &&
                  options_.vanish_threshold < options_.explode_threshold,
              "GradientWatch: expected 0 <= vanish_threshold < explode_threshold, got ",
              options_.vanish_threshold, " and ", options_.explode_threshold);
}

void GradientWatch::on_train_begin() {
  parameters_.clear();
  layers_.clear();
  global_step_ = 0;
  warnings_ = 0;
  for (const internal::LayerParameter& parameter : internal::layer_parameters(model())) {
    if (layers_.empty() || layers_.back().name != parameter.layer) {
      layers_.push_back({.name = parameter.layer});
    }
    parameters_.push_back(
        {.name = parameter.label, .tensor = parameter.tensor, .layer = layers_.size() - 1});
  }
}

void GradientWatch::on_epoch_begin(int64_t /*epoch*/) {
  // Once per parameter (or layer) and kind per epoch: a run that diverges says so each epoch,
  // not each step.
  for (Watched& parameter : parameters_) parameter.warned = false;
  for (Layer& layer : layers_) layer.warned = false;
}

void GradientWatch::on_batch_end(int64_t /*batch*/, const Logs& /*logs*/) {
  ++global_step_;
  if (global_step_ % options_.every_steps == 0) check(global_step_);
}

void GradientWatch::restore_state(const std::map<std::string, double>& /*values*/,
                                  const TrainingState& state) {
  global_step_ = state.global_step;
}

void GradientWatch::check(int64_t step) {
  // Per layer: the largest gradient norm of its parameters that have one (-1: none has).
  std::vector<double> largest(layers_.size(), -1);
  for (Watched& parameter : parameters_) {
    const Tensor grad = parameter.tensor.grad();
    if (!grad.defined()) continue;  // frozen, or not reached by this loss
    const double norm = l2_norm(grad);
    largest[parameter.layer] = std::max(largest[parameter.layer], norm);
    const bool exploding = !(norm <= options_.explode_threshold);  // NaN too
    if (!exploding || parameter.warned) continue;
    parameter.warned = true;
    const std::string how = std::isfinite(norm)
                                ? " (above " + short_number(options_.explode_threshold) + ")"
                                : " (not finite)";
    warn(step, "the gradient of " + parameter.name + " has norm " + short_number(norm) + how +
                   ": exploding gradients");
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& layer = layers_[i];
    if (largest[i] < 0 || largest[i] >= options_.vanish_threshold || layer.warned) continue;
    layer.warned = true;
    warn(step, "every gradient of layer " + layer.name + " has norm below " +
                   short_number(options_.vanish_threshold) + " (largest " +
                   short_number(largest[i]) + "): vanishing gradients");
  }
}

void GradientWatch::warn(int64_t step, const std::string& text) {
  std::ostream& out = options_.out != nullptr ? *options_.out : std::cerr;
  out << "nabla: warning: step " << step << ": " << text << '\n';
  ++warnings_;
}

}  // namespace nabla::train
