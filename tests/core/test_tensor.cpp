#include <gtest/gtest.h>

#include "nabla/nabla.hpp"
#include "support/reference.hpp"

using namespace nabla;

TEST(Tensor, CreationAndPrinting) {
  Tensor t = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.strides(), (Shape{3, 1}));
  EXPECT_EQ(t.to_string(),
            "tensor([[1., 2., 3.],\n        [4., 5., 6.]], shape=[2, 3], dtype=f32)");
  EXPECT_EQ(arange(4).to_string(), "tensor([0, 1, 2, 3], shape=[4], dtype=i64)");
  EXPECT_EQ(scalar_tensor(2.5).to_string(), "tensor(2.5, shape=[], dtype=f32)");
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = arange(0, 6, 1, DType::f32).reshape({2, 3});
  Tensor tt = t.t();
  EXPECT_TRUE(tt.shares_storage(t));
  EXPECT_FALSE(tt.is_contiguous());
  EXPECT_EQ(tt.at<float>({2, 1}), 5.f);
  Tensor c = tt.contiguous();
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor s = t.slice(1, 1, 3);
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{1, 2, 4, 5}));
  s.fill_(9);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 9, 9, 3, 9, 9}));
}

TEST(Tensor, WrongDtypeReadIsAnError) {
  Tensor t = zeros({2});
  try {
    t.data<double>();
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "data: the tensor has dtype f32, but was read as f64 (convert it with "
                 ".to(DType::f64))");
  }
}

TEST(Autograd, MulAddBackward) {
  Tensor a = from_vector(std::vector<double>{1, 2, 3}).requires_grad_();
  Tensor b = from_vector(std::vector<double>{4, 5, 6}).requires_grad_();
  Tensor y = (a * b + a).sum();
  y.backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{5, 6, 7}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{1, 2, 3}));
}
