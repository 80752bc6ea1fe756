// Task "gan": generative adversarial networks on IDX images in the MNIST layout, Fashion-MNIST by
// default (the `dcgan` preset), unconditional or class-conditional (the `cgan` preset).
//
// How a GAN lives in a spec and in one checkpoint: the spec is a graph model (the "inputs" /
// "layers" / "outputs" form) of the composition D(G(z)). Its one input is the noise z; the layer
// named "image" ends the generator (a Tanh, pixels in [-1, 1], or a Sigmoid, pixels in [0, 1]);
// the layers that read from "image" form the discriminator, whose one output (ending in a
// sigmoid) is the probability that an image is real. The task takes the graph apart with shared
// layers: the generator is the sub-graph from the noise to "image", the discriminator the same
// layers called again on an Input of the image's shape. So one state dict (one safetensors file)
// holds both networks, and the checkpoint's spec says how they connect. Evaluating the whole
// graph on noise against targets 1 ("real") gives the generator's non-saturating loss and the
// share of generated images the discriminator takes for real: that is what `nabla evaluate`
// reports as its loss and accuracy, on the task's test noise (seeded).
//
// A conditional GAN (Mirza & Osindero 2014) has a second input: the class asked for, one-hot
// ([classes]). The generator reads it beside the noise and the discriminator beside the image
// (the same input node: the graph says how each network takes it in, e.g. as a Dense layer's
// feature map concatenated to the image's channels). Training pairs each real image with its own
// label and asks the generator for the same labels; the test noise is paired with the classes in
// turn (0, 1, ..., 9, 0, ...), and the judge adds the share of generated images the classifier
// assigns to the class they were asked for.
//
// Training is the task's own loop (Model::fit has one optimizer): per batch of real images, one
// discriminator step on real and generated images (binary cross-entropy from logits, targets 1
// and 0), then one generator step with the non-saturating loss -log D(G(z)); two Adam optimizers
// (the run's learning rate, beta1 0.5, as DCGAN). With --out, a grid of images generated from the
// same noise is written after every epoch (samples-epoch-001.png, ...), so one can watch training.
//
// Judged by a classifier trained by nabla on the real training images (the `cnn` preset, two
// epochs, seeded; kept in the run folder as judge_classifier.safetensors and reused from there):
// the Fréchet distance between its penultimate-layer features (128 values) of real test images and
// of as many generated images (10,000, or the number of training images when fewer), against the
// same distance for real training images (what a perfect generator would score with that many
// samples).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "nabla/data.hpp"
#include "nabla/ops.hpp"
#include "nabla/tasks.hpp"
#include "tasks/task_loop.hpp"
#include "train/statistics.hpp"

namespace nabla::tasks {
namespace {

namespace fs = std::filesystem;

constexpr const char* kGanImageNode = "image";
constexpr const char* kGanClassifierFile = "judge_classifier.safetensors";
constexpr const char* kGanClassifierPreset = "cnn";
constexpr int64_t kGanClassifierEpochs = 2;
constexpr uint64_t kGanClassifierSeed = 0;
constexpr uint64_t kGanTestNoiseSeed = 0;   // the test noise (x_test) evaluate and judge use
constexpr uint64_t kGanEpochNoiseSeed = 1;  // the fixed noise of the per-epoch grids
constexpr int64_t kGanGridSide = 8;         // samples-epoch-NNN.png: 8 x 8 images
constexpr int64_t kGanSamplesSide = 10;     // samples.png: 10 x 10 images
constexpr int64_t kGanJudged = 10000;       // images on each side of the Fréchet distance
constexpr int64_t kGanBatch = 500;          // images per forward pass when judging

// The two networks of a GAN model, sharing its layers.
struct GanParts {
  std::shared_ptr<nn::Graph> generator, discriminator;
  int64_t noise = 0;    // values per noise vector
  int64_t classes = 0;  // a conditional GAN: the classes of its one-hot label input; else 0
  bool tanh = true;     // the generator's pixels in [-1, 1] (tanh) or [0, 1] (sigmoid)
  Shape image;          // [C, H, W]

