// The data of the text tasks (fortunes, corpus, digits): data::load_text_task on the spec's
// "data" section. Internal.
#pragma once

#include "nabla/data.hpp"
#include "nabla/tasks.hpp"

namespace nabla::tasks::internal {

inline TaskData load_text_data(const io::ModelSpec& spec, const std::string& dir) {
  NABLA_CHECK(spec.data.has_value(), "model ", spec.name, ": a text task needs a \"data\" section");
  data::TextTaskData text = data::load_text_task(*spec.data, dir);
  TaskData out;
  out.x_train = text.train_inputs;
  out.y_train = text.train_targets;
  out.x_test = text.test_inputs;
  out.y_test = text.test_targets;
  out.source = text.source;
  out.dir = dir;
  out.class_names = text.class_names;
  out.tokenizer_json = text.tokenizer_json;
  return out;
}

}  // namespace nabla::tasks::internal
