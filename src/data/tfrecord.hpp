// TFRecord framing (TensorFlow's record files, the container of TensorBoard's event files).
// Internal; data::read_tfrecords is the public reader.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nabla::data::internal {

struct TFRecord {
  size_t offset = 0;      // of the record's header in the file
  std::string_view data;  // into the bytes given to parse_tfrecords
};

// Appends `record` to `out` framed as TensorFlow writes it: uint64 length (little-endian), masked
// CRC-32C of those 8 bytes, the bytes, masked CRC-32C of the bytes.
void append_tfrecord(std::string& out, std::string_view record);

// The records framed in `bytes`, each checked against both CRCs. Errors start with `name` (the
// caller and the file, "read_events: PATH") and give the byte offset of the record at fault.
std::vector<TFRecord> parse_tfrecords(std::string_view bytes, const std::string& name);

}  // namespace nabla::data::internal