  // The networks' inputs: the noise or image, then the one-hot labels of a conditional GAN.
  std::vector<Tensor> with_labels(const Tensor& x, const Tensor& one_hot_labels) const {
    if (classes == 0) return {x};
    return {x, one_hot_labels};
  }
};

GanParts gan_parts(const train::Model& model) {
  auto* graph = dynamic_cast<nn::Graph*>(&model.module());
  NABLA_CHECK(graph != nullptr, "the gan task needs a graph model (\"inputs\", \"layers\", ",
              "\"outputs\"): a generator from the noise input to a layer named \"image\", and a ",
              "discriminator from \"image\" to the one output; got a ", model.module().type_name(),
              " model");
  NABLA_CHECK(graph->inputs().size() <= 2 && graph->outputs().size() == 1, "the gan task needs a ",
              "graph with one input (the noise) or two (the noise and, for a conditional GAN, the ",
              "one-hot class), and one output (the discriminator's), got ", graph->inputs().size(),
              " inputs and ", graph->outputs().size(), " outputs");
  const auto& nodes = graph->nodes();
  std::shared_ptr<nn::GraphNode> image;
  for (const auto& node : nodes) {
    if (node->layer != nullptr && node->name == kGanImageNode) image = node;
  }
  NABLA_CHECK(image != nullptr, "the gan task needs the generator's last layer named \"image\" ",
              "(a Tanh or Sigmoid); the model has none");
  const auto* activation = dynamic_cast<const nn::Activation*>(image->layer.get());
  NABLA_CHECK(
      activation != nullptr && (activation->name() == "tanh" || activation->name() == "sigmoid"),
      "the gan task needs the layer \"image\" to be a Tanh (pixels in [-1, 1]) or a ",
      "Sigmoid (pixels in [0, 1]), got a ", image->layer->type_name());
  NABLA_CHECK(image->shape.size() == 3, "the gan task needs images [C, H, W] from the layer ",
              "\"image\", got shape ", image->shape);
  GanParts parts;
  parts.tanh = activation->name() == "tanh";
  parts.image = image->shape;
  const auto& input = graph->inputs()[0];
  NABLA_CHECK(input->shape.size() == 1, "the gan task needs a noise input of one axis (e.g. ",
              "[100]), got shape ", input->shape);
  parts.noise = input->shape[0];
  const std::shared_ptr<nn::GraphNode> label =
      graph->inputs().size() == 2 ? graph->inputs()[1] : nullptr;
  if (label != nullptr) {
    NABLA_CHECK(label->shape.size() == 1 && label->shape[0] >= 2, "the gan task needs a ",
                "conditional GAN's second input to be the one-hot class ([classes], e.g. [10]), ",
                "got shape ", label->shape);
    parts.classes = label->shape[0];
  }
  // The generator: the image and every node it depends on.
  std::set<const nn::GraphNode*> generator_nodes;
  std::vector<const nn::GraphNode*> stack = {image.get()};
  while (!stack.empty()) {
    const nn::GraphNode* node = stack.back();
    stack.pop_back();
    if (!generator_nodes.insert(node).second) continue;
    for (const auto& in : node->inputs) stack.push_back(in.get());
  }
  NABLA_CHECK(generator_nodes.count(input.get()) != 0, "the gan task needs the layer \"image\" ",
              "to be computed from the noise input");
  NABLA_CHECK(label == nullptr || generator_nodes.count(label.get()) != 0, "the gan task needs ",
              "a conditional GAN's generator to read the class input \"", label->name,
              "\": the layer \"image\" does not depend on it");
  std::vector<nn::SymbolicTensor> generator_inputs = {nn::SymbolicTensor(input)};
  if (label != nullptr) generator_inputs.emplace_back(label);
  parts.generator = std::make_shared<nn::Graph>(
      generator_inputs, std::vector{nn::SymbolicTensor(image)}, "generator");
  // The discriminator: the other layers, called again on an Input of the image's shape (and, for
  // a conditional GAN, one of the label's).
  const nn::SymbolicTensor image_input = nn::Input(parts.image, kGanImageNode);
  std::map<const nn::GraphNode*, nn::SymbolicTensor> mapped = {{image.get(), image_input}};
  std::vector<nn::SymbolicTensor> discriminator_inputs = {image_input};
  if (label != nullptr) {
    discriminator_inputs.push_back(nn::Input(label->shape, label->name));
    mapped[label.get()] = discriminator_inputs.back();
  }
  for (const auto& node : nodes) {
    if (node->layer == nullptr || generator_nodes.count(node.get()) != 0) continue;
    std::vector<nn::SymbolicTensor> inputs;
    for (const auto& in : node->inputs) {
      const auto found = mapped.find(in.get());
      NABLA_CHECK(found != mapped.end(), "the gan task needs a discriminator that reads only the ",
                  "image: its layer \"", node->name, "\" reads \"", in->name,
                  "\" of the generator");
      inputs.push_back(found->second);
    }
    mapped[node.get()] = (*node->layer)(inputs);
  }
  const auto output = mapped.find(graph->outputs()[0].get());
  NABLA_CHECK(
      output != mapped.end() && output->first != image.get(), "the gan task needs a ",
      "discriminator after the layer \"image\": layers that read it and lead to the output");
  if (label != nullptr) {
    // The discriminator reads the label when a layer of its own does.
    bool reads_label = false;
    for (const auto& node : nodes) {
      if (node->layer == nullptr || generator_nodes.count(node.get()) != 0) continue;
      for (const auto& in : node->inputs) reads_label = reads_label || in == label;
    }
    NABLA_CHECK(reads_label, "the gan task needs a conditional GAN's discriminator to read the ",
                "class input \"", label->name, "\" too: no layer after \"image\" reads it");
  }
  parts.discriminator = std::make_shared<nn::Graph>(discriminator_inputs,
                                                    std::vector{output->second}, "discriminator");
  return parts;
}

// The discriminator's logits [N, 1] for images in the generator's range (and, for a conditional
// GAN, the one-hot classes they are of).
Tensor discriminator_logits(const GanParts& parts, const Tensor& images, const Tensor& labels) {
  std::vector<bool> stripped;
  Tensor logits = parts.discriminator->forward_all(parts.with_labels(images, labels), {"sigmoid"},
                                                   &stripped)[0];
  NABLA_CHECK(!stripped.empty() && stripped[0], "the gan task needs a discriminator whose output ",
              "ends with a sigmoid (the probability that an image is real)");
  return logits;
}

// Raw pixel bytes [N, C, H, W] as the generator's range: [-1, 1] (tanh) or [0, 1] (sigmoid).
Tensor generator_range(const GanParts& parts, const Tensor& images) {
  const Tensor unit = internal::unit_pixels(images);
  return parts.tanh ? sub(mul(unit, scalar_tensor(2.0)), scalar_tensor(1.0)) : unit;
}

// Generated images as pixels in [0, 1].
Tensor unit_range(const GanParts& parts, const Tensor& generated) {
  const Tensor unit =
      parts.tanh ? mul(add(generated, scalar_tensor(1.0)), scalar_tensor(0.5)) : generated;
  return clamp(unit, 0.0, 1.0);
}

// The generator's images for noise [N, L] (and one-hot labels [N, classes] of a conditional GAN).
Tensor generator_images(const GanParts& parts, const Tensor& noise, const Tensor& labels) {
  return parts.generator->forward_multi(parts.with_labels(noise, labels));
}

// Images for noise [N, L] (and labels) in evaluation mode, as pixels in [0, 1].
Tensor generate(const GanParts& parts, const Tensor& noise, const Tensor& labels) {
  const NoGradGuard no_grad;
  parts.generator->train(false);
  std::vector<Tensor> batches;
  for (int64_t start = 0; start < noise.size(0); start += kGanBatch) {
    const int64_t end = std::min(noise.size(0), start + kGanBatch);
    batches.push_back(unit_range(
        parts, generator_images(parts, noise.slice(0, start, end),
                                parts.classes == 0 ? Tensor() : labels.slice(0, start, end))));
  }
  return concat(batches, 0);
}

// One-hot classes [N, classes] of a conditional GAN: the class of sample i is i mod classes, so
// that a grid of `classes` columns shows one class per column. An empty tensor for a GAN without.
Tensor classes_in_turn(const GanParts& parts, int64_t n) {
  if (parts.classes == 0) return {};
  std::vector<int64_t> labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = i % parts.classes;
  return one_hot(from_vector(labels, {n}), parts.classes);
}

void write_grid(const std::string& path, const Tensor& unit_images, int64_t columns) {
  data::write_png(path, data::image_grid(internal::pictures_of(unit_images, unit_images.size(2),
                                                               unit_images.size(3)),
                                         columns));
}

// The judging classifier: from the run folder when it holds one, else the `cnn` preset trained
// on the real training images (and kept in the run folder).
train::Model judge_classifier(const std::string& run_folder, const TaskData& data,
                              std::string* note) {
  const std::string path =
      run_folder.empty() ? "" : (fs::path(run_folder) / kGanClassifierFile).string();
  if (!path.empty() && fs::exists(path)) {
    *note = "from " + path;
    return train::Model::load(path);
  }
  const io::ModelSpec spec = io::resolve_model_spec(kGanClassifierPreset);
  manual_seed(kGanClassifierSeed);
  train::Model classifier(io::build_model(spec), "judge_classifier");
  classifier.build(spec.input_shape);
  classifier.compile(optim::make_optimizer("adam", 1e-3), "sparse_categorical_crossentropy",
                     {"accuracy"});
  const Tensor images =
      train::view_as_input_shape(data.x_train, spec.input_shape, "the training images");
  classifier.fit(
      images, data.y_train,
      {.epochs = kGanClassifierEpochs, .batch_size = 64, .verbose = 0, .seed = kGanClassifierSeed});
  *note = "the " + std::string(kGanClassifierPreset) + " preset trained for " +
          std::to_string(kGanClassifierEpochs) + " epochs on " +
          std::to_string(data.x_train.size(0)) + " training images";
  if (!path.empty()) classifier.save(path);
  return classifier;
}

// The classifier's penultimate-layer features [N, F] of pixels in [0, 1] ([N, C, H, W]).
Tensor penultimate_features(train::Model& classifier, const Tensor& unit_images) {
  const auto* sequential = dynamic_cast<const nn::Sequential*>(&classifier.module());
  NABLA_CHECK(sequential != nullptr && sequential->size() >= 2, "the gan task's judging ",
              "classifier must be a Sequential of two layers or more");
  const NoGradGuard no_grad;
  classifier.module().train(false);
  std::vector<Tensor> batches;
  for (int64_t start = 0; start < unit_images.size(0); start += kGanBatch) {
    // The classifier takes pixel values 0..255 (its first layer rescales them).
    Tensor x = mul(unit_images.slice(0, start, std::min(unit_images.size(0), start + kGanBatch))
                       .to(DType::f32),
                   scalar_tensor(255.0));
    for (size_t i = 0; i + 1 < sequential->size(); ++i) x = sequential->layers()[i]->forward(x);
    batches.push_back(x.reshape({x.size(0), -1}));
  }
  return concat(batches, 0);
}

Figure distance_figure(const std::string& name, const std::string& text, double value) {
  char line[240];
  std::snprintf(line, sizeof(line), "%s: %.2f", text.c_str(), value);
  return {name, value, line};
}

class Gan : public Task {
 public:
  std::string name() const override { return "gan"; }

