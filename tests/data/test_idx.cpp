#include <gtest/gtest.h>

#include <filesystem>

#include "data/test_util.hpp"
#include "nabla/nabla.hpp"

using nabla::testing::error_message;
using namespace nabla;
using nabla::testing::read_bytes;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;

namespace {

Tensor pattern_u8(const Shape& shape, int salt = 0) {
  std::vector<uint8_t> values;
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  for (int64_t i = 0; i < n; ++i) values.push_back(static_cast<uint8_t>((i * 37 + salt) % 256));
  return from_vector(values, shape);
}

// Magic 0x00000803 and the sizes, big-endian, as the IDX format stores them.
std::string idx3_header(uint8_t n, uint8_t rows, uint8_t columns) {
  return std::string{0, 0, 8, 3,
                     0, 0, 0, static_cast<char>(n),
                     0, 0, 0, static_cast<char>(rows),
                     0, 0, 0, static_cast<char>(columns)};
}

}  // namespace

TEST(Idx, RoundTripPlain) {
  TempDir dir;
  const Tensor images = pattern_u8({3, 4, 5});
  data::write_idx(dir.file("images-idx3-ubyte"), images);
  const std::string bytes = read_bytes(dir.file("images-idx3-ubyte"));
  ASSERT_EQ(bytes.size(), 16u + 60u);
  EXPECT_EQ(bytes.substr(0, 16), idx3_header(3, 4, 5));
  EXPECT_EQ(static_cast<uint8_t>(bytes[16 + 7]), images.to_vector<uint8_t>()[7]);

  const Tensor back = data::read_idx(dir.file("images-idx3-ubyte"));
  EXPECT_EQ(back.dtype(), DType::u8);
  EXPECT_EQ(back.shape(), (Shape{3, 4, 5}));
  EXPECT_EQ(back.to_vector<uint8_t>(), images.to_vector<uint8_t>());
}

TEST(Idx, RoundTripGzipAndLabels) {
  TempDir dir;
  const Tensor labels = pattern_u8({17}, 3);
  data::write_idx(dir.file("labels-idx1-ubyte.gz"), labels);
  const std::string bytes = read_bytes(dir.file("labels-idx1-ubyte.gz"));
  ASSERT_GE(bytes.size(), 2u);
  EXPECT_EQ(static_cast<uint8_t>(bytes[0]), 0x1f);  // gzip signature
  EXPECT_EQ(static_cast<uint8_t>(bytes[1]), 0x8b);
  const Tensor back = data::read_idx(dir.file("labels-idx1-ubyte.gz"));
  EXPECT_EQ(back.shape(), (Shape{17}));
  EXPECT_EQ(back.to_vector<uint8_t>(), labels.to_vector<uint8_t>());
}

TEST(Idx, HandWrittenFileReads) {
  TempDir dir;
  write_bytes(dir.file("x"), idx3_header(1, 2, 2) + std::string{1, 2, 3, 4});
  const Tensor t = data::read_idx(dir.file("x"));
  EXPECT_EQ(t.shape(), (Shape{1, 2, 2}));
  EXPECT_EQ(t.to_vector<uint8_t>(), (std::vector<uint8_t>{1, 2, 3, 4}));
}

TEST(Idx, MissingFileNamesThePath) {
  TempDir dir;
  const std::string path = dir.file("absent-idx1-ubyte");
  EXPECT_EQ(error_message([&] { data::read_idx(path); }),
            "read_idx: cannot open " + path + ": No such file or directory");
}

