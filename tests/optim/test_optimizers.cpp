#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "nabla/optim.hpp"
#include "support/reference.hpp"

using namespace nabla;
using namespace nabla::optim;
using nabla::testing::load_reference;
using nabla::testing::tensor_from_json;

namespace {

std::unique_ptr<Optimizer> optimizer_for_case(const nlohmann::json& c, std::vector<Tensor> params) {
  const std::string kind = c.at("optimizer");
  const auto& o = c.at("options");
  auto num = [&](const char* key, double fallback) {
    return o.contains(key) ? o[key].get<double>() : fallback;
  };
  auto flag = [&](const char* key) { return o.contains(key) && o[key].get<bool>(); };
  if (kind == "sgd")
    return std::make_unique<SGD>(params, SGDOptions{.lr = num("lr", 0.01),
                                                    .momentum = num("momentum", 0),
                                                    .dampening = num("dampening", 0),
                                                    .weight_decay = num("weight_decay", 0),
                                                    .nesterov = flag("nesterov")});
  if (kind == "adam" || kind == "adamw") {
    AdamOptions a{.lr = num("lr", 1e-3),
                  .beta1 = num("beta1", 0.9),
                  .beta2 = num("beta2", 0.999),
                  .eps = num("eps", 1e-8),
                  .weight_decay = num("weight_decay", kind == "adamw" ? 1e-2 : 0),
                  .amsgrad = flag("amsgrad")};
    if (kind == "adam") return std::make_unique<Adam>(params, a);
    return std::make_unique<AdamW>(params, a);
  }
  if (kind == "rmsprop")
    return std::make_unique<RMSprop>(params, RMSpropOptions{.lr = num("lr", 1e-2),
                                                            .alpha = num("alpha", 0.99),
                                                            .eps = num("eps", 1e-8),
                                                            .weight_decay = num("weight_decay", 0),
                                                            .momentum = num("momentum", 0),
                                                            .centered = flag("centered")});
  if (kind == "adagrad")
    return std::make_unique<Adagrad>(
        params, AdagradOptions{.lr = num("lr", 1e-2),
                               .lr_decay = num("lr_decay", 0),
                               .weight_decay = num("weight_decay", 0),
                               .initial_accumulator_value = num("initial_accumulator_value", 0),
                               .eps = num("eps", 1e-10)});
  throw Error("unknown optimizer kind in reference data: " + kind);
}

void expect_error(const std::function<void()>& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "expected Error: " << message;
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

}  // namespace

// Replays PyTorch's gradients and compares the parameter after every step.
TEST(Optimizers, MatchPyTorchStepByStep) {
  const auto ref = load_reference("nn_optim").at("optim");
  ASSERT_GE(ref.size(), 12u);
  for (const auto& [name, c] : ref.items()) {
    SCOPED_TRACE(name);
    Tensor param = tensor_from_json(c.at("param")).requires_grad_();
    const Tensor grads = tensor_from_json(c.at("grads"));
    const Tensor after = tensor_from_json(c.at("after"));
    auto opt = optimizer_for_case(c, {param});
    const bool f32 = param.dtype() == DType::f32;
    for (int64_t k = 0; k < grads.size(0); ++k) {
      SCOPED_TRACE("step " + std::to_string(k + 1));
      param.set_grad(grads.select(0, k).clone());
      opt->step();
      if (f32) {
        EXPECT_ALL_CLOSE(param, after.select(0, k), 1e-5, 1e-6);
      } else {
        EXPECT_ALL_CLOSE(param, after.select(0, k), 1e-10, 1e-12);
      }
    }
  }
}

TEST(Optimizers, ParametersWithoutGradAreSkippedAndKeepTheirOwnStepCount) {
  // b gets its first gradient at the optimizer's third step: its update must be Adam's first
  // step (bias corrections for t = 1), as with PyTorch's per-parameter state["step"].
  Tensor a = ones({4}, DType::f64).requires_grad_();
  Tensor b = ones({4}, DType::f64).requires_grad_();
  Adam adam({a, b}, AdamOptions{.lr = 0.1});
  for (int i = 0; i < 2; ++i) {
    a.set_grad(full({4}, 0.5, DType::f64));
    adam.step();
  }
  EXPECT_EQ(b.to_vector<double>(), std::vector<double>(4, 1.0));
  b.set_grad(full({4}, 2.0, DType::f64));
  adam.step();
  // First Adam step moves by lr * g / (|g| + eps') ~ lr.
  for (double v : b.to_vector<double>()) EXPECT_NEAR(v, 0.9, 1e-8);
  const auto state = adam.state_dict();
  EXPECT_EQ(state.at("0.step").item(), 3.0);
  EXPECT_EQ(state.at("1.step").item(), 1.0);
  EXPECT_EQ(state.at("step").item(), 3.0);
}

TEST(Optimizers, Float32AndFloat64AgreeAndNonContiguousGradsWork) {
  Tensor p64 = from_vector(std::vector<double>{1, -2, 3, -4, 5, -6}, {2, 3}).requires_grad_();
  Tensor p32 = p64.detach().to(DType::f32).requires_grad_();
  RMSprop o64({p64}, RMSpropOptions{.lr = 0.05, .momentum = 0.3, .centered = true});
  RMSprop o32({p32}, RMSpropOptions{.lr = 0.05, .momentum = 0.3, .centered = true});
  for (int step = 0; step < 4; ++step) {
    // A transposed (non-contiguous) gradient, and one of the other dtype.
    Tensor base =
        from_vector(std::vector<double>{0.3, -1, 2, 0.1, -0.7, 1.5}, {3, 2}) * (step + 1.0);
    Tensor g = base.t();  // [2, 3], not contiguous
    ASSERT_FALSE(g.is_contiguous());
    p64.set_grad(g);
    p32.set_grad(g);
    o64.step();
    o32.step();
  }
  EXPECT_ALL_CLOSE(p32, p64, 1e-5, 1e-6);
  EXPECT_EQ(p32.dtype(), DType::f32);
}

// Above kParallelThreshold the update is split over threads; every element must still get the
// same update as in a small (single-threaded) run.
TEST(Optimizers, LargeParametersMatchSmallOnes) {
  const int64_t tiles = 20000;
  Tensor small = from_vector(std::vector<float>{0.5f, -1.5f, 2.f, 0.25f}).requires_grad_();
  Tensor small_grad = from_vector(std::vector<float>{0.1f, -0.2f, 0.3f, 1.f});
  Tensor large = small.detach().unsqueeze(0).expand({tiles, 4}).contiguous().requires_grad_();
  Tensor large_grad = small_grad.unsqueeze(0).expand({tiles, 4}).contiguous();
  ASSERT_GT(large.numel(), 1 << 15);
  for (const char* name : {"sgd", "adam", "adamw", "rmsprop", "adagrad"}) {
    SCOPED_TRACE(name);
    Tensor s = small.detach().clone().requires_grad_();
    Tensor l = large.detach().clone().requires_grad_();
    auto os = make_optimizer(name, 0.1);
    auto ol = make_optimizer(name, 0.1);
    os->set_parameters({s});
    ol->set_parameters({l});
    for (int step = 0; step < 3; ++step) {
      s.set_grad(small_grad);
      l.set_grad(large_grad);
      os->step();
      ol->step();
    }
    const std::vector<float> vs = s.to_vector<float>(), vl = l.to_vector<float>();
    for (int64_t i = 0; i < l.numel(); ++i) ASSERT_EQ(vl[i], vs[i % 4]) << "element " << i;
  }
}

TEST(Optimizers, StateDictRoundTripResumesExactly) {
  Tensor w = from_vector(std::vector<double>{0.1, 0.2, -0.3, 0.4}, {2, 2}).requires_grad_();
  Adam first({w}, AdamOptions{.lr = 0.01, .amsgrad = true});
  auto grad_at = [](int step) {
    return from_vector(std::vector<double>{1.0 * step, -0.5, 0.25 * step, 2.0 / step}, {2, 2});
  };
  for (int s = 1; s <= 2; ++s) {
    w.set_grad(grad_at(s));
    first.step();
  }
  const auto state = first.state_dict();
  for (const char* key : {"0.exp_avg", "0.exp_avg_sq", "0.max_exp_avg_sq", "0.step", "step", "lr"})
    EXPECT_EQ(state.count(key), 1u) << key;

  Tensor w2 = w.detach().clone().requires_grad_();
  Adam second({w2}, AdamOptions{.lr = 0.5, .amsgrad = true});
  second.load_state_dict(state);
  EXPECT_EQ(second.lr(), 0.01);
  for (int s = 3; s <= 5; ++s) {
    w.set_grad(grad_at(s));
    w2.set_grad(grad_at(s));
    first.step();
    second.step();
  }
  EXPECT_EQ(w.to_vector<double>(), w2.to_vector<double>());
  // The saved state is a snapshot: later steps do not change it.
  EXPECT_EQ(state.at("0.step").item(), 2.0);
}

TEST(Optimizers, LoadStateDictErrorsNameTheKey) {
  Tensor w = zeros({2, 3}).requires_grad_();
  SGD sgd({w}, SGDOptions{.lr = 0.1, .momentum = 0.9});
  expect_error(
      [&] {
        sgd.load_state_dict({{"0.momentum_buffer", zeros({3, 2})}});
      },
      "SGD::load_state_dict: '0.momentum_buffer' has shape [3, 2], expected [2, 3] (the "
      "shape of parameter 0)");
  expect_error(
      [&] {
        sgd.load_state_dict({{"4.momentum_buffer", zeros({2, 3})}});
      },
      "SGD::load_state_dict: '4.momentum_buffer' is state for parameter 4, but the "
      "optimizer has 1 parameters");
  expect_error(
      [&] {
        sgd.load_state_dict({{"momentum", zeros({2, 3})}});
      },
      "SGD::load_state_dict: unexpected key 'momentum' (expected 'step', 'lr' or "
      "'<parameter index>.<slot>')");
}

TEST(Optimizers, InvalidOptionsNameTheValue) {
  expect_error([] { SGD(SGDOptions{.lr = -0.1}); },
               "SGD: invalid learning rate -0.1 (expected lr >= 0)");
  expect_error([] { SGD(SGDOptions{.lr = 0.1, .nesterov = true}); },
               "SGD: Nesterov momentum requires momentum > 0 and dampening == 0, got "
               "momentum=0, dampening=0");
  expect_error([] { Adam(AdamOptions{.beta1 = 1.0}); },
               "Adam: invalid beta1 1 (expected 0 <= beta1 < 1)");
  expect_error([] { AdamW(AdamOptions{.eps = -1}); }, "AdamW: invalid eps -1 (expected eps >= 0)");
  expect_error([] { RMSprop(RMSpropOptions{.alpha = -0.5}); },
               "RMSprop: invalid alpha -0.5 (expected alpha >= 0)");
  expect_error([] { Adagrad(AdagradOptions{.lr_decay = -1}); },
               "Adagrad: invalid lr_decay -1 (expected lr_decay >= 0)");
  Adam adam(AdamOptions{});
  expect_error([&] { adam.set_lr(-2); }, "Adam: invalid learning rate -2 (expected lr >= 0)");
  expect_error([] { SGD({zeros({2}, DType::i64)}, SGDOptions{}); },
               "optimizer: parameter 0 has dtype i64, expected f32 or f64");
}

TEST(Optimizers, MakeOptimizerByName) {
  for (const auto& [name, type, lr] :
       std::vector<std::tuple<std::string, std::string, double>>{{"sgd", "SGD", 0.01},
                                                                 {"Adam", "Adam", 1e-3},
                                                                 {"adamw", "AdamW", 1e-3},
                                                                 {"rmsprop", "RMSprop", 1e-2},
                                                                 {"adagrad", "Adagrad", 1e-2}}) {
    EXPECT_EQ(make_optimizer(name)->name(), type);
    EXPECT_EQ(make_optimizer(name)->lr(), lr);
    EXPECT_EQ(make_optimizer(name, 0.25)->lr(), 0.25);
  }
  // Settings by name: each given one replaces the optimizer's default, the rest stay.
  auto adamw = make_optimizer(
      "adamw", OptimizerSettings{.lr = -1, .momentum = {}, .nesterov = {}, .weight_decay = 0.05});
  auto rmsprop = make_optimizer(
      "rmsprop",
      OptimizerSettings{.lr = 0.02, .momentum = 0.5, .nesterov = {}, .weight_decay = {}});
  EXPECT_EQ(adamw->name(), "AdamW");
  EXPECT_EQ(rmsprop->lr(), 0.02);
  // Same steps as the optimizer built from its options.
  for (const auto& [by_name, direct] :
       std::vector<std::pair<std::shared_ptr<Optimizer>, std::shared_ptr<Optimizer>>>{
           {make_optimizer("sgd",
                           OptimizerSettings{
                               .lr = 0.1, .momentum = 0.9, .nesterov = true, .weight_decay = 5e-4}),
            std::make_shared<SGD>(
                SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true})},
           {std::move(adamw), std::make_shared<AdamW>(AdamOptions{.weight_decay = 0.05})},
           {std::move(rmsprop),
            std::make_shared<RMSprop>(RMSpropOptions{.lr = 0.02, .momentum = 0.5})}}) {
    SCOPED_TRACE(by_name->name());
    Tensor a = from_vector(std::vector<float>{0.5f, -1.f, 2.f}, {3}).requires_grad_();
    Tensor b = a.detach().clone().requires_grad_();
    by_name->set_parameters({a});
    direct->set_parameters({b});
    for (int step = 0; step < 3; ++step) {
      a.set_grad(from_vector(std::vector<float>{0.1f, 0.2f * step, -0.3f}, {3}));
      b.set_grad(a.grad());
      by_name->step();
      direct->step();
    }
    EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
    EXPECT_NE(a.to_vector<float>(), (std::vector<float>{0.5f, -1.f, 2.f}));
  }
  expect_error(
      [] {
        make_optimizer("adam", OptimizerSettings{
                                   .lr = -1, .momentum = 0.9, .nesterov = {}, .weight_decay = {}});
      },
      "make_optimizer: adam has no momentum setting");
  expect_error(
      [] {
        make_optimizer(
            "rmsprop",
            OptimizerSettings{.lr = -1, .momentum = {}, .nesterov = true, .weight_decay = {}});
      },
      "make_optimizer: rmsprop has no nesterov setting");
  expect_error([] { make_optimizer("lbfgs"); },
               "make_optimizer: unknown optimizer 'lbfgs' (known: sgd, adam, adamw, rmsprop, "
               "adagrad, ftrl)");
}

TEST(Optimizers, ZeroGradAndLateParameters) {
  SGD sgd(SGDOptions{.lr = 0.5});  // created before the model's parameters exist
  sgd.step();                      // nothing to do
  Tensor w = ones({3}).requires_grad_();
  sgd.set_parameters({w});
  w.set_grad(full({3}, 2.0));
  sgd.step();
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>(3, 0.f));
  sgd.zero_grad(false);
  EXPECT_EQ(w.grad().to_vector<float>(), std::vector<float>(3, 0.f));
  sgd.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}
