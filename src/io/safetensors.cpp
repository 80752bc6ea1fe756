// safetensors reader and writer, byte-compatible with Hugging Face's implementation: tensors
// sorted by dtype (widest first) then name, compact JSON header padded with spaces to 8 bytes.
#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/checked_size.hpp"
#include "core/tensor_impl.hpp"
#include "data/crc32c.hpp"
#include "data/file_util.hpp"
#include "data/json_input.hpp"
#include "nabla/io.hpp"

namespace nabla::io {
namespace {

using data::internal::json_excerpt;

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; nabla writes memory as it is");

constexpr const char* kMetadataKey = "__metadata__";
// Hugging Face refuses headers above 100 MB; so do we, before allocating one.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

struct DTypeName {
  DType dtype;
  const char* name;
  int rank;  // Hugging Face's Dtype enum order: files sort tensors by it, descending
};
constexpr DTypeName kDTypes[] = {{DType::boolean, "BOOL", 0},
                                 {DType::u8, "U8", 1},
                                 {DType::f32, "F32", 11},
                                 {DType::f64, "F64", 12},
                                 {DType::i64, "I64", 13}};

const DTypeName& entry_of(DType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  detail::throw_error(
      detail::str("save_safetensors: dtype ", dtype_name(dtype), " has no safetensors name"));
}

const DTypeName* entry_of(const std::string& name) {
  for (const auto& entry : kDTypes) {
    if (name == entry.name) return &entry;
  }
  return nullptr;
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  detail::throw_error(detail::str("load_safetensors: ", path, ": ", what));
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

// Validates one tensor's header record.
Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& info) {
  const std::string where = "tensor \"" + name + "\"";
  if (!info.is_object()) corrupt(path, where + ": expected an object, got " + json_excerpt(info));
  for (const auto& [key, value] : info.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      corrupt(path, where + ": unexpected key \"" + key + "\"");
    }
  }
  Entry entry{name, DType::f32, {}, 0, 0};
  const auto dtype = info.find("dtype");
  if (dtype == info.end() || !dtype->is_string()) corrupt(path, where + ": missing \"dtype\"");
  const DTypeName* known = entry_of(dtype->get<std::string>());
  if (known == nullptr) {
    corrupt(path, where + ": dtype " + dtype->get<std::string>() +
                      " is not supported (supported: F32, F64, I64, U8, BOOL)");
  }
  entry.dtype = known->dtype;
  const auto shape = info.find("shape");
  if (shape == info.end() || !shape->is_array()) corrupt(path, where + ": missing \"shape\"");
  for (const auto& size : *shape) {
    if (!size.is_number_unsigned() || size.get<uint64_t>() > INT64_MAX) {
      corrupt(path, where + ": shape " + json_excerpt(*shape) +
                        " holds a non-integer, negative or too large size");
    }
    entry.shape.push_back(size.get<int64_t>());
  }
  const auto offsets = info.find("data_offsets");
  if (offsets == info.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned()) {
    corrupt(path, where + ": expected \"data_offsets\": [begin, end]");
  }
  entry.begin = (*offsets)[0].get<uint64_t>();
  entry.end = (*offsets)[1].get<uint64_t>();
  const auto nbytes = static_cast<uint64_t>(core::checked_nbytes(
      core::checked_numel(entry.shape, "load_safetensors: ", path, ": ", where),
      static_cast<int64_t>(dtype_size(entry.dtype)), "load_safetensors: ", path, ": ", where));
  if (entry.end < entry.begin || entry.end - entry.begin != nbytes) {
    corrupt(path, detail::str(where, ": data_offsets [", entry.begin, ", ", entry.end, "] span ",
                              entry.end - entry.begin, " bytes, but shape ", entry.shape, " of ",
                              dtype->get<std::string>(), " needs ", nbytes));
  }
  return entry;
}

// kChecksumKey's CRC, fed in file order: each tensor's header entry, then its bytes as they are
// written or read, then the metadata.
class Checksum {
 public:
  void add_tensor(const std::string& name, const char* dtype, const Shape& shape) {
    add_text(name);
    add_text(dtype);
    for (int64_t size : shape) add_text(std::to_string(size));
  }
  void add_bytes(const void* data, size_t size) { crc_ = data::internal::crc32c(data, size, crc_); }
  std::string finish(const std::map<std::string, std::string>& metadata) {
    for (const auto& [key, value] : metadata) {
      if (key == kChecksumKey) continue;
      add_text(key);
      add_text(value);
    }
    char hex[9];
    std::snprintf(hex, sizeof(hex), "%08x", crc_);
    return hex;
  }

