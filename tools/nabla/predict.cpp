// nabla predict: class and probabilities for test samples (by index), an image file (PNG, JPEG,
// binary PGM, or an IDX file of one or more images), a text or a NumPy array, from a checkpoint
// written by `nabla train --out`; with --output, the model's outputs for the array as a file.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

#include "array_files.hpp"
#include "common.hpp"

namespace nabla::cli {
namespace {

struct PredictOptions {
  std::string checkpoint;
  std::string indices = "0";
  std::string image;
  std::string text;
  std::string input;   // an .npy file
  std::string output;  // .npy, .csv or .json
  std::string data_dir;
};

// Images of an image file with a batch axis: raw bytes for a model that rescales them itself,
// else scaled to [0, 1].
Tensor read_images(const std::string& path, const train::Model& model) {
  std::ifstream probe(path, std::ios::binary);
  NABLA_CHECK(probe.good(), "--image ", path, ": cannot open the file");
  // IDX files start with two zero bytes; anything else is an image file.
  const bool idx = probe.get() == 0;
  Tensor raw = idx ? data::read_idx(path) : data::read_image(path);
  const Shape& shape = model.input_shape();
  if (!idx && shape.size() >= 2 && (shape.size() == 2 || shape[0] == 1 || shape[0] == 3)) {
    // An image file of any size and colour, as the model takes images: converted to its
    // channels and resized to its input size as an image folder's images are.
    const int64_t channels = shape.size() == 3 ? shape[0] : 1;
    raw = data::resize_image(data::convert_channels(raw, channels), shape[shape.size() - 2],
                             shape.back())
              .unsqueeze(0);
  }
  Tensor images = model.takes_raw_inputs() ? raw : data::scale(raw, 1.0 / 255);
  // One image ([28, 28]) or a stack ([N, 28, 28]), viewed with the model's sample shape (which
  // may add a channel axis: [1, 28, 28]).
  if (raw.dim() == 2) images = images.unsqueeze(0);  // a 2-d IDX file: one image
  return train::view_as_input_shape(images, model.input_shape(), "--image " + path);
}

// The samples of an .npy file ([N, ...], the batch axis first) as the model's inputs: viewed with
// its input shape as the other paths do, floating data in the model's float type (NumPy's
// default is float64, nabla's weights are f32, as Keras casts), other values as they are.
Tensor read_array(const std::string& path, const train::Model& model) {
  NABLA_CHECK(model.num_inputs() == 1, "--input ", path, ": the model '", model.name(), "' takes ",
              model.num_inputs(), " inputs; --input gives one array");
  Tensor samples = io::load_npy(path);
  const DType wanted = model.module().input_dtype();
  if (is_floating(samples.dtype()) && is_floating(wanted)) samples = samples.to(wanted);
  return train::view_as_input_shape(samples, model.input_shape(), "--input " + path);
}

void print_prediction(const std::string& title, const Tensor& probabilities,
                      const std::vector<std::string>& names) {
  const std::vector<float> p = probabilities.to(DType::f32).to_vector<float>();
  size_t best = 0;
  for (size_t c = 1; c < p.size(); ++c) {
    if (p[c] > p[best]) best = c;
  }
  char value[32];
  std::snprintf(value, sizeof(value), "%.4f", p[best]);
  std::cout << title << ": " << names[best] << " (" << value << ")\n ";
  for (size_t c = 0; c < p.size(); ++c) {
    std::snprintf(value, sizeof(value), "%.4f", p[c]);
    std::cout << " " << names[c] << " " << value << (c + 1 < p.size() ? "," : "\n");
  }
}

// One prediction per sample, titled `title` or, for several samples, `title[i]`.
void print_predictions(const std::string& title, const Tensor& probabilities,
                       const std::vector<std::string>& names) {
  const int64_t count = probabilities.size(0);
  for (int64_t i = 0; i < count; ++i) {
    print_prediction(title + (count > 1 ? "[" + std::to_string(i) + "]" : ""),
                     probabilities.select(0, i), names);
  }
}

// The number of classes of a classifier (outputs [N, classes]); Error naming what else to do.
size_t classes_of(const train::Model& model, const std::string& otherwise) {
  NABLA_CHECK(model.output_shape().size() == 2, "predict: expected a classifier with outputs ",
              "[N, classes], the model gives ", model.output_shape(), "; ", otherwise);
  return static_cast<size_t>(model.output_shape()[1]);
}

// --input: the model's outputs for every sample of the array, printed as classes or, with
// --output, written whatever the model computes.
void predict_array(const PredictOptions& options, LoadedCheckpoint& loaded) {
  train::Model& model = loaded.model;
  const Tensor inputs = read_array(options.input, model);
  if (options.output.empty()) {
    const size_t classes = classes_of(model, "write its outputs with --output FILE");
    print_predictions(options.input, model.predict(inputs), class_names_of(loaded, {}, classes));
    return;
  }
  const Tensor outputs = model.predict(inputs);
  write_array_file(options.output, outputs);
  std::cout << "Wrote the outputs " << outputs.shape() << " (" << outputs.dtype() << ") for "
            << inputs.size(0) << " samples of " << options.input << " to " << options.output
            << "\n";
}

// Token ids [1, T] of `text` as the checkpoint's text model takes them (its tokenizer, padded or
// cut to the spec's sequence length).
Tensor encode_text(const std::string& text, const LoadedCheckpoint& loaded) {
  const auto tokenizer = loaded.metadata.find(io::kTokenizerKey);
  NABLA_CHECK(tokenizer != loaded.metadata.end(), "--text: ", loaded.model.name(),
              " is not a text model (its checkpoint holds no tokenizer); use --index or --image");
  const std::vector<int64_t> ids = data::Tokenizer::from_json(tokenizer->second).encode(text);
  const int64_t length =
      loaded.spec.data ? loaded.spec.data->sequence_length : static_cast<int64_t>(ids.size());
  return data::pad_sequences({ids}, length);
}

void run_predict(const PredictOptions& options) {
  LoadedCheckpoint loaded = load_checkpoint(options.checkpoint);
  if (!options.input.empty()) return predict_array(options, loaded);
  train::Model& model = loaded.model;
  const std::unique_ptr<tasks::Task> task = tasks::make_task(tasks::task_name_for(loaded.spec));
  if (!options.text.empty()) {
    // A task that answers with text (a seq2seq model) prints its answer.
    if (const auto answer = task->respond(loaded.spec, model, options.text)) {
      std::cout << "\"" << options.text << "\": " << *answer << "\n";
      return;
    }
  }
  const size_t classes = classes_of(model, "a language model samples text with nabla generate");
  if (!options.image.empty() || !options.text.empty()) {
    const std::vector<std::string> names = class_names_of(loaded, {}, classes);
    const bool image = !options.image.empty();
    const Tensor inputs =
        image ? read_images(options.image, model) : encode_text(options.text, loaded);
    const Tensor probabilities = model.predict(inputs);
    print_predictions(image ? options.image : "\"" + options.text + "\"", probabilities, names);
    return;
  }
  // Test samples by index: the task's test part, as evaluate reads it.
  const std::vector<int64_t> indices = parse_index_list(options.indices);
  const tasks::TaskData data =
      task->load(loaded.spec, model, data_dir_of(options.data_dir, loaded));
  // An autoencoder's targets are images: nothing to name a class by.
  NABLA_CHECK(!is_floating(data.y_test.dtype()), "predict --index: the ", task->name(),
              " task's test targets are not class labels (", data.y_test.shape(), " ",
              dtype_name(data.y_test.dtype()), "); nabla evaluate judges its model, and nabla ",
              "predict --input FILE --output FILE writes the model's outputs");
  const std::vector<std::string> names = class_names_of(loaded, data, classes);
  const int64_t count = data.x_test.size(0);
  for (int64_t index : indices) {
    if (index >= count) {  // a mistake on the command line, found once the data is read
      throw UsageError(detail::str("--index ", index, " is out of range: the test set holds ",
                                   count, " samples (indices 0 to ", count - 1, ")"));
    }
  }
  const Tensor samples = data::gather_rows(data.x_test, indices);
  const Tensor probabilities = model.predict(samples);
  for (size_t i = 0; i < indices.size(); ++i) {
    const int64_t label = data.y_test.at<int64_t>({indices[i]});
    const std::string truth = label >= 0 && label < static_cast<int64_t>(names.size())
                                  ? names[label]
                                  : std::to_string(label);
    print_prediction("test sample " + std::to_string(indices[i]) + " (label: " + truth + ")",
                     probabilities.select(0, static_cast<int64_t>(i)), names);
  }
}

}  // namespace

Command add_predict_command(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* sub =
      app.add_subcommand("predict", "Print the predicted class and probabilities of samples");
  sub->add_option("--checkpoint,-c", options->checkpoint,
                  "Folder written by `nabla train --out` (or its model.safetensors)")
      ->required();
  auto* index =
      sub->add_option("--index,-i", options->indices, "Test-set images by index, comma-separated")
          ->check(checked_by([](const std::string& text) { parse_index_list(text); }, "LIST"))
          ->capture_default_str();
  auto* image =
      sub->add_option(
             "--image", options->image,
             "An image file instead: PNG, JPEG or binary PGM (P5), converted to the model's "
             "channels and resized to its input size; or an IDX file of images")
          ->excludes(index);
  auto* text =
      sub->add_option(
             "--text", options->text,
             "A text instead: for a text classifier, or a source string for a seq2seq model")
          ->excludes(index)
          ->excludes(image);
  auto* input = sub->add_option("--input", options->input,
                                "A NumPy .npy array of samples instead (the batch axis first)")
                    ->excludes(index)
                    ->excludes(image)
                    ->excludes(text);
  sub->add_option("--output,-o", options->output,
                  "Write the model's outputs for --input to a file: .npy, .csv (a row per "
                  "sample) or .json (an array per sample)")
      ->needs(input)
      ->check(checked_by(check_array_file_name, "FILE"));
  sub->add_option("--data", options->data_dir,
                  "Data folder (default: the one the model was trained on)")
      ->check(data_folder());
  sub->footer(
      "Examples:\n"
      "  nabla predict --checkpoint runs/mlp --index 0,1,2\n"
      "  nabla predict --checkpoint runs/mlp --image shoe.pgm\n"
      "  nabla predict --checkpoint runs/photos --image cat.jpg\n"
      "  nabla predict --checkpoint runs/textcnn --text \"Two atoms walk into a bar\"\n"
      "  nabla predict --checkpoint runs/seq2seq --text 12345\n"
      "  nabla predict --checkpoint runs/mlp --input x.npy --output y.npy");
  return {sub, [options] { run_predict(*options); }};
}

}  // namespace nabla::cli
