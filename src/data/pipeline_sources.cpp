// The sources of data::Pipeline (tensors, files, a function, TFRecord records read one at a
// time, an image folder), its cache, the stacking of batches, and the maps that decode.
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "core/tensor_impl.hpp"
#include "data/crc32c.hpp"
#include "data/file_util.hpp"
#include "data/pipeline_internal.hpp"
#include "nabla/error.hpp"

namespace nabla::data {
namespace pipeline_internal {
namespace {

using StreamPtr = std::unique_ptr<Stream>;

// ---- elements made on demand: tensors' rows, files, a function ----
class PipelineIndexStream : public Stream {
 public:
  PipelineIndexStream(int64_t count, std::function<Element(int64_t)> make)
      : count_(count), make_(std::move(make)) {}
  std::optional<Element> next() override {
    if (count_ != Pipeline::kInfinite && index_ >= count_) return std::nullopt;
    return make_(index_++);
  }

 private:
  int64_t count_;
  std::function<Element(int64_t)> make_;
  int64_t index_ = 0;
};

struct PipelineIndexNode : Node {
  int64_t count = 0;
  std::function<Element(int64_t)> make;
  StreamPtr open(uint64_t) const override {
    return std::make_unique<PipelineIndexStream>(count, make);
  }
  int64_t cardinality() const override { return count; }
};

// ---- TFRecord records, one at a time ----
class PipelineTFRecordStream : public Stream {
 public:
  explicit PipelineTFRecordStream(std::vector<std::string> files) : files_(std::move(files)) {}
  ~PipelineTFRecordStream() override { close(); }

  std::optional<Element> next() override {
    for (;;) {
      if (file_ == nullptr) {
        if (file_index_ >= files_.size()) return std::nullopt;
        errno = 0;
        // gzopen reads plain files as they are and gzip files inflated.
        file_ = gzopen(files_[file_index_].c_str(), "rb");
        NABLA_CHECK(file_ != nullptr, "TFRecord file ", files_[file_index_],
                    ": cannot open it: ", errno != 0 ? internal::errno_message() : "out of memory");
        gzbuffer(file_, 1 << 17);
        record_ = 0;
        offset_ = 0;
      }
      std::optional<Element> element = read_record();
      if (element) return element;
      close();
      ++file_index_;
    }
  }

 private:
  void close() {
    if (file_ != nullptr) gzclose(file_);
    file_ = nullptr;
  }