 private:
  void add_text(const std::string& text) { add_bytes(text.c_str(), text.size() + 1); }  // with NUL
  uint32_t crc_ = 0;
};

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata, bool checksum) {
  std::vector<std::pair<const std::string*, const Tensor*>> order;
  for (const auto& [name, tensor] : tensors) {
    NABLA_CHECK(tensor.defined(), "save_safetensors: tensor \"", name, "\" is undefined");
    NABLA_CHECK(name != kMetadataKey, "save_safetensors: \"", kMetadataKey,
                "\" is reserved for the metadata and cannot name a tensor");
    entry_of(tensor.dtype());
    order.emplace_back(&name, &tensor);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return entry_of(a.second->dtype()).rank > entry_of(b.second->dtype()).rank;
  });

  // Tensors are made contiguous once: the checksum is computed before the header is written.
  std::vector<Tensor> contents;
  for (const auto& [name, tensor] : order) contents.push_back(tensor->contiguous());
  std::map<std::string, std::string> entries = metadata;
  if (checksum) {
    Checksum crc;
    for (size_t i = 0; i < order.size(); ++i) {
      crc.add_tensor(*order[i].first, entry_of(contents[i].dtype()).name, contents[i].shape());
      crc.add_bytes(contents[i].raw_data(), contents[i].numel() * dtype_size(contents[i].dtype()));
    }
    entries[kChecksumKey] = crc.finish(entries);
  }
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!entries.empty()) header[kMetadataKey] = entries;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : order) {
    const uint64_t nbytes = tensor->numel() * dtype_size(tensor->dtype());
    nlohmann::ordered_json info;
    info["dtype"] = entry_of(tensor->dtype()).name;
    info["shape"] = tensor->shape();
    info["data_offsets"] = {offset, offset + nbytes};
    header[*name] = std::move(info);
    offset += nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // tensor data starts 8-byte aligned

  data::internal::AtomicFile file(path, "save_safetensors");
  const uint64_t length = text.size();
  file.write(&length, sizeof(length));
  file.write(text.data(), text.size());
  for (const Tensor& data : contents) {
    file.write(data.raw_data(), data.numel() * dtype_size(data.dtype()));
  }
  file.commit();
}

SafeTensors load_safetensors(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  NABLA_CHECK(file != nullptr, "load_safetensors: cannot open ", path, ": ",
              data::internal::errno_message());
  struct stat info;
  NABLA_CHECK(::fstat(::fileno(file.get()), &info) == 0, "load_safetensors: cannot read ", path,
              ": ", data::internal::errno_message());
  const auto file_size = static_cast<uint64_t>(info.st_size);

  uint64_t header_size = 0;
  if (file_size < 8 || std::fread(&header_size, 8, 1, file.get()) != 1) {
    corrupt(path, detail::str("the file has ", file_size,
                              " bytes, too short for the 8-byte header length; not a safetensors "
                              "file"));
  }
  if (header_size > kMaxSafetensorsHeaderBytes || header_size > file_size - 8) {
    corrupt(path, detail::str("header length ", header_size, " exceeds the file size (", file_size,
                              " bytes); truncated, or not a safetensors file"));
  }
  std::string text(header_size, '\0');
  if (std::fread(text.data(), 1, header_size, file.get()) != header_size) {
    corrupt(path, "cannot read the header: " + data::internal::errno_message());
  }
  nlohmann::json header;
  try {
    header = data::internal::parse_json(text);
  } catch (const data::internal::JsonError& e) {
    corrupt(path, detail::str("header: ", e.what()));
  }
  if (!header.is_object()) corrupt(path, "the header is not a JSON object");

  SafeTensors result;
  std::vector<Entry> entries;
  for (const auto& [name, value] : header.items()) {
    if (name != kMetadataKey) {
      entries.push_back(parse_entry(path, name, value));
      continue;
    }
    if (!value.is_object()) corrupt(path, "__metadata__ is not an object of strings");
    for (const auto& [key, item] : value.items()) {
      if (!item.is_string()) {
        corrupt(path,
                "__metadata__[\"" + key + "\"] is " + json_excerpt(item) + ", expected a string");
      }
      result.metadata[key] = item.get<std::string>();
    }
  }

  // The data must be covered exactly: tensors back to back from offset 0 to the end of the file.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  const uint64_t data_size = file_size - 8 - header_size;
  uint64_t expected = 0;
  for (const Entry& entry : entries) {
    if (entry.begin != expected) {
      corrupt(path, detail::str("tensor \"", entry.name, "\" starts at byte ", entry.begin,
                                " of the data, expected ", expected,
                                " (tensors must follow each other without gaps or overlaps)"));
    }
    expected = entry.end;
  }
  if (expected != data_size) {
    corrupt(path, detail::str("the header describes ", expected, " bytes of tensor data, the file ",
                              "holds ", data_size, (expected > data_size ? "; truncated" : "")));
  }
  Checksum crc;
  for (const Entry& entry : entries) {
    Tensor tensor = make_tensor(entry.shape, entry.dtype);
    const size_t nbytes = entry.end - entry.begin;
    if (nbytes > 0 && std::fread(tensor.raw_data(), 1, nbytes, file.get()) != nbytes) {
      corrupt(path,
              "cannot read tensor \"" + entry.name + "\": " + data::internal::errno_message());
    }
    crc.add_tensor(entry.name, entry_of(entry.dtype).name, entry.shape);
    crc.add_bytes(tensor.raw_data(), nbytes);
    result.tensors.emplace(entry.name, std::move(tensor));
  }
  const auto stored = result.metadata.find(kChecksumKey);
  if (stored != result.metadata.end()) {
    const std::string computed = crc.finish(result.metadata);
    if (stored->second != computed) {
      corrupt(path, detail::str("checksum mismatch (stored ", stored->second, ", computed ",
                                computed, "): the file was damaged after it was written"));
    }
  }
  return result;
}

}  // namespace nabla::io
