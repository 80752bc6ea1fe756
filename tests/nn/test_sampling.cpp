// The Sampling (reparameterization) layer: shapes, its KL term, seeded draws, both input forms,
// the JSON spec (read and written back), a VAE-shaped Sequential that trains, and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.hpp"
#include "support/errors.hpp"
#include "support/reference.hpp"

using namespace nabla;
using nabla::testing::error_message;

TEST(Sampling, SplitsMeanAndLogVarAndKeepsTheKlTerm) {
  Generator data(1);
  const Tensor stats = randn({5, 8}, DType::f32, &data);
  nn::Sampling sampling;
  Generator gen(4), same(4);
  sampling.set_generator(&gen);
  const Tensor z = sampling.forward(stats);
  ASSERT_EQ(z.shape(), Shape({5, 4}));
  const Tensor mean = slice(stats, 1, 0, 4), log_var = slice(stats, 1, 4, 8);
  EXPECT_TRUE(nabla::testing::all_close(z, reparameterize(mean, log_var, &same)));
  ASSERT_EQ(sampling.kl().shape(), Shape({5}));
  EXPECT_TRUE(nabla::testing::all_close(sampling.kl(), gaussian_kl_divergence(mean, log_var)));
  // Two inputs (Keras's Sampling()([z_mean, z_log_var])) give the same draw from the same seed.
  Generator again(4);
  sampling.set_generator(&again);
  EXPECT_TRUE(nabla::testing::all_close(sampling.forward_multi({mean, log_var}), z));
  // In evaluation mode it still draws (the ELBO is an expectation over q(z|x)).
  sampling.train(false);
  sampling.set_generator(nullptr);
  manual_seed(9);
  const Tensor first = sampling.forward(stats);
  manual_seed(9);
  EXPECT_TRUE(nabla::testing::all_close(sampling.forward(stats), first));
  EXPECT_FALSE(nabla::testing::all_close(sampling.forward(stats), first));
}

TEST(Sampling, GradientsReachMeanAndLogVarThroughDrawAndKl) {
  Tensor stats = randn({3, 4}).requires_grad_(true);
  nn::Sampling sampling;
  const Tensor z = sampling.forward(stats);
  add(sum(z), sum(sampling.kl())).backward();
  ASSERT_TRUE(stats.grad().defined());
  // d/d mean of (z + KL) = 1 + mean; a mean column's gradient is exactly that.
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 2; ++j) {
      EXPECT_NEAR(stats.grad().data<float>()[i * 4 + j], 1 + stats.data<float>()[i * 4 + j], 1e-5);
    }
  }
}

TEST(Sampling, ReadAndWrittenByTheSpecFormat) {
  const std::string json = R"({"name": "tiny_vae", "input_shape": [6], "layers": [
      {"type": "Dense", "units": 4}, {"type": "Sampling"}, {"type": "Dense", "units": 6},
      {"type": "Activation", "activation": "sigmoid"}]})";
  const nn::ModulePtr model = io::model_from_spec(json, "tiny_vae.json");
  const auto& layers = dynamic_cast<const nn::Sequential&>(*model).layers();
  ASSERT_EQ(layers.size(), 4U);
  EXPECT_NE(dynamic_cast<const nn::Sampling*>(layers[1].get()), nullptr);
  const std::string written = io::model_to_spec(*model, "tiny_vae", {6});
  EXPECT_NE(written.find("\"type\": \"Sampling\""), std::string::npos) << written;
  EXPECT_EQ(model->forward(zeros({2, 6})).shape(), Shape({2, 6}));
  const std::string message = error_message([] {
    io::model_from_spec(R"({"input_shape": [4], "layers": [{"type": "Sampling", "latent": 2}]})",
                        "x.json");
  });
  EXPECT_NE(message.find("layers[0].latent: unknown key"), std::string::npos) << message;
}

TEST(Sampling, AVaeShapedModelLowersItsLoss) {
  // Encoder, Sampling, decoder on 64 binary patterns of 2 kinds: the negative ELBO falls.
  manual_seed(0);
  train::Model model({layers::Dense(16, "relu"), layers::Dense(4), std::make_shared<nn::Sampling>(),
                      layers::Dense(16, "relu"), layers::Dense(12)});
  model.build({12});
  model.compile(optim::make_optimizer("adam", 0.01), "mse");
  const auto& all = dynamic_cast<const nn::Sequential&>(model.module()).layers();
  auto* sampling = dynamic_cast<nn::Sampling*>(all[2].get());
  Tensor x = zeros({64, 12});
  for (int64_t i = 0; i < 64; ++i)
    for (int64_t j = 0; j < 12; ++j) x.data<float>()[i * 12 + j] = (i % 2 == 0) == (j < 6) ? 1 : 0;
  auto negative_elbo = [&] {
    const Tensor logits = model.module().forward(x);
    return add(sum(binary_cross_entropy_with_logits(logits, x, Tensor(), "sum")),
               sum(sampling->kl()));
  };
  const double before = negative_elbo().item<float>() / 64;
  for (int step = 0; step < 100; ++step) {
    model.optimizer().zero_grad();
    negative_elbo().backward();
    model.optimizer().step();
  }
  const double after = negative_elbo().item<float>() / 64;
  EXPECT_LT(after, 0.5 * before) << before << " -> " << after;
}

TEST(Sampling, ErrorsNameTheShape) {
  nn::Sampling sampling;
  EXPECT_EQ(error_message([&] {
              sampling.forward(zeros({2, 5}));
            }),
            "Sampling: expected an input whose last axis holds the mean and the log-variance (an "
            "even size 2D), got shape [2, 5]");
  EXPECT_EQ(error_message([&] {
              sampling.forward_multi({zeros({2, 3}), zeros({2, 4})});
            }),
            "Sampling: expected mean and log_var of one shape, got [2, 3] and [2, 4]");
}
