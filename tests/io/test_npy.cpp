// .npy and .npz: files NumPy wrote (tests/reference/gen_npy.py) read to the exact values, nabla's
// files byte-identical to np.save's and read by NumPy itself (when Debian's python3-numpy is
// installed), round trips of every dtype, and the error of every kind of bad file.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "data/test_util.hpp"
#include "io/zip_archive.hpp"
#include "nabla/nabla.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::read_bytes;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

namespace {

const std::string kReferenceDir = std::string(NABLA_REFERENCE_DIR) + "/npy/";

nlohmann::json expected_files() {
  std::ifstream in(kReferenceDir + "expected.json");
  EXPECT_TRUE(in.good()) << "run /usr/bin/python3 tests/reference/gen_npy.py";
  nlohmann::json files = nlohmann::json::parse(in);
  files.erase("__meta__");
  return files;
}

// `tensor` against {"dtype", "shape", "values" in C order}: floating values bit for bit (so -0.0
// and subnormals count), integers and booleans exactly.
void expect_values(const Tensor& tensor, const nlohmann::json& expected, const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_EQ(dtype_name(tensor.dtype()), expected.at("dtype").get<std::string>());
  ASSERT_EQ(tensor.shape(), expected.at("shape").get<Shape>());
  EXPECT_TRUE(tensor.is_contiguous());
  const nlohmann::json& values = expected.at("values");
  ASSERT_EQ(tensor.numel(), static_cast<int64_t>(values.size()));
  if (is_floating(tensor.dtype())) {
    const std::vector<double> actual = tensor.to(DType::f64).to_vector<double>();
    for (size_t i = 0; i < actual.size(); ++i) {
      const double value = values[i].get<double>();
      EXPECT_EQ(std::memcmp(&actual[i], &value, sizeof(double)), 0)
          << "element " << i << ": " << actual[i] << " vs expected " << value;
    }
  } else if (tensor.dtype() == DType::boolean) {
    EXPECT_EQ(tensor.to_vector<bool>(), values.get<std::vector<bool>>());
  } else if (tensor.dtype() == DType::u8) {
    EXPECT_EQ(tensor.to_vector<uint8_t>(), values.get<std::vector<uint8_t>>());
  } else {
    EXPECT_EQ(tensor.to_vector<int64_t>(), values.get<std::vector<int64_t>>());
  }
}

// Same dtype, shape and bytes (NaN payloads and -0.0 included).
void expect_same(const Tensor& actual, const Tensor& expected, const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_EQ(actual.dtype(), expected.dtype());
  ASSERT_EQ(actual.shape(), expected.shape());
  const Tensor a = actual.contiguous(), e = expected.contiguous();
  EXPECT_EQ(std::memcmp(a.raw_data(), e.raw_data(), a.numel() * dtype_size(a.dtype())), 0);
}

std::map<std::string, Tensor> every_dtype() {
  const float inf = std::numeric_limits<float>::infinity();
  return {
      {"f32",
       from_vector(std::vector<float>{1.5f, -0.0f, inf, -inf, std::nanf(""), 1e-40f}, {2, 3})},
      {"f64", from_vector(std::vector<double>{3.141592653589793, -1e300, 5e-324})},
      {"i64", from_vector(std::vector<int64_t>{INT64_MIN, -1, 0, INT64_MAX}, {2, 1, 2})},
      {"u8", from_vector(std::vector<uint8_t>{0, 128, 255}, {3, 1})},
      {"bool", from_vector(std::vector<bool>{true, false, true})},
      {"scalar", scalar_tensor(2.5, DType::f64)},
      {"empty", zeros({0, 3})},
      {"empty_middle", zeros({2, 0, 4}, DType::i64)},
      {"transposed", arange(0, 6, 1, DType::f32).reshape({2, 3}).t()},
  };
}

std::string le16(uint16_t value) {
  return {static_cast<char>(value & 0xFF), static_cast<char>(value >> 8)};
}

// A version 1.0 file laid out by hand: magic, header length, `header` as given, `data`.
std::string npy_bytes(const std::string& header, const std::string& data = "") {
  return std::string("\x93NUMPY\x01\x00", 8) + le16(static_cast<uint16_t>(header.size())) + header +
         data;
}

std::string dict(const std::string& descr, const std::string& shape,
                 const std::string& fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }\n";
}