  TaskData load(const io::ModelSpec& spec, const train::Model& model,
                const std::string& dir) const override {
    internal::check_image_data(spec, "gan", "needs images");
    const GanParts parts = gan_parts(model);
    const std::string folder = dir.empty() ? data::kFashionMnistDir : dir;
    data::MnistData images = data::load_mnist(folder, true);
    TaskData out;
    out.x_train = train::view_as_input_shape(images.train_images, parts.image,
                                             "the training images in " + folder);
    out.y_train = images.train_labels.to(DType::i64);
    if (parts.classes > 0 && out.y_train.numel() > 0) {
      const auto largest = static_cast<int64_t>(max(out.y_train).item());
      NABLA_CHECK(largest < parts.classes, "the gan task's conditional GAN takes ", parts.classes,
                  " classes (its label input), but the training labels in ", folder, " go up to ",
                  largest);
    }
    const int64_t tests = std::min(kGanJudged, images.test_images.size(0));
    Generator gen(kGanTestNoiseSeed);
    out.x_test = randn({tests, parts.noise}, DType::f32, &gen);
    if (parts.classes > 0) out.x_test_more = {classes_in_turn(parts, tests)};
    out.y_test = full({tests, 1}, 1.0);
    out.source = folder;
    out.dir = folder;
    return out;
  }

