// Logs, History and the callbacks: early stopping, checkpoints, CSV logs, learning-rate schedules,
// reducing the rate on a plateau, stopping on NaN, callbacks from functions.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>

#include "data/file_util.hpp"
#include "nabla/train.hpp"

namespace nabla::train {
namespace {

template <class Items>
std::string joined_names(const Items& items) {
  std::string names;
  for (const auto& item : items) names += (names.empty() ? "" : ", ") + item.first;
  return names.empty() ? "none" : names;
}

// The value the callback `who` monitors; Error naming what is available when it is absent.
double monitored_value(const Logs& logs, const std::string& monitor, const char* who) {
  const std::optional<double> value = logs.get(monitor);
  NABLA_CHECK(value.has_value(), who, ": the monitored value '", monitor,
              "' is not in the epoch's logs (available: ", joined_names(logs.items()), ")",
              monitor.starts_with("val_") ? "; pass validation data or a validation_split" : "");
  return *value;
}

// Fills "{epoch:02d}" / "{step:08d}" / "{val_loss:.3f}" fields of a path from the epoch (counted
// from 1), the steps done and the logs. A field's format is printf's without the '%'.
std::string format_path(const std::string& pattern, int64_t epoch, int64_t step, const Logs& logs) {
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] != '{') {
      out += pattern[i++];
      continue;
    }
    const size_t close = pattern.find('}', i);
    NABLA_CHECK(close != std::string::npos, "ModelCheckpoint: unclosed '{' in path '", pattern,
                "'");
    const std::string field = pattern.substr(i + 1, close - i - 1);
    const size_t colon = field.find(':');
    const std::string key = field.substr(0, colon);
    std::string spec = colon == std::string::npos ? "" : field.substr(colon + 1);
    const bool is_epoch = key == "epoch", is_count = is_epoch || key == "step";
    if (spec.empty()) spec = is_count ? "d" : ".4f";
    const bool valid =
        spec.find_first_not_of("0123456789.") == spec.size() - 1 &&
        (is_count ? spec.back() == 'd' : std::string("feg").find(spec.back()) != std::string::npos);
    NABLA_CHECK(valid, "ModelCheckpoint: bad format '", spec, "' for field '", key, "' in path '",
                pattern, "' (expected e.g. {epoch:02d} or {val_loss:.4f})");
    char buffer[128];
    if (is_count) {
      std::string format = "%";
      format.append(spec, 0, spec.size() - 1);
      format += "lld";
      std::snprintf(buffer, sizeof(buffer), format.c_str(),
                    static_cast<long long>(is_epoch ? epoch + 1 : step));
    } else {
      std::string format = "%";
      format += spec;
      std::snprintf(buffer, sizeof(buffer), format.c_str(),
                    monitored_value(logs, key, "ModelCheckpoint"));
    }
    out += buffer;
    i = close + 1;
  }
  return out;
}

bool improved(double current, double best, double min_delta, bool higher_is_better) {
  return higher_is_better ? current - min_delta > best : current + min_delta < best;
}

}  // namespace

// ---- Logs ----
void Logs::set(const std::string& name, double value) {
  for (auto& item : items_) {
    if (item.first == name) {
      item.second = value;
      return;
    }
  }
  items_.emplace_back(name, value);
}

std::optional<double> Logs::get(std::string_view name) const {
  for (const auto& item : items_) {
    if (item.first == name) return item.second;
  }
  return std::nullopt;
}

double Logs::at(std::string_view name) const {
  const std::optional<double> value = get(name);
  NABLA_CHECK(value.has_value(), "Logs: no value named '", name,
              "' (available: ", joined_names(items_), ")");
  return *value;
}

const std::vector<double>& History::operator[](const std::string& name) const {
  const auto it = history.find(name);
  NABLA_CHECK(it != history.end(), "History: no metric named '", name,
              "' (recorded: ", joined_names(history), ")");
  return it->second;
}

Model& Callback::model() const {
  NABLA_CHECK(model_ != nullptr, "Callback: not attached to a model (it is attached by fit())");
  return *model_;
}

bool monitor_higher_is_better(const std::string& monitor, const std::string& mode) {
  if (mode == "max") return true;
  if (mode == "min") return false;
  NABLA_CHECK(mode == "auto", "monitor mode must be 'auto', 'min' or 'max', got '", mode, "'");
  for (const char* word : {"acc", "auc", "precision", "recall", "f1"}) {
    if (monitor.find(word) != std::string::npos) return true;
  }
  return false;
}

// ---- EarlyStopping ----
EarlyStopping::EarlyStopping(EarlyStoppingOptions options)
    : options_(std::move(options)),
      higher_is_better_(monitor_higher_is_better(options_.monitor, options_.mode)) {
  NABLA_CHECK(options_.patience >= 0, "EarlyStopping: patience must be >= 0, got ",
              options_.patience);
  options_.min_delta = std::abs(options_.min_delta);
}

