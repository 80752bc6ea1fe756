// The autograd graph: a Node per recorded op, holding what its backward needs, with edges to the
// nodes of its inputs. Leaves get an AccumulateGrad node that adds into their `grad`.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "autograd/anomaly.hpp"
#include "core/tensor_impl.hpp"
#include "nabla/autocast.hpp"

namespace nabla::autograd {

struct Node;

struct Edge {
  std::shared_ptr<Node> node;  // null: this input needs no gradient
  uint32_t input_nr = 0;       // which output of `node` the gradient flows into
};

struct OutputMeta {
  Shape shape;
  DType dtype;
};

struct Node {
  virtual ~Node() = default;
  // Gradients w.r.t. this node's outputs (each defined, zeros filled in by the engine) in; the
  // gradients w.r.t. its inputs out, one per next_edges entry (undefined = no gradient).
  virtual std::vector<Tensor> apply(std::vector<Tensor>& grads) = 0;
  virtual void release() {}  // drops saved tensors after a backward without retain_graph
  virtual const char* name() const = 0;

  std::vector<Edge> next_edges;
  std::vector<OutputMeta> outputs;
};

// Backward of a recorded op: grads w.r.t. outputs -> grads w.r.t. inputs. Runs with grad mode
// off, in the compute precision (nabla/autocast.hpp) the op was recorded in. Capture saved inputs
// by value; capture an op's own output only as `out.detach()`, since the output holds this node and
// capturing it whole would make a cycle.
using BackwardFn = std::function<std::vector<Tensor>(std::vector<Tensor>& grads)>;

class FunctionNode final : public Node {
 public:
  FunctionNode(const char* name, BackwardFn fn)
      : name_(name), fn_(std::move(fn)), precision_(compute_precision()) {}
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override;
  void release() override { fn_ = nullptr; }
  const char* name() const override { return name_; }
  // Anomaly mode: the layer and input shapes of the forward, for the backward's check; null for
  // a node recorded with the mode off.
  const ForwardContext* context() const { return context_.get(); }
  void set_context(ForwardContext context) {
    context_ = std::make_unique<ForwardContext>(std::move(context));
  }

 private:
  const char* name_;
  BackwardFn fn_;
  Precision precision_;  // the forward's, for the backward's products
  std::unique_ptr<ForwardContext> context_;
};

class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::weak_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override;
  const char* name() const override { return "AccumulateGrad"; }

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// The edge a gradient for `t` flows into: its grad_fn, its leaf accumulator, or none.
Edge gradient_edge(const Tensor& t);

// True when grad mode is on and any input requires a gradient.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Makes `outputs` the outputs of a new node whose backward is `fn`, with edges to `inputs`.
void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            BackwardFn fn);

// dst += src elementwise (same shape, floating); used to sum gradients where paths meet.
void accumulate_into(Tensor& dst, const Tensor& src);

// a + b for two gradients of one tensor, either of which may be row-sparse (Tensor::is_row_sparse):
// sparse + sparse stays sparse, sparse + dense is dense. A fresh tensor
// (src/autograd/sparse_grad.cpp).
Tensor add_gradients(const Tensor& a, const Tensor& b);

}  // namespace nabla::autograd
