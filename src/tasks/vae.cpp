// Task "vae": variational autoencoders on IDX images in the MNIST layout, Fashion-MNIST by default.
// The model is a Sequential: an encoder giving the mean and log-variance of q(z|x) (2D values),
// a Sampling layer (the reparameterization trick), and a decoder ending in a sigmoid Activation:
// a Bernoulli decoder, whose pixel probabilities meet the pixels in [0, 1] through binary
// cross-entropy (computed from the logits, before the sigmoid). The task trains with a loop of
// its own, minimizing the negative evidence lower bound per image,
//   -ELBO(x) = sum over pixels of BCE(x, decoder(z)) + KL(q(z|x) || N(0, I)),  z ~ q(z|x),
// which Model::fit cannot (its loss sees outputs and targets, not the KL term).
//
// Judged by the test negative ELBO per image in nats (one draw of z per image, seeded), against
// the negative log-likelihood of the simplest model of the same kind: independent Bernoulli
// pixels whose probabilities are the training images' pixel means (with add-one smoothing, so
// that no probability is 0 or 1). It is what a VAE whose decoder ignored its code could reach at
// best. With --out, writes samples.png (decoded draws z ~ N(0, I)), traversal.png (the two
// latent dimensions the encoder uses most, swept over normal quantiles, the others at 0) and
// reconstructions.png (test images and their reconstructions).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "nabla/data.hpp"
#include "nabla/ops.hpp"
#include "nabla/tasks.hpp"
#include "tasks/task_loop.hpp"

namespace nabla::tasks {
namespace {

constexpr uint64_t kVaeJudgeSeed = 0;      // the draws of z the test ELBO is computed with
constexpr uint64_t kVaePictureSeed = 1;    // the prior samples of samples.png
constexpr int64_t kVaeBatch = 500;         // images per forward pass when judging
constexpr int64_t kVaeGridSide = 10;       // samples.png and traversal.png are 10 x 10
constexpr int64_t kVaeReconstructed = 10;  // test images in reconstructions.png
constexpr int64_t kVaeImageSide = 28;

// The parts of a VAE model: the layers before the Sampling layer (the encoder), the Sampling
// layer, and the layers after it but the final sigmoid (the decoder, giving logits).
struct VaeParts {
  std::vector<nn::ModulePtr> encoder, decoder;
  nn::Sampling* sampling = nullptr;
};

VaeParts vae_parts(const train::Model& model) {
  const auto* sequential = dynamic_cast<const nn::Sequential*>(&model.module());
  NABLA_CHECK(sequential != nullptr, "the vae task needs a Sequential model (encoder, Sampling, ",
              "decoder), got a ", model.module().type_name(), " model");
  VaeParts parts;
  const auto& layers = sequential->layers();
  for (const nn::ModulePtr& layer : layers) {
    if (auto* sampling = dynamic_cast<nn::Sampling*>(layer.get())) {
      NABLA_CHECK(parts.sampling == nullptr, "the vae task needs one Sampling layer between the ",
                  "encoder and the decoder, got more than one");
      parts.sampling = sampling;
    } else {
      (parts.sampling == nullptr ? parts.encoder : parts.decoder).push_back(layer);
    }
  }
  NABLA_CHECK(parts.sampling != nullptr, "the vae task needs a Sampling layer between the encoder ",
              "(mean and log-variance, 2D values) and the decoder; the model has none");
  const auto* last = parts.decoder.empty()
                         ? nullptr
                         : dynamic_cast<const nn::Activation*>(parts.decoder.back().get());
  NABLA_CHECK(last != nullptr && last->name() == "sigmoid", "the vae task needs a decoder that ",
              "ends with a sigmoid Activation layer (a Bernoulli decoder's pixel probabilities)");
  parts.decoder.pop_back();
  return parts;
}

Tensor run_layers(const std::vector<nn::ModulePtr>& layers, Tensor x) {
  for (const nn::ModulePtr& layer : layers) x = layer->forward(x);
  return x;
}

// A batch of the task's inputs as the encoder takes it.
Tensor vae_inputs(const train::Model& model, const Tensor& x) {
  return is_floating(x.dtype()) || model.takes_raw_inputs() ? x : x.to(DType::f32);
}

struct VaeTerms {
  Tensor reconstruction;  // [N]: BCE summed over the pixels of each image
  Tensor kl;              // [N]
};

VaeTerms vae_terms(const VaeParts& parts, const train::Model& model, const Tensor& x,
                   const Tensor& target) {
  const Tensor stats = run_layers(parts.encoder, vae_inputs(model, x));
  const Tensor z = parts.sampling->forward(stats);
  const Tensor logits = run_layers(parts.decoder, z);
  const Tensor pixels = target.reshape(logits.shape());
  const Tensor bce = binary_cross_entropy_with_logits(logits, pixels, Tensor(), "none");
  return {sum(bce.reshape({bce.size(0), -1}), {1}), parts.sampling->kl()};
}

double sum_of(const Tensor& t) { return sum(t.to(DType::f64)).item<double>(); }

Figure nats_figure(const std::string& name, const std::string& text, double value) {
  char line[200];
  std::snprintf(line, sizeof(line), "%s: %.2f nats", text.c_str(), value);
  return {name, value, line};
}

// The decoder's pixel probabilities for codes z [n, D], in evaluation mode.
Tensor decode(const VaeParts& parts, const Tensor& z) {
  return sigmoid(run_layers(parts.decoder, z));
}

class VariationalAutoencoder : public Task {
 public:
  std::string name() const override { return "vae"; }

