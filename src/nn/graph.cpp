// Functional graph models: symbolic calls record nodes; Graph runs them in topological order.
// Each call builds its layer at once on a zero sample (as Module::build), so that every symbolic
// tensor knows its shape, summary() can print it, and mistakes (mismatched shapes at a merge)
// surface at the call that makes them, with the layer's name, not at the first training step.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "autograd/anomaly.hpp"
#include "nabla/nn.hpp"
#include "nn/conv_pool_fusion.hpp"
#include "nn/layer_util.hpp"

namespace nabla::nn {

using NodePtr = std::shared_ptr<GraphNode>;

const Shape& SymbolicTensor::shape() const {
  NABLA_CHECK(node_ != nullptr, "SymbolicTensor: undefined (default-constructed)");
  return node_->shape;
}

DType SymbolicTensor::dtype() const {
  NABLA_CHECK(node_ != nullptr, "SymbolicTensor: undefined (default-constructed)");
  return node_->dtype;
}

SymbolicTensor Input(Shape shape, std::string name, DType dtype) {
  for (int64_t size : shape) {
    NABLA_CHECK(size > 0, "Input", name.empty() ? "" : " '" + name + "'", ": shape ", shape,
                " must have positive sizes (without the batch axis)");
  }
  NABLA_CHECK(name.find('.') == std::string::npos, "Input: invalid name '", name,
              "' (expected a name without '.')");
  auto node = std::make_shared<GraphNode>();
  node->name = std::move(name);
  node->shape = std::move(shape);
  node->dtype = dtype;
  return SymbolicTensor(std::move(node));
}

SymbolicTensor Module::operator()(const SymbolicTensor& x) {
  return (*this)(std::vector<SymbolicTensor>{x});
}

SymbolicTensor Module::operator()(const std::vector<SymbolicTensor>& inputs) {
  const std::string what = type_name() + (name_.empty() ? "" : " '" + name_ + "'");
  std::shared_ptr<Module> self = weak_from_this().lock();
  NABLA_CHECK(self != nullptr, what,
              ": a layer called on symbolic tensors must be held by a std::shared_ptr (make it "
              "with std::make_shared or a layers:: function)");
  NABLA_CHECK(!inputs.empty(), what, ": called on no inputs");
  auto node = std::make_shared<GraphNode>();
  node->layer = self;
  std::vector<Tensor> samples;
  for (size_t i = 0; i < inputs.size(); ++i) {
    NABLA_CHECK(inputs[i].node() != nullptr, what, ": input ", i,
                " is an undefined symbolic tensor");
    node->inputs.push_back(inputs[i].node());
    Shape shape{1};
    shape.insert(shape.end(), inputs[i].shape().begin(), inputs[i].shape().end());
    samples.push_back(zeros(shape, inputs[i].dtype()));
  }
  Tensor out;
  try {
    out = internal::probe(
        *this, [&] { return samples.size() == 1 ? forward(samples[0]) : forward_multi(samples); });
  } catch (const Error& e) {
    if (name_.empty()) throw;
    detail::throw_error(detail::str("layer '", name_, "': ", e.what()));
  }
  NABLA_CHECK(out.dim() >= 1 && out.size(0) == 1, what, ": the output of shape ", out.shape(),
              " has no batch axis");
  node->shape = Shape(out.shape().begin() + 1, out.shape().end());
  node->dtype = out.dtype();
  return SymbolicTensor(std::move(node));
}

// ---- Graph ----
namespace {

std::string describe(const GraphNode& node) {
  if (node.layer == nullptr) return "Input" + (node.name.empty() ? "" : " '" + node.name + "'");
  return node.layer->type_name() +
         (node.layer->name().empty() ? "" : " '" + node.layer->name() + "'");
}

// The nodes that lead to `outputs`, each after the nodes it reads (iterative depth-first search,
// so that a deep chain cannot overflow the stack).
std::vector<NodePtr> topological_order(const std::vector<NodePtr>& outputs) {
  std::vector<NodePtr> order;
  std::set<const GraphNode*> done;
  for (const NodePtr& output : outputs) {
    std::vector<std::pair<NodePtr, size_t>> stack{{output, 0}};
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (done.count(node.get()) != 0) {
        stack.pop_back();
        continue;
      }
      if (next < node->inputs.size()) {
        NodePtr input = node->inputs[next++];
        if (done.count(input.get()) == 0) stack.emplace_back(std::move(input), 0);
        continue;
      }
      done.insert(node.get());
      order.push_back(node);
      stack.pop_back();
    }
  }
  return order;
}

}  // namespace

