// Files read whole: their size is bounded, checked before reading where the file has one.
#include <gtest/gtest.h>

#include "data/file_util.hpp"
#include "data/test_util.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

TEST(ReadFile, WithinTheLimit) {
  TempDir dir;
  write_bytes(dir.file("a.txt"), "hello");
  EXPECT_EQ(data::internal::read_file(dir.file("a.txt"), "test", 5), "hello");
  EXPECT_EQ(data::internal::regular_file_size(dir.file("a.txt")), 5);
  EXPECT_EQ(data::internal::regular_file_size("/dev/zero"), std::nullopt);
  EXPECT_EQ(data::internal::regular_file_size(dir.file("missing")), std::nullopt);
}

TEST(ReadFile, LargerThanTheLimitIsAnError) {
  TempDir dir;
  write_bytes(dir.file("big.txt"), std::string(2048, 'x'));
  EXPECT_EQ(
      error_message([&] { data::internal::read_file(dir.file("big.txt"), "model spec", 1024); }),
      "model spec: " + dir.file("big.txt") +
          " is larger than 1.0 KiB (1024 bytes), the most nabla reads whole for a model spec");
}

// Issue 12, row 8: a device without a size and without an end is read only up to the limit.
TEST(ReadFile, EndlessDeviceStopsAtTheLimit) {
  EXPECT_EQ(error_message([] { data::internal::read_file("/dev/zero", "model spec", 1 << 20); }),
            "model spec: /dev/zero is larger than 1.0 MiB (1048576 bytes), the most nabla reads "
            "whole for a model spec");
}
