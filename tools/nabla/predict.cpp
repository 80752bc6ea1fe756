// nabla predict: class and probabilities for test images (by index) or for an image file (binary
// PGM, or an IDX file of one or more images), from a checkpoint written by `nabla train --out`.
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "common.hpp"

namespace nabla::cli {
namespace {

struct PredictOptions {
  std::string checkpoint;
  std::string indices = "0";
  std::string image;
  std::string text;
  std::string data_dir;
};

// Reads the next header token of a PGM file, skipping whitespace and # comments.
std::string pgm_token(std::istream& in, const std::string& path) {
  std::string token;
  while (in) {
    const int c = in.get();
    if (c == '#') {
      std::string comment;
      std::getline(in, comment);
    } else if (std::isspace(c)) {
      if (!token.empty()) return token;
    } else if (c != EOF) {
      token += static_cast<char>(c);
    }
  }
  NABLA_CHECK(!token.empty(), "--image ", path, ": truncated PGM header");
  return token;
}

int64_t pgm_number(std::istream& in, const std::string& path, const char* what) {
  const std::string token = pgm_token(in, path);
  NABLA_CHECK(!token.empty() && token.size() < 9 &&
                  token.find_first_not_of("0123456789") == std::string::npos,
              "--image ", path, ": bad PGM ", what, " '", token, "'");
  return std::stoll(token);
}

// A binary PGM (P5, 8-bit) as a u8 tensor [height, width].
Tensor read_pgm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NABLA_CHECK(in.good(), "--image ", path, ": cannot open the file");
  NABLA_CHECK(pgm_token(in, path) == "P5", "--image ", path,
              ": expected a binary PGM image (P5) or an IDX file");
  const int64_t width = pgm_number(in, path, "width");
  const int64_t height = pgm_number(in, path, "height");
  const int64_t max_value = pgm_number(in, path, "maximum value");
  NABLA_CHECK(width > 0 && height > 0 && max_value > 0 && max_value < 256, "--image ", path,
              ": expected an 8-bit PGM, got ", width, "x", height, " with maximum ", max_value);
  std::vector<uint8_t> pixels(width * height);
  in.read(reinterpret_cast<char*>(pixels.data()), static_cast<std::streamsize>(pixels.size()));
  NABLA_CHECK(in.gcount() == static_cast<std::streamsize>(pixels.size()), "--image ", path,
              ": truncated: expected ", pixels.size(), " pixel bytes, got ", in.gcount());
  if (max_value != 255) {
    for (uint8_t& p : pixels) p = static_cast<uint8_t>(p * 255 / max_value);
  }
  return from_vector(pixels, {height, width});
}

// Images of an image file with a batch axis: raw bytes for a model that rescales them itself,
// else scaled to [0, 1].
Tensor read_images(const std::string& path, const train::Model& model) {
  std::ifstream probe(path, std::ios::binary);
  NABLA_CHECK(probe.good(), "--image ", path, ": cannot open the file");
  const bool pgm = probe.get() == 'P';
  const Tensor raw = pgm ? read_pgm(path) : data::read_idx(path);
  Tensor images = model.takes_raw_inputs() ? raw : data::scale(raw, 1.0 / 255);
  // One image ([28, 28]) or a stack ([N, 28, 28]), viewed with the model's sample shape (which
  // may add a channel axis: [1, 28, 28]).
  if (raw.dim() == 2) images = images.unsqueeze(0);  // a PGM or a 2-d IDX file: one image
  return train::view_as_input_shape(images, model.input_shape(), "--image " + path);
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
  train::Model& model = loaded.model;
  NABLA_CHECK(model.output_shape().size() == 2, "predict: expected a classifier with outputs ",
              "[N, classes], the model gives ", model.output_shape(),
              "; a language model samples text with nabla generate");
  const auto classes = static_cast<size_t>(model.output_shape()[1]);
  if (!options.image.empty() || !options.text.empty()) {
    const std::vector<std::string> names = class_names_of(loaded, {}, classes);
    const bool image = !options.image.empty();
    const Tensor inputs =
        image ? read_images(options.image, model) : encode_text(options.text, loaded);
    const Tensor probabilities = model.predict(inputs);
    const std::string title = image ? options.image : "\"" + options.text + "\"";
    for (int64_t i = 0; i < inputs.size(0); ++i) {
      print_prediction(title + (inputs.size(0) > 1 ? "[" + std::to_string(i) + "]" : ""),
                       probabilities.select(0, i), names);
    }
    return;
  }
  // Test samples by index: the task's test part, as evaluate reads it.
  const std::vector<int64_t> indices = parse_index_list(options.indices);
  const std::unique_ptr<tasks::Task> task = tasks::make_task(tasks::task_name_for(loaded.spec));
  const tasks::TaskData data =
      task->load(loaded.spec, model, data_dir_of(options.data_dir, loaded));
  const std::vector<std::string> names = class_names_of(loaded, data, classes);
  const int64_t count = data.x_test.size(0);
  for (int64_t index : indices) {
    NABLA_CHECK(index < count, "--index ", index, " is out of range: the test set holds ", count,
                " samples (indices 0 to ", count - 1, ")");
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
          ->capture_default_str();
  auto* image = sub->add_option("--image", options->image,
                                "An image file instead: binary PGM (P5) or IDX, 28x28 grey levels")
                    ->excludes(index);
  sub->add_option("--text", options->text, "A text instead, for a text classifier")
      ->excludes(index)
      ->excludes(image);
  sub->add_option("--data", options->data_dir,
                  "Data folder (default: the one the model was trained on)");
  sub->footer(
      "Examples:\n"
      "  nabla predict --checkpoint runs/mlp --index 0,1,2\n"
      "  nabla predict --checkpoint runs/mlp --image shoe.pgm\n"
      "  nabla predict --checkpoint runs/textcnn --text \"Two atoms walk into a bar\"");
  return {sub, [options] { run_predict(*options); }};
}

}  // namespace nabla::cli
