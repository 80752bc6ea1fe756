// Checks that an installed nabla works from an outside project: the public headers compile, the
// library links and loads, and a backward computes the right gradient.
#include <cmath>
#include <iostream>
#include <nabla/nabla.hpp>
#include <vector>

int main() {
  nabla::Tensor x = nabla::from_vector(std::vector<float>{1, -2, 3, 0.5f}, {2, 2});
  x.requires_grad_();
  nabla::Tensor loss = (x * x).sum();  // d(sum x^2)/dx = 2x
  loss.backward();

  const std::vector<float> expected = {2, -4, 6, 1};
  const std::vector<float> grad = x.grad().to_vector<float>();
  bool ok = std::abs(loss.item<float>() - 14.25f) < 1e-5f && grad.size() == expected.size();
  for (size_t i = 0; ok && i < grad.size(); ++i) ok = std::abs(grad[i] - expected[i]) < 1e-6f;
  if (!ok) {
    std::cerr << "consumer: wrong result: loss " << loss << ", grad " << x.grad() << "\n";
    return 1;
  }
  std::cout << "consumer: ok, grad " << x.grad() << "\n";
  return 0;
}