void EarlyStopping::on_train_begin() {
  best_ = higher_is_better_ ? -std::numeric_limits<double>::infinity()
                            : std::numeric_limits<double>::infinity();
  best_epoch_ = -1;
  wait_ = 0;
  stopped_epoch_ = -1;
  best_weights_.clear();
}

void EarlyStopping::on_epoch_end(int64_t epoch, Logs& logs) {
  const double current = monitored_value(logs, options_.monitor, "EarlyStopping");
  if (improved(current, best_, options_.min_delta, higher_is_better_)) {
    best_ = current;
    best_epoch_ = epoch;
    wait_ = 0;
    if (options_.restore_best_weights) {
      NoGradGuard no_grad;
      best_weights_.clear();
      for (const auto& [name, tensor] : model().module().state_dict()) {
        best_weights_[name] = tensor.detach().clone();
      }
    }
    return;
  }
  // Stops after `patience` epochs in a row without improvement, as Keras does.
  if (++wait_ >= options_.patience) {
    stopped_epoch_ = epoch;
    model().stop_training();
  }
}

void EarlyStopping::save_state(std::map<std::string, double>& values) const {
  values["best"] = best_;
  values["best_epoch"] = static_cast<double>(best_epoch_);
  values["wait"] = static_cast<double>(wait_);
}

void EarlyStopping::restore_state(const std::map<std::string, double>& values,
                                  const TrainingState& /*state*/) {
  if (const auto it = values.find("best"); it != values.end()) best_ = it->second;
  if (const auto it = values.find("best_epoch"); it != values.end()) {
    best_epoch_ = static_cast<int64_t>(it->second);
  }
  if (const auto it = values.find("wait"); it != values.end()) {
    wait_ = static_cast<int64_t>(it->second);
  }
}

void EarlyStopping::on_train_end(const Logs& /*logs*/) {
  if (options_.restore_best_weights && !best_weights_.empty()) {
    model().module().load_state_dict(best_weights_);
  }
}

// ---- ModelCheckpoint ----
ModelCheckpoint::ModelCheckpoint(std::string filepath, ModelCheckpointOptions options)
    : filepath_(std::move(filepath)),
      options_(std::move(options)),
      higher_is_better_(monitor_higher_is_better(options_.monitor, options_.mode)) {
  NABLA_CHECK(!filepath_.empty(), "ModelCheckpoint: expected a file path, got an empty one");
  NABLA_CHECK(options_.every_epochs >= 1 && options_.every_steps >= 0 && options_.keep >= 0,
              "ModelCheckpoint: every_epochs must be >= 1, every_steps and keep >= 0; got ",
              options_.every_epochs, ", ", options_.every_steps, " and ", options_.keep);
}

void ModelCheckpoint::on_train_begin() {
  best_.reset();
  saved_.clear();
  steps_done_ = 0;
  epoch_ = 0;
}

void ModelCheckpoint::on_epoch_begin(int64_t epoch) { epoch_ = epoch; }

void ModelCheckpoint::on_epoch_end(int64_t epoch, Logs& logs) {
  if (options_.every_steps > 0 || (epoch + 1) % options_.every_epochs != 0) return;
  save(epoch, logs);
}

void ModelCheckpoint::on_batch_end(int64_t /*batch*/, const Logs& logs) {
  ++steps_done_;
  if (options_.every_steps > 0 && steps_done_ % options_.every_steps == 0) save(epoch_, logs);
}

void ModelCheckpoint::save(int64_t epoch, const Logs& logs) {
  if (options_.save_best_only) {
    const double current = monitored_value(logs, options_.monitor, "ModelCheckpoint");
    if (best_.has_value() && !improved(current, *best_, 0, higher_is_better_)) return;
    best_ = current;
  }
  const std::string path = format_path(filepath_, epoch, steps_done_, logs);
  if (options_.save_weights_only) {
    model().save(path, options_.metadata);
  } else {
    model().save_checkpoint(path, model().training_state(), options_.metadata);
  }
  saved_.push_back(path);
  if (options_.keep > 0) remove_old_files();
}

void ModelCheckpoint::remove_old_files() const {
  namespace fs = std::filesystem;
  // The files this pattern names: its literal text before the first field and after the last.
  const fs::path pattern(filepath_);
  const std::string name = pattern.filename().string();
  const size_t open = name.find('{'), close = name.rfind('}');
  if (open == std::string::npos || close == std::string::npos) return;  // one name only
  const std::string prefix = name.substr(0, open), suffix = name.substr(close + 1);
  const fs::path folder = pattern.has_parent_path() ? pattern.parent_path() : fs::path(".");
  std::vector<std::pair<fs::file_time_type, fs::path>> files;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder, error)) {
    const std::string file = entry.path().filename().string();
    if (file.size() < prefix.size() + suffix.size() || !file.starts_with(prefix) ||
        !file.ends_with(suffix) || !entry.is_regular_file(error)) {
      continue;
    }
    files.emplace_back(entry.last_write_time(error), entry.path());
  }
  // Newest first (the name breaks ties: zero-padded counts sort by age).
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a > b; });
  for (size_t i = static_cast<size_t>(options_.keep); i < files.size(); ++i) {
    fs::remove(files[i].second, error);  // best effort: an old file left behind is harmless
  }
}

