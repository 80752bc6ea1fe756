// IDX files (MNIST's format) and the MNIST-layout data set loaders.
#include <sys/stat.h>
#include <zlib.h>

#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <tuple>

#include "core/checked_size.hpp"
#include "core/tensor_impl.hpp"
#include "data/file_util.hpp"
#include "nabla/data.hpp"

namespace nabla::data {
namespace {

constexpr int kMaxIdxAxes = 8;
// Deflate expands at most 1032:1 (a zlib FAQ figure: 258-byte matches coded in about two bits),
// so a gzip file of S bytes holds at most 1032 S bytes: a header declaring more is corrupt, and is
// rejected before its tensor is allocated.
constexpr int64_t kMaxDeflateRatio = 1032;

struct GzCloser {
  void operator()(gzFile file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

std::string gz_error(gzFile file) {
  int code = Z_OK;
  const char* message = gzerror(file, &code);
  if (code == Z_ERRNO) return internal::errno_message();
  return message != nullptr ? message : "unknown zlib error";
}

// Reads up to `nbytes` (fewer only at the end of the data); zlib reads plain files as they are.
size_t read_fully(gzFile file, void* buffer, size_t nbytes, const std::string& path) {
  size_t done = 0;
  auto* out = static_cast<char*>(buffer);
  while (done < nbytes) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(nbytes - done, 1u << 30));
    const int got = gzread(file, out + done, chunk);
    if (got <= 0) {
      // zlib flags a gzip stream cut short with Z_BUF_ERROR, either on this call or after
      // handing out what it could decompress.
      int code = Z_OK;
      gzerror(file, &code);
      NABLA_CHECK(code != Z_BUF_ERROR, "read_idx: ", path,
                  " is truncated: the gzip stream ends early; download or copy it again");
      NABLA_CHECK(got == 0, "read_idx: cannot read ", path, ": ", gz_error(file));
      break;
    }
    done += static_cast<size_t>(got);
  }
  return done;
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof(text), "0x%08X", value);
  return text;
}

uint32_t big_endian_u32(const unsigned char* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

// Checks the data size a header declares against the file, before allocating for it: a plain file
// must hold it (the message is the one a short read would give), a gzip file could at most
// decompress to kMaxDeflateRatio times its size. A pipe has no size to check; the allocator's
// limit still bounds it.
void check_declared_size(gzFile file, const std::string& path, const Shape& shape,
                         int64_t header_bytes, int64_t data_bytes) {
  const std::optional<int64_t> file_bytes = internal::regular_file_size(path);
  if (!file_bytes) return;
  if (gzdirect(file) == 1) {
    NABLA_CHECK(data_bytes <= *file_bytes - header_bytes, "read_idx: ", path,
                " is truncated: shape ", shape, " needs ",
                core::checked_add(header_bytes, data_bytes, "read_idx: ", path),
                " bytes, the file has ", *file_bytes);
    return;
  }
  NABLA_CHECK(data_bytes / kMaxDeflateRatio <= *file_bytes, "read_idx: ", path, " declares shape ",
              shape, " (", data_bytes, " bytes), more than a gzip file of ", *file_bytes,
              " bytes can hold (deflate expands at most ", kMaxDeflateRatio,
              ":1); the file is corrupt");
}

bool file_exists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

bool dir_exists(const std::string& path) {
  struct stat info;
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

constexpr const char* kInstallHint =
    "install it with `apt-get install dataset-fashion-mnist` or pass --data DIR";

// `dir/name`, else `dir/name.gz`; Error saying where it looked.
std::string find_idx_file(const std::string& dir, const std::string& name, const char* what) {
  const std::string plain = dir + "/" + name;
  if (file_exists(plain)) return plain;
  if (file_exists(plain + ".gz")) return plain + ".gz";
  detail::throw_error(detail::str(what, ": ", name, " not found in ", dir, " (looked for ", plain,
                                  " and ", plain, ".gz); ", kInstallHint));
}

Tensor to_f32_unit(const Tensor& images) {
  Tensor out = make_tensor(images.shape(), DType::f32);
  const uint8_t* src = images.data<uint8_t>();
  float* dst = out.data<float>();
  const int64_t n = images.numel();
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]) * (1.0f / 255.0f);
  return out;
}

Tensor to_i64(const Tensor& labels) {
  Tensor out = make_tensor(labels.shape(), DType::i64);
  const uint8_t* src = labels.data<uint8_t>();
  int64_t* dst = out.data<int64_t>();
  for (int64_t i = 0; i < labels.numel(); ++i) dst[i] = src[i];
  return out;
}

// One split (train or t10k): images [N, H, W] and labels [N] with equal N.
std::pair<Tensor, Tensor> load_split(const std::string& dir, const std::string& prefix, bool raw,
                                     const char* what) {
  const std::string images_path = find_idx_file(dir, prefix + "-images-idx3-ubyte", what);
  const std::string labels_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte", what);
  Tensor images = read_idx(images_path);
  Tensor labels = read_idx(labels_path);
  NABLA_CHECK(images.dim() == 3, what, ": ", images_path, " holds shape ", images.shape(),
              ", expected images [N, rows, columns]");
  NABLA_CHECK(labels.dim() == 1, what, ": ", labels_path, " holds shape ", labels.shape(),
              ", expected labels [N]");
  NABLA_CHECK(images.size(0) == labels.size(0), what, ": ", images_path, " holds ", images.size(0),
              " images but ", labels_path, " holds ", labels.size(0),
              " labels; expected one label per image");
  if (raw) return {images, labels};
  return {to_f32_unit(images), to_i64(labels)};
}

MnistData load_mnist_layout(const std::string& dir, bool raw, const char* what) {
  NABLA_CHECK(dir_exists(dir), what, ": folder ", dir, " does not exist; ", kInstallHint);
  MnistData data;
  std::tie(data.train_images, data.train_labels) = load_split(dir, "train", raw, what);
  std::tie(data.test_images, data.test_labels) = load_split(dir, "t10k", raw, what);
  return data;
}

}  // namespace

