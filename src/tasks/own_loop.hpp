// The callbacks of a run (CSV and norm logs, TensorBoard, JSON lines, early stopping's
// bookkeeping) driven from a task's own training loop, as Model::fit drives them, and the history
// it returns. Full checkpoints during training (ModelCheckpoint) need a fit's training state
// (Model::training_state) and are left out: such a task's run writes its final checkpoint only.
// Internal.
#pragma once

#include <cstdio>
#include <iostream>
#include <string>

#include "nabla/train.hpp"

namespace nabla::tasks::internal {

class OwnLoop {
 public:
  // `what` names the loop in the error for a resumed run, which these loops do not support.
  OwnLoop(train::Model& model, const train::FitOptions& fit, const std::string& what) {
    NABLA_CHECK(!fit.resume, what, " trains with a loop of its own, which cannot resume from a ",
                "checkpoint; run it again without --resume");
    for (const train::CallbackPtr& callback : fit.callbacks) {
      if (dynamic_cast<const train::ModelCheckpoint*>(callback.get()) == nullptr) {
        callbacks_.push_back(callback);
      }
    }
    epochs_ = fit.epochs;
    verbose_ = fit.verbose;
    for (const train::CallbackPtr& callback : callbacks_) {
      callback->set_model(&model);
      callback->on_train_begin();
    }
  }
  void epoch_begin(int64_t epoch) {
    for (const train::CallbackPtr& callback : callbacks_) callback->on_epoch_begin(epoch);
  }
  void batch_end(int64_t batch, const train::Logs& logs) {
    for (const train::CallbackPtr& callback : callbacks_) callback->on_batch_end(batch, logs);
  }
  // The epoch's figures go into the history and to the callbacks; with verbose, one line.
  void epoch_end(int64_t epoch, train::Logs& logs) {
    for (const train::CallbackPtr& callback : callbacks_) callback->on_epoch_end(epoch, logs);
    history_.epoch.push_back(epoch);
    std::string line = "Epoch " + std::to_string(epoch + 1) + "/" + std::to_string(epochs_);
    for (const auto& [name, value] : logs.items()) {
      history_.history[name].push_back(value);
      char text[64];
      std::snprintf(text, sizeof(text), " - %s: %.4f", name.c_str(), value);
      line += text;
    }
    if (verbose_ > 0) std::cout << line << std::endl;
    last_ = logs;
  }
  train::History finish() {
    for (const train::CallbackPtr& callback : callbacks_) callback->on_train_end(last_);
    return history_;
  }

 private:
  std::vector<train::CallbackPtr> callbacks_;
  int64_t epochs_ = 0;
  int verbose_ = 0;
  train::History history_;
  train::Logs last_;
};

}  // namespace nabla::tasks::internal
