// Input/output of models: safetensors files (the public format, readable by Hugging Face's
// `safetensors` and PyTorch tooling), NumPy's .npy and .npz arrays, JSON model specs (a Sequential
// described in a file, as the CLI takes them), built-in model presets compiled into the library,
// and checkpoints (weights as safetensors with the model spec in the metadata). Files are written
// to a temporary file in the same folder and renamed, so that a failure never leaves a
// half-written file.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nabla/data.hpp"
#include "nabla/nn.hpp"
#include "nabla/tensor.hpp"

namespace nabla::optim {
class Optimizer;
class LRScheduler;
}  // namespace nabla::optim

namespace nabla::io {

// ---- safetensors ----
// Layout: 8-byte little-endian header length N, N bytes of JSON header
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"key": "value"}}
// padded with spaces to a multiple of 8, then the raw little-endian data of every tensor.
// DTypes: f32 "F32", f64 "F64", i64 "I64", u8 "U8", bool "BOOL". Tensors are written in name
// order, back to back.
struct SafeTensors {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};
// checksum = true adds kChecksumKey to the metadata (nabla's checkpoints; the default keeps files
// byte-identical to Hugging Face's writer).
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {},
                      bool checksum = false);
// Errors name the path and what is wrong (truncated header, bad JSON, unknown dtype, offsets
// outside the data or overlapping, shape/size mismatch, a checksum that does not match).
SafeTensors load_safetensors(const std::string& path);
// The metadata entry holding the CRC-32C (8 hex digits) of every tensor's name, dtype, shape and
// bytes in file order, then every other metadata key and value. load_safetensors verifies it
// when present: a bit flipped on disk after the write becomes an error naming the file, never
// silently different weights.
inline constexpr const char* kChecksumKey = "nabla.crc32c";

// ---- NumPy arrays (.npy, .npz) ----
// NumPy's own formats, so that arrays travel between nabla and Python without a converter:
// np.save/np.load (.npy, format versions 1.0 to 3.0) and np.savez/np.savez_compressed (.npz, a
// zip archive of NAME.npy members, stored or deflated, Zip64 included).
// Read natively: '<f4' (f32), '<f8' (f64), '<i8' (i64), '|u1' (u8), '|b1' (bool); widened:
// int8, int16, int32, uint16 and uint32 to i64, float16 to f32. Big-endian ('>') data is swapped,
// Fortran-ordered arrays come back in C order (contiguous). Object arrays (pickles), structured
// dtypes and other types are Errors naming the file and the dtype, as are truncated, padded or
// malformed files (the data must fill the file exactly as the header's shape says).
Tensor load_npy(const std::string& path);
// Writes NumPy's layout byte for byte: version 1.0 (2.0 only for a header beyond 64 KiB), data
// starting at a multiple of 64 bytes, C order; f32 '<f4', f64 '<f8', i64 '<i8', u8 '|u1', bool
// '|b1'. Atomic: a temporary file renamed into place.
void save_npy(const std::string& path, const Tensor& tensor);
// Every array of an .npz file by name (the member "x.npy" is "x"). Each member's CRC-32 and sizes
// are checked; encrypted members, compression other than stored and deflate, members that are
// not .npy files and duplicate names are Errors naming the archive and the member.
std::map<std::string, Tensor> load_npz(const std::string& path);
// np.savez (stored) or, with `compressed`, np.savez_compressed (deflate): one NAME.npy member per
// array, written atomically.
void save_npz(const std::string& path, const std::map<std::string, Tensor>& arrays,
              bool compressed = false);