  TaskData load(const io::ModelSpec& spec, const train::Model& model,
                const std::string& dir) const override {
    internal::check_image_data(spec, "vae", "needs images");
    NABLA_CHECK(model.built(), "the vae task shapes its targets as the model's output: give the ",
                "spec an \"input_shape\", e.g. [28, 28]");
    vae_parts(model);  // the model's structure, checked before the data is read
    const std::string folder = dir.empty() ? data::kFashionMnistDir : dir;
    const data::MnistData images = data::load_mnist(folder, model.takes_raw_inputs());
    return internal::image_reconstruction_data(images, model, folder, "vae");
  }

  train::History train(train::Model& model, const TaskData& data,
                       const train::FitOptions& fit) const override {
    const VaeParts parts = vae_parts(model);
    const int64_t n = data.x_train.size(0);
    NABLA_CHECK(n > 0, "the vae task has no training images");
    const int64_t batch = std::max<int64_t>(1, fit.batch_size);
    const int64_t steps = (n + batch - 1) / batch;
    internal::TaskLoop loop(model, fit, name(), steps);
    optim::Optimizer& optimizer = model.optimizer();
    loop.begin();
    for (int64_t epoch = 0; epoch < fit.epochs && !loop.stop_requested(); ++epoch) {
      loop.epoch_begin(epoch);
      model.module().train(true);
      const Tensor order = loop.order(epoch, n);
      double rec_sum = 0, kl_sum = 0;
      int64_t seen = 0;
      train::Logs logs;
      for (int64_t step = 0; step < steps; ++step) {
        const Tensor index = order.slice(0, step * batch, std::min(n, (step + 1) * batch));
        const Tensor x = index_select(data.x_train, 0, index);
        const Tensor y = index_select(data.y_train, 0, index);
        const VaeTerms terms = vae_terms(parts, model, x, y);
        const Tensor loss = add(mean(terms.reconstruction), mean(terms.kl));
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        rec_sum += sum_of(terms.reconstruction.detach());
        kl_sum += sum_of(terms.kl.detach());
        seen += x.size(0);
        NABLA_CHECK(std::isfinite(rec_sum + kl_sum), "the vae task's loss became ",
                    rec_sum + kl_sum, " at epoch ", epoch + 1, ", step ", step + 1,
                    " (learning rate ", optimizer.lr(), "); try a lower --lr");
        logs.set("loss", (rec_sum + kl_sum) / static_cast<double>(seen));
        logs.set("reconstruction", rec_sum / static_cast<double>(seen));
        logs.set("kl", kl_sum / static_cast<double>(seen));
        loop.batch_end(step, logs);
      }
      loop.epoch_end(epoch, logs);
    }
    model.module().train(false);
    return loop.end();
  }