Graph::Graph(std::vector<SymbolicTensor> inputs, std::vector<SymbolicTensor> outputs,
             std::string name) {
  if (!name.empty()) set_name(std::move(name));
  NABLA_CHECK(!inputs.empty(), "Graph: expected at least one input");
  NABLA_CHECK(!outputs.empty(), "Graph: expected at least one output");
  std::map<const GraphNode*, size_t> input_index;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const NodePtr& node = inputs[i].node();
    NABLA_CHECK(node != nullptr, "Graph: input ", i, " is an undefined symbolic tensor");
    NABLA_CHECK(node->layer == nullptr, "Graph: input ", i, " is not an Input but the output of ",
                describe(*node));
    NABLA_CHECK(input_index.emplace(node.get(), i).second, "Graph: input ", i, " (",
                describe(*node), ") is listed twice");
  }
  std::vector<NodePtr> output_nodes;
  for (size_t i = 0; i < outputs.size(); ++i) {
    NABLA_CHECK(outputs[i].node() != nullptr, "Graph: output ", i,
                " is an undefined symbolic tensor");
    output_nodes.push_back(outputs[i].node());
  }
  const std::vector<NodePtr> order = topological_order(output_nodes);

  // This graph's own copies of the nodes, named: another graph built from the same calls (a GAN's
  // generator inside the combined model) keeps its own names. Layers keep being shared.
  std::map<const GraphNode*, NodePtr> copies;
  std::set<std::string> taken;
  std::map<const Module*, std::string> layer_names;
  std::map<const Module*, int> calls;
  std::map<std::string, int> auto_counts;
  const auto unique_auto_name = [&](const std::string& base) {
    for (;;) {
      const int k = auto_counts[base]++;
      std::string candidate = k == 0 ? base : base + "_" + std::to_string(k);
      if (taken.count(candidate) == 0) return candidate;
    }
  };
  // Given names first, so that an automatic name never takes one the user chose.
  for (const NodePtr& node : order) {
    const std::string given = node->layer ? node->layer->name() : node->name;
    if (given.empty() || (node->layer && layer_names.count(node->layer.get()) != 0)) continue;
    NABLA_CHECK(taken.insert(given).second, "Graph: two layers are named '", given,
                "'; layer names must be unique in a model");
    if (node->layer) layer_names[node->layer.get()] = given;
  }
  for (const NodePtr& node : order) {
    auto copy = std::make_shared<GraphNode>(*node);
    copy->inputs.clear();
    for (const NodePtr& input : node->inputs) copy->inputs.push_back(copies.at(input.get()));
    if (node->layer == nullptr) {
      NABLA_CHECK(input_index.count(node.get()) != 0, "Graph: ", describe(*node),
                  " leads to an output but is not among the model's inputs (a dangling input)");
      if (copy->name.empty()) copy->name = unique_auto_name("input");
    } else {
      const Module* layer = node->layer.get();
      auto found = layer_names.find(layer);
      if (found == layer_names.end()) {
        found = layer_names.emplace(layer, unique_auto_name(snake_case(layer->type_name()))).first;
        taken.insert(found->second);
      }
      const int call = calls[layer]++;
      copy->name = call == 0 ? found->second : found->second + "[" + std::to_string(call) + "]";
      if (call == 0) register_child(copy->name, node->layer);
    }
    copies[node.get()] = copy;
    nodes_.push_back(copy);
  }
  for (const SymbolicTensor& input : inputs) {
    const auto found = copies.find(input.node().get());
    NABLA_CHECK(found != copies.end(), "Graph: ", describe(*input.node()),
                " does not lead to any output");
    inputs_.push_back(found->second);
  }
  for (const NodePtr& node : output_nodes) outputs_.push_back(copies.at(node.get()));
  std::map<const GraphNode*, size_t> index;
  for (size_t i = 0; i < nodes_.size(); ++i) index[nodes_[i].get()] = i;
  uses_.assign(nodes_.size(), 0);
  for (const NodePtr& node : nodes_) {
    reads_.emplace_back();
    for (const NodePtr& input : node->inputs) {
      reads_.back().push_back(index.at(input.get()));
      ++uses_[reads_.back().back()];
    }
  }
  for (const NodePtr& node : inputs_) input_at_.push_back(index.at(node.get()));
  for (const NodePtr& node : outputs_) {
    output_at_.push_back(index.at(node.get()));
    ++uses_[output_at_.back()];
  }
}

