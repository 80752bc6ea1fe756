// Learning-rate schedulers. Each computes PyTorch's closed form of its schedule from the epoch
// count, so that a run resumed at epoch k gets the same rate as one that never stopped.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "nabla/optim.hpp"

namespace nabla::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer), base_lr_(optimizer.lr()) {}

void LRScheduler::step() {
  ++epoch_;
  optimizer_.set_lr(lr_at(epoch_));
}

void LRScheduler::set_last_epoch(int64_t epoch) {
  NABLA_CHECK(epoch >= 0, "LRScheduler::set_last_epoch: expected an epoch >= 0, got ", epoch);
  epoch_ = epoch;
  optimizer_.set_lr(lr_at(epoch_));
}

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  NABLA_CHECK(step_size >= 1, "StepLR: step_size must be >= 1, got ", step_size);
  NABLA_CHECK(gamma >= 0, "StepLR: gamma must be >= 0, got ", gamma);
  optimizer_.set_lr(lr_at(epoch_));
}

double StepLR::lr_at(int64_t epoch) const {
  const int64_t decays = epoch / step_size_;  // integer division: whole steps only
  return base_lr_ * std::pow(gamma_, static_cast<double>(decays));
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  NABLA_CHECK(gamma >= 0, "MultiStepLR: gamma must be >= 0, got ", gamma);
  // A milestone listed twice decays twice, as in PyTorch (a Counter of milestones).
  std::sort(milestones_.begin(), milestones_.end());
  optimizer_.set_lr(lr_at(epoch_));
}

double MultiStepLR::lr_at(int64_t epoch) const {
  const auto passed =
      std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
  return base_lr_ * std::pow(gamma_, static_cast<double>(passed));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma)
    : LRScheduler(optimizer), gamma_(gamma) {
  NABLA_CHECK(gamma >= 0, "ExponentialLR: gamma must be >= 0, got ", gamma);
  optimizer_.set_lr(lr_at(epoch_));
}

double ExponentialLR::lr_at(int64_t epoch) const {
  return base_lr_ * std::pow(gamma_, static_cast<double>(epoch));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t t_max, double eta_min)
    : LRScheduler(optimizer), t_max_(t_max), eta_min_(eta_min) {
  NABLA_CHECK(t_max >= 1, "CosineAnnealingLR: t_max must be >= 1, got ", t_max);
  NABLA_CHECK(eta_min >= 0, "CosineAnnealingLR: eta_min must be >= 0, got ", eta_min);
  optimizer_.set_lr(lr_at(epoch_));
}

double CosineAnnealingLR::lr_at(int64_t epoch) const {
  // Past t_max the cosine continues (the rate rises again), as PyTorch's schedule does.
  const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_);
  return eta_min_ + (base_lr_ - eta_min_) * (1 + std::cos(phase)) / 2;
}

LinearWarmup::LinearWarmup(Optimizer& optimizer, int64_t warmup_steps, double start_factor)
    : LRScheduler(optimizer), warmup_steps_(warmup_steps), start_factor_(start_factor) {
  NABLA_CHECK(warmup_steps >= 1, "LinearWarmup: warmup_steps must be >= 1, got ", warmup_steps);
  NABLA_CHECK(start_factor > 0 && start_factor <= 1,
              "LinearWarmup: start_factor must be in (0, 1], got ", start_factor);
  // Like PyTorch's LinearLR, the warmup starts at construction: lr = start_factor * base.
  optimizer_.set_lr(lr_at(epoch_));
}

double LinearWarmup::lr_at(int64_t epoch) const {
  const double progress =
      static_cast<double>(std::min(warmup_steps_, epoch)) / static_cast<double>(warmup_steps_);
  return base_lr_ * (start_factor_ + (1 - start_factor_) * progress);
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options)
    : optimizer_(optimizer), options_(std::move(options)) {
  NABLA_CHECK(options_.mode == "min" || options_.mode == "max",
              "ReduceLROnPlateau: mode must be \"min\" or \"max\", got \"", options_.mode, "\"");
  NABLA_CHECK(options_.factor >= 0 && options_.factor < 1,
              "ReduceLROnPlateau: factor must be in [0, 1), got ", options_.factor);
  NABLA_CHECK(options_.patience >= 0, "ReduceLROnPlateau: patience must be >= 0, got ",
              options_.patience);
  NABLA_CHECK(options_.cooldown >= 0, "ReduceLROnPlateau: cooldown must be >= 0, got ",
              options_.cooldown);
  NABLA_CHECK(options_.min_lr >= 0, "ReduceLROnPlateau: min_lr must be >= 0, got ",
              options_.min_lr);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  best_ = options_.mode == "min" ? kInf : -kInf;
}

void ReduceLROnPlateau::step(double metric) {
  // Relative threshold: an improvement must beat the best by a fraction `threshold` of it.
  const bool better = options_.mode == "min" ? metric < best_ * (1 - options_.threshold)
                                             : metric > best_ * (1 + options_.threshold);
  if (better) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_epochs_ = 0;  // bad epochs during the cooldown do not count
  }
  if (bad_epochs_ > options_.patience) {
    const double old_lr = optimizer_.lr();
    const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
    constexpr double kMinChange = 1e-8;  // PyTorch's eps: smaller changes are skipped
    if (old_lr - new_lr > kMinChange) optimizer_.set_lr(new_lr);
    cooldown_left_ = options_.cooldown;
    bad_epochs_ = 0;
  }
}

}  // namespace nabla::optim
