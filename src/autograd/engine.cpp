// The backward engine: count each node's dependencies reachable from the root, then walk the
// graph in reverse topological order, summing gradients where paths meet.
#include <unordered_map>

#include "autograd/node.hpp"
#include "core/dispatch.hpp"
#include "core/loop.hpp"

namespace nabla::autograd {

std::vector<Tensor> FunctionNode::apply(std::vector<Tensor>& grads) {
  NABLA_CHECK(fn_ != nullptr, "backward: the graph through ", name_,
              " was already freed by an earlier backward(); pass retain_graph=true to the first "
              "backward() to backpropagate through it twice");
  const Autocast precision(precision_);
  return fn_(grads);
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>& grads) {
  auto leaf = leaf_.lock();
  if (!leaf || !grads[0].defined()) return {};
  const Tensor& g = grads[0];
  NABLA_CHECK(g.dense_shape() == leaf->shape, "backward: gradient of shape ", g.dense_shape(),
              " computed for a leaf of shape ", leaf->shape);
  if (g.is_row_sparse() || (leaf->grad && leaf->grad->sparse_rows)) {
    // Row-sparse gradients are never added into in place: the sum is a fresh tensor.
    Tensor sum;
    if (leaf->grad) {
      sum = add_gradients(Tensor(leaf->grad), g);
    } else {
      const Tensor values = g.dtype() == leaf->dtype ? g : contiguous_copy(g, leaf->dtype);
      sum = row_sparse(g.sparse_row_indices(), values, leaf->shape[0]);
    }
    leaf->grad = sum.impl_ptr();
  } else if (!leaf->grad) {
    // A gradient nothing else refers to becomes the leaf's grad as it is (as PyTorch does);
    // anything shared, strided or of another dtype is copied, so later accumulation in place
    // cannot reach another tensor.
    const bool owned = g.impl_ptr().use_count() == 1 && g.impl()->storage.use_count() == 1 &&
                       g.is_contiguous() && g.offset() == 0 && g.dtype() == leaf->dtype &&
                       !g.requires_grad();
    leaf->grad = owned ? grads[0].impl_ptr() : contiguous_copy(g, leaf->dtype).impl_ptr();
  } else {
    Tensor acc(leaf->grad);
    accumulate_into(acc, g);
  }
  if (!leaf->post_accumulate_hooks.empty()) {
    const Tensor tensor(leaf);
    for (const auto& [id, hook] : leaf->post_accumulate_hooks) hook(tensor);
  }
  return {};
}

void accumulate_into(Tensor& dst, const Tensor& src) {
  NABLA_CHECK(dst.shape() == src.shape(), "accumulate: shapes ", dst.shape(), " and ", src.shape(),
              " differ");
  Tensor s = src.dtype() == dst.dtype() ? src : contiguous_copy(src, dst.dtype());
  dispatch_floating(dst.dtype(), "accumulate", [&](auto tag) {
    using T = decltype(tag);
    LoopOperands<2> ops;
    ops.ptrs = {static_cast<char*>(dst.raw_data()), static_cast<char*>(s.raw_data())};
    ops.strides = {dst.strides(), s.strides()};
    for (auto& st : ops.strides)
      for (auto& v : st) v *= sizeof(T);
    for_each_row<2>(dst.shape(), ops,
                    [](std::array<char*, 2> p, std::array<int64_t, 2> st, int64_t n) {
                      if (st[0] == sizeof(T) && st[1] == sizeof(T)) {
                        T* d = reinterpret_cast<T*>(p[0]);
                        const T* x = reinterpret_cast<const T*>(p[1]);
                        for (int64_t i = 0; i < n; ++i) d[i] += x[i];
                        return;
                      }
                      for (int64_t i = 0; i < n; ++i)
                        *reinterpret_cast<T*>(p[0] + i * st[0]) +=
                            *reinterpret_cast<const T*>(p[1] + i * st[1]);
                    });
  });
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined()) return {};
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr};
  if (!impl->requires_grad) return {};
  auto acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!is_grad_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            BackwardFn fn) {
  const bool anomaly = is_anomaly_enabled();
  if (anomaly) check_forward(name, inputs, outputs);
  auto node = std::make_shared<FunctionNode>(name, std::move(fn));
  if (anomaly) node->set_context(forward_context(inputs));
  node->next_edges.reserve(inputs.size());
  for (const Tensor& in : inputs) node->next_edges.push_back(gradient_edge(in));
  node->outputs.reserve(outputs.size());
  for (uint32_t i = 0; i < outputs.size(); ++i) {
    TensorImpl* impl = outputs[i].impl();
    impl->grad_fn = node;
    impl->output_nr = i;
    impl->requires_grad = true;
    node->outputs.push_back({impl->shape, impl->dtype});
  }
}

