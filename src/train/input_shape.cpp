// Samples viewed as a model's inputs: the one place where data of one shape meets a model built
// for another with the same number of values per sample.
#include "core/tensor_impl.hpp"
#include "format.hpp"
#include "nabla/train.hpp"

namespace nabla::train {

Tensor view_as_input_shape(const Tensor& samples, const Shape& input_shape,
                           const std::string& where) {
  NABLA_CHECK(samples.defined() && samples.dim() >= 1, where,
              ": expected samples with a sample axis first, got ",
              samples.defined() ? "a 0-d tensor" : "none");
  // A model not built yet takes whatever shape the data has (Keras's lazy build).
  if (input_shape.empty()) return samples;
  const Shape& shape = samples.shape();
  Shape inputs{samples.size(0)};
  inputs.insert(inputs.end(), input_shape.begin(), input_shape.end());
  if (shape == inputs) return samples;
  const int64_t wanted = shape_numel(input_shape);
  const int64_t given = shape_numel(Shape(shape.begin() + 1, shape.end()));
  NABLA_CHECK(wanted == given, where, ": the model takes inputs of shape ",
              shape_with_batch(inputs, "N"), " (", wanted, " values per sample), got samples of ",
              "shape ", shape, " (", given, " values per sample)");
  // reshape() views whenever the strides allow, which they always do for contiguous samples.
  return samples.reshape(inputs);
}

}  // namespace nabla::train
