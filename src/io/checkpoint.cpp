// Model checkpoints: the state dict as safetensors, the model spec in the metadata.
#include <string_view>

#include "nabla/io.hpp"

namespace nabla::io {

void save_model(const std::string& path, const nn::Module& model,
                std::map<std::string, std::string> metadata, const Shape& input_shape) {
  if (metadata.find(kModelSpecKey) == metadata.end()) {
    try {
      metadata[kModelSpecKey] = model_to_spec(model, "model", input_shape);
    } catch (const Error&) {
      // A layer no spec can describe: the weights are still worth saving, without a spec.
    }
  }
  // Hugging Face tools read "format" to know the tensor layout convention (PyTorch's).
  metadata.emplace("format", "pt");
  save_safetensors(path, model.state_dict(), metadata, /*checksum=*/true);
}

namespace {

// The model's tensors of a checkpoint: all but a full checkpoint's optimizer state.
std::map<std::string, Tensor> model_tensors(std::map<std::string, Tensor> tensors) {
  std::erase_if(tensors, [](const auto& item) {
    return std::string_view(item.first).starts_with(kOptimizerStatePrefix);
  });
  return tensors;
}

}  // namespace

void load_weights(const std::string& path, nn::Module& model, bool strict) {
  SafeTensors file = load_safetensors(path);
  file.tensors = model_tensors(std::move(file.tensors));
  NABLA_CHECK(!(model.state_dict().empty() && !file.tensors.empty()), "load_weights: ", path,
              " holds ", file.tensors.size(), " tensors but the model has no parameters yet ",
              "(lazy layers create them at the first forward); call build(input_shape) first");
  try {
    model.load_state_dict(file.tensors, strict);
  } catch (const Error& e) {
    detail::throw_error(detail::str("load_weights: ", path, ": ", e.what()));
  }
}

LoadedModel load_model(const std::string& path) {
  LoadedModel loaded;
  SafeTensors file = load_safetensors(path);
  file.tensors = model_tensors(std::move(file.tensors));
  const auto spec = file.metadata.find(kModelSpecKey);
  NABLA_CHECK(spec != file.metadata.end(), "load_model: ", path, " holds no model spec (metadata ",
              "key ", kModelSpecKey, "); build the model in code and use load_weights");
  loaded.spec = parse_model_spec(spec->second, path);
  {
    // Building initializes weights that are overwritten next; keep the default generator's
    // stream as it was, so that loading a model does not change later random numbers.
    Generator& generator = default_generator();
    const std::vector<uint64_t> state = generator.state();
    try {
      loaded.model = build_model(loaded.spec);
    } catch (...) {
      generator.set_state(state);
      throw;
    }
    generator.set_state(state);
  }
  try {
    loaded.model->load_state_dict(file.tensors, true);
  } catch (const Error& e) {
    detail::throw_error(detail::str("load_model: ", path, ": ", e.what()));
  }
  loaded.metadata = std::move(file.metadata);
  return loaded;
}

}  // namespace nabla::io
