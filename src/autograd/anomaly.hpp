// Anomaly detection (set_detect_anomaly): the NaN/Inf checks of recorded ops' outputs and of the
// gradients nodes return, and the stack of layers the calling thread runs, which names where an
// op ran. Internal.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "nabla/tensor.hpp"

namespace nabla::autograd {

// One layer of the calling thread's layer stack, for as long as it lives: Sequential and graph
// models open one around each layer they call, so that an anomaly can name the layer. Opening one
// is two pointer writes; the name is only made in anomaly mode, when an op records, from a string
// the caller keeps alive for the scope or from describe(owner, index).
class LayerScope {
 public:
  using Describe = std::string (*)(const void* owner, size_t index);
  explicit LayerScope(const std::string& name);
  LayerScope(const void* owner, size_t index, Describe describe);
  ~LayerScope();
  LayerScope(const LayerScope&) = delete;
  LayerScope& operator=(const LayerScope&) = delete;

 private:
  friend std::string current_layer_path();
  std::string name() const;
  const std::string* name_ = nullptr;
  const void* owner_ = nullptr;
  size_t index_ = 0;
  Describe describe_ = nullptr;
  LayerScope* outer_;
};

// The layers the calling thread is in, outermost first, joined with '/' ("sequential/dense_1");
// "" outside any layer.
std::string current_layer_path();

// Throws an Error naming the op, its layer and the shapes when an output holds NaN or Inf.
void check_forward(const char* op, const std::vector<Tensor>& inputs,
                   const std::vector<Tensor>& outputs);

// What a node recorded in anomaly mode keeps for the check of its backward.
struct ForwardContext {
  std::string layer;  // current_layer_path() at the forward
  std::vector<Shape> input_shapes;
};
ForwardContext forward_context(const std::vector<Tensor>& inputs);

// Throws an Error naming the op's backward when a gradient it returned holds NaN or Inf. `context`
// is null for a node recorded with the mode off (the message then names no layer).
void check_backward(const char* op, const ForwardContext* context,
                    const std::vector<Tensor>& input_grads);

}  // namespace nabla::autograd
