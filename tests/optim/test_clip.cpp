#include <gtest/gtest.h>

#include <cmath>

#include "nabla/nabla.hpp"
#include "nabla/optim.hpp"
#include "support/reference.hpp"

using namespace nabla;
using namespace nabla::optim;
using nabla::testing::load_reference;
using nabla::testing::tensor_from_json;

TEST(Clip, GradNormMatchesPyTorch) {
  const auto ref = load_reference("nn_optim").at("clip");
  for (const char* name : {"norm2", "norm_inf", "norm1_unclipped"}) {
    SCOPED_TRACE(name);
    const auto& c = ref.at(name);
    std::vector<Tensor> params;
    for (const auto& g : c.at("grads")) {
      Tensor grad = tensor_from_json(g);
      Tensor p = zeros_like(grad).requires_grad_();
      p.set_grad(grad);
      params.push_back(p);
    }
    params.push_back(zeros({2}).requires_grad_());  // no gradient: ignored
    const double norm_type =
        c.at("norm_type").is_string() ? INFINITY : c.at("norm_type").get<double>();
    const double total = clip_grad_norm(params, c.at("max_norm").get<double>(), norm_type);
    EXPECT_NEAR(total, c.at("total_norm").get<double>(), 1e-12);
    for (size_t i = 0; i < c.at("clipped").size(); ++i)
      EXPECT_ALL_CLOSE(params[i].grad(), tensor_from_json(c.at("clipped")[i]), 1e-10, 1e-12);
    EXPECT_FALSE(params.back().grad().defined());
  }
}

TEST(Clip, GradValueMatchesPyTorch) {
  const auto c = load_reference("nn_optim").at("clip").at("value");
  Tensor p = zeros({4, 5}, DType::f64).requires_grad_();
  p.set_grad(tensor_from_json(c.at("grad")));
  clip_grad_value({p}, c.at("clip_value").get<double>());
  EXPECT_ALL_CLOSE(p.grad(), tensor_from_json(c.at("clipped")), 0, 0);
}

TEST(Clip, NonContiguousAndFloat32Gradients) {
  Tensor p = zeros({3, 2}).requires_grad_();
  // Gradient [[3, 0], [0, 4], [0, 0]] stored transposed: norm 5, clipped to norm 1.
  p.set_grad(from_vector(std::vector<float>{3, 0, 0, 0, 4, 0}, {2, 3}).t());
  EXPECT_NEAR(clip_grad_norm({p}, 1.0), 5.0, 1e-6);
  EXPECT_ALL_CLOSE(p.grad(), from_vector(std::vector<float>{0.6f, 0, 0, 0.8f, 0, 0}, {3, 2}), 1e-5,
                   1e-6);
}

TEST(Clip, NoGradientsAndInvalidArguments) {
  Tensor p = zeros({2}).requires_grad_();
  EXPECT_EQ(clip_grad_norm({p}, 1.0), 0.0);
  try {
    clip_grad_norm({p}, 1.0, 0);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "clip_grad_norm: norm_type must be positive or infinity, got 0");
  }
  try {
    clip_grad_value({p}, -1);
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "clip_grad_value: clip_value must be >= 0, got -1");
  }
}