  std::vector<Figure> judge(const io::ModelSpec&, train::Model& model, const TaskData& data,
                            const train::EvaluationReport&) const override {
    const VaeParts parts = vae_parts(model);
    const NoGradGuard no_grad;
    model.module().train(false);
    Generator gen(kVaeJudgeSeed);
    parts.sampling->set_generator(&gen);
    double rec_sum = 0, kl_sum = 0;
    const int64_t n = data.x_test.size(0);
    try {
      for (int64_t start = 0; start < n; start += kVaeBatch) {
        const int64_t end = std::min(n, start + kVaeBatch);
        const VaeTerms terms = vae_terms(parts, model, data.x_test.slice(0, start, end),
                                         data.y_test.slice(0, start, end));
        rec_sum += sum_of(terms.reconstruction);
        kl_sum += sum_of(terms.kl);
      }
    } catch (...) {
      parts.sampling->set_generator(nullptr);
      throw;
    }
    parts.sampling->set_generator(nullptr);
    const double count = std::max<double>(1, static_cast<double>(n));
    const double baseline = pixel_bernoulli_nll(data);
    char text[200];
    std::snprintf(text, sizeof(text),
                  "Test negative ELBO per image: %.2f nats (reconstruction "
                  "%.2f + KL %.2f)",
                  (rec_sum + kl_sum) / count, rec_sum / count, kl_sum / count);
    return {
        {"test_negative_elbo", (rec_sum + kl_sum) / count, text},
        nats_figure("test_reconstruction_nats", "Test reconstruction term per image",
                    rec_sum / count),
        nats_figure("test_kl_nats", "Test KL term per image", kl_sum / count),
        nats_figure("pixel_bernoulli_nll",
                    "Independent per-pixel Bernoulli (training pixel means), per image", baseline)};
  }

  void write_outputs(const io::ModelSpec&, train::Model& model, const TaskData& data,
                     const std::string& dir) const override {
    const VaeParts parts = vae_parts(model);
    const NoGradGuard no_grad;
    model.module().train(false);
    const int64_t latent = latent_size(parts, model, data);
    const auto path = [&](const char* file) {
      return (std::filesystem::path(dir) / file).string();
    };
    const auto write_grid = [&](const char* file, const Tensor& probabilities, int64_t columns) {
      data::write_png(path(file), data::image_grid(internal::pictures_of(
                                                       probabilities, kVaeImageSide, kVaeImageSide),
                                                   columns));
    };
    // Draws from the prior.
    Generator gen(kVaePictureSeed);
    write_grid("samples.png",
               decode(parts, randn({kVaeGridSide * kVaeGridSide, latent}, DType::f32, &gen)),
               kVaeGridSide);
    // The two dimensions the encoder uses most (largest mean KL on the test images) swept over the
    // quantiles (i + 0.5) / 10 of N(0, 1), the others at 0.
    const auto [row_dim, column_dim] = busiest_dimensions(parts, model, data, latent);
    Tensor codes = zeros({kVaeGridSide * kVaeGridSide, latent});
    float* c = codes.data<float>();
    for (int64_t i = 0; i < kVaeGridSide; ++i) {
      for (int64_t j = 0; j < kVaeGridSide; ++j) {
        const double side = static_cast<double>(kVaeGridSide);
        float* code = c + (i * kVaeGridSide + j) * latent;
        code[row_dim] = static_cast<float>(internal::normal_quantile((i + 0.5) / side));
        code[column_dim] = static_cast<float>(internal::normal_quantile((j + 0.5) / side));
      }
    }
    write_grid("traversal.png", decode(parts, codes), kVaeGridSide);
    // Test images over their reconstructions (one draw of z each).
    const int64_t shown = std::min(kVaeReconstructed, data.x_test.size(0));
    if (shown == 0) return;
    Generator recon_gen(kVaeJudgeSeed);
    parts.sampling->set_generator(&recon_gen);
    const Tensor z = parts.sampling->forward(
        run_layers(parts.encoder, vae_inputs(model, data.x_test.slice(0, 0, shown))));
    parts.sampling->set_generator(nullptr);
    write_grid("reconstructions.png",
               concat({data.y_test.slice(0, 0, shown).reshape({shown, -1}),
                       decode(parts, z).reshape({shown, -1})},
                      0),
               shown);
  }

