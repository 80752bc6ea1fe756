// What tasks::run does for fine-tuning: a subset of the classes, and the initial weights from
// another run's checkpoint. Internal to tasks.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "nabla/tasks.hpp"

namespace nabla::tasks::internal {

// Keeps the samples whose label is one of `classes`, in both parts of `data`. Error when the
// task's targets are not class numbers, or when a class has no sample.
void keep_classes(TaskData& data, const std::vector<int64_t>& classes);

// Loads the weights of `from` (a checkpoint file, or a run folder's model.safetensors) into the
// built model; with new_head, all but its last layer's, which keep their initialization. Error
// naming the file and the tensor when the checkpoint does not fit the model.
void load_initial_weights(train::Model& model, const std::string& from, bool new_head);

// Lines saying what `options` changed: "Classes: 5, 6, 7, 8, 9 (the others left out)", where the
// weights came from, and "Frozen: dense (100480 parameters)". Nothing for a plain run.
void describe_fine_tuning(const train::Model& model, const RunOptions& options, std::ostream& log);

}  // namespace nabla::tasks::internal