TEST(Idx, WrongMagicNamesFoundAndExpected) {
  TempDir dir;
  std::string bytes = idx3_header(1, 1, 1) + std::string(1, '\0');
  bytes[2] = 0x0D;  // float data: not what MNIST files hold
  write_bytes(dir.file("float-idx"), bytes);
  EXPECT_EQ(error_message([&] { data::read_idx(dir.file("float-idx")); }),
            "read_idx: " + dir.file("float-idx") +
                " has magic number 0x00000D03, expected 0x0000080N for unsigned bytes with N axes "
                "(0x00000801 for labels, 0x00000803 for images); is it an IDX file?");
  write_bytes(dir.file("text"), "hello world, not idx");
  EXPECT_NE(
      error_message([&] { data::read_idx(dir.file("text")); }).find("magic number 0x68656C6C"),
      std::string::npos);
}

TEST(Idx, TruncatedFileNamesExpectedAndActualSize) {
  TempDir dir;
  // Declares 2x3x3 = 18 data bytes after a 16-byte header, holds 10.
  write_bytes(dir.file("short"), idx3_header(2, 3, 3) + std::string(10, '\x07'));
  EXPECT_EQ(error_message([&] { data::read_idx(dir.file("short")); }),
            "read_idx: " + dir.file("short") +
                " is truncated: shape [2, 3, 3] needs 34 bytes, the file has 26");
  write_bytes(dir.file("header"), idx3_header(2, 3, 3).substr(0, 9));
  EXPECT_EQ(
      error_message([&] { data::read_idx(dir.file("header")); }),
      "read_idx: " + dir.file("header") + " is truncated: expected a 16-byte header, got 9 bytes");
  write_bytes(dir.file("tiny"), std::string{0, 0});
  EXPECT_EQ(error_message([&] { data::read_idx(dir.file("tiny")); }),
            "read_idx: " + dir.file("tiny") +
                " is truncated: expected at least 4 bytes (the magic number), got 2");
}

TEST(Idx, TruncatedGzipStream) {
  TempDir dir;
  data::write_idx(dir.file("t.gz"), pattern_u8({50, 20, 20}));
  const std::string full = read_bytes(dir.file("t.gz"));
  write_bytes(dir.file("cut.gz"), full.substr(0, full.size() / 2));
  EXPECT_EQ(error_message([&] { data::read_idx(dir.file("cut.gz")); }),
            "read_idx: " + dir.file("cut.gz") +
                " is truncated: the gzip stream ends early; download or copy it again");
}

TEST(Idx, TrailingBytesAreAnError) {
  TempDir dir;
  write_bytes(dir.file("long"), idx3_header(1, 1, 2) + std::string(5, '\x01'));
  EXPECT_EQ(error_message([&] { data::read_idx(dir.file("long")); }),
            "read_idx: " + dir.file("long") +
                " has more data than its header declares (shape [1, 1, 2], 18 bytes); is it an "
                "IDX file?");
}

// Found by fuzz_idx (fuzz/regressions/idx/): zero images of 2^31-ish sizes hold no elements, but
// the strides of such a tensor wrapped.
TEST(Idx, EmptyTensorWithHugeAxesIsAnError) {
  TempDir dir;
  write_bytes(dir.file("empty"),
              std::string{0, 0, 8, 4, 0, 0, 0, 0, 8, 126, 4, 0} + std::string(8, '\xe9'));
  EXPECT_EQ(error_message([&] { data::read_idx(dir.file("empty")); }),
            "read_idx: " + dir.file("empty") +
                ": shape [0, 142476288, 3924421097, 3924421097] has sizes whose product (its "
                "strides) does not fit in 64 bits");
}

TEST(Idx, WriteRejectsNonBytesAndLeavesNoFile) {
  TempDir dir;
  EXPECT_NE(error_message([&] {
              data::write_idx(dir.file("f"), zeros({2, 2}));
            }).find("write_idx: expected a u8 tensor"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.file("f")));
  EXPECT_NE(error_message([&] {
              data::write_idx(dir.file("missing/x"), pattern_u8({2}));
            }).find("write_idx: cannot write " + dir.file("missing/x")),
            std::string::npos);
}

