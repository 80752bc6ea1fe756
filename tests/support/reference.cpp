#include "support/reference.hpp"

#include <cmath>
#include <fstream>

namespace nabla::testing {

nlohmann::json load_reference(const std::string& name) {
  const std::string path = std::string(NABLA_REFERENCE_DIR) + "/" + name + ".json";
  std::ifstream in(path);
  if (!in) throw Error("reference data not found: " + path + " (run tests/reference/*.py)");
  nlohmann::json data = nlohmann::json::parse(in);
  data.erase("__meta__");  // provenance (the PyTorch version), not a case
  return data;
}

Tensor tensor_from_json(const nlohmann::json& j) {
  Shape shape = j.at("shape").get<Shape>();
  const std::string dtype = j.at("dtype");
  const auto& data = j.at("data");
  if (dtype == "f32") return from_vector(data.get<std::vector<float>>(), shape).reshape(shape);
  if (dtype == "f64") return from_vector(data.get<std::vector<double>>(), shape).reshape(shape);
  if (dtype == "i64") return from_vector(data.get<std::vector<int64_t>>(), shape).reshape(shape);
  if (dtype == "bool") return from_vector(data.get<std::vector<bool>>(), shape).reshape(shape);
  throw Error("reference: unknown dtype " + dtype);
}

::testing::AssertionResult all_close(const Tensor& actual, const Tensor& expected, double rtol,
                                     double atol) {
  if (actual.shape() != expected.shape())
    return ::testing::AssertionFailure() << "shape " << detail::str(actual.shape())
                                         << " != expected " << detail::str(expected.shape());
  Tensor a = actual.detach().to(DType::f64).contiguous();
  Tensor e = expected.detach().to(DType::f64).contiguous();
  const double* pa = a.data<double>();
  const double* pe = e.data<double>();
  int bad = 0;
  std::ostringstream msg;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const bool both_nan = std::isnan(pa[i]) && std::isnan(pe[i]);
    const bool same_inf = std::isinf(pa[i]) && pa[i] == pe[i];
    if (both_nan || same_inf) continue;
    if (!(std::abs(pa[i] - pe[i]) <= atol + rtol * std::abs(pe[i]))) {
      if (++bad <= 5) msg << "\n  element " << i << ": " << pa[i] << " vs expected " << pe[i];
    }
  }
  if (bad) return ::testing::AssertionFailure() << bad << " element(s) differ:" << msg.str();
  return ::testing::AssertionSuccess();
}

}  // namespace nabla::testing
