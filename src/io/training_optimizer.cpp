// The optimizer a model spec's training section names, with the settings it gives.
#include "nabla/io.hpp"
#include "nabla/optim.hpp"

namespace nabla::io {

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainingSpec& training) {
  return optim::make_optimizer(training.optimizer,
                               optim::OptimizerSettings{.lr = training.lr,
                                                        .momentum = training.momentum,
                                                        .nesterov = training.nesterov,
                                                        .weight_decay = training.weight_decay});
}

std::string optimizer_settings_text(const TrainingSpec& training) {
  std::string text;
  if (training.momentum) text += detail::str(", momentum ", *training.momentum);
  if (training.nesterov) text += *training.nesterov ? ", nesterov" : ", no nesterov";
  if (training.weight_decay) text += detail::str(", weight decay ", *training.weight_decay);
  return text;
}

}  // namespace nabla::io