namespace {

// A miniature MNIST-layout folder: 5 training and 3 test images of 28x28.
void write_mini_mnist(const TempDir& dir, int64_t train_labels = 5) {
  data::write_idx(dir.file("train-images-idx3-ubyte.gz"), pattern_u8({5, 28, 28}, 1));
  data::write_idx(dir.file("train-labels-idx1-ubyte.gz"),
                  from_vector(std::vector<uint8_t>(train_labels, 9)));
  data::write_idx(dir.file("t10k-images-idx3-ubyte"), pattern_u8({3, 28, 28}, 2));
  data::write_idx(dir.file("t10k-labels-idx1-ubyte"), from_vector(std::vector<uint8_t>{0, 4, 9}));
}

}  // namespace

TEST(Mnist, LoadsScaledImagesAndI64Labels) {
  TempDir dir;
  write_mini_mnist(dir);
  const data::MnistData mnist = data::load_fashion_mnist(dir.path().string());
  EXPECT_EQ(mnist.train_images.shape(), (Shape{5, 28, 28}));
  EXPECT_EQ(mnist.train_images.dtype(), DType::f32);
  EXPECT_EQ(mnist.train_labels.shape(), (Shape{5}));
  EXPECT_EQ(mnist.train_labels.dtype(), DType::i64);
  EXPECT_EQ(mnist.test_labels.to_vector<int64_t>(), (std::vector<int64_t>{0, 4, 9}));
  const std::vector<uint8_t> raw = pattern_u8({3, 28, 28}, 2).to_vector<uint8_t>();
  const std::vector<float> scaled = mnist.test_images.to_vector<float>();
  for (size_t i : {0ul, 1ul, 500ul, 2351ul}) {
    EXPECT_FLOAT_EQ(scaled[i], raw[i] / 255.0f);
  }

  const data::MnistData bytes = data::load_mnist(dir.path().string(), /*raw=*/true);
  EXPECT_EQ(bytes.test_images.dtype(), DType::u8);
  EXPECT_EQ(bytes.test_images.to_vector<uint8_t>(), raw);
  EXPECT_EQ(bytes.train_labels.dtype(), DType::u8);
}

TEST(Mnist, MissingFolderSaysWhereAndHowToInstall) {
  EXPECT_EQ(error_message([] { data::load_fashion_mnist("/nonexistent/fmnist"); }),
            "Fashion-MNIST: folder /nonexistent/fmnist does not exist; install it with `apt-get "
            "install dataset-fashion-mnist` or pass --data DIR");
}

TEST(Mnist, MissingFileSaysWhereItLooked) {
  TempDir dir;
  write_mini_mnist(dir);
  std::filesystem::remove(dir.file("t10k-labels-idx1-ubyte"));
  const std::string plain = dir.file("t10k-labels-idx1-ubyte");
  EXPECT_EQ(error_message([&] { data::load_fashion_mnist(dir.path().string()); }),
            "Fashion-MNIST: t10k-labels-idx1-ubyte not found in " + dir.path().string() +
                " (looked for " + plain + " and " + plain +
                ".gz); install it with `apt-get install dataset-fashion-mnist` or pass --data DIR");
}

TEST(Mnist, CountMismatchIsAnError) {
  TempDir dir;
  write_mini_mnist(dir, /*train_labels=*/4);
  EXPECT_EQ(error_message([&] { data::load_mnist(dir.path().string()); }),
            "MNIST-format data set: " + dir.file("train-images-idx3-ubyte.gz") +
                " holds 5 images but " + dir.file("train-labels-idx1-ubyte.gz") +
                " holds 4 labels; expected one label per image");
}