// ---- JSON model specs ----
// {"name": "mlp", "input_shape": [28, 28],
//  "layers": [{"type": "Flatten"}, {"type": "Dense", "units": 128, "activation": "relu"},
//             {"type": "Dense", "units": 10, "activation": "softmax"}],
//  "training": {"optimizer": "adam", "lr": 0.001, "loss": "sparse_categorical_crossentropy",
//               "metrics": ["accuracy"], "batch_size": 32, "epochs": 5}}
// Top-level keys: name, description, input_shape (without the batch axis), layers, training.
// The graph form (Keras's functional models) names its inputs and outputs, and each layer names
// what it reads; "shared" calls an earlier layer again (its weights shared):
// {"name": "wide_deep",
//  "inputs": [{"name": "wide", "shape": [13]}, {"name": "deep", "shape": [8]}],
//  "layers": [{"name": "hidden", "type": "Dense", "units": 32, "activation": "relu",
//              "inputs": ["deep"]},
//             {"name": "joined", "type": "Concatenate", "inputs": ["wide", "hidden"]},
//             {"name": "price", "type": "Dense", "units": 1, "inputs": ["joined"]}],
//  "outputs": ["price"]}
// Layer types (Keras and PyTorch names): Dense/Linear (units|out_features, activation,
// use_bias|bias, kernel_initializer, bias_initializer, in_features), Flatten, Dropout (rate|p),
// Activation (activation|name), ReLU, Sigmoid, Tanh, Softmax. Unknown keys are errors (typos do
// not pass silently); errors name the source and the JSON path of the bad field:
//   model spec mlp.json: layers[1].units: expected a positive integer, got "abc"

// The "training" section; fields absent from the spec keep these defaults.
struct TrainingSpec {
  std::string optimizer = "adam";
  double lr = -1;  // <= 0: the optimizer's default
  // "momentum" (sgd, rmsprop), "nesterov" (sgd) and "weight_decay" (all but ftrl); unset: the
  // optimizer's default. The usual convolutional recipe: sgd, lr 0.1, momentum 0.9, nesterov,
  // weight_decay 5e-4.
  std::optional<double> momentum, weight_decay;
  std::optional<bool> nesterov;
  // "precision": "bf16" trains and evaluates with matrix products and convolutions in bf16
  // (train::CompileOptions::precision, nabla/autocast.hpp); "fp32", the default, in fp32.
  std::string precision = "fp32";
  std::string loss = "sparse_categorical_crossentropy";
  std::vector<std::string> metrics = {"accuracy"};
  int64_t batch_size = 32;
  int64_t epochs = 5;
  double validation_split = 0;
  // "augmentation": random transforms of the training images, in order, e.g.
  //   [{"type": "RandomCrop", "padding": 2}, {"type": "RandomFlip", "horizontal": true},
  //    {"type": "RandomTranslation", "height_factor": 0.1, "width_factor": 0.1},
  //    {"type": "RandomErasing", "p": 0.5, "scale": [0.02, 0.33], "ratio": [0.3, 3.3]},
  //    {"type": "Normalize", "mean": [0.286], "std": [0.353]}]
  data::AugmentationPtr augmentation;  // null: none
  std::string augmentation_json;       // the list as given (compact JSON), "" when none
  // "lr_schedule": sets the learning rate at each epoch (PyTorch's schedulers), one of
  //   {"type": "cosine", "eta_min": 0}    cosine annealing to eta_min over all epochs
  //   {"type": "step", "step_size": 5, "gamma": 0.5}
  //   {"type": "multistep", "milestones": [6, 9], "gamma": 0.1}
  //   {"type": "exponential", "gamma": 0.9}
  std::string lr_schedule_json;  // compact JSON, "" when the rate stays constant
  bool present = false;          // whether the spec had a "training" section
};

// `training` with the entries of `overrides` (a JSON object of "training" keys, e.g.
// {"lr_schedule": {"type": "cosine"}, "augmentation": [...]}) put in place of its own, checked as
// a spec file's training section is; errors name `source` (e.g. "the command line").
TrainingSpec merge_training(const TrainingSpec& training, const std::string& overrides,
                            const std::string& source);

// The optimizer the section names, with its learning rate and settings (optim::make_optimizer).
std::unique_ptr<optim::Optimizer> make_optimizer(const TrainingSpec& training);
// The settings given, for logs and reports: ", momentum 0.9, nesterov, weight decay 0.0005"; ""
// when none is.
std::string optimizer_settings_text(const TrainingSpec& training);

// The scheduler `training.lr_schedule_json` describes, on `optimizer` (null when there is none);
// "cosine" anneals over `training.epochs`. Step it once per epoch (train::LearningRateScheduler).
std::shared_ptr<optim::LRScheduler> make_lr_scheduler(const TrainingSpec& training,
                                                      optim::Optimizer& optimizer);

