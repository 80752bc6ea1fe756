// A PyTorch-style training loop end to end: Sequential of Dense layers, cross-entropy, Adam.
#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.hpp"
#include "nabla/nn.hpp"
#include "nabla/optim.hpp"

using namespace nabla;

namespace {

struct Spirals {
  Tensor x;       // [N, 2] f32
  Tensor labels;  // [N] i64
};

// Three interleaved spiral arms (CS231n's toy problem): not linearly separable, so the hidden
// layer has to learn the boundary. Angles carry a little seeded noise.
Spirals make_spirals(int64_t per_class, uint64_t seed) {
  Generator gen(seed);
  const std::vector<float> noise = randn({3 * per_class}, DType::f32, &gen).to_vector<float>();
  std::vector<float> points(6 * per_class);
  std::vector<int64_t> labels(3 * per_class);
  for (int64_t c = 0; c < 3; ++c) {
    for (int64_t j = 0; j < per_class; ++j) {
      const int64_t i = c * per_class + j;
      const double t = static_cast<double>(j) / static_cast<double>(per_class - 1);
      const double angle = 4.0 * (static_cast<double>(c) + t) + 0.2 * noise[i];
      points[2 * i] = static_cast<float>(t * std::sin(angle));
      points[2 * i + 1] = static_cast<float>(t * std::cos(angle));
      labels[i] = c;
    }
  }
  return {from_vector(points, {3 * per_class, 2}), from_vector(labels)};
}

struct Trainer {
  nn::Sequential model;
  std::unique_ptr<optim::Adam> adam;
  Spirals data;

  explicit Trainer(uint64_t seed) : data(make_spirals(100, seed)) {
    manual_seed(seed);  // the lazy layers draw their initial weights from the default generator
    model.add(std::make_shared<nn::Dense>(32, "relu")).add(std::make_shared<nn::Dense>(3));
    model.build({2});
    adam = std::make_unique<optim::Adam>(model.parameters(), optim::AdamOptions{.lr = 0.02});
  }

  double step() {
    Tensor loss = cross_entropy(model(data.x), data.labels);
    adam->zero_grad();
    loss.backward();
    adam->step();
    return loss.item();
  }

  double accuracy() {
    NoGradGuard no_grad;
    Tensor predicted = argmax(model(data.x), 1);
    const auto p = predicted.to_vector<int64_t>(), y = data.labels.to_vector<int64_t>();
    int64_t correct = 0;
    for (size_t i = 0; i < p.size(); ++i) correct += p[i] == y[i];
    return static_cast<double>(correct) / static_cast<double>(p.size());
  }
};

}  // namespace

TEST(MlpTraining, ReachesHighAccuracyOnSpirals) {
  Trainer trainer(2024);
  const double first_loss = trainer.step();
  double loss = first_loss;
  for (int i = 1; i < 250; ++i) loss = trainer.step();
  EXPECT_LT(loss, 0.2 * first_loss);
  EXPECT_GE(trainer.accuracy(), 0.95);
}

TEST(MlpTraining, SameSeedIsBitForBitRepeatable) {
  Trainer a(7), b(7);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(a.step(), b.step()) << "step " << i;
  const auto pa = a.model.parameters(), pb = b.model.parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i)
    EXPECT_EQ(pa[i].to_vector<float>(), pb[i].to_vector<float>()) << "parameter " << i;
  Trainer c(8);
  EXPECT_NE(c.step(), Trainer(7).step());
}

TEST(MlpTraining, WarmedUpStepAllocatesNothingFromTheSystem) {
  Trainer trainer(3);
  for (int i = 0; i < 3; ++i) trainer.step();
  const uint64_t before = allocator_stats().system_allocations;
  for (int i = 0; i < 5; ++i) trainer.step();
  EXPECT_EQ(allocator_stats().system_allocations, before);
}
