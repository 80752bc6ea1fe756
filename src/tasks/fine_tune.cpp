// Fine-tuning support of tasks::run (--classes, --init-from, --new-head). Freezing is the
// model's own (train::Model::set_trainable).
#include "tasks/fine_tune.hpp"

#include <algorithm>
#include <filesystem>
#include <ostream>
#include <set>

namespace nabla::tasks::internal {
namespace {

// The rows of (x, y) whose label is in `keep`.
void select_rows(Tensor& x, Tensor& y, const std::set<int64_t>& keep, const char* part) {
  NABLA_CHECK(y.dtype() == DType::i64 && y.dim() == 1, "--classes: the ", part, " targets are ",
              "not one class number per sample (shape ", y.shape(), ", dtype ", y.dtype(),
              "); --classes applies to classification tasks");
  std::vector<int64_t> rows;
  const std::vector<int64_t> labels = y.to_vector<int64_t>();
  for (size_t i = 0; i < labels.size(); ++i) {
    if (keep.count(labels[i]) != 0) rows.push_back(static_cast<int64_t>(i));
  }
  for (int64_t c : keep) {
    NABLA_CHECK(std::find(labels.begin(), labels.end(), c) != labels.end(), "--classes: class ", c,
                " has no sample in the ", part, " part (its labels run from ",
                labels.empty() ? 0 : *std::min_element(labels.begin(), labels.end()), " to ",
                labels.empty() ? 0 : *std::max_element(labels.begin(), labels.end()), ")");
  }
  const Tensor index = from_vector(rows, {static_cast<int64_t>(rows.size())});
  x = index_select(x, 0, index);
  y = index_select(y, 0, index);
}

}  // namespace

void keep_classes(TaskData& data, const std::vector<int64_t>& classes) {
  const std::set<int64_t> keep(classes.begin(), classes.end());
  select_rows(data.x_train, data.y_train, keep, "training");
  select_rows(data.x_test, data.y_test, keep, "test");
}

void load_initial_weights(train::Model& model, const std::string& from, bool new_head) {
  namespace fs = std::filesystem;
  const std::string path = fs::is_directory(from) ? (fs::path(from) / kWeightsFile).string() : from;
  const io::SafeTensors file = io::load_safetensors(path);
  std::string head;  // the last layer's prefix in the state dict
  if (new_head) {
    const auto* sequential = dynamic_cast<const nn::Sequential*>(&model.module());
    NABLA_CHECK(sequential != nullptr && sequential->size() > 0, "--new-head: the model '",
                model.name(), "' is not a Sequential of layers; replace a graph model's head in ",
                "its JSON file and load the rest with --init-from");
    head = std::to_string(sequential->size() - 1) + ".";
  }
  nn::StateDict weights;
  for (const auto& [name, own] : model.module().state_dict()) {
    if (new_head && name.starts_with(head)) continue;
    const auto it = file.tensors.find(name);
    NABLA_CHECK(it != file.tensors.end(), "--init-from: ", path, " has no tensor '", name,
                "' of the model '", model.name(), "'; is it a checkpoint of this architecture?");
    NABLA_CHECK(it->second.shape() == own.shape(), "--init-from: ", path, ": tensor '", name,
                "' has shape ", it->second.shape(), ", the model's has ", own.shape(),
                new_head ? "" : "; with another number of classes, add --new-head");
    weights[name] = it->second;
  }
  model.module().load_state_dict(weights, /*strict=*/false);
}

void describe_fine_tuning(const train::Model& model, const RunOptions& options, std::ostream& log) {
  if (!options.classes.empty()) {
    log << "Classes: ";
    for (size_t i = 0; i < options.classes.size(); ++i)
      log << (i ? ", " : "") << options.classes[i];
    log << " (the others left out)\n";
  }
  if (!options.init_from.empty()) {
    log << "Starting from the weights of " << options.init_from
        << (options.new_head ? " (the last layer fresh)" : "") << "\n";
  }
  if (!options.freeze.empty()) {
    int64_t frozen = 0;
    for (const Tensor& p : model.module().parameters()) {
      if (!p.requires_grad()) frozen += p.numel();
    }
    log << "Frozen: ";
    for (size_t i = 0; i < options.freeze.size(); ++i) log << (i ? ", " : "") << options.freeze[i];
    log << " (" << frozen << " parameters)\n";
  }
}

}  // namespace nabla::tasks::internal
