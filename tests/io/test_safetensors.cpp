#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"

using nabla::testing::error_message;
using namespace nabla;
using nabla::testing::read_bytes;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

namespace {

std::string le64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(value >> (8 * i));
  return out;
}

template <class T>
std::string raw(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// A file laid out by hand: header length, header text, data.
std::string file_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

// The error of loading `bytes` written to `path`.
std::string error_loading(const std::string& path, const std::string& bytes) {
  write_bytes(path, bytes);
  return error_message([&] { io::load_safetensors(path); });
}

}  // namespace

TEST(SafeTensors, RoundTripEveryDtype) {
  TempDir dir;
  std::map<std::string, Tensor> tensors = {
      {"f32", from_vector(std::vector<float>{1.5f, -2, 3e-8f, 4, 5, 6}, {2, 3})},
      {"f64", from_vector(std::vector<double>{3.141592653589793, -1e300}, {2, 1})},
      {"i64", from_vector(std::vector<int64_t>{-5, INT64_MAX, 7})},
      {"u8", from_vector(std::vector<uint8_t>{0, 128, 255}, {1, 3})},
      {"bool", from_vector(std::vector<bool>{true, false, true})},
      {"scalar", scalar_tensor(2.5)},
      {"empty", zeros({0, 3})},
      {"strided", arange(0, 6, 1, DType::f32).reshape({2, 3}).t()},
  };
  const std::map<std::string, std::string> metadata = {{"epoch", "3"}, {"note", "\"quoted\" é"}};
  io::save_safetensors(dir.file("all.safetensors"), tensors, metadata);
  const io::SafeTensors loaded = io::load_safetensors(dir.file("all.safetensors"));
  EXPECT_EQ(loaded.metadata, metadata);
  ASSERT_EQ(loaded.tensors.size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    const Tensor& back = loaded.tensors.at(name);
    EXPECT_EQ(back.dtype(), tensor.dtype()) << name;
    EXPECT_EQ(back.shape(), tensor.shape()) << name;
    const Tensor expected = tensor.contiguous();
    const size_t nbytes = expected.numel() * dtype_size(expected.dtype());
    EXPECT_EQ(std::memcmp(back.raw_data(), expected.raw_data(), nbytes), 0) << name;
  }
  EXPECT_EQ(loaded.tensors.at("strided").to_vector<float>(),
            (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

// The byte layouts below are those of Hugging Face's reference implementation (its own tests).
TEST(SafeTensors, ByteExactSingleTensor) {
  TempDir dir;
  io::save_safetensors(dir.file("a.safetensors"),
                       {{"attn.0", from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {1, 2, 3})}});
  const std::string header = R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})";
  ASSERT_EQ(header.size(), 64u);  // already a multiple of 8: no padding
  EXPECT_EQ(read_bytes(dir.file("a.safetensors")),
            file_bytes(header, raw(std::vector<float>{0, 1, 2, 3, 4, 5})));
}

TEST(SafeTensors, ByteExactEmptyAndMetadataPadding) {
  TempDir dir;
  io::save_safetensors(dir.file("empty.safetensors"), {});
  EXPECT_EQ(read_bytes(dir.file("empty.safetensors")), file_bytes("{}      ", ""));
  io::save_safetensors(dir.file("meta.safetensors"), {}, {{"framework", "pt"}});
  EXPECT_EQ(read_bytes(dir.file("meta.safetensors")),
            file_bytes(R"({"__metadata__":{"framework":"pt"}})"
                       "     ",
                       ""));
}

TEST(SafeTensors, ByteExactOrderWidestDtypeFirstThenName) {
  TempDir dir;
  io::save_safetensors(dir.file("mixed.safetensors"), {{"a", from_vector(std::vector<float>{1, 2})},
                                                       {"b", from_vector(std::vector<int64_t>{7})},
                                                       {"c", scalar_tensor(1, DType::boolean)}});
  const std::string header = R"({"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                             R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
                             R"("c":{"dtype":"BOOL","shape":[],"data_offsets":[16,17]}})"
                             "     ";
  EXPECT_EQ(read_bytes(dir.file("mixed.safetensors")),
            file_bytes(header, raw(std::vector<int64_t>{7}) + raw(std::vector<float>{1, 2}) +
                                   std::string(1, '\x01')));
}

TEST(SafeTensors, ReadsHandWrittenFileWithAnyKeyOrder) {
  TempDir dir;
  const std::string header =
      R"({"w":{"shape":[2],"data_offsets":[8,16],"dtype":"F32"},)"
      R"("__metadata__":{"k":"v"},"n":{"dtype":"I64","data_offsets":[0,8],"shape":[]}})";
  write_bytes(dir.file("h.safetensors"), file_bytes(header, raw(std::vector<int64_t>{42}) +
                                                                raw(std::vector<float>{0.5f, -1})));
  const io::SafeTensors loaded = io::load_safetensors(dir.file("h.safetensors"));
  EXPECT_EQ(loaded.tensors.at("n").item<int64_t>(), 42);
  EXPECT_EQ(loaded.tensors.at("w").to_vector<float>(), (std::vector<float>{0.5f, -1}));
  EXPECT_EQ(loaded.metadata.at("k"), "v");
}