struct ModelSpec {
  std::string name;
  std::string description;  // optional free text ("description" in the JSON)
  Shape input_shape;        // without the batch axis (a graph's first input); empty when none
  size_t num_inputs = 1;    // a graph spec's number of inputs
  std::string json;         // the spec as given (validated)
  TrainingSpec training;
  // "data": the text task `nabla train` uses instead of Fashion-MNIST (data::TextTaskOptions's
  // fields by name), e.g. {"type": "corpus", "corpus": "kjv", "level": "char"}.
  std::optional<data::TextTaskOptions> data;
  // "task": the registered task (nabla::tasks) it trains on; "" = by the data section's type,
  // else "images".
  std::string task;
};

// Validates the whole spec (layers included) without building anything.
ModelSpec parse_model_spec(const std::string& json_text, const std::string& source_name);
// Reads and parses a spec file; the error for a missing file names the path.
ModelSpec load_model_spec(const std::string& path);
// Builds the model a spec describes: an nn::Sequential, or an nn::Graph for the graph form. With
// an input_shape (always in the graph form), the model is built (parameters created with the
// default generator) so that it is ready for summary() and training.
nn::ModulePtr build_model(const ModelSpec& spec);
nn::ModulePtr model_from_spec(const std::string& json_text, const std::string& source_name);
// The JSON spec of a Sequential or a graph model made of the layer types of the format (Error
// for any other layer), pretty-printed; `input_shape` is a Sequential's. `training` is written
// when given.
std::string model_to_spec(const nn::Module& model, const std::string& name,
                          const Shape& input_shape, const TrainingSpec* training = nullptr);

// `spec` as given (its description, data section and layers) with `training` as its "training"
// section: what a checkpoint stores, so that `nabla train --model runs/X/model.json` repeats the
// run.
std::string spec_with_training(const ModelSpec& spec, const TrainingSpec& training);

// ---- built-in presets (models/*.json, compiled into the library) ----
std::vector<std::string> builtin_model_names();  // sorted
// The JSON text of preset `name`; Error listing the known presets when there is none.
std::string builtin_model_spec(const std::string& name);
// A JSON model file (a path that exists, ends in .json or holds a '/') or a built-in preset name.
ModelSpec resolve_model_spec(const std::string& name_or_path);

// ---- checkpoints ----
// Metadata keys of a checkpoint: the model spec (with the training settings it ran with), where
// its data came from, the class names (a JSON array) and a text model's tokenizer
// (data::Tokenizer::to_json()).
inline constexpr const char* kModelSpecKey = "nabla.model_spec";
inline constexpr const char* kDataSourceKey = "nabla.data_dir";
inline constexpr const char* kClassNamesKey = "nabla.class_names";
inline constexpr const char* kTokenizerKey = "nabla.tokenizer";
// A full checkpoint (train::save_checkpoint) adds the optimizer's state as tensors named
// "optimizer/<key>" and the rest of the training state as JSON under kTrainingStateKey.
// load_weights and load_model skip the optimizer's tensors: every checkpoint loads as a model.
inline constexpr const char* kOptimizerStatePrefix = "optimizer/";
inline constexpr const char* kTrainingStateKey = "nabla.training_state";
// Writes model.state_dict() as safetensors (PyTorch names: "0.weight", "0.bias", ...). Unless
// `metadata` already has kModelSpecKey, a Sequential's spec (named "model", with `input_shape`)
// is stored under it; modules that no spec can describe are saved without one. "format": "pt"
// is added, as Hugging Face tools expect of PyTorch-layout weights, and kChecksumKey.
void save_model(const std::string& path, const nn::Module& model,
                std::map<std::string, std::string> metadata = {}, const Shape& input_shape = {});
// Loads weights saved by save_model (or any safetensors state dict) into `model` in place
// (strict: missing/unexpected names and shape mismatches are Errors naming the file).
void load_weights(const std::string& path, nn::Module& model, bool strict = true);

struct LoadedModel {
  nn::ModulePtr model;
  ModelSpec spec;
  std::map<std::string, std::string> metadata;
};
// Rebuilds the model from the spec stored in a checkpoint and loads its weights. Error when the
// file holds no spec.
LoadedModel load_model(const std::string& path);

}  // namespace nabla::io
