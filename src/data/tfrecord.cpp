// TFRecord files: framing on write, and a reader that verifies both CRCs of every record, so that
// a torn or corrupted event file is reported where it breaks instead of being half-read.
#include "data/tfrecord.hpp"

#include <cstdint>

#include "data/crc32c.hpp"
#include "data/file_util.hpp"
#include "nabla/data.hpp"

namespace nabla::data::internal {
namespace {

constexpr size_t kLengthBytes = 8, kCrcBytes = 4;
constexpr size_t kHeaderBytes = kLengthBytes + kCrcBytes;

// Little-endian whatever the machine: the format fixes the byte order.
template <class T>
void append_le(std::string& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out += static_cast<char>((value >> (8 * i)) & 0xFFu);
}

template <class T>
T load_le(std::string_view bytes, size_t at) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return value;
}

}  // namespace

void append_tfrecord(std::string& out, std::string_view record) {
  std::string header;
  append_le<uint64_t>(header, record.size());
  out += header;
  append_le<uint32_t>(out, masked_crc32c(header.data(), header.size()));
  out += record;
  append_le<uint32_t>(out, masked_crc32c(record.data(), record.size()));
}

std::vector<TFRecord> parse_tfrecords(std::string_view bytes, const std::string& name) {
  std::vector<TFRecord> records;
  size_t at = 0;
  while (at < bytes.size()) {
    const size_t left = bytes.size() - at;
    NABLA_CHECK(left >= kHeaderBytes, name, ": truncated TFRecord at byte offset ", at, " (record ",
                records.size(), ")", ": expected a 12-byte record header, only ", left,
                " bytes remain");
    const uint64_t length = load_le<uint64_t>(bytes, at);
    NABLA_CHECK(load_le<uint32_t>(bytes, at + kLengthBytes) ==
                    masked_crc32c(bytes.data() + at, kLengthBytes),
                name, ": corrupt TFRecord at byte offset ", at, " (record ", records.size(), ")",
                ": the CRC-32C of its length does not match (not a TFRecord file, or damaged)");
    // Compared without adding to `length`, which a damaged file could set near 2^64.
    NABLA_CHECK(length <= left - kHeaderBytes && left - kHeaderBytes - length >= kCrcBytes, name,
                ": truncated TFRecord at byte offset ", at, " (record ", records.size(), ")",
                ": expected ", length, " bytes of data and a 4-byte CRC, only ",
                left - kHeaderBytes, " bytes remain");
    const std::string_view record = bytes.substr(at + kHeaderBytes, length);
    NABLA_CHECK(load_le<uint32_t>(bytes, at + kHeaderBytes + length) ==
                    masked_crc32c(record.data(), record.size()),
                name, ": corrupt TFRecord at byte offset ", at, " (record ", records.size(), ")",
                ": the CRC-32C of its ", length, " bytes of data does not match");
    records.push_back({at, record});
    at += kHeaderBytes + length + kCrcBytes;
  }
  return records;
}

}  // namespace nabla::data::internal
