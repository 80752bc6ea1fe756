// The data of the text tasks (fortunes, corpus, digits): data::load_text_task on the spec's
// "data" section. Internal.
#pragma once

#include "nabla/data.hpp"
#include "nabla/tasks.hpp"

namespace nabla::tasks::internal {

inline TaskData load_text_data(const io::ModelSpec& spec, const std::string& dir) {
  NABLA_CHECK(spec.data.has_value(), "model ", spec.name, ": a text task needs a \"data\" section");
  data::TextTaskData text = data::load_text_task(*spec.data, dir);
  return {text.train_inputs, text.train_targets, text.test_inputs,
          text.test_targets, text.source,        dir,
          text.class_names,  text.tokenizer_json};
}

}  // namespace nabla::tasks::internal
