// dist::rank_zero_only: callbacks that write (checkpoints, logs, event files) act on rank 0; on
// the others they keep their state for checkpoints but do nothing. A checkpoint saved by rank 0
// holds the states of the same callbacks that every rank's fit has, so any rank can resume it.
#include "nabla/dist.hpp"

namespace nabla::dist {
namespace {

class RankZeroOnly : public train::Callback {
 public:
  explicit RankZeroOnly(train::CallbackPtr inner) : inner_(std::move(inner)) {}

  void on_train_begin() override {
    if (attach()) inner_->on_train_begin();
  }
  void on_train_end(const train::Logs& logs) override {
    if (attach()) inner_->on_train_end(logs);
  }
  void on_epoch_begin(int64_t epoch) override {
    if (attach()) inner_->on_epoch_begin(epoch);
  }
  void on_epoch_end(int64_t epoch, train::Logs& logs) override {
    if (attach()) inner_->on_epoch_end(epoch, logs);
  }
  void on_batch_end(int64_t batch, const train::Logs& logs) override {
    if (attach()) inner_->on_batch_end(batch, logs);
  }
  void save_state(std::map<std::string, double>& values) const override {
    inner_->save_state(values);
  }
  void restore_state(const std::map<std::string, double>& values,
                     const train::TrainingState& state) override {
    inner_->restore_state(values, state);
  }
  // Every rank resumes from the same backup, or none does.
  std::shared_ptr<const train::TrainingState> restore_training() override {
    inner_->set_model(&model());
    return inner_->restore_training();
  }

 private:
  // True on rank 0, with the inner callback attached to this fit's model.
  bool attach() {
    if (rank() != 0) return false;
    inner_->set_model(&model());
    return true;
  }

  train::CallbackPtr inner_;
};

}  // namespace

train::CallbackPtr rank_zero_only(train::CallbackPtr callback) {
  NABLA_CHECK(callback != nullptr, "dist::rank_zero_only: the callback is null");
  return std::make_shared<RankZeroOnly>(std::move(callback));
}

}  // namespace nabla::dist