  // Reads up to `size` bytes; how many were read.
  size_t read(void* to, size_t size) {
    size_t done = 0;
    while (done < size) {
      const int got = gzread(file_, static_cast<char*>(to) + done,
                             static_cast<unsigned>(std::min<size_t>(size - done, 1u << 30)));
      if (got < 0) {
        int code = 0;
        const char* message = gzerror(file_, &code);
        NABLA_CHECK(false, where(), ": read failed: ", message);
      }
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  }

  std::string where() const {
    return detail::str("TFRecord file ", files_[file_index_], ": record ", record_,
                       " at byte offset ", offset_);
  }

  std::optional<Element> read_record() {
    unsigned char header[12];
    const size_t got = read(header, sizeof header);
    if (got == 0) return std::nullopt;
    NABLA_CHECK(got == sizeof header, where(), ": truncated: expected a 12-byte record header, ",
                "the file ends after ", got);
    uint64_t length = 0;
    uint32_t length_crc = 0;
    for (int i = 0; i < 8; ++i) length |= static_cast<uint64_t>(header[i]) << (8 * i);
    for (int i = 0; i < 4; ++i) length_crc |= static_cast<uint32_t>(header[8 + i]) << (8 * i);
    NABLA_CHECK(length_crc == internal::masked_crc32c(header, 8), where(), ": corrupt: the ",
                "CRC-32C of its length does not match (not a TFRecord file, or damaged)");
    NABLA_CHECK(length <= (uint64_t{1} << 34), where(), ": a record of ", length,
                " bytes is beyond what a TFRecord holds");
    Element element;
    element.bytes.resize(length);
    unsigned char crc_bytes[4];
    NABLA_CHECK(read(element.bytes.data(), length) == length && read(crc_bytes, 4) == 4, where(),
                ": truncated: expected ", length, " bytes of data and a 4-byte CRC");
    uint32_t data_crc = 0;
    for (int i = 0; i < 4; ++i) data_crc |= static_cast<uint32_t>(crc_bytes[i]) << (8 * i);
    NABLA_CHECK(data_crc == internal::masked_crc32c(element.bytes.data(), length), where(),
                ": corrupt: the CRC-32C of its ", length, " bytes of data does not match");
    element.name = detail::str(files_[file_index_], ": record ", record_);
    ++record_;
    offset_ += 16 + length;
    return element;
  }

  std::vector<std::string> files_;
  size_t file_index_ = 0;
  gzFile file_ = nullptr;
  int64_t record_ = 0;
  uint64_t offset_ = 0;
};

struct PipelineTFRecordNode : Node {
  std::vector<std::string> files;
  StreamPtr open(uint64_t) const override { return open_tfrecord_reader(files); }
  int64_t cardinality() const override { return Pipeline::kUnknown; }
};

// ---- cache ----
// The cache file: a magic line, then per element: a flags byte (input, target defined), each
// defined tensor as dtype byte, rank byte, int64 sizes and the bytes, then bytes and name as
// uint64 length and characters. Written as it is read, renamed into place at the end.
constexpr char kCacheMagic[] = "NABLA-PIPELINE-CACHE 1\n";

void cache_write_raw(std::ofstream& out, const void* data, size_t size) {
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

void cache_write_tensor(std::ofstream& out, const Tensor& tensor) {
  const Tensor t = tensor.contiguous();
  const auto dtype = static_cast<uint8_t>(t.dtype());
  const auto rank = static_cast<uint8_t>(t.dim());
  cache_write_raw(out, &dtype, 1);
  cache_write_raw(out, &rank, 1);
  for (int64_t size : t.shape()) cache_write_raw(out, &size, sizeof size);
  cache_write_raw(out, t.raw_data(), static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
}

void cache_write_string(std::ofstream& out, const std::string& s) {
  const uint64_t size = s.size();
  cache_write_raw(out, &size, sizeof size);
  cache_write_raw(out, s.data(), s.size());
}

class PipelineCacheReader : public Stream {
 public:
  explicit PipelineCacheReader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
    std::string magic(sizeof kCacheMagic - 1, '\0');
    in_.read(magic.data(), static_cast<std::streamsize>(magic.size()));
    NABLA_CHECK(in_ && magic == kCacheMagic, "Pipeline::cache: ", path,
                " is not a pipeline cache file (delete it to rebuild the cache)");
  }
  std::optional<Element> next() override {
    uint8_t flags = 0;
    if (!in_.read(reinterpret_cast<char*>(&flags), 1)) return std::nullopt;
    Element element;
    if ((flags & 1) != 0) element.input = read_tensor();
    if ((flags & 2) != 0) element.target = read_tensor();
    element.bytes = read_string();
    element.name = read_string();
    return element;
  }

 private:
  void read_raw(void* to, size_t size) {
    in_.read(static_cast<char*>(to), static_cast<std::streamsize>(size));
    NABLA_CHECK(in_.good() || (in_.eof() && size == 0), "Pipeline::cache: ", path_,
                " is truncated (delete it to rebuild the cache)");
  }
  Tensor read_tensor() {
    uint8_t dtype = 0, rank = 0;
    read_raw(&dtype, 1);
    read_raw(&rank, 1);
    NABLA_CHECK(dtype <= static_cast<uint8_t>(DType::boolean), "Pipeline::cache: ", path_,
                " is corrupt (delete it to rebuild the cache)");
    Shape shape(rank);
    for (int64_t& size : shape) read_raw(&size, sizeof size);
    Tensor t = empty(shape, static_cast<DType>(dtype));
    read_raw(t.raw_data(), static_cast<size_t>(t.numel()) * dtype_size(t.dtype()));
    return t;
  }
  std::string read_string() {
    uint64_t size = 0;
    read_raw(&size, sizeof size);
    NABLA_CHECK(size < (uint64_t{1} << 34), "Pipeline::cache: ", path_, " is corrupt");
    std::string s(size, '\0');
    read_raw(s.data(), size);
    return s;
  }
  std::string path_;
  std::ifstream in_;
};

struct PipelineCacheNode : Node {
  std::shared_ptr<const Node> upstream;
  std::string file;
  mutable std::mutex mutex;
  mutable std::shared_ptr<const std::vector<Element>> elements;  // in memory, once complete
  mutable bool writing = false;                                  // an iteration is filling it

  bool complete() const {
    return file.empty() ? elements != nullptr : std::filesystem::exists(file);
  }
  StreamPtr open(uint64_t iteration) const override;
  int64_t cardinality() const override { return upstream->cardinality(); }
};

class PipelineCacheReplay : public Stream {
 public:
  explicit PipelineCacheReplay(std::shared_ptr<const std::vector<Element>> elements)
      : elements_(std::move(elements)) {}
  std::optional<Element> next() override {
    if (index_ >= elements_->size()) return std::nullopt;
    return (*elements_)[index_++];  // tensors are shared, never written by a stage
  }

 private:
  std::shared_ptr<const std::vector<Element>> elements_;
  size_t index_ = 0;
};

// Passes the upstream's elements on and keeps them; publishes them when the upstream ends.
class PipelineCacheWriter : public Stream {
 public:
  PipelineCacheWriter(const PipelineCacheNode& node, StreamPtr upstream)
      : node_(node), upstream_(std::move(upstream)) {
    if (!node_.file.empty()) {
      temporary_ = node_.file + ".part";
      out_.open(temporary_, std::ios::binary | std::ios::trunc);
      NABLA_CHECK(out_.is_open(), "Pipeline::cache: cannot write ", temporary_, ": ",
                  internal::errno_message());
      out_.write(kCacheMagic, sizeof kCacheMagic - 1);
    }
  }
  ~PipelineCacheWriter() override {
    if (out_.is_open()) {
      out_.close();
      std::error_code error;
      std::filesystem::remove(temporary_, error);
    }
    std::lock_guard<std::mutex> lock(node_.mutex);
    node_.writing = false;
  }
  std::optional<Element> next() override {
    std::optional<Element> element = upstream_->next();
    if (!element) {
      finish();
      return std::nullopt;
    }
    if (out_.is_open()) {
      const uint8_t flags =
          (element->input.defined() ? 1 : 0) | (element->target.defined() ? 2 : 0);
      cache_write_raw(out_, &flags, 1);
      if (element->input.defined()) cache_write_tensor(out_, element->input);
      if (element->target.defined()) cache_write_tensor(out_, element->target);
      cache_write_string(out_, element->bytes);
      cache_write_string(out_, element->name);
      NABLA_CHECK(out_.good(), "Pipeline::cache: writing ", temporary_,
                  " failed: ", internal::errno_message());
    } else {
      kept_.push_back(*element);
    }
    return element;
  }

 private:
  void finish() {
    if (done_) return;
    done_ = true;
    if (out_.is_open()) {
      out_.close();
      NABLA_CHECK(!out_.fail(), "Pipeline::cache: writing ", temporary_, " failed");
      std::filesystem::rename(temporary_, node_.file);
      return;
    }
    std::lock_guard<std::mutex> lock(node_.mutex);
    node_.elements = std::make_shared<const std::vector<Element>>(std::move(kept_));
  }
  const PipelineCacheNode& node_;
  StreamPtr upstream_;
  std::string temporary_;
  std::ofstream out_;
  std::vector<Element> kept_;
  bool done_ = false;
};

StreamPtr PipelineCacheNode::open(uint64_t iteration) const {
  std::unique_lock<std::mutex> lock(mutex);
  if (complete()) {
    if (file.empty()) return std::make_unique<PipelineCacheReplay>(elements);
    lock.unlock();
    return std::make_unique<PipelineCacheReader>(file);
  }
  if (writing) {
    lock.unlock();
    return upstream->open(iteration);  // another pass fills the cache; this one just reads
  }
  writing = true;
  lock.unlock();
  try {
    return std::make_unique<PipelineCacheWriter>(*this, upstream->open(iteration));
  } catch (...) {
    std::lock_guard<std::mutex> relock(mutex);
    writing = false;
    throw;
  }
}

// ---- stacking ----
// Copies `element` (contiguous) into `out` at batch slot `slot`, each axis from 0 (padded: the
// slot is larger along some axes).
void pipeline_copy_padded(const Tensor& element, Tensor& out, int64_t slot) {
  const Tensor src = element.contiguous();
  const size_t item = dtype_size(src.dtype());
  const Shape& in_shape = src.shape();
  const int64_t rank = src.dim();
  auto* to = static_cast<char*>(out.raw_data());
  const auto* from = static_cast<const char*>(src.raw_data());
  // Strides of `out` past the batch axis, in elements.
  std::vector<int64_t> out_strides(static_cast<size_t>(rank) + 1, 1);
  for (int64_t a = rank - 1; a >= 0; --a) out_strides[a] = out_strides[a + 1] * out.size(a + 1);
  to += static_cast<size_t>(slot * out_strides[0]) * item;
  if (rank == 0) {
    std::memcpy(to, from, item);
    return;
  }
  const int64_t run = in_shape[rank - 1];
  const int64_t runs = src.numel() / std::max<int64_t>(run, 1);
  std::vector<int64_t> index(static_cast<size_t>(rank), 0);
  for (int64_t r = 0; r < runs && run > 0; ++r) {
    int64_t at = 0;
    for (int64_t a = 0; a + 1 < rank; ++a) at += index[a] * out_strides[a + 1];
    std::memcpy(to + static_cast<size_t>(at) * item, from + static_cast<size_t>(r * run) * item,
                static_cast<size_t>(run) * item);
    for (int64_t a = rank - 2; a >= 0; --a) {
      if (++index[a] < in_shape[a]) break;
      index[a] = 0;
    }
  }
}

Tensor pipeline_stack(const std::vector<Element>& elements, bool target, bool padded, double pad) {
  const char* what = target ? "target" : "input";
  const Tensor& first = target ? elements.front().target : elements.front().input;
  Shape shape = first.shape();
  for (const Element& element : elements) {
    const Tensor& t = target ? element.target : element.input;
    NABLA_CHECK(t.defined(), "Pipeline::batch: element ", element.name.empty() ? "" : element.name,
                element.name.empty() ? "" : " ", "has no ", what,
                target ? " while others have one" : " (decode it with a map first)");
    NABLA_CHECK(
        t.dtype() == first.dtype() && (padded ? t.dim() == first.dim() : t.shape() == shape),
        "Pipeline::", padded ? "padded_batch" : "batch", ": ", what, " of shape ", t.shape(), " (",
        dtype_name(t.dtype()), ") in a batch whose first is ", first.shape(), " (",
        dtype_name(first.dtype()), ")", element.name.empty() ? "" : "; element " + element.name,
        padded ? "" : "; use padded_batch for inputs of different sizes");
    for (int64_t a = 0; padded && a < t.dim(); ++a) shape[a] = std::max(shape[a], t.size(a));
  }
  shape.insert(shape.begin(), static_cast<int64_t>(elements.size()));
  Tensor out = padded ? full(shape, pad, first.dtype()) : empty(shape, first.dtype());
  for (size_t i = 0; i < elements.size(); ++i) {
    pipeline_copy_padded(target ? elements[i].target : elements[i].input, out,
                         static_cast<int64_t>(i));
  }
  return out;
}

}  // namespace

std::unique_ptr<Stream> open_tfrecord_reader(const std::vector<std::string>& files) {
  return std::make_unique<PipelineTFRecordStream>(files);
}

Element stack_elements(std::vector<Element>& elements, bool padded, double input_pad,
                       double target_pad) {
  Element out;
  out.input = pipeline_stack(elements, false, padded, input_pad);
  if (elements.front().target.defined()) {
    out.target = pipeline_stack(elements, true, padded, target_pad);
  } else {
    for (const Element& element : elements) {
      NABLA_CHECK(!element.target.defined(), "Pipeline::batch: element ", element.name,
                  " has a target while the batch's first has none");
    }
  }
  return out;
}

}  // namespace pipeline_internal

Pipeline Pipeline::from_function(int64_t count, std::function<Element(int64_t)> make) {
  NABLA_CHECK(count >= 0 || count == kInfinite, "Pipeline::from_function: count must be >= 0 ",
              "or kInfinite, got ", count);
  NABLA_CHECK(make != nullptr, "Pipeline::from_function: the function is empty");
  auto node = std::make_shared<pipeline_internal::PipelineIndexNode>();
  node->count = count;
  node->make = std::move(make);
  return Pipeline(node);
}

Pipeline Pipeline::from_tensors(Tensor inputs, Tensor targets) {
  NABLA_CHECK(inputs.defined() && inputs.dim() >= 1, "Pipeline::from_tensors: expected inputs ",
              "with a sample axis (at least 1-d), got ",
              inputs.defined() ? inputs.shape() : Shape{});
  NABLA_CHECK(!targets.defined() || (targets.dim() >= 1 && targets.size(0) == inputs.size(0)),
              "Pipeline::from_tensors: ", inputs.size(0), " inputs (shape ", inputs.shape(),
              ") but targets of shape ", targets.defined() ? targets.shape() : Shape{});
  inputs = inputs.detach();
  if (targets.defined()) targets = targets.detach();
  return from_function(inputs.size(0), [inputs, targets](int64_t i) {
    Element element;
    element.input = inputs.select(0, i);
    if (targets.defined()) element.target = targets.select(0, i);
    return element;
  });
}

Pipeline Pipeline::from_files(std::vector<std::string> files, std::vector<int64_t> labels) {
  NABLA_CHECK(labels.empty() || labels.size() == files.size(),
              "Pipeline::from_files: ", files.size(), " files but ", labels.size(), " labels");
  auto shared = std::make_shared<const std::pair<std::vector<std::string>, std::vector<int64_t>>>(
      std::move(files), std::move(labels));
  return from_function(static_cast<int64_t>(shared->first.size()), [shared](int64_t i) {
    Element element;
    element.name = shared->first[static_cast<size_t>(i)];
    if (!shared->second.empty()) {
      element.target =
          scalar_tensor(static_cast<double>(shared->second[static_cast<size_t>(i)]), DType::i64);
    }
    return element;
  });
}

Pipeline Pipeline::from_tfrecords(std::vector<std::string> files) {
  auto node = std::make_shared<pipeline_internal::PipelineTFRecordNode>();
  node->files = std::move(files);
  return Pipeline(node);
}

Pipeline Pipeline::from_image_folder(const std::string& dir, const ImageFolderOptions& options,
                                     bool train, int64_t workers) {
  NABLA_CHECK(
      options.height > 0 && options.width > 0 && (options.channels == 1 || options.channels == 3),
      "Pipeline::from_image_folder: expected a size > 0 and 1 or 3 channels, got ", options.height,
      "x", options.width, " with ", options.channels);
  const ImageFolderFiles listed = list_image_folder(dir, options.test_fraction, options.seed);
  std::vector<std::string> files = train ? listed.train_files : listed.test_files;
  std::vector<int64_t> labels = train ? listed.train_labels : listed.test_labels;
  if (train) {
    // load_image_folder's order: classes mixed even before a shuffle buffer.
    Generator gen(options.seed);
    const std::vector<int64_t> order =
        randperm(static_cast<int64_t>(files.size()), &gen).to_vector<int64_t>();
    std::vector<std::string> f;
    std::vector<int64_t> l;
    for (int64_t i : order) {
      f.push_back(files[static_cast<size_t>(i)]);
      l.push_back(labels[static_cast<size_t>(i)]);
    }
    files = std::move(f);
    labels = std::move(l);
  }
  return from_files(std::move(files), std::move(labels))
      .map(decode_images(options.channels, options.height, options.width), workers);
}

Pipeline Pipeline::cache(std::string file) const {
  auto node = std::make_shared<pipeline_internal::PipelineCacheNode>();
  node->upstream = node_;
  node->file = std::move(file);
  return Pipeline(node);
}

MapFn decode_images(int64_t channels, int64_t height, int64_t width) {
  NABLA_CHECK((channels == 1 || channels == 3) && height > 0 && width > 0,
              "decode_images: ", "expected 1 or 3 channels and a size > 0, got ", channels,
              " channels, ", height, "x", width);
  return [=](Element element) {
    const std::string bytes =
        element.bytes.empty() ? internal::read_file(element.name, "image") : element.bytes;
    element.input =
        resize_image(convert_channels(decode_image(bytes, element.name), channels), height, width);
    element.bytes.clear();
    return element;
  };
}

}  // namespace nabla::data