Tensor Graph::forward(const Tensor& x) { return forward_multi({x}); }

Tensor Graph::forward_multi(const std::vector<Tensor>& inputs) {
  NABLA_CHECK(outputs_.size() == 1, "Functional model '", name(), "': it has ", outputs_.size(),
              " outputs; use forward_all()");
  return forward_all(inputs)[0];
}

namespace {

// Whether `layer` ends with `activation` in a way that can be left out: an Activation layer of
// it, or a Linear (Dense) with it fused.
bool ends_with(const Module& layer, const std::string& activation) {
  if (const auto* act = dynamic_cast<const Activation*>(&layer)) return act->name() == activation;
  if (const auto* dense = dynamic_cast<const Linear*>(&layer)) {
    return dense->activation() == activation;
  }
  return false;
}

// The one node that reads node `i`'s value, or `none` when it is read by several, by none, or
// is an output.
constexpr size_t kNoReader = static_cast<size_t>(-1);
size_t only_reader(size_t i, const std::vector<std::vector<size_t>>& reads,
                   const std::vector<int>& uses, const std::vector<size_t>& output_at) {
  if (uses[i] != 1 || std::find(output_at.begin(), output_at.end(), i) != output_at.end())
    return kNoReader;
  for (size_t k = i + 1; k < reads.size(); ++k)
    if (std::find(reads[k].begin(), reads[k].end(), i) != reads[k].end())
      return reads[k].size() == 1 ? k : kNoReader;
  return kNoReader;
}

}  // namespace

