// The task registry: each task's file registers a factory under the task's name when the library
// loads, so that adding a task touches no list here.
#include <cstdio>
#include <map>

#include "nabla/tasks.hpp"

namespace nabla::tasks {
namespace {

std::map<std::string, TaskFactory>& registry() {
  static std::map<std::string, TaskFactory> tasks;  // built on first use: no static-order issue
  return tasks;
}

}  // namespace

bool register_task(const std::string& name, TaskFactory factory) {
  NABLA_CHECK(factory != nullptr, "register_task: the factory of task \"", name, "\" is null");
  NABLA_CHECK(registry().emplace(name, std::move(factory)).second, "register_task: a task named \"",
              name, "\" is registered already");
  return true;
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Task> make_task(const std::string& name) {
  const auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const std::string& task : task_names()) known += (known.empty() ? "" : ", ") + task;
    NABLA_CHECK(false, "unknown task \"", name, "\"; tasks: ", known);
  }
  return it->second();
}

train::History Task::train(train::Model& model, const TaskData& data,
                           const train::FitOptions& fit) const {
  return model.fit(data.x_train, data.y_train, fit);
}

std::optional<std::string> Task::respond(const io::ModelSpec&, train::Model&,
                                         const std::string&) const {
  return std::nullopt;
}

void Task::write_outputs(const io::ModelSpec&, train::Model&, const TaskData&,
                         const std::string&) const {}

std::optional<RunResult> Task::run_own(const io::ModelSpec&, const RunOptions&) const {
  return std::nullopt;
}

std::string task_name_for(const io::ModelSpec& spec) {
  if (!spec.task.empty()) return spec.task;
  return spec.data ? spec.data->type : "images";
}

std::vector<Tensor> TaskData::test_inputs() const {
  std::vector<Tensor> inputs = {x_test};
  inputs.insert(inputs.end(), x_test_more.begin(), x_test_more.end());
  return inputs;
}

train::EvaluationReport evaluate_on_test(train::Model& model, const TaskData& data,
                                         int64_t batch_size, int verbose) {
  return model.evaluate(data.test_inputs(), {data.y_test}, batch_size, verbose);
}

Figure test_figure(const train::EvaluationReport& report) {
  const bool accuracy = report.metrics.count("accuracy") != 0;
  const double value = accuracy ? report["accuracy"] : report["loss"];
  char text[64];
  std::snprintf(text, sizeof(text), accuracy ? "Test accuracy: %.4f" : "Test loss: %.4f", value);
  return {accuracy ? "test_accuracy" : "test_loss", value, text};
}

}  // namespace nabla::tasks