TEST(Mnist, RealFashionMnistWhenInstalled) {
  if (!std::filesystem::exists(data::kFashionMnistDir)) {
    GTEST_SKIP() << data::kFashionMnistDir
                 << " not installed (apt-get install dataset-fashion-mnist)";
  }
  const std::string dir = data::kFashionMnistDir;
  const std::string suffix = std::filesystem::exists(dir + "/t10k-images-idx3-ubyte") ? "" : ".gz";
  const Tensor images = data::read_idx(dir + "/t10k-images-idx3-ubyte" + suffix);
  const Tensor labels = data::read_idx(dir + "/t10k-labels-idx1-ubyte" + suffix);
  EXPECT_EQ(images.shape(), (Shape{10000, 28, 28}));
  EXPECT_EQ(labels.shape(), (Shape{10000}));
  std::vector<int64_t> per_class(10, 0);
  for (uint8_t label : labels.to_vector<uint8_t>()) {
    ASSERT_LT(label, 10);
    ++per_class[label];
  }
  EXPECT_EQ(per_class, std::vector<int64_t>(10, 1000));  // the test set is balanced
  EXPECT_EQ(data::fashion_mnist_classes().size(), 10u);
  EXPECT_EQ(data::fashion_mnist_classes()[9], "Ankle boot");
}

namespace {
// An IDX header with 32-bit sizes, big-endian, and no data.
std::string idx_header(const std::vector<uint32_t>& sizes) {
  std::string bytes{0, 0, 8, static_cast<char>(sizes.size())};
  for (uint32_t size : sizes) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(size >> shift));
  }
  return bytes;
}
}  // namespace

// Issue 12, rows 5 and 6: sizes whose product wrapped (to 784 in 32 bits) or asked the allocator
// for exabytes; now checked against the file before anything is allocated.
TEST(Idx, HugeHeaderIsCheckedAgainstTheFileSize) {
  TempDir dir;
  write_bytes(dir.file("huge"), idx_header({1, 1531578832, 2801924005}) + std::string(784, '\0'));
  EXPECT_EQ(error_message([&] { data::read_idx(dir.file("huge")); }),
            "read_idx: " + dir.file("huge") +
                " is truncated: shape [1, 1531578832, 2801924005] needs 4291367494930662176 "
                "bytes, the file has 800");
}

TEST(Idx, SizesWhoseProductOverflowsAreAnError) {
  TempDir dir;
  write_bytes(dir.file("overflow"), idx_header({4000000000, 4000000000, 4000000000}));
  EXPECT_EQ(error_message([&] { data::read_idx(dir.file("overflow")); }),
            "read_idx: " + dir.file("overflow") +
                ": shape [4000000000, 4000000000, 4000000000] has more elements than fit in 64 "
                "bits");
}

TEST(Idx, GzipHeaderBeyondWhatDeflateCanHoldIsAnError) {
  TempDir dir;
  // A gzip member holding the header in one stored (uncompressed) deflate block, written by hand:
  // write_idx cannot write a header without its data.
  const std::string header = idx_header({1, 1 << 20, 1 << 20});
  std::string gzip = {'\x1f', '\x8b', 8, 0, 0, 0, 0, 0, 0, '\xff'};
  const auto length = static_cast<uint16_t>(header.size());
  gzip += {1, static_cast<char>(length), static_cast<char>(length >> 8), static_cast<char>(~length),
           static_cast<char>(~length >> 8)};
  gzip += header;
  uint32_t crc = ~0u;  // CRC-32 as gzip's trailer holds it (zlib checks it on the first read)
  for (unsigned char byte : header) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  crc = ~crc;
  for (uint32_t word : {crc, static_cast<uint32_t>(header.size())}) {
    for (int shift = 0; shift < 32; shift += 8) gzip.push_back(static_cast<char>(word >> shift));
  }
  write_bytes(dir.file("lying.gz"), gzip);
  EXPECT_EQ(error_message([&] { data::read_idx(dir.file("lying.gz")); }),
            "read_idx: " + dir.file("lying.gz") +
                " declares shape [1, 1048576, 1048576] (1099511627776 bytes), more than a gzip "
                "file of " +
                std::to_string(gzip.size()) +
                " bytes can hold (deflate expands at most 1032:1); the file is corrupt");
}