// CRC-32 as zip computes it (reflected 0xEDB88320), to predict the checksum error's text.
uint32_t crc32_of(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFF;
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320 & (0 - (crc & 1)));
  }
  return ~crc;
}

uint32_t get32(const std::string& bytes, size_t at) {
  uint32_t value = 0;
  for (int i = 3; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

void put(std::string& bytes, size_t at, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) bytes[at + i] = static_cast<char>(value >> (8 * i));
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08x", value);
  return text;
}

// Debian's python3-numpy, when installed (python3 on PATH may be another interpreter).
bool have_numpy() {
  return std::filesystem::exists("/usr/bin/python3") &&
         std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

// What NumPy makes of `path`: for each array (sorted by name for an .npz) its dtype, shape and
// values as Python prints them.
std::string numpy_reads(const std::string& path) {
  const std::string command =
      "/usr/bin/python3 -c \"import sys, numpy as np\n"
      "f = np.load(sys.argv[1])\n"
      "arrays = [(k, f[k]) for k in sorted(f.files)] if hasattr(f, 'files') else [('', f)]\n"
      "for k, a in arrays: print(k, a.dtype.str, a.shape, a.flags.c_contiguous, a.tolist())\" " +
      path + " 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::array<char, 4096> buffer;
  while (fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
  pclose(pipe);
  return output;
}

}  // namespace

// The fixtures are outside the anonymous namespace: a test class derived from one there would
// warn in a unity build (-Wsubobject-linkage).
class NpyErrors : public ::testing::Test {
 protected:
  // The error of loading `bytes` as an .npy file.
  std::string load_error(const std::string& bytes) {
    write_bytes(path_, bytes);
    return error_message([&] { io::load_npy(path_); });
  }
  std::string expected(const std::string& message) const {
    return "load_npy: " + path_ + ": " + message;
  }
  TempDir dir_;
  std::string path_ = dir_.file("bad.npy");
};

class NpzErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    stored_ = read_bytes(kReferenceDir + "savez.npz");
    compressed_ = read_bytes(kReferenceDir + "savez_compressed.npz");
    ASSERT_FALSE(stored_.empty());
  }
  std::string load_error(const std::string& bytes) {
    write_bytes(path_, bytes);
    return error_message([&] { io::load_npz(path_); });
  }
  std::string expected(const std::string& message) const {
    return "load_npz: " + path_ + ": " + message;
  }
  // The first central directory record (x.npy in both files): no comment, so the end record is
  // the last 22 bytes and gives the directory's offset.
  static size_t first_record(const std::string& archive) {
    return get32(archive, archive.size() - 22 + 16);
  }
  // An archive of the given members written by nabla's writer.
  std::string archive_of(const std::vector<std::pair<std::string, std::string>>& members) {
    const std::string file = dir_.file("made.npz");
    io::internal::ZipWriter zip(file, "test");
    for (const auto& [name, bytes] : members) zip.add(name, {bytes}, false);
    zip.commit();
    return read_bytes(file);
  }
  TempDir dir_;
  std::string path_ = dir_.file("bad.npz");
  std::string stored_, compressed_;
};

TEST(NpyReference, ReadsEveryFileNumPyWrote) {
  const nlohmann::json files = expected_files();
  ASSERT_GE(files.size(), 20u);
  for (const auto& [name, expected] : files.items()) {
    const std::string path = kReferenceDir + name;
    if (name.ends_with(".npy")) {
      expect_values(io::load_npy(path), expected, name);
      continue;
    }
    const std::map<std::string, Tensor> arrays = io::load_npz(path);
    ASSERT_EQ(arrays.size(), expected.size()) << name;
    for (const auto& [key, member] : expected.items()) {
      ASSERT_EQ(arrays.count(key), 1u) << name << ": " << key;
      expect_values(arrays.at(key), member, name + ": " + key);
    }
  }
}