 private:
  // -log p(x) per test image under independent Bernoulli pixels with the training pixel means.
  static double pixel_bernoulli_nll(const TaskData& data) {
    const Tensor train = data.y_train.reshape({data.y_train.size(0), -1});
    const int64_t n = train.size(0), d = train.size(1);
    std::vector<double> p(static_cast<size_t>(d), 0.0);
    const Tensor train_f = train.contiguous();
    const float* x = train_f.data<float>();
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) p[j] += x[i * d + j];
    for (double& value : p) value = (value + 1) / (static_cast<double>(n) + 2);
    const Tensor test = data.y_test.reshape({data.y_test.size(0), -1}).contiguous();
    const float* t = test.data<float>();
    double total = 0;
    for (int64_t i = 0; i < test.size(0); ++i) {
      for (int64_t j = 0; j < d; ++j) {
        const double v = t[i * d + j];
        total -= v * std::log(p[j]) + (1 - v) * std::log1p(-p[j]);
      }
    }
    return total / std::max<double>(1, static_cast<double>(test.size(0)));
  }

  // The encoder's statistics [N, 2D] for the first kVaeBatch test images.
  static Tensor test_statistics(const VaeParts& parts, const train::Model& model,
                                const TaskData& data) {
    const int64_t n = std::min(kVaeBatch, data.x_test.size(0));
    NABLA_CHECK(n > 0, "the vae task has no test images to draw pictures from");
    return run_layers(parts.encoder, vae_inputs(model, data.x_test.slice(0, 0, n)));
  }

  static int64_t latent_size(const VaeParts& parts, const train::Model& model,
                             const TaskData& data) {
    const Tensor stats = test_statistics(parts, model, data);
    NABLA_CHECK(stats.dim() == 2 && stats.size(1) % 2 == 0, "the vae task needs an encoder ",
                "giving [N, 2D] (mean and log-variance), got shape ", stats.shape());
    return stats.size(1) / 2;
  }

  static std::pair<int64_t, int64_t> busiest_dimensions(const VaeParts& parts,
                                                        const train::Model& model,
                                                        const TaskData& data, int64_t latent) {
    if (latent < 2) return {0, 0};
    const Tensor stats = test_statistics(parts, model, data);
    const Tensor kl =
        mean(gaussian_kl_divergence(slice(stats, 1, 0, latent).unsqueeze(-1),
                                    slice(stats, 1, latent, 2 * latent).unsqueeze(-1)),
             {0})
            .contiguous();
    std::vector<int64_t> dims(static_cast<size_t>(latent));
    std::iota(dims.begin(), dims.end(), 0);
    const float* k = kl.data<float>();
    std::stable_sort(dims.begin(), dims.end(), [k](int64_t a, int64_t b) { return k[a] > k[b]; });
    return {dims[0], dims[1]};
  }
};

const bool kVaeRegistered =
    register_task("vae", [] { return std::make_unique<VariationalAutoencoder>(); });

}  // namespace
}  // namespace nabla::tasks