void ModelCheckpoint::save_state(std::map<std::string, double>& values) const {
  if (best_.has_value()) values["best"] = *best_;
}

void ModelCheckpoint::restore_state(const std::map<std::string, double>& values,
                                    const TrainingState& state) {
  if (const auto it = values.find("best"); it != values.end()) best_ = it->second;
  steps_done_ = state.global_step;
  epoch_ = state.epoch;
}

// ---- CSVLogger ----
CSVLogger::CSVLogger(std::string filename, char separator, bool append)
    : filename_(std::move(filename)), separator_(separator), append_(append) {
  NABLA_CHECK(!filename_.empty(), "CSVLogger: expected a file name, got an empty one");
}

void CSVLogger::on_train_begin() {
  columns_.clear();
  content_.clear();
  if (!append_ || !std::filesystem::exists(filename_)) return;
  content_ = data::internal::read_file(filename_, "CSVLogger");
  if (content_.empty()) return;
  if (content_.back() != '\n') content_ += '\n';
  // Appended rows keep the columns of the existing header (after "epoch").
  const std::string header = content_.substr(0, content_.find('\n'));
  size_t start = header.find(separator_);
  while (start != std::string::npos) {
    const size_t end = header.find(separator_, start + 1);
    columns_.push_back(header.substr(start + 1, end == std::string::npos ? end : end - start - 1));
    start = end;
  }
}

void CSVLogger::add_row(int64_t epoch, const Logs& logs) {
  if (columns_.empty()) {
    for (const auto& item : logs.items()) columns_.push_back(item.first);
    std::sort(columns_.begin(), columns_.end());
    content_ += "epoch";
    for (const auto& column : columns_) content_ += separator_ + column;
    content_ += '\n';
  }
  content_ += std::to_string(epoch);
  for (const auto& column : columns_) {
    content_ += separator_;
    const std::optional<double> value = logs.get(column);
    if (!value.has_value()) {
      content_ += "NA";
      continue;
    }
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.8g", *value);
    content_ += buffer;
  }
  content_ += '\n';
}

void CSVLogger::on_epoch_end(int64_t epoch, Logs& logs) {
  add_row(epoch, logs);
  write_file();
}

void CSVLogger::write_file() const {
  data::internal::AtomicFile file(filename_, "CSVLogger");
  file.write(content_.data(), content_.size());
  file.commit();
}

void CSVLogger::restore_state(const std::map<std::string, double>& /*values*/,
                              const TrainingState& state) {
  columns_.clear();
  content_.clear();
  const History& history = state.history;
  for (size_t i = 0; i < history.epoch.size(); ++i) {
    Logs logs;
    for (const auto& [name, values] : history.history) {
      if (i < values.size()) logs.set(name, values[i]);
    }
    add_row(history.epoch[i], logs);
  }
  if (!content_.empty()) write_file();
}

// ---- LearningRateScheduler ----
LearningRateScheduler::LearningRateScheduler(std::function<double(int64_t, double)> schedule)
    : schedule_(std::move(schedule)) {
  NABLA_CHECK(schedule_ != nullptr, "LearningRateScheduler: expected a schedule function");
}

LearningRateScheduler::LearningRateScheduler(std::shared_ptr<optim::LRScheduler> scheduler)
    : scheduler_(std::move(scheduler)) {
  NABLA_CHECK(scheduler_ != nullptr, "LearningRateScheduler: expected a scheduler, got null");
}

void LearningRateScheduler::restore_state(const std::map<std::string, double>& /*values*/,
                                          const TrainingState& state) {
  if (scheduler_) scheduler_->set_last_epoch(state.epoch);
  skip_next_epoch_begin_ = state.step > 0;
}

void LearningRateScheduler::on_epoch_begin(int64_t epoch) {
  if (skip_next_epoch_begin_) {
    skip_next_epoch_begin_ = false;
    return;
  }
  if (!schedule_) return;
  optim::Optimizer& optimizer = model().optimizer();
  const double lr = schedule_(epoch, optimizer.lr());
  NABLA_CHECK(std::isfinite(lr) && lr >= 0, "LearningRateScheduler: the schedule returned lr ", lr,
              " for epoch ", epoch, "; expected a finite value >= 0");
  optimizer.set_lr(lr);
}