std::vector<Tensor> Graph::forward_all(const std::vector<Tensor>& inputs,
                                       const std::vector<std::string>& pre_activation,
                                       std::vector<bool>* stripped) {
  NABLA_CHECK(
      inputs.size() == inputs_.size(), "Functional model: expected ", inputs_.size(), " input(s) (",
      [&] {
        std::string names;
        for (const NodePtr& n : inputs_) names += (names.empty() ? "" : ", ") + n->name;
        return names;
      }(),
      "), got ", inputs.size());
  NABLA_CHECK(pre_activation.empty() || pre_activation.size() == outputs_.size(),
              "Functional model: pre_activation names ", pre_activation.size(), " activations for ",
              outputs_.size(), " outputs");
  std::vector<Tensor> values(nodes_.size());
  std::vector<int> uses = uses_;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const GraphNode& node = *inputs_[i];
    const Tensor& x = inputs[i];
    NABLA_CHECK(
        x.defined() && x.dim() == static_cast<int64_t>(node.shape.size()) + 1 &&
            Shape(x.shape().begin() + 1, x.shape().end()) == node.shape,
        "Functional model: input '", node.name, "' takes shape [N",
        [&] {
          std::string dims;
          for (int64_t s : node.shape) dims += ", " + std::to_string(s);
          return dims;
        }(),
        "], got ", x.defined() ? detail::str(x.shape()) : std::string("none"));
    NABLA_CHECK(x.size(0) == inputs[0].size(0), "Functional model: input '", node.name, "' holds ",
                x.size(0), " samples but input '", inputs_[0]->name, "' holds ", inputs[0].size(0));
    values[input_at_[i]] = x;
  }
  // Where an output's last activation is to be left out.
  std::vector<char> strip(nodes_.size(), 0);
  if (stripped != nullptr) stripped->assign(outputs_.size(), false);
  for (size_t i = 0; i < pre_activation.size(); ++i) {
    const GraphNode& node = *outputs_[i];
    if (pre_activation[i].empty() || node.layer == nullptr) continue;
    if (!ends_with(*node.layer, pre_activation[i])) continue;
    // Only when no other node reads the activated value.
    if (uses_[output_at_[i]] != 1) continue;
    strip[output_at_[i]] = 1;
    if (stripped != nullptr) (*stripped)[i] = true;
  }
  std::vector<Tensor> args;
  // Nodes computed by a fused op at an earlier node: a convolution whose only reader is a max
  // pooling (perhaps through a ReLU read only by it) runs with it as one op
  // (nn/conv_pool_fusion.hpp), giving the pooling node's value.
  std::vector<char> fused_away(nodes_.size(), 0);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const GraphNode& node = *nodes_[i];
    if (node.layer == nullptr || fused_away[i] != 0) continue;
    ConvMaxPool fused;
    size_t chain[2] = {kNoReader, kNoReader};
    if (dynamic_cast<const Conv*>(node.layer.get()) != nullptr) {
      chain[0] = only_reader(i, reads_, uses_, output_at_);
      if (chain[0] != kNoReader) chain[1] = only_reader(chain[0], reads_, uses_, output_at_);
      const auto layer_at = [&](size_t k) {
        return k == kNoReader ? nullptr : nodes_[k]->layer.get();
      };
      fused = find_conv_max_pool(node.layer.get(), layer_at(chain[0]), layer_at(chain[1]));
    }
    args.clear();
    for (size_t j : reads_[i]) {
      args.push_back(values[j]);
      if (--uses[j] == 0) values[j] = Tensor();  // freed as soon as its last reader has it
    }
    const autograd::LayerScope scope(node.name);  // names the layer in anomaly messages
    if (fused.layers > 0) {
      const size_t last = chain[fused.layers - 2];
      for (size_t k = 0; k + 1 < fused.layers; ++k) fused_away[chain[k]] = 1;
      values[last] = fused.forward(args[0]);
      continue;
    }
    if (strip[i] != 0) {
      if (auto* dense = dynamic_cast<Linear*>(node.layer.get())) {
        values[i] = dense->logits(args[0]);
      } else {
        values[i] = args[0];
      }
      continue;
    }
    values[i] = args.size() == 1 ? node.layer->forward(args[0]) : node.layer->forward_multi(args);
  }
  std::vector<Tensor> out;
  for (size_t j : output_at_) out.push_back(values[j]);
  return out;
}

DType Graph::input_dtype() const { return inputs_.front()->dtype; }

std::string Graph::extra_repr() const {
  const auto names = [](const std::vector<NodePtr>& nodes) {
    std::string out;
    for (const NodePtr& n : nodes) out += (out.empty() ? "" : ", ") + n->name;
    return "[" + out + "]";
  };
  return "inputs=" + names(inputs_) + ", outputs=" + names(outputs_);
}

std::vector<Shape> Graph::input_shapes() const {
  std::vector<Shape> out;
  for (const NodePtr& node : inputs_) out.push_back(node->shape);
  return out;
}

std::vector<Shape> Graph::output_shapes() const {
  std::vector<Shape> out;
  for (const NodePtr& node : outputs_) out.push_back(node->shape);
  return out;
}

ModulePtr Graph::layer(const std::string& name) const {
  std::string names;
  for (const NodePtr& node : nodes_) {
    if (node->layer == nullptr) continue;
    if (node->name == name) return node->layer;
    names += (names.empty() ? "" : ", ") + node->name;
  }
  NABLA_CHECK(false, "Functional model: no layer named '", name, "'; layers: ", names);
  return nullptr;
}

// Keras's rule (to_snake_case): an underscore before a capitalized word ("MaxPooling" ->
// "max_pooling", "Seq2Seq" -> "seq2_seq") and between a lower-case letter and a capital, none
// inside "2D" ("Conv2D" -> "conv2d").
std::string snake_case(const std::string& type_name) {
  const auto is = [&](size_t i, int (*test)(int)) {
    return i < type_name.size() && test(static_cast<unsigned char>(type_name[i])) != 0;
  };
  std::string out;
  for (size_t i = 0; i < type_name.size(); ++i) {
    if (i > 0 && is(i, std::isupper) && (is(i + 1, std::islower) || is(i - 1, std::islower))) {
      out += '_';
    }
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(type_name[i])));
  }
  return out;
}

}  // namespace nabla::nn
