// Checked size arithmetic, the allocation limit and the allocator's size classes.
#include <gtest/gtest.h>

#include <cstdint>

#include "core/allocator.hpp"
#include "core/checked_size.hpp"
#include "nabla/nabla.hpp"
#include "support/errors.hpp"

using namespace nabla;
using nabla::testing::error_message;

namespace {
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
constexpr int64_t k2to31 = int64_t{1} << 31;
}  // namespace

TEST(CheckedSize, ArithmeticInRange) {
  EXPECT_EQ(core::checked_mul(3000000000, 1000000000, "x"), 3000000000000000000);
  EXPECT_EQ(core::checked_add(INT64_MAX - 1, 1, "x"), INT64_MAX);
  EXPECT_EQ(core::checked_numel({}, "x"), 1);
  EXPECT_EQ(core::checked_numel({2, 0, 5}, "x"), 0);
  EXPECT_EQ(core::checked_numel({k2to31, k2to31}, "x"), int64_t{1} << 62);
  EXPECT_EQ(core::checked_nbytes(int64_t{1} << 60, 4, "x"), int64_t{1} << 62);
}

TEST(CheckedSize, OverflowIsAnErrorNamingTheCaller) {
  EXPECT_EQ(error_message([] { core::checked_mul(k2to31 * 4, k2to31 * 4, "read_idx: ", "f"); }),
            "read_idx: f: 8589934592 x 8589934592 overflows 64 bits");
  EXPECT_EQ(error_message([] { core::checked_add(INT64_MAX, 1, "offset"); }),
            "offset: 9223372036854775807 + 1 overflows 64 bits");
  EXPECT_EQ(error_message([] {
              core::checked_numel({1531578832, 2801924005, 4}, "read_idx");
            }),
            "read_idx: shape [1531578832, 2801924005, 4] has more elements than fit in 64 bits");
  EXPECT_EQ(error_message([] {
              core::checked_numel({2, -3}, "tensor");
            }),
            "tensor: negative size in shape [2, -3]");
  EXPECT_EQ(error_message([] { core::checked_nbytes(int64_t{1} << 62, 4, "t"); }),
            "t: 4611686018427387904 elements of 4 bytes need more than 2^63 bytes");
}

TEST(CheckedSize, ReadableBytes) {
  EXPECT_EQ(core::readable_bytes(512), "512 bytes");
  EXPECT_EQ(core::readable_bytes(int64_t{16} << 20), "16.0 MiB");
  EXPECT_EQ(core::readable_bytes(uint64_t{12} * 1000000000000000000), "10.4 EiB");
}

// The input shapes of issue 12, rows 3 and 4, as tensors: an error, not a wrapped buffer or a
// hang.
TEST(CheckedSize, TensorsTooLargeAreErrors) {
  const std::string wrapped = error_message([] { empty({k2to31, k2to31}); });
  EXPECT_EQ(wrapped,
            "tensor of shape [2147483648, 2147483648] (f32): 4611686018427387904 elements of 4 "
            "bytes need more than 2^63 bytes");
  EXPECT_EQ(error_message([] {
              zeros({int64_t{1} << 32, int64_t{1} << 32});
            }),
            "tensor: shape [4294967296, 4294967296] has more elements than fit in 64 bits");
  // Found by fuzz_idx: an empty tensor whose strides would wrap (UBSan: signed overflow).
  EXPECT_EQ(error_message([] {
              zeros({0, int64_t{1} << 40, int64_t{1} << 40});
            }),
            "tensor: shape [0, 1099511627776, 1099511627776] has sizes whose product (its "
            "strides) does not fit in 64 bits");
  // Row 4's 3000000000 x 1000000000 floats pass 2^63 bytes, where the size classes looped.
  EXPECT_EQ(error_message([] {
              empty({3000000000, 1000000000});
            }),
            "tensor of shape [3000000000, 1000000000] (f32): 3000000000000000000 elements of 4 "
            "bytes need more than 2^63 bytes");
  const std::string huge = error_message([] { empty({1000000000, 1000000000}); });
  EXPECT_TRUE(contains(huge,
                       "tensor of shape [1000000000, 1000000000] (f32) needs "
                       "4000000000000000000 bytes (3.5 EiB), above the allocation limit"))
      << huge;
  EXPECT_TRUE(contains(huge, "NABLA_MAX_ALLOC_BYTES")) << huge;
}

TEST(CheckedSize, ReshapeCannotWrap) {
  const std::string message = error_message([] {
    zeros({4}).reshape({int64_t{1} << 32, int64_t{1} << 32, -1});
  });
  EXPECT_TRUE(contains(message, "overflows 64 bits")) << message;
}

TEST(Allocator, LimitIsPhysicalMemoryByDefault) {
  // The tests run without NABLA_MAX_ALLOC_BYTES (the e2e tests set it).
  ASSERT_EQ(std::getenv("NABLA_MAX_ALLOC_BYTES"), nullptr);
  const size_t limit = core::allocation_limit();
  EXPECT_GE(limit, size_t{64} << 20);
  EXPECT_LE(limit, core::kMaxAllocationLimit);
  // The largest size that must be refused: one byte over the limit.
  const std::string message =
      error_message([&] { empty({static_cast<int64_t>(limit) + 1}, DType::u8); });
  EXPECT_TRUE(contains(message, "above the allocation limit of " + std::to_string(limit)))
      << message;
}

TEST(Allocator, SizeClassesUpToTheLimit) {
  EXPECT_EQ(core::size_class(1), 64u);
  EXPECT_EQ(core::size_class(4096), 4096u);
  EXPECT_EQ(core::size_class(4097), 5120u);  // quarters of 4096
  EXPECT_EQ(core::size_class(8192), 8192u);
  EXPECT_EQ(core::size_class(8193), 10240u);  // quarters of 8192
  // Above 2^63 bytes a doubling loop never ended; each class stays within a quarter above.
  for (int shift = 13; shift <= 62; ++shift) {
    const size_t power = size_t{1} << shift;
    for (size_t nbytes : {power - 1, power, power + 1, power + power / 3}) {
      const size_t cls = core::size_class(nbytes);
      EXPECT_GE(cls, nbytes) << nbytes;
      EXPECT_LE(cls - nbytes, nbytes / 4) << nbytes;
    }
  }
  EXPECT_EQ(core::size_class(core::kMaxAllocationLimit), core::kMaxAllocationLimit);
}
