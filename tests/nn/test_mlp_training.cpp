// A PyTorch-style training loop end to end: Sequential of Dense layers, cross-entropy, Adam.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "nabla/nabla.hpp"
#include "nabla/nn.hpp"
#include "nabla/optim.hpp"

using namespace nabla;

namespace {

struct Blobs {
  Tensor x;       // [N, 2] f32
  Tensor labels;  // [N] i64
};

// Three Gaussian blobs (std 1) centred on a circle of radius 3: separable up to ~1% overlap.
Blobs make_blobs(int64_t per_class, uint64_t seed) {
  Generator gen(seed);
  Tensor noise = randn({3 * per_class, 2}, DType::f32, &gen);
  std::vector<float> points = noise.to_vector<float>();
  std::vector<int64_t> labels(3 * per_class);
  for (int64_t i = 0; i < 3 * per_class; ++i) {
    const int64_t c = i % 3;
    const double angle = 2 * std::numbers::pi * static_cast<double>(c) / 3;
    points[2 * i] += static_cast<float>(3 * std::cos(angle));
    points[2 * i + 1] += static_cast<float>(3 * std::sin(angle));
    labels[i] = c;
  }
  return {from_vector(points, {3 * per_class, 2}), from_vector(labels)};
}

struct Trainer {
  nn::Sequential model;
  std::unique_ptr<optim::Adam> adam;
  Blobs data;

  explicit Trainer(uint64_t seed) : data(make_blobs(100, seed)) {
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

TEST(MlpTraining, ReachesHighAccuracyOnBlobs) {
  Trainer trainer(2024);
  const double first_loss = trainer.step();
  double loss = first_loss;
  for (int i = 1; i < 300; ++i) loss = trainer.step();
  EXPECT_LT(loss, 0.5 * first_loss);
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
