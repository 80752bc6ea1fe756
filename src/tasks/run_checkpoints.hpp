// The checkpoints of `nabla train --out DIR`: full checkpoints in DIR/checkpoints, the run
// settings they record, and finding the one a resumed run continues from. Internal to tasks.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>

#include "nabla/tasks.hpp"

namespace nabla::tasks::internal {

// Metadata key of the run settings a checkpoint was made with (JSON: the spec with its training
// section, seed, limit, data folder, classes, fine-tuning settings, threads), which a resumed run
// must repeat.
inline constexpr const char* kRunSettingsKey = "nabla.run";

std::string run_settings_json(const std::string& spec_json, const RunOptions& options,
                              const std::string& data_dir, int threads);

// The path pattern of ModelCheckpoint for DIR/checkpoints: "epoch-003-step-00001875.safetensors".
std::string checkpoint_pattern(const std::string& out);

// Creates DIR/checkpoints and removes the temporary files of killed checkpoint writes there and
// beside best.safetensors. `fresh`: also the checkpoints of an earlier run (returns how many).
int64_t prepare_checkpoint_folder(const std::string& out, bool fresh);

// The newest checkpoint in DIR/checkpoints that loads and was made by this run's settings
// (`settings`, from run_settings_json): damaged ones are skipped with a warning on `warnings`
// naming them; one made with other settings is an Error naming the setting. nullopt when none.
std::optional<std::string> find_resume_checkpoint(const std::string& out,
                                                  const std::string& settings,
                                                  std::ostream& warnings);

}  // namespace nabla::tasks::internal