  train::History train(train::Model& model, const TaskData& data,
                       const train::FitOptions& fit) const override {
    const GanParts parts = gan_parts(model);
    const int64_t n = data.x_train.size(0);
    NABLA_CHECK(n > 0, "the gan task has no training images");
    const int64_t batch = std::max<int64_t>(1, fit.batch_size);
    const int64_t steps = (n + batch - 1) / batch;
    internal::TaskLoop loop(model, fit, name(), steps);
    const optim::AdamOptions adam{.lr = model.optimizer().lr(), .beta1 = 0.5};
    optim::Adam generator_optimizer(parts.generator->parameters(), adam);
    optim::Adam discriminator_optimizer(parts.discriminator->parameters(), adam);
    Generator noise_gen(fit.seed * 1000003 + 17);
    Generator grid_gen(kGanEpochNoiseSeed);
    // A conditional GAN's grid has one column per class.
    const int64_t grid_columns = parts.classes > 0 ? parts.classes : kGanGridSide;
    const Tensor grid_noise =
        randn({kGanGridSide * grid_columns, parts.noise}, DType::f32, &grid_gen);
    const Tensor grid_labels = classes_in_turn(parts, grid_noise.size(0));
    loop.begin();
    for (int64_t epoch = 0; epoch < fit.epochs && !loop.stop_requested(); ++epoch) {
      loop.epoch_begin(epoch);
      const Tensor order = loop.order(epoch, n);
      double g_sum = 0, d_sum = 0, real_sum = 0, fake_sum = 0;
      int64_t seen = 0;
      train::Logs logs;
      for (int64_t step = 0; step < steps; ++step) {
        model.module().train(true);
        const Tensor index = order.slice(0, step * batch, std::min(n, (step + 1) * batch));
        const Tensor real = generator_range(parts, index_select(data.x_train, 0, index));
        const int64_t b = real.size(0);
        const Tensor noise = randn({b, parts.noise}, DType::f32, &noise_gen);
        // A conditional GAN: the real images' classes, asked of the generator too.
        const Tensor labels = parts.classes > 0
                                  ? one_hot(index_select(data.y_train, 0, index), parts.classes)
                                  : Tensor();
        const Tensor ones = full({b, 1}, 1.0), zeros_b = zeros({b, 1});
        // The discriminator: real images as 1, generated ones as 0.
        Tensor fake;
        {
          const NoGradGuard no_grad;
          fake = generator_images(parts, noise, labels);
        }
        const Tensor real_logits = discriminator_logits(parts, real, labels);
        const Tensor fake_logits = discriminator_logits(parts, fake, labels);
        const Tensor d_loss = add(binary_cross_entropy_with_logits(real_logits, ones),
                                  binary_cross_entropy_with_logits(fake_logits, zeros_b));
        discriminator_optimizer.zero_grad();
        d_loss.backward();
        discriminator_optimizer.step();
        // The generator, non-saturating: -log D(G(z)), generated images as 1.
        const Tensor g_loss = binary_cross_entropy_with_logits(
            discriminator_logits(parts, generator_images(parts, noise, labels), labels), ones);
        generator_optimizer.zero_grad();
        g_loss.backward();
        generator_optimizer.step();
        const auto weight = static_cast<double>(b);
        g_sum += g_loss.item() * weight;
        d_sum += d_loss.item() * weight;
        real_sum += mean(sigmoid(real_logits.detach())).item() * weight;
        fake_sum += mean(sigmoid(fake_logits.detach())).item() * weight;
        seen += b;
        NABLA_CHECK(std::isfinite(g_sum + d_sum), "the gan task's losses became ", g_sum, " and ",
                    d_sum, " at epoch ", epoch + 1, ", step ", step + 1, " (learning rate ",
                    adam.lr, "); try a lower --lr");
        const auto count = static_cast<double>(seen);
        logs.set("loss", g_sum / count);  // the generator's, as evaluate reports it
        logs.set("d_loss", d_sum / count);
        logs.set("d_real", real_sum / count);
        logs.set("d_fake", fake_sum / count);
        loop.batch_end(step, logs);
      }
      loop.epoch_end(epoch, logs);
      if (!run_folder().empty()) {
        char file[64];
        std::snprintf(file, sizeof(file), "samples-epoch-%03lld.png",
                      static_cast<long long>(epoch + 1));
        write_grid((fs::path(run_folder()) / file).string(),
                   generate(parts, grid_noise, grid_labels), grid_columns);
      }
    }
    model.module().train(false);
    return loop.end();
  }

