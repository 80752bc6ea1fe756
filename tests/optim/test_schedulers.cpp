#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "nabla/optim.hpp"
#include "support/reference.hpp"

using namespace nabla;
using namespace nabla::optim;
using nabla::testing::load_reference;

namespace {

// The learning rate at construction and after each of the reference's scheduler steps.
template <class Step>
std::vector<double> run(Optimizer& opt, size_t epochs, Step step) {
  std::vector<double> lrs{opt.lr()};
  for (size_t e = 0; e < epochs; ++e) {
    step(e);
    lrs.push_back(opt.lr());
  }
  return lrs;
}

void expect_lrs(const std::vector<double>& actual, const nlohmann::json& c) {
  const auto expected = c.at("lrs").get<std::vector<double>>();
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], 1e-12 + 1e-12 * std::abs(expected[i])) << "epoch " << i;
}

}  // namespace

TEST(Schedulers, MatchPyTorch) {
  const auto ref = load_reference("nn_optim").at("scheduler");
  auto check = [&](const char* name, auto make) {
    SCOPED_TRACE(name);
    SGD opt(SGDOptions{.lr = 0.1});
    auto sched = make(opt);
    const size_t epochs = ref.at(name).at("lrs").size() - 1;
    expect_lrs(run(opt, epochs, [&](size_t) { sched.step(); }), ref.at(name));
    EXPECT_EQ(sched.last_epoch(), static_cast<int64_t>(epochs));
    EXPECT_EQ(sched.base_lr(), 0.1);
  };
  check("step_lr", [](Optimizer& o) { return StepLR(o, 3, 0.5); });
  check("multistep_lr", [](Optimizer& o) { return MultiStepLR(o, {5, 2, 9, 5}, 0.3); });
  check("exponential_lr", [](Optimizer& o) { return ExponentialLR(o, 0.9); });
  check("cosine_lr", [](Optimizer& o) { return CosineAnnealingLR(o, 5, 0.01); });
  check("linear_warmup", [](Optimizer& o) { return LinearWarmup(o, 4, 0.25); });
}

TEST(Schedulers, ReduceLROnPlateauMatchesPyTorch) {
  const auto ref = load_reference("nn_optim").at("scheduler");
  auto check = [&](const char* name, ReduceLROnPlateauOptions options) {
    SCOPED_TRACE(name);
    SGD opt(SGDOptions{.lr = 0.1});
    ReduceLROnPlateau sched(opt, options);
    const auto metrics = ref.at(name).at("metrics").get<std::vector<double>>();
    expect_lrs(run(opt, metrics.size(), [&](size_t e) { sched.step(metrics[e]); }), ref.at(name));
  };
  check("plateau_min", {.mode = "min",
                        .factor = 0.5,
                        .patience = 1,
                        .threshold = 0.01,
                        .cooldown = 1,
                        .min_lr = 0.02});
  check("plateau_max", {.mode = "max", .factor = 0.2, .patience = 2});
}

TEST(Schedulers, MinLrIsAFloor) {
  SGD opt(SGDOptions{.lr = 1.0});
  ReduceLROnPlateau sched(opt, {.factor = 0.1, .patience = 0, .min_lr = 0.05});
  for (int e = 0; e < 5; ++e) sched.step(1.0);  // never improves after the first epoch
  EXPECT_DOUBLE_EQ(opt.lr(), 0.05);
}

TEST(Schedulers, InvalidArgumentsAreErrors) {
  SGD opt(SGDOptions{.lr = 0.1});
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message([&] { StepLR(opt, 0); }), "StepLR: step_size must be >= 1, got 0");
  EXPECT_EQ(message([&] { CosineAnnealingLR(opt, 0); }),
            "CosineAnnealingLR: t_max must be >= 1, got 0");
  EXPECT_EQ(message([&] { LinearWarmup(opt, 3, 0); }),
            "LinearWarmup: start_factor must be in (0, 1], got 0");
  EXPECT_EQ(message([&] { ReduceLROnPlateau(opt, {.mode = "avg"}); }),
            "ReduceLROnPlateau: mode must be \"min\" or \"max\", got \"avg\"");
  EXPECT_EQ(message([&] { ReduceLROnPlateau(opt, {.factor = 1.5}); }),
            "ReduceLROnPlateau: factor must be in [0, 1), got 1.5");
}
