// BackupAndRestore: a ModelCheckpoint of full checkpoints into a folder of its own, and the other
// half Keras gives it: a fit that finds a backup there resumes from it. The checkpoints are
// Model::save_checkpoint's, so a resumed fit ends bit for bit where an uninterrupted one ends.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <regex>

#include "nabla/train.hpp"

namespace nabla::train {
namespace {

namespace fs = std::filesystem;

// "backup-000000001875.safetensors": the steps done since training began order the backups.
const std::regex& backup_name() {
  static const std::regex name(R"(backup-(\d{12})\.safetensors)");
  return name;
}

// The temporary file of a backup write that was killed (data::internal::AtomicFile's NAME.tmp-
// and mkstemp's six letters or digits).
bool is_killed_write(const std::string& name) {
  static const std::regex temporary(R"(backup-\d{12}\.safetensors\.tmp-[A-Za-z0-9]{6})");
  return std::regex_match(name, temporary);
}

}  // namespace

BackupAndRestore::BackupAndRestore(std::string backup_dir, BackupAndRestoreOptions options)
    : dir_(std::move(backup_dir)), options_(options) {
  NABLA_CHECK(!dir_.empty(), "BackupAndRestore: expected a backup folder, got an empty path");
  checkpoint_ = std::make_unique<ModelCheckpoint>(
      (fs::path(dir_) / "backup-{step:012d}.safetensors").string(),
      ModelCheckpointOptions{.every_epochs = options_.every_epochs,
                             .every_steps = options_.every_steps,
                             .keep = 2});  // the one before the newest, should that be damaged
}

std::vector<std::string> BackupAndRestore::backups() const {
  std::vector<std::string> names;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_, error)) {
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, backup_name())) names.push_back(entry.path().string());
  }
  // Zero-padded step counts: the names sort by age.
  std::sort(names.rbegin(), names.rend());
  return names;
}

std::shared_ptr<const TrainingState> BackupAndRestore::restore_training() {
  for (const std::string& path : backups()) {
    try {
      return std::make_shared<const TrainingState>(model().load_checkpoint(path));
    } catch (const Error& e) {
      // load_checkpoint changes nothing unless the whole file is sound: try the one before.
      std::cerr << "nabla: warning: skipping the damaged backup " << path << ": " << e.what()
                << std::endl;
    }
  }
  return nullptr;
}

void BackupAndRestore::on_train_begin() {
  std::error_code error;
  fs::create_directories(dir_, error);
  NABLA_CHECK(fs::is_directory(dir_), "BackupAndRestore: cannot create the backup folder ", dir_,
              error ? ": " + error.message() : ": a file has its name");
  std::vector<fs::path> killed_writes;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_, error)) {
    if (is_killed_write(entry.path().filename().string())) killed_writes.push_back(entry.path());
  }
  for (const fs::path& path : killed_writes) fs::remove(path, error);  // best effort
  checkpoint_->set_model(&model());
  checkpoint_->on_train_begin();
}

void BackupAndRestore::on_epoch_begin(int64_t epoch) { checkpoint_->on_epoch_begin(epoch); }

void BackupAndRestore::on_epoch_end(int64_t epoch, Logs& logs) {
  checkpoint_->on_epoch_end(epoch, logs);
}

void BackupAndRestore::on_batch_end(int64_t batch, const Logs& logs) {
  checkpoint_->on_batch_end(batch, logs);
}

void BackupAndRestore::on_train_end(const Logs& /*logs*/) {
  if (!options_.delete_checkpoint) return;
  std::error_code error;
  for (const std::string& path : backups()) fs::remove(path, error);  // best effort
  fs::remove(dir_, error);  // only when nothing else is in it
}

void BackupAndRestore::save_state(std::map<std::string, double>& values) const {
  checkpoint_->save_state(values);
}

void BackupAndRestore::restore_state(const std::map<std::string, double>& values,
                                     const TrainingState& state) {
  checkpoint_->restore_state(values, state);
}

}  // namespace nabla::train
