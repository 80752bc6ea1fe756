// Model::fit on a streaming data::Pipeline: the pipeline's batches go through a DataLoader (its
// streaming mode) into the one training loop that fit on tensors uses (Model::fit_loop).
#include "nabla/data.hpp"
#include "nabla/pipeline.hpp"
#include "nabla/train.hpp"

namespace nabla::train {

History Model::fit(const data::Pipeline& train, const FitOptions& options) {
  compiled_state("fit");  // Error before compile()
  FlushDenormalGuard denormals;
  NABLA_CHECK(options.epochs >= 0, "fit: epochs must be >= 0, got ", options.epochs);
  NABLA_CHECK(options.verbose >= 0 && options.verbose <= 2, "fit: verbose must be 0, 1 or 2, got ",
              options.verbose);
  NABLA_CHECK(num_inputs() == 1 && num_outputs() == 1, "fit: a pipeline feeds a model with one ",
              "input and one output; this one has ", num_inputs(), " and ", num_outputs());
  NABLA_CHECK(options.validation_split == 0, "fit: validation_split holds out samples of ",
              "tensors; with a pipeline, give validation_data, or take()/skip() a part of it");
  NABLA_CHECK(options.augmentation == nullptr, "fit: with a pipeline, augment in the pipeline ",
              "(Pipeline::augment) rather than with FitOptions::augmentation");
  NABLA_CHECK(options.strategy == nullptr, "fit: data-parallel training reads tensors; a ",
              "pipeline cannot be sharded across processes yet");
  // The first batch builds the model (or checks its shape) before the epochs start.
  {
    const std::unique_ptr<data::Stream> stream = train.open(0);
    const std::optional<data::Element> first = stream->next();
    NABLA_CHECK(first.has_value(), "fit: the pipeline yields no batches");
    NABLA_CHECK(first->input.defined() && first->input.dim() >= 1 && first->target.defined(),
                "fit: the pipeline's elements need an input and a target with a batch axis ",
                "(decode and batch() them); the first has ",
                first->input.defined() ? "an input of shape " : "no input",
                first->input.defined() ? first->input.shape() : Shape{},
                first->target.defined() ? "" : " and no target");
    ensure_built({first->input}, "fit");
  }
  std::vector<Tensor> val_x, val_y;
  if (options.validation_data.x.defined()) {
    val_x = {options.validation_data.x};
    val_y = {options.validation_data.y};
    check_inputs(val_x, &val_y, "fit (validation_data)");
    ensure_built(val_x, "fit (validation data)");
    val_y = prepare_targets(val_y, "fit (validation data)");
  }
  NABLA_CHECK(!optimizer().parameters().empty(), "fit: the model has no trainable parameters");
  data::DataLoader loader(train);
  return fit_loop(loader, {}, {}, val_x, val_y, options);
}

}  // namespace nabla::train
