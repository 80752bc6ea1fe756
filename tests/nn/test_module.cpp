#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "nabla/nn.hpp"
#include "support/errors.hpp"
#include "support/reference.hpp"

using nabla::testing::error_message;
using namespace nabla;
using nabla::testing::load_reference;
using nabla::testing::tensor_from_json;

namespace {

// A module with its own parameter and buffer registered around a child, to check ordering.
class Scaled : public nn::Module {
 public:
  Scaled() {
    register_parameter("scale", ones({3}));
    inner_ = register_module("inner",
                             std::make_shared<nn::Linear>(3, nn::LinearOptions{.in_features = 2}));
    register_buffer("count", zeros({1}));
    register_parameter("shift", zeros({3}));
  }
  Tensor forward(const Tensor& x) override { return (*inner_)(x); }
  std::string type_name() const override { return "Scaled"; }

 private:
  std::shared_ptr<nn::Linear> inner_;
};

std::vector<std::string> names(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& [name, t] : named) out.push_back(name);
  return out;
}

}  // namespace

TEST(Module, NamesFollowRegistrationOrderWithDottedPaths) {
  auto inner = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Linear>(4, nn::LinearOptions{.in_features = 3}), nn::ReLU()});
  nn::Sequential model(
      {inner, std::make_shared<Scaled>(),
       std::make_shared<nn::Linear>(2, nn::LinearOptions{.in_features = 3, .bias = false})});
  EXPECT_EQ(names(model.named_parameters()),
            (std::vector<std::string>{"0.0.weight", "0.0.bias", "1.scale", "1.shift",
                                      "1.inner.weight", "1.inner.bias", "2.weight"}));
  EXPECT_EQ(names(model.named_buffers()), (std::vector<std::string>{"1.count"}));
  EXPECT_TRUE(model.named_parameters(false).empty());
  EXPECT_EQ(names(model.layers()[1]->named_parameters(false)),
            (std::vector<std::string>{"scale", "shift"}));
  EXPECT_EQ(model.num_parameters(), 4 * 3 + 4 + 3 + 3 + 3 * 2 + 3 + 2 * 3);
  EXPECT_EQ(model.parameters().size(), 7u);
  for (const Tensor& p : model.parameters()) EXPECT_TRUE(p.requires_grad());
  const nn::StateDict state = model.state_dict();
  EXPECT_EQ(state.size(), 8u);
  EXPECT_EQ(state.count("1.count"), 1u);
}

TEST(Module, SharedParametersAreListedOnce) {
  auto layer = std::make_shared<nn::Linear>(3, nn::LinearOptions{.in_features = 3});
  nn::Sequential model({layer, layer});
  EXPECT_EQ(names(model.named_parameters()), (std::vector<std::string>{"0.weight", "0.bias"}));
  EXPECT_EQ(model.state_dict().size(), 4u);  // state dicts keep every name, as PyTorch's
}

TEST(Module, RegistrationErrors) {
  nn::Sequential model;
  EXPECT_EQ(error_message([&] { model.add(nullptr); }), "Sequential::add: layer 0 is null");
}

TEST(Module, StateDictRoundTripCopiesInPlace) {
  manual_seed(1);
  nn::Sequential a({std::make_shared<nn::Dense>(4), std::make_shared<nn::Dense>(2)});
  nn::Sequential b({std::make_shared<nn::Dense>(4), std::make_shared<nn::Dense>(2)});
  a.build({3});
  b.build({3});
  Tensor b_weight = b.named_parameters()[0].second;
  b.load_state_dict(a.state_dict());
  for (const auto& [name, t] : a.state_dict())
    EXPECT_EQ(t.to_vector<float>(), b.state_dict().at(name).to_vector<float>()) << name;
  // The same tensor objects now hold the values: an optimizer holding them stays valid.
  EXPECT_TRUE(b_weight.is_same(b.named_parameters()[0].second));
  EXPECT_EQ(b_weight.to_vector<float>(), a.state_dict().at("0.weight").to_vector<float>());
  EXPECT_TRUE(b_weight.requires_grad());
}

TEST(Module, StrictLoadErrorsNameKeysAndShapes) {
  nn::Sequential model({std::make_shared<nn::Linear>(2, nn::LinearOptions{.in_features = 3})});
  nn::StateDict state = model.state_dict();
  nn::StateDict missing = state;
  missing.erase("0.bias");
  EXPECT_EQ(error_message([&] { model.load_state_dict(missing); }),
            "load_state_dict: the state dict does not match the Sequential model: missing "
            "key(s) '0.bias'; (pass strict=false to load the matching keys only)");
  nn::StateDict extra = state;
  extra["0.scale"] = ones({2});
  extra["1.weight"] = ones({2});
  EXPECT_EQ(error_message([&] { model.load_state_dict(extra); }),
            "load_state_dict: the state dict does not match the Sequential model: unexpected "
            "key(s) '0.scale', '1.weight'; (pass strict=false to load the matching keys only)");
  nn::StateDict wrong = state;
  wrong["0.weight"] = zeros({3, 2});
  EXPECT_EQ(error_message([&] { model.load_state_dict(wrong, false); }),
            "load_state_dict: shape mismatch for '0.weight': the state dict has [3, 2], the model "
            "has [2, 3]");
  // Not strict: matching keys load, the rest is ignored.
  extra["0.bias"] = full({2}, 7.0);
  model.load_state_dict(extra, false);
  EXPECT_EQ(model.state_dict().at("0.bias").to_vector<float>(), (std::vector<float>{7, 7}));
}