TEST(SafeTensors, CorruptFilesNameThePathAndTheProblem) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  const auto load_error = [&](const std::string& bytes) { return error_loading(path, bytes); };
  const std::string prefix = "load_safetensors: " + path + ": ";
  EXPECT_EQ(load_error("abc"),
            prefix +
                "the file has 3 bytes, too short for the 8-byte header length; not a "
                "safetensors file");
  EXPECT_EQ(load_error(le64(100) + "{}"),
            prefix +
                "header length 100 exceeds the file size (10 bytes); truncated, or not a "
                "safetensors file");
  EXPECT_EQ(load_error(file_bytes("[1, 2]  ", "")), prefix + "the header is not a JSON object");
  EXPECT_NE(load_error(file_bytes("{\"a\": ", ""))
                .find(prefix + "header: invalid JSON at line 1, column 7: "),
            std::string::npos);
  EXPECT_EQ(
      load_error(file_bytes(R"({"x":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", "ab")),
      prefix + "tensor \"x\": dtype F16 is not supported (supported: F32, F64, I64, U8, BOOL)");
  EXPECT_EQ(
      load_error(file_bytes(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})",
                            std::string(8, '\0'))),
      prefix + "tensor \"x\": data_offsets [0, 8] span 8 bytes, but shape [3] of F32 needs 12");
  EXPECT_EQ(
      load_error(file_bytes(R"({"x":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})", "abc")),
      prefix +
          "tensor \"x\" starts at byte 1 of the data, expected 0 (tensors must follow "
          "each other without gaps or overlaps)");
  EXPECT_EQ(
      load_error(file_bytes(R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", "ab")),
      prefix + "the header describes 4 bytes of tensor data, the file holds 2; truncated");
  EXPECT_EQ(load_error(file_bytes(R"({"__metadata__":{"n":1}})", "")),
            prefix + "__metadata__[\"n\"] is 1, expected a string");
  EXPECT_EQ(load_error(file_bytes(R"({"x":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}})", "")),
            prefix + "tensor \"x\": shape [-1] holds a non-integer, negative or too large size");
  EXPECT_EQ(error_message([&] { io::load_safetensors(dir.file("nope")); }),
            "load_safetensors: cannot open " + dir.file("nope") + ": No such file or directory");
}

// Issue 12, row 2: a header nested 100,000 deep, and sizes that overflow, are one error each.
TEST(SafeTensors, DeepOrHugeHeadersAreErrors) {
  TempDir dir;
  const std::string path = dir.file("bad.safetensors");
  const auto load_error = [&](const std::string& bytes) { return error_loading(path, bytes); };
  const std::string prefix = "load_safetensors: " + path + ": ";
  const std::string deep = load_error(
      file_bytes(R"({"x": )" + std::string(100000, '[') + std::string(100000, ']') + "}", ""));
  EXPECT_EQ(deep.rfind(prefix + "header: x[0][0][0]", 0), 0u) << deep.substr(0, 200);
  EXPECT_NE(deep.find("nested more than 128 levels deep"), std::string::npos);
  EXPECT_EQ(
      load_error(file_bytes(
          R"({"x":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}})", "")),
      prefix +
          "tensor \"x\": shape [18446744073709551615] holds a non-integer, negative or too "
          "large size");
  EXPECT_EQ(
      load_error(file_bytes(
          R"({"x":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}})", "")),
      prefix +
          "tensor \"x\": shape [4294967296, 4294967296, 4] has more elements than fit in 64 "
          "bits");
  EXPECT_EQ(
      load_error(file_bytes(
          R"({"x":{"dtype":"F64","shape":[2147483648,2147483648],"data_offsets":[0,4]}})", "")),
      prefix + "tensor \"x\": 4611686018427387904 elements of 8 bytes need more than 2^63 bytes");
}

TEST(SafeTensors, WritesAtomically) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  io::save_safetensors(path, {{"w", ones({4})}});
  const std::string before = read_bytes(path);
  // A failing save leaves the previous file as it was and no temporary file behind.
  EXPECT_EQ(error_message([&] {
              io::save_safetensors(path, {{"w", ones({2})}, {"bad", Tensor()}});
            }),
            "save_safetensors: tensor \"bad\" is undefined");
  EXPECT_EQ(read_bytes(path), before);
  io::save_safetensors(path, {{"w", zeros({2})}});
  EXPECT_EQ(io::load_safetensors(path).tensors.at("w").shape(), (Shape{2}));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "model.safetensors");
    ++files;
  }
  EXPECT_EQ(files, 1);
  EXPECT_EQ(error_message([&] { io::save_safetensors(dir.file("no/such/dir.safetensors"), {}); }),
            "save_safetensors: cannot write " + dir.file("no/such/dir.safetensors") +
                ": No such file or directory");
}
