// FTRL-Proximal (optim::Ftrl) against the published rule (tests/reference/gen_ftrl.py: McMahan et
// al. 2013, Algorithm 1, written out in Python), in f64 and f32; L1 sets weights to exactly 0.
#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "nabla/optim.hpp"
#include "support/errors.hpp"
#include "support/reference.hpp"

using namespace nabla;
using nabla::testing::load_reference;
using nabla::testing::tensor_from_json;

namespace {

optim::FtrlOptions ftrl_options_of(const nlohmann::json& c) {
  const auto& o = c.at("options");
  return {.lr = o.at("alpha"),
          .beta = o.at("beta"),
          .l1 = o.at("l1"),
          .l2 = o.at("l2"),
          .initial_accumulator_value = o.at("n0")};
}

void ftrl_check_case(const std::string& name, const nlohmann::json& c, DType dtype, double rtol,
                     double atol) {
  SCOPED_TRACE(name + (dtype == DType::f64 ? " f64" : " f32"));
  Tensor w = tensor_from_json(c.at("w0")).to(dtype).requires_grad_();
  optim::Ftrl ftrl({w}, ftrl_options_of(c));
  const Tensor grads = tensor_from_json(c.at("grads")).to(dtype);
  const auto& steps = c.at("steps");
  for (size_t s = 0; s < steps.size(); ++s) {
    SCOPED_TRACE("step " + std::to_string(s + 1));
    w.set_grad(grads.slice(0, static_cast<int64_t>(s), static_cast<int64_t>(s) + 1)
                   .reshape({-1})
                   .contiguous());
    ftrl.step();
    const Tensor expected = tensor_from_json(steps[s].at("w")).to(dtype);
    EXPECT_ALL_CLOSE(w.detach(), expected, rtol, atol);
    // Exact zeros stay exact: L1's sparsity is the point of FTRL for a wide model.
    const std::vector<double> want = tensor_from_json(steps[s].at("w")).to_vector<double>();
    const std::vector<double> got = w.detach().to(DType::f64).to_vector<double>();
    for (size_t i = 0; i < want.size(); ++i) {
      if (want[i] == 0.0) {
        EXPECT_EQ(got[i], 0.0) << i;
      }
    }
    const auto state = ftrl.state_dict();
    EXPECT_ALL_CLOSE(state.at("0.z").to(DType::f64), tensor_from_json(steps[s].at("z")), rtol,
                     atol);
    EXPECT_ALL_CLOSE(state.at("0.n").to(DType::f64), tensor_from_json(steps[s].at("n")), rtol,
                     atol);
  }
}

}  // namespace

TEST(Ftrl, MatchesThePublishedUpdateRule) {
  const nlohmann::json cases = load_reference("ftrl");
  for (const auto& [name, c] : cases.items()) {
    ftrl_check_case(name, c, DType::f64, 1e-12, 1e-12);
    ftrl_check_case(name, c, DType::f32, 1e-5, 1e-6);
  }
}

TEST(Ftrl, ByNameAndOptionChecks) {
  EXPECT_EQ(optim::make_optimizer("ftrl")->name(), "Ftrl");
  EXPECT_EQ(optim::make_optimizer("ftrl")->lr(), 0.1);
  EXPECT_EQ(optim::make_optimizer("FTRL", 0.5)->lr(), 0.5);
  EXPECT_EQ(nabla::testing::error_message([] { optim::Ftrl(optim::FtrlOptions{.l1 = -1}); }),
            "Ftrl: invalid l1 -1 (expected l1 >= 0)");
  EXPECT_EQ(nabla::testing::error_message([] { optim::Ftrl(optim::FtrlOptions{.lr = 0}); }),
            "Ftrl: invalid learning rate 0 (expected lr > 0)");
}
