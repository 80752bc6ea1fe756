// Sections of a model spec read by their own files: the training section's "lr_schedule"
// (lr_schedule.cpp) and the "data" section (data_spec.cpp).
#pragma once

#include <memory>
#include <string>

#include "io/spec_reader.hpp"
#include "nabla/data.hpp"
#include "nabla/optim.hpp"

namespace nabla::io::internal {

// The scheduler `spec` describes, on `optimizer`; errors name the JSON path. Model specs call it
// on a throwaway optimizer to validate the section when they are parsed.
std::shared_ptr<optim::LRScheduler> lr_scheduler_from_json(const SpecReader& reader,
                                                           const Json& spec,
                                                           const std::string& path,
                                                           optim::Optimizer& optimizer,
                                                           int64_t epochs);

// The task the "data" section describes (the fields of data::TextTaskOptions by name); errors
// name the JSON path.
data::TextTaskOptions text_task_from_json(const SpecReader& reader, const Json& section);

}  // namespace nabla::io::internal