void LearningRateScheduler::on_epoch_end(int64_t /*epoch*/, Logs& logs) {
  logs.set("lr", model().optimizer().lr());  // the rate this epoch ran with
  if (scheduler_) scheduler_->step();
}

}  // namespace nabla::train

namespace nabla::train {

// ---- ReduceLROnPlateau ----
ReduceLROnPlateau::ReduceLROnPlateau(ReduceLROnPlateauOptions options)
    : options_(std::move(options)),
      higher_is_better_(monitor_higher_is_better(options_.monitor, options_.mode)) {
  NABLA_CHECK(options_.factor > 0 && options_.factor < 1,
              "ReduceLROnPlateau: factor must be in (0, 1), got ", options_.factor);
  NABLA_CHECK(options_.patience >= 0 && options_.cooldown >= 0 && options_.min_lr >= 0,
              "ReduceLROnPlateau: patience, cooldown and min_lr must be >= 0; got ",
              options_.patience, ", ", options_.cooldown, " and ", options_.min_lr);
  options_.min_delta = std::abs(options_.min_delta);
}

void ReduceLROnPlateau::on_train_begin() {
  best_ = higher_is_better_ ? -std::numeric_limits<double>::infinity()
                            : std::numeric_limits<double>::infinity();
  wait_ = 0;
  cooldown_counter_ = 0;
}

void ReduceLROnPlateau::on_epoch_end(int64_t epoch, Logs& logs) {
  optim::Optimizer& optimizer = model().optimizer();
  logs.set("lr", optimizer.lr());
  const double current = monitored_value(logs, options_.monitor, "ReduceLROnPlateau");
  // Keras's order: a cooldown epoch resets the wait, an improvement always counts, and only
  // epochs out of cooldown add to the wait.
  const bool in_cooldown = cooldown_counter_ > 0;
  if (in_cooldown) {
    --cooldown_counter_;
    wait_ = 0;
  }
  if (improved(current, best_, options_.min_delta, higher_is_better_)) {
    best_ = current;
    wait_ = 0;
    return;
  }
  if (cooldown_counter_ > 0 || ++wait_ < options_.patience) return;
  const double old_lr = optimizer.lr();
  // Keras compares in float32, the rate's own precision there, so that a rate already at
  // min_lr up to rounding is not "reduced" again.
  if (static_cast<float>(old_lr) > static_cast<float>(options_.min_lr)) {
    const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
    optimizer.set_lr(new_lr);
    if (options_.verbose > 0) {
      std::cout << "\nEpoch " << epoch + 1 << ": ReduceLROnPlateau reducing learning rate to "
                << new_lr << "." << std::endl;
    }
    cooldown_counter_ = options_.cooldown;
    wait_ = 0;
  }
}

void ReduceLROnPlateau::save_state(std::map<std::string, double>& values) const {
  values["best"] = best_;
  values["wait"] = static_cast<double>(wait_);
  values["cooldown_counter"] = static_cast<double>(cooldown_counter_);
}

void ReduceLROnPlateau::restore_state(const std::map<std::string, double>& values,
                                      const TrainingState& /*state*/) {
  if (const auto it = values.find("best"); it != values.end()) best_ = it->second;
  if (const auto it = values.find("wait"); it != values.end()) {
    wait_ = static_cast<int64_t>(it->second);
  }
  if (const auto it = values.find("cooldown_counter"); it != values.end()) {
    cooldown_counter_ = static_cast<int64_t>(it->second);
  }
}

// ---- TerminateOnNaN ----
void TerminateOnNaN::on_batch_end(int64_t batch, const Logs& logs) {
  const std::optional<double> loss = logs.get("loss");
  if (!loss.has_value() || std::isfinite(*loss)) return;
  std::cout << "\nBatch " << batch << ": Invalid loss, terminating training" << std::endl;
  model().stop_training();
}

// ---- LambdaCallback ----
LambdaCallback::LambdaCallback(LambdaCallbackFunctions functions)
    : functions_(std::move(functions)) {}

void LambdaCallback::on_train_begin() {
  if (functions_.on_train_begin) functions_.on_train_begin();
}
void LambdaCallback::on_train_end(const Logs& logs) {
  if (functions_.on_train_end) functions_.on_train_end(logs);
}
void LambdaCallback::on_epoch_begin(int64_t epoch) {
  if (functions_.on_epoch_begin) functions_.on_epoch_begin(epoch);
}
void LambdaCallback::on_epoch_end(int64_t epoch, Logs& logs) {
  if (functions_.on_epoch_end) functions_.on_epoch_end(epoch, logs);
}
void LambdaCallback::on_batch_end(int64_t batch, const Logs& logs) {
  if (functions_.on_batch_end) functions_.on_batch_end(batch, logs);
}

}  // namespace nabla::train
