// The op-test harness itself (tests/support/op_test.hpp) must be able to fail: on a case name
// that matches nothing, on a wrong value, on a missing gradient.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "nabla/nabla.hpp"
#include "support/op_test.hpp"

using namespace nabla;
using nabla::testing::check_ops;
using nabla::testing::OpCase;
using nabla::testing::OpTest;

namespace {

// A row replaying matmul/mm of matmul_loss.json with `f` in place of matmul.
OpTest matmul_row(std::function<Tensor(const Tensor&, const Tensor&)> f,
                  std::string cases = "matmul/mm") {
  return {.name = "matmul",
          .fn = [f](const OpCase& c) { return f(c.input("a"), c.input("b")); },
          .grad_inputs = {"a", "b"},
          .cases = {std::move(cases)}};
}

// The messages of the failures that `rows` report, intercepted so that this test does not fail.
std::string failures_of(const std::vector<OpTest>& rows) {
  ::testing::TestPartResultArray results;
  {
    ::testing::ScopedFakeTestPartResultReporter reporter(
        ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    check_ops("matmul_loss", rows);
  }
  std::string messages;
  for (int i = 0; i < results.size(); ++i)
    messages += std::string(results.GetTestPartResult(i).message()) + "\n";
  return messages;
}

const auto kMatmul = [](const Tensor& a, const Tensor& b) { return matmul(a, b); };

}  // namespace

TEST(OpTestHarness, PassesTheRightImplementation) {
  EXPECT_EQ(failures_of({matmul_row(kMatmul)}), "");
  EXPECT_EQ(check_ops("matmul_loss", {matmul_row(kMatmul, "matmul")}), 11);
}

TEST(OpTestHarness, FailsWhenNoCaseMatches) {
  EXPECT_NE(failures_of({matmul_row(kMatmul, "matmul/mn")})
                .find("matmul: no reference case named matmul/mn"),
            std::string::npos);
}

TEST(OpTestHarness, FailsOnAWrongValue) {
  const std::string failures = failures_of(
      {matmul_row([](const Tensor& a, const Tensor& b) { return matmul(a, b) * 1.001; })});
  EXPECT_NE(failures.find("element(s) differ"), std::string::npos) << failures;
}

TEST(OpTestHarness, FailsOnAMissingGradient) {
  const std::string failures = failures_of(
      {matmul_row([](const Tensor& a, const Tensor& b) { return matmul(a, b.detach()); })});
  EXPECT_NE(failures.find("grad_b: not computed, in the reference"), std::string::npos) << failures;
}