Tensor read_idx(const std::string& path) {
  errno = 0;  // gzopen fails with errno set for system errors, unset when out of memory
  GzFile file(gzopen(path.c_str(), "rb"));
  NABLA_CHECK(file != nullptr, "read_idx: cannot open ", path, ": ",
              errno != 0 ? internal::errno_message() : "out of memory");
  gzbuffer(file.get(), 1 << 17);

  std::array<unsigned char, 4> magic{};
  const size_t magic_read = read_fully(file.get(), magic.data(), 4, path);
  NABLA_CHECK(magic_read == 4, "read_idx: ", path, " is truncated: expected at least 4 bytes (the ",
              "magic number), got ", magic_read);
  const uint32_t magic_value = big_endian_u32(magic.data());
  const int axes = magic[3];
  NABLA_CHECK(
      magic[0] == 0 && magic[1] == 0 && magic[2] == 0x08 && axes >= 1 && axes <= kMaxIdxAxes,
      "read_idx: ", path, " has magic number ", hex32(magic_value),
      ", expected 0x0000080N for unsigned bytes with N axes (0x00000801 for labels, ",
      "0x00000803 for images); is it an IDX file?");

  std::array<unsigned char, 4 * kMaxIdxAxes> dims{};
  const size_t header_bytes = 4 + 4 * static_cast<size_t>(axes);
  const size_t dims_read = read_fully(file.get(), dims.data(), 4 * axes, path);
  NABLA_CHECK(dims_read == 4 * static_cast<size_t>(axes), "read_idx: ", path,
              " is truncated: expected a ", header_bytes, "-byte header, got ", 4 + dims_read,
              " bytes");
  Shape shape(axes);
  for (int i = 0; i < axes; ++i) shape[i] = big_endian_u32(dims.data() + 4 * i);
  const int64_t numel = core::checked_numel(shape, "read_idx: ", path);
  check_declared_size(file.get(), path, shape, static_cast<int64_t>(header_bytes), numel);

  Tensor out = make_tensor(shape, DType::u8);
  const size_t data_bytes = static_cast<size_t>(numel);
  const size_t data_read = read_fully(file.get(), out.raw_data(), data_bytes, path);
  NABLA_CHECK(data_read == data_bytes, "read_idx: ", path, " is truncated: shape ", shape,
              " needs ", header_bytes + data_bytes, " bytes, the file has ",
              header_bytes + data_read);
  unsigned char extra;
  NABLA_CHECK(read_fully(file.get(), &extra, 1, path) == 0, "read_idx: ", path,
              " has more data than its header declares (shape ", shape, ", ",
              header_bytes + data_bytes, " bytes); is it an IDX file?");
  return out;
}

void write_idx(const std::string& path, const Tensor& tensor) {
  NABLA_CHECK(tensor.defined() && tensor.dtype() == DType::u8 && tensor.dim() >= 1 &&
                  tensor.dim() <= kMaxIdxAxes,
              "write_idx: expected a u8 tensor with 1 to ", kMaxIdxAxes, " axes, got ",
              tensor.defined() ? tensor.shape() : Shape{}, " ",
              tensor.defined() ? dtype_name(tensor.dtype()) : "undefined");
  std::string bytes = {0, 0, 0x08, static_cast<char>(tensor.dim())};
  for (int64_t size : tensor.shape()) {
    NABLA_CHECK(size <= UINT32_MAX, "write_idx: axis size ", size, " exceeds the IDX limit");
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<char>(size >> shift));
  }
  const Tensor data = tensor.contiguous();
  bytes.append(static_cast<const char*>(data.raw_data()), data.numel());

  const bool gzip = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  if (gzip) {
    // windowBits 15 + 16: a gzip wrapper, as gunzip and gzopen expect.
    z_stream stream{};
    NABLA_CHECK(deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                             Z_DEFAULT_STRATEGY) == Z_OK,
                "write_idx: zlib initialization failed");
    std::string compressed(deflateBound(&stream, bytes.size()), '\0');
    stream.next_in = reinterpret_cast<Bytef*>(bytes.data());
    stream.avail_in = static_cast<uInt>(bytes.size());
    stream.next_out = reinterpret_cast<Bytef*>(compressed.data());
    stream.avail_out = static_cast<uInt>(compressed.size());
    const int status = deflate(&stream, Z_FINISH);
    compressed.resize(stream.total_out);
    deflateEnd(&stream);
    NABLA_CHECK(status == Z_STREAM_END, "write_idx: zlib compression of ", path, " failed");
    bytes = std::move(compressed);
  }
  internal::AtomicFile file(path, "write_idx");
  file.write(bytes.data(), bytes.size());
  file.commit();
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> kClasses = {
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
      "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return kClasses;
}

MnistData load_mnist(const std::string& dir, bool raw) {
  return load_mnist_layout(dir, raw, "MNIST-format data set");
}

MnistData load_fashion_mnist(const std::string& dir, bool raw) {
  return load_mnist_layout(dir.empty() ? kFashionMnistDir : dir, raw, "Fashion-MNIST");
}

}  // namespace nabla::data