// Header, padding to 64 bytes (a full 64 when already aligned) and the room NumPy leaves for the
// first axis to grow: the same bytes as np.save for every dtype nabla writes.
TEST(NpyReference, WritesTheBytesNumPyWrites) {
  TempDir dir;
  for (const std::string name : {"f4", "f8", "i8", "u1", "b1", "scalar", "empty", "fortran_i8"}) {
    const std::string reference = kReferenceDir + name + ".npy";
    io::save_npy(dir.file(name), io::load_npy(reference));
    if (name == "fortran_i8") {  // nabla writes C order: same header but the order, other bytes
      EXPECT_EQ(io::load_npy(dir.file(name)).to_vector<int64_t>(),
                (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
      continue;
    }
    EXPECT_EQ(read_bytes(dir.file(name)), read_bytes(reference)) << name;
  }
}

TEST(Npy, RoundTripEveryDtypeAndShape) {
  TempDir dir;
  for (const auto& [name, tensor] : every_dtype()) {
    io::save_npy(dir.file(name + ".npy"), tensor);
    expect_same(io::load_npy(dir.file(name + ".npy")), tensor, name);
    const std::string bytes = read_bytes(dir.file(name + ".npy"));
    EXPECT_EQ(static_cast<unsigned char>(bytes[6]), 1u) << name << ": version 1.0";
    EXPECT_EQ((bytes.size() - tensor.numel() * dtype_size(tensor.dtype())) % 64, 0u) << name;
  }
  // Nothing else is left in the folder: no temporary files.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}),
            static_cast<long>(every_dtype().size()));
}

// A header beyond 64 KiB (22,000 axes) needs version 2.0's 4-byte length; nabla reads it back
// through the path for headers longer than its first read.
TEST(Npy, LongHeaderWritesVersion2) {
  TempDir dir;
  const Tensor tensor = full(Shape(22000, 1), 7, DType::i64);
  io::save_npy(dir.file("long.npy"), tensor);
  const std::string bytes = read_bytes(dir.file("long.npy"));
  EXPECT_EQ(static_cast<unsigned char>(bytes[6]), 2u);
  EXPECT_EQ((bytes.size() - 8) % 64, 0u);
  const Tensor back = io::load_npy(dir.file("long.npy"));
  EXPECT_EQ(back.shape(), tensor.shape());
  EXPECT_EQ(back.to_vector<int64_t>(), std::vector<int64_t>{7});
}

TEST(Npz, RoundTripStoredAndCompressed) {
  TempDir dir;
  std::map<std::string, Tensor> arrays = every_dtype();
  arrays["zeros"] = zeros({1000});
  for (const bool compressed : {false, true}) {
    const std::string path = dir.file(compressed ? "deflated.npz" : "stored.npz");
    io::save_npz(path, arrays, compressed);
    const std::map<std::string, Tensor> back = io::load_npz(path);
    ASSERT_EQ(back.size(), arrays.size());
    for (const auto& [name, tensor] : arrays) expect_same(back.at(name), tensor, name);
  }
  // 4000 bytes of zeros deflate to a few bytes.
  EXPECT_LT(std::filesystem::file_size(dir.file("deflated.npz")) + 3000,
            std::filesystem::file_size(dir.file("stored.npz")));
}

// The Zip64 form of archives beyond 4 GiB (Zip64 sizes and offsets in the central directory, the
// Zip64 end record and its locator), written small: nabla reads it back (and NumPy, below).
TEST(Npz, ReadsZip64Records) {
  TempDir dir;
  io::save_npy(dir.file("x.npy"), every_dtype().at("f32"));
  io::internal::ZipWriter zip(dir.file("zip64.npz"), "test", /*zip64_always=*/true);
  const std::string member = read_bytes(dir.file("x.npy"));
  zip.add("x.npy", {member}, false);
  zip.add("y.npy", {member.substr(0, 10), member.substr(10)}, true);
  zip.commit();
  const std::string bytes = read_bytes(dir.file("zip64.npz"));
  EXPECT_EQ(get32(bytes, bytes.size() - 42), 0x07064b50u) << "the Zip64 locator";
  const std::map<std::string, Tensor> back = io::load_npz(dir.file("zip64.npz"));
  ASSERT_EQ(back.size(), 2u);
  expect_same(back.at("x"), every_dtype().at("f32"), "x");
  expect_same(back.at("y"), every_dtype().at("f32"), "y");
}

TEST(NpyNumPy, NumPyReadsWhatNablaWrites) {
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not installed";
  TempDir dir;
  const std::map<std::string, Tensor> arrays = {
      {"f32", from_vector(std::vector<float>{1.5f, -0.25f, 0, 8}, {2, 2})},
      {"f64", from_vector(std::vector<double>{0.1, -2.5})},
      {"i64", from_vector(std::vector<int64_t>{INT64_MIN, 7}, {1, 2})},
      {"u8", from_vector(std::vector<uint8_t>{0, 255})},
      {"bool", from_vector(std::vector<bool>{true, false})},
      {"scalar", scalar_tensor(-3, DType::i64)},
      {"empty", zeros({0, 2})},
      {"transposed", arange(0, 6, 1, DType::f32).reshape({2, 3}).t()},
  };
  const std::map<std::string, std::string> numpy_text = {
      {"f32", "<f4 (2, 2) True [[1.5, -0.25], [0.0, 8.0]]"},
      {"f64", "<f8 (2,) True [0.1, -2.5]"},
      {"i64", "<i8 (1, 2) True [[-9223372036854775808, 7]]"},
      {"u8", "|u1 (2,) True [0, 255]"},
      {"bool", "|b1 (2,) True [True, False]"},
      {"scalar", "<i8 () True -3"},
      {"empty", "<f4 (0, 2) True []"},
      {"transposed", "<f4 (3, 2) True [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]"},
  };
  std::string all;
  for (const auto& [name, tensor] : arrays) {
    io::save_npy(dir.file(name + ".npy"), tensor);
    EXPECT_EQ(numpy_reads(dir.file(name + ".npy")), " " + numpy_text.at(name) + "\n") << name;
    all += name + " " + numpy_text.at(name) + "\n";
  }
  for (const bool compressed : {false, true}) {
    io::save_npz(dir.file("all.npz"), arrays, compressed);
    EXPECT_EQ(numpy_reads(dir.file("all.npz")), all) << (compressed ? "compressed" : "stored");
  }
  io::internal::ZipWriter zip(dir.file("zip64.npz"), "test", /*zip64_always=*/true);
  const std::string member = read_bytes(dir.file("f32.npy"));
  zip.add("f32.npy", {member}, false);
  zip.add("f64.npy", {read_bytes(dir.file("f64.npy"))}, true);
  zip.commit();
  EXPECT_EQ(numpy_reads(dir.file("zip64.npz")),
            "f32 " + numpy_text.at("f32") + "\nf64 " + numpy_text.at("f64") + "\n");
}

TEST_F(NpyErrors, NotNpy) {
  EXPECT_EQ(load_error("NPY not an npy file"),
            expected("not a .npy file (it does not start with NumPy's magic \\x93NUMPY)"));
  EXPECT_EQ(load_error(read_bytes(kReferenceDir + "savez.npz")),
            expected("not a .npy file but a zip archive (an .npz file of several arrays?)"));
  EXPECT_EQ(load_error(""), expected("truncated: 0 bytes, too short for NumPy's magic and format "
                                     "version"));
  EXPECT_EQ(load_error("\x93NUM"), expected("truncated: 4 bytes, too short for NumPy's magic and "
                                            "format version"));
  EXPECT_EQ(load_error(std::string("\x93NUMPY\x04\x00", 8) + "rest"),
            expected(".npy format version 4.0 is not supported (1.0, 2.0 and 3.0 are)"));
  EXPECT_EQ(error_message([&] { io::load_npy(dir_.file("missing.npy")); }),
            "load_npy: cannot open " + dir_.file("missing.npy") + ": No such file or directory");
}

TEST_F(NpyErrors, TruncatedHeader) {
  EXPECT_EQ(load_error(std::string("\x93NUMPY\x01\x00\x10", 9)),
            expected("truncated: the file ends inside the header length (9 bytes)"));
  EXPECT_EQ(load_error(std::string("\x93NUMPY\x02\x00\x10\x00", 10)),
            expected("truncated: the file ends inside the header length (10 bytes)"));
  // The header claims 1000 bytes; the file ends after 60 of them.
  EXPECT_EQ(load_error(std::string("\x93NUMPY\x01\x00", 8) + le16(1000) + dict("<f4", "(3,)")),
            expected("truncated: the header length 1000 runs past the end of the file (68 "
                     "bytes)"));
  std::string huge_length = std::string("\x93NUMPY\x02\x00", 8) + "\xff\xff\xff\x7f";
  huge_length.append(1 << 21, ' ');
  EXPECT_EQ(load_error(huge_length),
            expected("truncated: the header length 2147483647 runs past the end of the file "
                     "(2097164 bytes)"));
  huge_length.replace(8, 4, std::string("\x00\x00\x20\x00", 4));  // 2 MiB: fits, above the limit
  EXPECT_EQ(load_error(huge_length),
            expected("the header length 2097152 is above the limit of 1048576 bytes"));
}

TEST_F(NpyErrors, MalformedDict) {
  const auto malformed = [&](const std::string& header) { return load_error(npy_bytes(header)); };
  EXPECT_EQ(malformed("'descr': '<f4'}\n"),
            expected("malformed header: expected '{' opening the header dict at character 0 of "
                     "'descr': '<f4'}"));
  EXPECT_EQ(malformed("{'descr' '<f4', 'fortran_order': False, 'shape': (3,), }\n"),
            expected("malformed header: expected ':' after the key 'descr' at character 9 of "
                     "{'descr' '<f4', 'fortran_order': False, 'shape': (3,), }"));
  EXPECT_EQ(malformed("{descr: '<f4'}\n"),
            expected("malformed header: expected a quoted key or '}' at character 1 of {descr: "
                     "'<f4'}"));
  EXPECT_EQ(malformed(dict("<f4", "(3)")),
            expected("malformed header: expected ',' after the only size, as in (3,) at character "
                     "52 of {'descr': '<f4', 'fortran_order': False, 'shape': (3), }"));
  EXPECT_EQ(malformed(dict("<f4", "(3 4)")),
            expected("malformed header: expected ',' or ')' in the shape at character 53 of "
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (3 4), }"));
  EXPECT_EQ(malformed(dict("<f4", "(3, 4") + "x"),
            expected("malformed header: expected a size (a non-negative integer) at character 57 "
                     "of {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4, }?x"));
  EXPECT_EQ(malformed(dict("<f4", "(3,)", "false")),
            expected("malformed header: expected True or False as 'fortran_order' at character "
                     "34 of {'descr': '<f4', 'fortran_order': false, 'shape': (3,), }"));
  EXPECT_EQ(malformed(dict("<f4", "(3,)") + "x\n"),
            expected("malformed header: expected only spaces and a newline after the header dict "
                     "at character 58 of {'descr': '<f4', 'fortran_order': False, 'shape': (3,), "
                     "}?x"));
  EXPECT_EQ(malformed(dict("<f4", "(03,)")),
            expected("malformed header: expected a size without leading zeros at character 51 of "
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (03,), }"));
  EXPECT_EQ(malformed("{'descr': '<f4', 'shape': (3,)}\n"),
            expected("the header lacks 'fortran_order'"));
  EXPECT_EQ(malformed("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (3,)}"),
            expected("the header gives 'descr' twice"));
  EXPECT_EQ(malformed("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}"),
            expected("unexpected key 'x' in the header (expected 'descr', 'fortran_order' and "
                     "'shape')"));
  EXPECT_EQ(malformed("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}"),
            expected("structured arrays (a list as 'descr') are not supported"));
}

TEST_F(NpyErrors, BadShapes) {
  EXPECT_EQ(load_error(npy_bytes(dict("<f4", "(-3, 4)"))),
            expected("negative size -3 in the shape"));
  EXPECT_EQ(load_error(npy_bytes(dict("<f4", "(99999999999999999999,)"))),
            expected("size 99999999999999999999 in the shape does not fit in 64 bits"));
  EXPECT_EQ(load_error(npy_bytes(dict("<f4", "(4611686018427387904, 4)"))),
            expected("the header's shape: shape [4611686018427387904, 4] has more elements than "
                     "fit in 64 bits"));
  EXPECT_EQ(load_error(npy_bytes(dict("<f8", "(2305843009213693952,)"))),
            expected("the header's shape: 2305843009213693952 elements of 8 bytes need more than "
                     "2^63 bytes"));
  // Sizes that multiply within 64 bits but far beyond the file: refused before allocating.
  EXPECT_EQ(load_error(npy_bytes(dict("<f8", "(1000000000, 1000000000)"))),
            expected("shape [1000000000, 1000000000] of '<f8' needs 8000000000000000000 bytes of "
                     "data, the file holds 0 (truncated)"));
}

TEST_F(NpyErrors, DataSizeMustMatchTheShape) {
  const std::string header = dict("<f4", "(2, 3)");
  EXPECT_EQ(load_error(npy_bytes(header, std::string(20, '\0'))),
            expected("shape [2, 3] of '<f4' needs 24 bytes of data, the file holds 20 "
                     "(truncated)"));
  EXPECT_EQ(load_error(npy_bytes(header, std::string(25, '\0'))),
            expected("shape [2, 3] of '<f4' needs 24 bytes of data, the file holds 25 (extra "
                     "bytes after the data)"));
}

TEST_F(NpyErrors, UnsupportedDtypes) {
  const std::string supported =
      " is not supported; nabla reads bool, uint8, uint16, uint32, int8 to int64 and float16 to "
      "float64";
  EXPECT_EQ(load_error(npy_bytes(dict("|O", "(2,)"), std::string(16, '\0'))),
            expected("dtype '|O' is not supported (Python objects, stored as a pickle); nabla "
                     "reads bool, uint8, uint16, uint32, int8 to int64 and float16 to float64"));
  for (const std::string descr : {"<u8", "<c8", "|S3", "<U2", "<M8[ns]", "|f4", "<f16", ""}) {
    EXPECT_EQ(load_error(npy_bytes(dict(descr, "(2,)"))),
              expected("dtype '" + descr + "'" + supported));
  }
}

TEST_F(NpzErrors, NotAZipArchive) {
  EXPECT_EQ(load_error("PK\x05\x06"), expected("not a zip archive: 4 bytes, shorter than the "
                                               "22-byte end-of-central-directory record"));
  EXPECT_EQ(load_error(std::string(100, 'x')),
            expected("not a zip archive: no end-of-central-directory record in its last 100 "
                     "bytes"));
  // Cut in half: the end record is gone.
  EXPECT_EQ(load_error(stored_.substr(0, 500)),
            expected("not a zip archive: no end-of-central-directory record in its last 500 "
                     "bytes"));
  EXPECT_EQ(error_message([&] { io::load_npz(dir_.file("missing.npz")); }),
            "load_npz: cannot open " + dir_.file("missing.npz") + ": No such file or directory");
}

TEST_F(NpzErrors, DirectoryOutsideTheFile) {
  std::string bytes = stored_;
  const size_t end = bytes.size() - 22;
  const uint32_t size = get32(bytes, end + 12), offset = get32(bytes, end + 16);
  put(bytes, end + 16, offset + 1000, 4);
  EXPECT_EQ(load_error(bytes),
            expected("the central directory (" + std::to_string(size) + " bytes at offset " +
                     std::to_string(offset + 1000) + ") does not end where its end record starts " +
                     "(offset " + std::to_string(end) +
                     "): a truncated or damaged archive, or data before the archive (not "
                     "supported)"));
}

TEST_F(NpzErrors, UnsupportedMembers) {
  std::string encrypted = stored_;
  put(encrypted, first_record(stored_) + 8, 1, 2);
  EXPECT_EQ(load_error(encrypted), expected("member 'x.npy': encrypted members are not supported"));
  std::string bzip2 = stored_;
  put(bzip2, first_record(stored_) + 10, 12, 2);
  EXPECT_EQ(load_error(bzip2), expected("member 'x.npy': compression method 12 is not supported "
                                        "(stored, 0, and deflate, 8, are)"));
  EXPECT_EQ(load_error(archive_of({{"a.npy", "x"}, {"a.npy", "y"}})),
            expected("member 'a.npy': the name appears twice in the archive"));
  EXPECT_EQ(load_error(archive_of({{"readme.txt", "hello"}})),
            expected("member 'readme.txt': not an .npy array (an .npz archive holds NAME.npy "
                     "members)"));
  EXPECT_EQ(load_error(archive_of({{"a.npy", "garbage"}})),
            expected("member 'a.npy': not a .npy file (it does not start with NumPy's magic "
                     "\\x93NUMPY)"));
}

TEST_F(NpzErrors, DamagedData) {
  // One byte of x.npy's data changed (stored, so its CRC-32 no longer matches).
  std::string flipped = stored_;
  const size_t record = first_record(stored_);
  const size_t member_size = get32(stored_, record + 24);
  const size_t data_at = 30 + 5 + 20;  // local header, "x.npy", Zip64 extra
  flipped[data_at + member_size - 1] ^= 0x40;
  EXPECT_EQ(load_error(flipped), expected("member 'x.npy': CRC-32 mismatch: the archive records " +
                                          hex32(get32(stored_, record + 16)) + ", the data gives " +
                                          hex32(crc32_of(flipped.substr(data_at, member_size))) +
                                          " (a damaged archive)"));
  // Deflate data starting with a reserved block type.
  std::string corrupt = compressed_;
  corrupt[data_at] = static_cast<char>(0xFF);
  EXPECT_EQ(load_error(corrupt),
            expected("member 'x.npy': corrupt deflate data (zlib: invalid block type)"));
  // A declared size the deflate stream does not fill, and one beyond what deflate can reach.
  std::string larger = compressed_;
  const size_t compressed_record = first_record(compressed_);
  const uint32_t compressed_size = get32(compressed_, compressed_record + 20);
  put(larger, compressed_record + 24, 1000, 4);
  EXPECT_EQ(
      load_error(larger),
      expected("member 'x.npy': inflates to 152 bytes from " + std::to_string(compressed_size) +
               " compressed; the archive declares 1000 from " + std::to_string(compressed_size)));
  // Compressed data cut short: the stream needs more input than the archive gives it.
  std::string cut = compressed_;
  put(cut, compressed_record + 20, compressed_size / 2, 4);
  EXPECT_EQ(load_error(cut), expected("member 'x.npy': the deflate stream ends early, after 46 of "
                                      "152 bytes: a truncated member"));
  put(larger, compressed_record + 24, compressed_size * 1032 + 1, 4);
  EXPECT_EQ(load_error(larger),
            expected("member 'x.npy': declares " + std::to_string(compressed_size * 1032 + 1) +
                     " bytes from " + std::to_string(compressed_size) +
                     " compressed, more than deflate can expand (1032 times)"));
  std::string smaller = compressed_;
  put(smaller, compressed_record + 24, 100, 4);
  EXPECT_EQ(load_error(smaller),
            expected("member 'x.npy': inflates to more than the 100 bytes the archive declares"));
  // A local header offset that points at data.
  std::string moved = stored_;
  put(moved, record + 42, 7, 4);
  EXPECT_EQ(load_error(moved), expected("member 'x.npy': no local header at offset 7"));
  // A member whose size runs into the central directory.
  std::string long_member = stored_;
  put(long_member, record + 20, 100000, 4);
  put(long_member, record + 24, 100000, 4);
  EXPECT_EQ(load_error(long_member),
            expected("member 'x.npy': its 100000 bytes of data at offset 55 run into the central "
                     "directory at offset " +
                     std::to_string(record) + ": a truncated or damaged archive"));
}
