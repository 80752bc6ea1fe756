// CRC-32C against the standard test vectors, and TFRecord framing: records written and read back,
// a frame checked byte for byte against one made independently (Python's struct and a bitwise
// CRC-32C), and the errors for corrupted and truncated files, which name the file and the offset.
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "data/crc32c.hpp"
#include "data/tfrecord.hpp"
#include "nabla/data.hpp"
#include "support/errors.hpp"
#include "test_util.hpp"

using namespace nabla;
using nabla::data::internal::append_tfrecord;
using nabla::data::internal::crc32c;
using nabla::testing::error_message;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

namespace {

uint32_t crc_of(const std::string& bytes) { return crc32c(bytes.data(), bytes.size()); }

std::string framed(const std::vector<std::string>& records) {
  std::string out;
  for (const std::string& record : records) append_tfrecord(out, record);
  return out;
}

}  // namespace

TEST(Crc32c, StandardTestVectors) {
  EXPECT_EQ(crc_of("123456789"), 0xE3069283u);  // the check value of CRC-32C
  EXPECT_EQ(crc_of(""), 0u);
  // RFC 3720 (iSCSI), appendix B.4.
  EXPECT_EQ(crc_of(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc_of(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending(32, '\0'), descending(32, '\0');
  std::iota(ascending.begin(), ascending.end(), 0);
  for (int i = 0; i < 32; ++i) descending[i] = static_cast<char>(31 - i);
  EXPECT_EQ(crc_of(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc_of(descending), 0x113FDB5Cu);
}

TEST(Crc32c, ContinuesAcrossPieces) {
  const std::string text = "The quick brown fox jumps over the lazy dog";
  const uint32_t head = crc32c(text.data(), 10);
  EXPECT_EQ(crc32c(text.data() + 10, text.size() - 10, head), crc_of(text));
  EXPECT_EQ(crc_of(text), 0x22620404u);
}

TEST(TFRecord, FrameMatchesAnIndependentEncoder) {
  // "hello": length 5 (little-endian uint64), masked CRC of the length, data, masked CRC of the
  // data, as computed in Python (struct.pack('<Q'), a bitwise CRC-32C and TensorFlow's mask).
  const std::vector<unsigned char> expected = {0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                               0x00, 0xea, 0xb2, 0x04, 0x3e, 0x68, 0x65,
                                               0x6c, 0x6c, 0x6f, 0xbb, 0x1f, 0x1c, 0x19};
  EXPECT_EQ(framed({"hello"}), std::string(expected.begin(), expected.end()));
}

TEST(TFRecord, RoundTripsRecords) {
  TempDir dir;
  const std::string path = dir.file("records.tfrecord");
  std::string binary = "a\0b\xff";
  binary += std::string(1000, '\x7f');
  const std::vector<std::string> records = {"first", "", binary, std::string(70000, 'x')};
  write_bytes(path, framed(records));
  EXPECT_EQ(data::read_tfrecords(path), records);
  write_bytes(path, "");
  EXPECT_TRUE(data::read_tfrecords(path).empty());
}

TEST(TFRecord, CorruptDataNamesFileAndOffset) {
  TempDir dir;
  const std::string path = dir.file("bad.tfrecord");
  std::string bytes = framed({"first", "second"});
  const size_t second = 12 + 5 + 4;  // the second record's header
  bytes[second + 12 + 2] ^= 0x01;    // a bit of "second"
  write_bytes(path, bytes);
  EXPECT_EQ(error_message([&] { data::read_tfrecords(path); }),
            "read_tfrecords: " + path +
                ": corrupt TFRecord at byte offset 21 (record 1): the CRC-32C of its 6 bytes of "
                "data does "
                "not match");
}

TEST(TFRecord, CorruptLengthNamesFileAndOffset) {
  TempDir dir;
  const std::string path = dir.file("bad.tfrecord");
  std::string bytes = framed({"first", "second"});
  bytes[21] = 7;  // the second record's length: 6 -> 7, its CRC no longer matches
  write_bytes(path, bytes);
  EXPECT_EQ(error_message([&] { data::read_tfrecords(path); }),
            "read_tfrecords: " + path +
                ": corrupt TFRecord at byte offset 21 (record 1): the CRC-32C of its length does "
                "not match "
                "(not a TFRecord file, or damaged)");
}

TEST(TFRecord, TruncatedFilesNameFileAndOffset) {
  TempDir dir;
  const std::string path = dir.file("cut.tfrecord");
  const std::string bytes = framed({"first", "second"});
  write_bytes(path, bytes.substr(0, bytes.size() - 1));  // the last CRC loses a byte
  EXPECT_EQ(error_message([&] { data::read_tfrecords(path); }),
            "read_tfrecords: " + path +
                ": truncated TFRecord at byte offset 21 (record 1): expected 6 bytes of data and a "
                "4-byte "
                "CRC, only 9 bytes remain");
  write_bytes(path, bytes.substr(0, 21 + 5));  // half a header
  EXPECT_EQ(error_message([&] { data::read_tfrecords(path); }),
            "read_tfrecords: " + path +
                ": truncated TFRecord at byte offset 21 (record 1): expected a 12-byte record "
                "header, only 5 "
                "bytes remain");
}

TEST(TFRecord, HugeLengthWithValidCrcIsTruncationNotAnAllocation) {
  TempDir dir;
  const std::string path = dir.file("huge.tfrecord");
  // A header claiming 2^64 - 1 bytes, with the right masked CRC for those 8 bytes.
  const std::string length(8, '\xff');
  std::string bytes = length;
  const uint32_t crc = data::internal::masked_crc32c(length.data(), length.size());
  for (int i = 0; i < 4; ++i) bytes += static_cast<char>((crc >> (8 * i)) & 0xFF);
  bytes += "data";
  write_bytes(path, bytes);
  EXPECT_EQ(error_message([&] { data::read_tfrecords(path); }),
            "read_tfrecords: " + path +
                ": truncated TFRecord at byte offset 0 (record 0): expected 18446744073709551615 "
                "bytes of "
                "data and a 4-byte CRC, only 4 bytes remain");
}

TEST(TFRecord, MissingFileIsAnError) {
  EXPECT_NE(error_message([] {
              data::read_tfrecords("/nonexistent/events");
            }).find("read_tfrecords: cannot open /nonexistent/events"),
            std::string::npos);
}