namespace {
// Anomaly mode: the gradients a node returned, checked before they flow on, so that the first
// backward to make a NaN or Inf is the one named.
void check_returned_gradients(const Node& node, const std::vector<Tensor>& input_grads) {
  const auto* function = dynamic_cast<const FunctionNode*>(&node);
  check_backward(node.name(), function != nullptr ? function->context() : nullptr, input_grads);
}

void run_backward(const Edge& root, const Tensor& root_grad, bool retain_graph) {
  NoGradGuard no_grad;
  // Dependencies: how many edges from reachable nodes point at each node.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack{root.node.get()};
  deps[root.node.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.node) continue;
      auto [it, inserted] = deps.try_emplace(e.node.get(), 0);
      it->second++;
      if (inserted) stack.push_back(e.node.get());
    }
  }

  std::unordered_map<Node*, std::vector<Tensor>> buffers;
  auto add_grad = [&](Node* n, uint32_t slot, Tensor g) {
    auto& buf = buffers[n];
    if (buf.empty()) buf.resize(std::max<size_t>(n->outputs.size(), 1));
    if (!buf[slot].defined()) {
      buf[slot] = std::move(g);
    } else if (buf[slot].is_row_sparse() || g.is_row_sparse()) {
      buf[slot] = add_gradients(buf[slot], g);
    } else {
      // Out of place: the existing gradient may be aliased by another path.
      Tensor sum = contiguous_copy(buf[slot], buf[slot].dtype());
      accumulate_into(sum, g);
      buf[slot] = sum;
    }
  };
  add_grad(root.node.get(), root.input_nr, root_grad);

  std::vector<Node*> ready{root.node.get()};
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    std::vector<Tensor> grads = std::move(buffers[n]);
    buffers.erase(n);
    bool any = false;
    for (const Tensor& g : grads) any = any || g.defined();
    std::vector<Tensor> input_grads;
    if (any) {
      for (size_t i = 0; i < grads.size() && i < n->outputs.size(); ++i)
        if (!grads[i].defined()) grads[i] = zeros(n->outputs[i].shape, n->outputs[i].dtype);
      input_grads = n->apply(grads);
      if (is_anomaly_enabled()) check_returned_gradients(*n, input_grads);
      if (!retain_graph) n->release();
    }
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      const Edge& e = n->next_edges[i];
      if (!e.node) continue;
      if (i < input_grads.size() && input_grads[i].defined())
        add_grad(e.node.get(), e.input_nr, std::move(input_grads[i]));
      if (--deps[e.node.get()] == 0) ready.push_back(e.node.get());
    }
  }
}
}  // namespace

}  // namespace nabla::autograd

namespace nabla {

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  NABLA_CHECK(requires_grad(),
              "backward: the tensor does not require grad and has no grad_fn "
              "(was it computed from tensors with requires_grad, outside "
              "NoGradGuard?)");
  Tensor g = gradient;
  if (!g.defined()) {
    NABLA_CHECK(numel() == 1,
                "backward: a gradient can be created implicitly only for scalar "
                "outputs, but the tensor has shape ",
                shape(), " (pass a gradient of that shape)");
    g = ones(shape(), dtype());
  } else {
    NABLA_CHECK(g.shape() == shape(), "backward: gradient has shape ", g.shape(),
                ", expected the tensor's shape ", shape());
  }
  autograd::run_backward(autograd::gradient_edge(*this), g, retain_graph);
}

bool Tensor::requires_grad() const {
  return defined() && (impl()->requires_grad || impl()->grad_fn != nullptr);
}

Tensor& Tensor::requires_grad_(bool on) {
  NABLA_CHECK(is_leaf() || on,
              "requires_grad_: only leaf tensors can stop requiring grad; use "
              "detach() on a computed tensor");
  NABLA_CHECK(!on || is_floating(dtype()),
              "requires_grad_: only floating tensors can require "
              "grad, got dtype ",
              dtype());
  impl()->requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return impl()->grad_fn == nullptr; }

Tensor Tensor::grad() const { return Tensor(impl()->grad); }

void Tensor::set_grad(const Tensor& grad) {
  NABLA_CHECK(!grad.defined() || grad.dense_shape() == shape(), "set_grad: gradient shape ",
              grad.dense_shape(), " differs from the tensor's shape ", shape());
  impl()->grad = grad.impl_ptr();
}

void Tensor::zero_grad(bool set_to_none) {
  if (set_to_none || !impl()->grad) {
    impl()->grad.reset();
  } else {
    Tensor(impl()->grad).fill_(0);
  }
}

int64_t Tensor::register_post_accumulate_grad_hook(std::function<void(const Tensor&)> hook) {
  NABLA_CHECK(is_leaf() && requires_grad(), "register_post_accumulate_grad_hook: only leaves ",
              "that require grad accumulate a gradient");
  NABLA_CHECK(hook != nullptr, "register_post_accumulate_grad_hook: the hook is empty");
  auto& hooks = impl()->post_accumulate_hooks;
  const int64_t id = hooks.empty() ? 0 : hooks.back().first + 1;
  hooks.emplace_back(id, std::move(hook));
  return id;
}

void Tensor::remove_post_accumulate_grad_hook(int64_t id) {
  auto& hooks = impl()->post_accumulate_hooks;
  std::erase_if(hooks, [id](const auto& entry) { return entry.first == id; });
}

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

}  // namespace nabla