TEST(Module, LoadsPyTorchStateDictAndMatchesItsOutput) {
  const auto c = load_reference("nn_optim").at("module").at("mlp");
  nn::Sequential model(
      {std::make_shared<nn::Linear>(5), nn::ReLU(), std::make_shared<nn::Linear>(3)});
  const Tensor x = tensor_from_json(c.at("input"));
  model(x);  // the first forward builds the lazy layers in the input's dtype (f64)
  nn::StateDict state;
  for (const auto& [key, value] : c.at("state_dict").items()) state[key] = tensor_from_json(value);
  model.load_state_dict(state);
  EXPECT_ALL_CLOSE(model(x), tensor_from_json(c.at("output")), 1e-12, 1e-12);
  EXPECT_EQ(model.to_string(), c.at("repr").get<std::string>());
}

TEST(Module, TrainEvalIsRecursive) {
  auto drop = std::make_shared<nn::Dropout>(0.5);
  auto inner_ptr = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{drop});
  nn::Sequential model({inner_ptr});
  EXPECT_TRUE(drop->is_training());
  model.eval();
  EXPECT_FALSE(model.is_training());
  EXPECT_FALSE(inner_ptr->is_training());
  EXPECT_FALSE(drop->is_training());
  model.train();
  EXPECT_TRUE(drop->is_training());
}

TEST(Module, BuildCreatesLazyParametersAndRestoresModes) {
  auto first = std::make_shared<nn::Dense>(8, "relu");
  auto drop = std::make_shared<nn::Dropout>(0.3);
  nn::Sequential model({first, drop, std::make_shared<nn::Dense>(3)});
  drop->eval();  // a child in another mode than its parent keeps it
  EXPECT_EQ(model.num_parameters(), 0);
  EXPECT_EQ(model.build({5}), (Shape{1, 3}));
  EXPECT_EQ(first->in_features(), 5);
  EXPECT_EQ(first->weight().shape(), (Shape{8, 5}));
  EXPECT_EQ(model.num_parameters(), 8 * 5 + 8 + 3 * 8 + 3);
  EXPECT_TRUE(model.is_training());
  EXPECT_TRUE(first->is_training());
  EXPECT_FALSE(drop->is_training());
  EXPECT_FALSE(first->weight().grad().defined());
}

TEST(Module, ZeroGrad) {
  nn::Linear layer(2, nn::LinearOptions{.in_features = 2});
  for (Tensor p : layer.parameters()) p.set_grad(ones_like(p));
  layer.zero_grad(false);
  for (const Tensor& p : layer.parameters())
    EXPECT_EQ(p.grad().to_vector<float>(), std::vector<float>(p.numel(), 0.f));
  layer.zero_grad();
  for (const Tensor& p : layer.parameters()) EXPECT_FALSE(p.grad().defined());
}

TEST(Module, ToStringNestsLikePyTorch) {
  auto block = std::make_shared<nn::Sequential>(std::vector<nn::ModulePtr>{
      std::make_shared<nn::Dense>(16, "relu"), std::make_shared<nn::Dropout>(0.25)});
  nn::Sequential model({std::make_shared<nn::Flatten>(), block, nn::Softmax()});
  EXPECT_EQ(model.to_string(),
            "Sequential(\n"
            "  (0): Flatten()\n"
            "  (1): Sequential(\n"
            "    (0): Dense(in_features=None, out_features=16, bias=True, activation=relu)\n"
            "    (1): Dropout(p=0.25)\n"
            "  )\n"
            "  (2): Softmax()\n"
            ")");
}

// to(f64) converts parameters, gradients and floating buffers in place (handles taken before see
// the new dtype and the same values), keeps integer buffers, and the model then runs in f64.
TEST(Module, ToConvertsParametersAndBuffersInPlace) {
  nn::Sequential model(
      {std::make_shared<nn::Linear>(4, nn::LinearOptions{.in_features = 3}), nn::BatchNorm2d(4)});
  const Tensor x = randn({5, 3});
  model(x).sum().backward();
  const Tensor weight = model.parameters()[0];
  const std::vector<float> before = weight.to_vector<float>();
  const std::vector<float> grad_before = weight.grad().to_vector<float>();
  EXPECT_EQ(&model.to(DType::f64), &model);
  EXPECT_EQ(weight.dtype(), DType::f64);
  EXPECT_EQ(weight.grad().dtype(), DType::f64);
  const std::vector<double> after = weight.to_vector<double>();
  const std::vector<double> grad_after = weight.grad().to_vector<double>();
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i], static_cast<double>(before[i]));
    EXPECT_EQ(grad_after[i], static_cast<double>(grad_before[i]));
  }
  for (const auto& [name, buffer] : model.named_buffers()) {
    EXPECT_EQ(buffer.dtype(),
              name.find("num_batches_tracked") != std::string::npos ? DType::i64 : DType::f64)
        << name;
  }
  EXPECT_EQ(model(x.to(DType::f64)).dtype(), DType::f64);
  EXPECT_THROW(model.to(DType::i64), Error);
}
