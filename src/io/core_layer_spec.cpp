// Core layer types of JSON model specs: Dense/Linear, activations, dropout, flattening and
// reshaping, rescaling, the merge layers of graph models, the highway layer, and the energy-based
// models (Hopfield, RBM), which their tasks train without backpropagation.
#include "io/layer_args.hpp"
#include "nabla/energy.hpp"

namespace nabla::io::internal {
namespace {

const std::vector<const char*> kDenseKeys = {
    "units", "out_features",       "activation",       "use_bias",
    "bias",  "kernel_initializer", "bias_initializer", "in_features"};

nn::ModulePtr make_dense(const LayerArgs& args, const std::string& type) {
  nn::LinearOptions options;
  const int64_t units = args.positive_int({"units", "out_features"}, "the number of outputs");
  options.activation = args.activation_or_empty();
  options.bias = args.boolean_or({"use_bias", "bias"}, true);
  options.kernel_initializer = args.initializer_or("kernel_initializer", "glorot_uniform");
  options.bias_initializer = args.initializer_or("bias_initializer", "zeros");
  options.in_features = args.positive_int_or({"in_features"}, -1);
  if (type == "Dense") return std::make_shared<nn::Dense>(units, "", options);
  return std::make_shared<nn::Linear>(units, options);
}

OrderedJson dense_to_json(const nn::Linear& linear) {
  const bool keras = linear.type_name() == "Dense";
  OrderedJson out{{"type", linear.type_name()}};
  out[keras ? "units" : "out_features"] = linear.out_features();
  if (!linear.activation().empty()) out["activation"] = linear.activation();
  const bool has_bias = linear.in_features() <= 0 || linear.bias().defined();
  if (!has_bias) out[keras ? "use_bias" : "bias"] = false;
  return out;
}

// nabla::activation's names that have a layer type of their own; the type is the one
// nn::Activation reports (PyTorch's class name: "gelu" is GELU, "linear" is Identity).
// The first four are written as that type, the others in Keras's Activation form, as specs were
// written before they had a type: saved files keep their text.
const std::vector<const char*> kActivationsWrittenByType = {"relu", "sigmoid", "tanh", "softmax"};
const std::vector<const char*> kActivationsWrittenByName = {"log_softmax", "gelu",     "elu",
                                                            "leaky_relu",  "softplus", "linear"};

void add_activation_types(LayerRegistry& registry, const std::vector<const char*>& names,
                          bool by_type) {
  for (const char* name : names) {
    // LeakyReLU alone has a parameter: its negative slope (PyTorch's name, or Keras's "alpha").
    const bool leaky = std::string(name) == "leaky_relu";
    registry.add(
        {{nn::Activation(name).type_name()},
         leaky ? std::vector<const char*>{"negative_slope", "alpha"} : std::vector<const char*>{},
         [name](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
           return std::make_shared<nn::Activation>(
               name, args.number_or({"negative_slope", "alpha"}, -1e30, 1e30,
                                    nn::Activation::kDefaultNegativeSlope, true));
         },
         writes<nn::Activation>([by_type](const nn::Activation& act) {
           if (act.negative_slope() != nn::Activation::kDefaultNegativeSlope) {
             return OrderedJson{{"type", act.type_name()},
                                {"negative_slope", act.negative_slope()}};
           }
           if (by_type) return OrderedJson{{"type", act.type_name()}};
           return OrderedJson{{"type", "Activation"}, {"activation", act.name()}};
         })});
  }
}

nn::ModulePtr make_activation(const LayerArgs& args, const std::string&) {
  std::string at;
  const Json& name = args.require({"activation", "name"}, "the activation's name", &at);
  return std::make_shared<nn::Activation>(validated_activation(args.reader(), name, at));
}

nn::ModulePtr make_dropout(const LayerArgs& args, const std::string&) {
  std::string at;
  const Json& rate = args.require({"rate", "p"}, "the drop probability", &at);
  return std::make_shared<nn::Dropout>(args.reader().number(rate, at, 0, 1));
}

nn::ModulePtr make_rescaling(const LayerArgs& args, const std::string&) {
  std::string at;
  const Json& scale = args.require({"scale"}, "the factor inputs are multiplied by", &at);
  return std::make_shared<nn::Rescaling>(args.reader().number(scale, at, -1e30, 1e30, true),
                                         args.number_or({"offset"}, -1e30, 1e30, 0, true));
}

nn::ModulePtr make_reshape(const LayerArgs& args, const std::string&) {
  std::string at;
  const Json& shape =
      args.require({"target_shape", "shape"}, "the shape after the batch axis", &at);
  return std::make_shared<nn::Reshape>(args.sizes(shape, at, -1));
}

nn::ModulePtr make_permute(const LayerArgs& args, const std::string&) {
  std::string at;
  const Json& dims = args.require({"dims"}, "the order of the axes after the batch axis", &at);
  return std::make_shared<nn::Permute>(args.sizes(dims, at, 1));
}

nn::ModulePtr make_concatenate(const LayerArgs& args, const std::string&) {
  std::string at;
  const Json* axis = args.find({"axis"}, &at);
  if (axis != nullptr && !axis->is_number_integer()) {
    args.reader().fail(at, "expected an integer axis, got " + json_excerpt(*axis));
  }
  return std::make_shared<nn::Concatenate>(axis ? axis->get<int64_t>() : -1);
}

// A layer whose object is its type alone.
template <class Layer>
Writer writes_type_only() {
  return writes<Layer>([](const Layer& layer) { return OrderedJson{{"type", layer.type_name()}}; });
}

nn::ModulePtr make_highway(const LayerArgs& args, const std::string&) {
  nn::HighwayOptions options;
  const std::string activation = args.activation_or_empty();
  if (!activation.empty()) options.activation = activation;
  options.transform_bias =
      args.number_or({"transform_bias"}, -1e30, 1e30, options.transform_bias, true);
  options.kernel_initializer = args.initializer_or("kernel_initializer", "glorot_uniform");
  options.in_features = args.positive_int_or({"in_features"}, -1);
  return std::make_shared<nn::Highway>(options);
}

nn::ModulePtr make_hopfield(const LayerArgs& args, const std::string&) {
  nn::HopfieldOptions o;
  o.rule = args.string_or({"rule"}, {"hebbian", "storkey"}, o.rule);
  o.update = args.string_or({"update"}, {"asynchronous", "synchronous"}, o.update);
  o.max_sweeps = args.positive_int_or({"max_sweeps"}, o.max_sweeps);
  o.seed = static_cast<uint64_t>(args.number_or({"seed"}, 0, 9.0e15, 0, true));
  o.units = args.positive_int_or({"units"}, -1);
  o.patterns = args.positive_int_or({"patterns"}, o.patterns);
  return std::make_shared<nn::Hopfield>(o);
}

OrderedJson hopfield_to_json(const nn::Hopfield& hopfield) {
  const nn::HopfieldOptions& o = hopfield.options();
  OrderedJson out{{"type", "Hopfield"},         {"rule", o.rule}, {"update", o.update},
                  {"max_sweeps", o.max_sweeps}, {"seed", o.seed}, {"patterns", o.patterns}};
  if (o.units > 0) out["units"] = o.units;
  return out;
}

nn::ModulePtr make_rbm(const LayerArgs& args, const std::string&) {
  nn::RBMOptions o;
  o.units = args.positive_int({"units"}, "the number of hidden units");
  o.cd_steps = args.positive_int_or({"cd_steps"}, o.cd_steps);
  o.persistent = args.boolean_or({"persistent"}, o.persistent);
  o.in_features = args.positive_int_or({"in_features"}, -1);
  return std::make_shared<nn::RBM>(o);
}

OrderedJson rbm_to_json(const nn::RBM& rbm) {
  const nn::RBMOptions& o = rbm.options();
  return OrderedJson{
      {"type", "RBM"}, {"units", o.units}, {"cd_steps", o.cd_steps}, {"persistent", o.persistent}};
}

}  // namespace

void add_core_layer_types(LayerRegistry& registry) {
  registry.add({{"Dense", "Linear"}, kDenseKeys, make_dense, writes<nn::Linear>(dense_to_json)});
  registry.add({{"Activation"}, {"activation", "name"}, make_activation, {}});
  add_activation_types(registry, kActivationsWrittenByType, true);
  add_activation_types(registry, kActivationsWrittenByName, false);
  registry.add({{"Dropout"}, {"rate", "p"}, make_dropout, writes<nn::Dropout>([](const auto& d) {
                  return OrderedJson{{"type", "Dropout"}, {"rate", d.p()}};
                })});
  registry.add({{"Flatten"},
                {},
                [](const LayerArgs&, const std::string&) -> nn::ModulePtr {
                  return std::make_shared<nn::Flatten>();
                },
                writes_type_only<nn::Flatten>()});
  registry.add({{"Reshape"},
                {"target_shape", "shape"},
                make_reshape,
                writes<nn::Reshape>([](const nn::Reshape& reshape) {
                  return OrderedJson{{"type", "Reshape"}, {"target_shape", reshape.target_shape()}};
                })});
  registry.add(
      {{"Rescaling"},
       {"scale", "offset"},
       make_rescaling,
       writes<nn::Rescaling>([](const nn::Rescaling& r) {
         return OrderedJson{{"type", "Rescaling"}, {"scale", r.scale()}, {"offset", r.offset()}};
       })});
  for (nn::MergeKind kind :
       {nn::MergeKind::add, nn::MergeKind::subtract, nn::MergeKind::multiply,
        nn::MergeKind::average, nn::MergeKind::maximum, nn::MergeKind::minimum}) {
    registry.add({{nn::Merge(kind).type_name()},
                  {},
                  [kind](const LayerArgs&, const std::string&) -> nn::ModulePtr {
                    return std::make_shared<nn::Merge>(kind);
                  },
                  writes_type_only<nn::Merge>()});
  }
  registry.add(
      {{"Permute"}, {"dims"}, make_permute, writes<nn::Permute>([](const nn::Permute& permute) {
         return OrderedJson{{"type", "Permute"}, {"dims", permute.dims()}};
       })});
  registry.add({{"Concatenate"},
                {"axis"},
                make_concatenate,
                writes<nn::Concatenate>([](const nn::Concatenate& concat) {
                  return OrderedJson{{"type", "Concatenate"}, {"axis", concat.axis()}};
                })});
  registry.add({{"Sampling"},
                {},
                [](const LayerArgs&, const std::string&) -> nn::ModulePtr {
                  return std::make_shared<nn::Sampling>();
                },
                writes_type_only<nn::Sampling>()});

  registry.add({{"Hopfield"},
                {"rule", "update", "max_sweeps", "seed", "units", "patterns"},
                make_hopfield,
                writes<nn::Hopfield>(hopfield_to_json)});
  registry.add({{"RBM"},
                {"units", "cd_steps", "persistent", "in_features"},
                make_rbm,
                writes<nn::RBM>(rbm_to_json)});
  registry.add({{"Highway"},
                {"activation", "transform_bias", "kernel_initializer", "in_features"},
                make_highway,
                writes<nn::Highway>([](const nn::Highway& highway) {
                  const nn::HighwayOptions& o = highway.options();
                  OrderedJson out{{"type", "Highway"},
                                  {"activation", o.activation},
                                  {"transform_bias", o.transform_bias}};
                  if (o.kernel_initializer != "glorot_uniform") {
                    out["kernel_initializer"] = o.kernel_initializer;
                  }
                  return out;
                })});
  registry.add({{"UnitNormalization"},
                {"axis"},
                [](const LayerArgs& args, const std::string&) -> nn::ModulePtr {
                  std::string at;
                  const Json* axis = args.find({"axis"}, &at);
                  if (axis != nullptr && !axis->is_number_integer()) {
                    args.reader().fail(at, "expected an integer axis, got " + json_excerpt(*axis));
                  }
                  return std::make_shared<nn::UnitNormalization>(axis ? axis->get<int64_t>() : -1);
                },
                writes<nn::UnitNormalization>([](const nn::UnitNormalization& layer) {
                  return OrderedJson{{"type", "UnitNormalization"}, {"axis", layer.axis()}};
                })});
}

}  // namespace nabla::io::internal