  std::vector<Figure> judge(const io::ModelSpec&, train::Model& model, const TaskData& data,
                            const train::EvaluationReport&) const override {
    const GanParts parts = gan_parts(model);
    std::string note;
    train::Model classifier = judge_classifier(run_folder(), data, &note);
    const data::MnistData images =
        data::load_mnist(data.dir.empty() ? data::kFashionMnistDir : data.dir, true);
    // As many images on each side as the run trained on (--limit), at most kGanJudged.
    const int64_t n =
        std::min({data.x_test.size(0), images.test_images.size(0), data.x_train.size(0)});
    NABLA_CHECK(n >= 2, "the gan task needs at least 2 test images to judge by, got ", n);
    const Tensor test = internal::unit_pixels(
        train::view_as_input_shape(images.test_images, parts.image, "the test images")
            .slice(0, 0, n));
    const Tensor test_features = penultimate_features(classifier, test);
    const Tensor asked = parts.classes > 0 ? data.x_test_more.at(0).slice(0, 0, n) : Tensor();
    const Tensor generated = generate(parts, data.x_test.slice(0, 0, n), asked);
    const Tensor generated_features = penultimate_features(classifier, generated);
    const int64_t real_count = std::min(n, images.train_images.size(0));
    const Tensor train_features = penultimate_features(
        classifier,
        internal::unit_pixels(
            train::view_as_input_shape(images.train_images, parts.image, "the training images")
                .slice(0, 0, real_count)));
    // How well the judge itself classifies the test images.
    const Tensor predicted =
        argmax(classifier.predict(mul(test, scalar_tensor(255.0)), kGanBatch), 1);
    const double accuracy =
        mean(eq(predicted, images.test_labels.slice(0, 0, n).to(DType::i64)).to(DType::f64)).item();
    char text[240];
    std::snprintf(text, sizeof(text), "Judging classifier (%s): test accuracy %.4f", note.c_str(),
                  accuracy);
    const std::string count = std::to_string(n);
    std::vector<Figure> figures;
    if (parts.classes > 0) {
      // The conditional GAN's own figure: are its images of the class they were asked for?
      const Tensor classified =
          argmax(classifier.predict(mul(generated, scalar_tensor(255.0)), kGanBatch), 1);
      const double share = mean(eq(classified, argmax(asked, 1)).to(DType::f64)).item();
      char line[160];
      std::snprintf(line, sizeof(line),
                    "Generated images classified as the class asked for: %.4f (%lld images)", share,
                    static_cast<long long>(n));
      figures.push_back({"class_accuracy", share, line});
    }
    figures.push_back(distance_figure(
        "frechet_distance",
        "Frechet distance, classifier features, " + count + " generated vs test images",
        train::internal::frechet_distance(generated_features, test_features)));
    figures.push_back(distance_figure(
        "frechet_distance_real",
        "Frechet distance, " + std::to_string(real_count) + " real training vs test images",
        train::internal::frechet_distance(train_features, test_features)));
    figures.push_back({"judge_accuracy", accuracy, text});
    return figures;
  }

  void write_outputs(const io::ModelSpec&, train::Model& model, const TaskData& data,
                     const std::string& dir) const override {
    const GanParts parts = gan_parts(model);
    // A conditional GAN's test noise comes with the classes in turn: one column per class.
    const int64_t columns = parts.classes > 0 ? parts.classes : kGanSamplesSide;
    const int64_t shown = std::min(kGanSamplesSide * columns, data.x_test.size(0));
    if (shown == 0) return;
    const Tensor asked = parts.classes > 0 ? data.x_test_more.at(0).slice(0, 0, shown) : Tensor();
    write_grid((fs::path(dir) / "samples.png").string(),
               generate(parts, data.x_test.slice(0, 0, shown), asked), columns);
  }
};

const bool kGanRegistered = register_task("gan", [] { return std::make_unique<Gan>(); });

}  // namespace
}  // namespace nabla::tasks
