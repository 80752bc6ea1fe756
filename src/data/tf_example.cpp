// tf.train.Example records encoded and decoded by libprotobuf (data/tf_example.proto), and
// TFRecord files written and read whole, plain or gzip-compressed (TensorFlow's
// compression_type="GZIP": the whole file is one gzip stream), through zlib.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <zlib.h>

#include <algorithm>

#include "data/file_util.hpp"
#include "data/tf_example.pb.h"
#include "data/tfrecord.hpp"
#include "nabla/data.hpp"

namespace nabla::data {
namespace {

namespace pb = nabla::tf_example_proto;

// A TFRecord file decompressed holds at most this much: gzip compresses at most 1032:1.
constexpr int64_t kMaxTFRecordBytes = internal::kMaxWholeFileBytes;

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

std::string gunzip_tfrecords(const std::string& bytes, const std::string& path) {
  z_stream stream{};
  NABLA_CHECK(inflateInit2(&stream, 15 + 16) == Z_OK, "read_tfrecords: ", path,
              ": zlib could not start");
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  std::string out;
  char buffer[1 << 16];
  int status = Z_OK;
  while (status == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof(buffer);
    status = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof(buffer) - stream.avail_out);
    if (status == Z_BUF_ERROR && stream.avail_in == 0) break;  // the input ended early
    if (static_cast<int64_t>(out.size()) > kMaxTFRecordBytes) break;
  }
  const std::string message = stream.msg != nullptr ? stream.msg : "";
  inflateEnd(&stream);
  NABLA_CHECK(static_cast<int64_t>(out.size()) <= kMaxTFRecordBytes, "read_tfrecords: ", path,
              ": more than ", kMaxTFRecordBytes, " bytes once decompressed; split it in shards");
  NABLA_CHECK(status != Z_BUF_ERROR, "read_tfrecords: ", path,
              ": truncated: the gzip stream ends early");
  NABLA_CHECK(status == Z_STREAM_END, "read_tfrecords: ", path, ": corrupt gzip stream: ", message);
  return out;
}

std::string gzip_bytes(const std::string& bytes, const std::string& path) {
  z_stream stream{};
  NABLA_CHECK(deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                           Z_DEFAULT_STRATEGY) == Z_OK,
              "write_tfrecords: ", path, ": zlib could not start");
  std::string out(deflateBound(&stream, bytes.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  NABLA_CHECK(status == Z_STREAM_END, "write_tfrecords: ", path, ": gzip compression failed");
  return out;
}

}  // namespace

Feature bytes_feature(std::vector<std::string> values) {
  Feature f;
  f.kind = Feature::Kind::bytes;
  f.bytes = std::move(values);
  return f;
}
Feature float_feature(std::vector<float> values) {
  Feature f;
  f.kind = Feature::Kind::floats;
  f.floats = std::move(values);
  return f;
}
Feature int64_feature(std::vector<int64_t> values) {
  Feature f;
  f.kind = Feature::Kind::int64s;
  f.int64s = std::move(values);
  return f;
}

const char* feature_kind_name(Feature::Kind kind) {
  switch (kind) {
    case Feature::Kind::bytes:
      return "bytes_list";
    case Feature::Kind::floats:
      return "float_list";
    case Feature::Kind::int64s:
      return "int64_list";
  }
  return "?";
}

std::string encode_example(const Features& features) {
  pb::Example example;
  auto& map = *example.mutable_features()->mutable_feature();
  for (const auto& [name, feature] : features) {
    pb::Feature& out = map[name];
    switch (feature.kind) {
      case Feature::Kind::bytes:
        for (const std::string& v : feature.bytes) out.mutable_bytes_list()->add_value(v);
        if (feature.bytes.empty()) out.mutable_bytes_list();
        break;
      case Feature::Kind::floats:
        out.mutable_float_list()->mutable_value()->Add(feature.floats.begin(),
                                                       feature.floats.end());
        break;
      case Feature::Kind::int64s:
        out.mutable_int64_list()->mutable_value()->Add(feature.int64s.begin(),
                                                       feature.int64s.end());
        break;
    }
  }
  std::string bytes;
  // Deterministic: map entries in key order, so that the same features give the same bytes.
  google::protobuf::io::StringOutputStream stream(&bytes);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  example.SerializeToCodedStream(&coded);
  coded.Trim();
  return bytes;
}

Features decode_example(std::string_view bytes, const std::string& where) {
  pb::Example example;
  NABLA_CHECK(example.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())), where,
              ": not a tf.train.Example (", bytes.size(), " bytes that protobuf cannot parse)");
  Features features;
  for (const auto& [name, feature] : example.features().feature()) {
    switch (feature.kind_case()) {
      case pb::Feature::kBytesList:
        features[name] = bytes_feature(std::vector<std::string>(
            feature.bytes_list().value().begin(), feature.bytes_list().value().end()));
        break;
      case pb::Feature::kFloatList:
        features[name] = float_feature(std::vector<float>(feature.float_list().value().begin(),
                                                          feature.float_list().value().end()));
        break;
      case pb::Feature::kInt64List:
        features[name] = int64_feature(std::vector<int64_t>(feature.int64_list().value().begin(),
                                                            feature.int64_list().value().end()));
        break;
      case pb::Feature::KIND_NOT_SET:
        // TensorFlow reads a feature with no list as an empty one; its type is unknown.
        features[name] = bytes_feature({});
        break;
    }
  }
  return features;
}

void write_tfrecords(const std::string& path, const std::vector<std::string>& records) {
  std::string out;
  for (const std::string& record : records) internal::append_tfrecord(out, record);
  const bool gzip = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  write_file_atomic(path, gzip ? gzip_bytes(out, path) : out, "TFRecord file");
}

std::vector<std::string> read_tfrecords(const std::string& path) {
  std::string bytes = internal::read_file(path, "read_tfrecords");
  if (is_gzip(bytes)) bytes = gunzip_tfrecords(bytes, path);
  std::vector<std::string> records;
  for (const internal::TFRecord& record :
       internal::parse_tfrecords(bytes, "read_tfrecords: " + path)) {
    records.emplace_back(record.data);
  }
  return records;
}

}  // namespace nabla::data
