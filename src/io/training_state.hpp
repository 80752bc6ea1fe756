// train::TrainingState as the JSON a full checkpoint stores under io::kTrainingStateKey (the
// optimizer's tensors travel as tensors, not here). Internal.
#pragma once

#include <string>

#include "nabla/train.hpp"

namespace nabla::io::internal {

// Doubles are written so that they read back bit for bit (shortest round-trip form; NaN and
// infinities, which JSON lacks, as the strings "nan", "inf", "-inf").
std::string training_state_to_json(const train::TrainingState& state);
// Error naming `path` and the field when the text is not a training state.
train::TrainingState training_state_from_json(const std::string& text, const std::string& path);

}  // namespace nabla::io::internal
