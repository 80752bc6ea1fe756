// NumPy's .npy format (numpy/lib/format.py, NEP 1) and .npz archives of .npy members. A file is
// the magic "\x93NUMPY", a major and minor version byte, the header length (u16 in version 1.0,
// u32 in 2.0 and 3.0, little-endian), the header -- a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// padded with spaces and ended by '\n' so that the data starts at a multiple of 64 -- and the raw
// data. The header is read by a strict parser for exactly that literal (strings, True/False and
// a tuple of integers), not by a general Python evaluator: the literal is all NumPy writes, and a
// parser that accepts nothing else cannot be talked into anything else.
#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <string_view>
#include <type_traits>

#include "core/checked_size.hpp"
#include "data/file_util.hpp"
#include "io/zip_archive.hpp"
#include "nabla/io.hpp"

namespace nabla::io {
namespace {

static_assert(std::endian::native == std::endian::little,
              "nabla writes '<' data from memory as it is and swaps '>' data");

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr uint64_t kAlign = 64;
// NumPy leaves room for the first axis to grow to 21 digits, so that a file can be appended to
// in place; written the same way, nabla's files are byte-identical to np.save's.
constexpr size_t kGrowthDigits = 21;
// NumPy itself refuses headers above 10,000 characters unless told to trust the file; this bound
// only keeps a hostile length from allocating much before the parser sees the text.
constexpr uint64_t kMaxNpyHeaderBytes = uint64_t{1} << 20;

// What a header's 'descr' names: how an item is stored and the dtype nabla makes of it.
struct StoredType {
  char kind = 'f';  // 'b' bool, 'u' unsigned, 'i' signed, 'f' floating
  int64_t item_bytes = 4;
  bool big_endian = false;
  DType dtype = DType::f32;
  // Stored as nabla holds the dtype in memory: the data is read straight into the tensor.
  bool native() const { return static_cast<size_t>(item_bytes) == dtype_size(dtype); }
};

struct NpyHeader {
  std::string descr;
  StoredType type;
  bool fortran_order = false;
  Shape shape;
  uint64_t data_offset = 0;  // bytes before the data
  uint64_t data_bytes = 0;   // what the shape needs
};

// descr -> type, or nullopt when nabla has no dtype for it (checked by the caller, which names
// the file). '=' is native order, little-endian here; '|' marks single bytes.
std::optional<StoredType> stored_type(const std::string& descr) {
  if (descr.size() != 3) return std::nullopt;
  const char order = descr[0], kind = descr[1], width = descr[2];
  if (order != '<' && order != '>' && order != '=' && order != '|') return std::nullopt;
  struct Known {
    char kind, width;
    DType dtype;
  };
  constexpr Known kKnown[] = {
      {'b', '1', DType::boolean}, {'u', '1', DType::u8},  {'u', '2', DType::i64},
      {'u', '4', DType::i64},     {'i', '1', DType::i64}, {'i', '2', DType::i64},
      {'i', '4', DType::i64},     {'i', '8', DType::i64}, {'f', '2', DType::f32},
      {'f', '4', DType::f32},     {'f', '8', DType::f64}};
  for (const Known& known : kKnown) {
    if (known.kind != kind || known.width != width) continue;
    const int64_t item_bytes = width - '0';
    if (order == '|' && item_bytes != 1) return std::nullopt;  // NumPy never writes '|f4'
    return StoredType{kind, item_bytes, order == '>' && item_bytes > 1, known.dtype};
  }
  return std::nullopt;
}

const char* descr_of(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return "<f4";
    case DType::f64:
      return "<f8";
    case DType::i64:
      return "<i8";
    case DType::u8:
      return "|u1";
    case DType::boolean:
      return "|b1";
  }
  detail::throw_error(detail::str("save_npy: dtype ", dtype, " has no NumPy descr"));
}

// The header dict, strictly: '{', then 'key': value pairs separated by commas (a trailing comma
// allowed), then '}', then only spaces and the final newline. Exactly the three keys, each once.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, bool python2_longs, const std::string& where)
      : text_(text), python2_longs_(python2_longs), where_(where) {}

  NpyHeader parse() {
    NpyHeader header;
    bool has_descr = false, has_order = false, has_shape = false;
    skip_spaces();
    expect('{', "'{' opening the header dict");
    while (skip_spaces(), peek() != '}') {
      const std::string key = parse_string("a quoted key or '}'");
      skip_spaces();
      expect(':', "':' after the key '" + key + "'");
      skip_spaces();
      if (key == "descr") {
        if (peek() == '[') fail_plain("structured arrays (a list as 'descr') are not supported");
        seen(has_descr, key);
        header.descr = parse_string("a quoted dtype as 'descr'");
      } else if (key == "fortran_order") {
        seen(has_order, key);
        header.fortran_order = parse_bool();
      } else if (key == "shape") {
        seen(has_shape, key);
        header.shape = parse_shape();
      } else {
        fail_plain("unexpected key '" + key +
                   "' in the header (expected 'descr', 'fortran_order' and 'shape')");
      }
      skip_spaces();
      if (peek() == ',') {
        ++at_;
      } else if (peek() != '}') {
        fail("',' or '}' after the value of '" + key + "'");
      }
    }
    ++at_;
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n')) ++at_;
    if (at_ != text_.size()) fail("only spaces and a newline after the header dict");
    if (!has_descr || !has_order || !has_shape) {
      fail_plain(std::string("the header lacks ") + (!has_descr   ? "'descr'"
                                                     : !has_order ? "'fortran_order'"
                                                                  : "'shape'"));
    }
    return header;
  }

 private:
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  void skip_spaces() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t')) ++at_;
  }
  [[noreturn]] void fail_plain(const std::string& message) const {
    detail::throw_error(where_ + ": " + message);
  }
  // "expected X at character N of the header {'descr': ...}".
  [[noreturn]] void fail(const std::string& expected) const {
    constexpr size_t kShown = 80;
    std::string shown(text_.substr(0, std::min(text_.size(), kShown)));
    while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n')) shown.pop_back();
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    }
    fail_plain(detail::str("malformed header: expected ", expected, " at character ", at_, " of ",
                           shown, text_.size() > kShown ? "..." : ""));
  }
  void expect(char c, const std::string& what) {
    if (peek() != c) fail(what);
    ++at_;
  }
  void seen(bool& flag, const std::string& key) {
    if (flag) fail_plain("the header gives '" + key + "' twice");
    flag = true;
  }
  std::string parse_string(const std::string& what) {
    const char quote = peek();
    if (quote != '\'' && quote != '"') fail(what);
    const size_t end = text_.find(quote, at_ + 1);
    if (end == std::string_view::npos) fail("a closing quote");
    std::string value(text_.substr(at_ + 1, end - at_ - 1));
    // Escapes would need Python's rules; no key or supported dtype has any.
    if (value.find('\\') != std::string::npos || value.find('\n') != std::string::npos) {
      fail(what + " without escapes");
    }
    at_ = end + 1;
    return value;
  }
  bool parse_bool() {
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const std::string_view w(word);
      if (text_.substr(at_, w.size()) == w) {
        at_ += w.size();
        return value;
      }
    }
    fail("True or False as 'fortran_order'");
  }
  // A Python tuple of integers: (), (3,), (3, 4) or (3, 4,); (3) is an int, not a tuple.
  Shape parse_shape() {
    expect('(', "a tuple such as (3, 4) as 'shape'");
    Shape shape;
    bool comma = true;  // whether another size may follow
    while (skip_spaces(), peek() != ')') {
      if (!comma) fail("',' or ')' in the shape");
      shape.push_back(parse_size());
      skip_spaces();
      comma = peek() == ',';
      if (comma) ++at_;
    }
    if (shape.size() == 1 && !comma) fail("',' after the only size, as in (3,)");
    ++at_;
    return shape;
  }
  int64_t parse_size() {
    if (peek() == '-') {
      const size_t start = at_++;
      while (std::isdigit(static_cast<unsigned char>(peek())) != 0) ++at_;
      fail_plain("negative size " + std::string(text_.substr(start, at_ - start)) +
                 " in the shape");
    }
    const size_t start = at_;
    int64_t value = 0;
    bool overflow = false;
    while (std::isdigit(static_cast<unsigned char>(peek())) != 0) {
      overflow = overflow || __builtin_mul_overflow(value, 10, &value) ||
                 __builtin_add_overflow(value, peek() - '0', &value);
      ++at_;
    }
    if (at_ == start) fail("a size (a non-negative integer)");
    const std::string digits(text_.substr(start, at_ - start));
    if (digits.size() > 1 && digits[0] == '0') {
      at_ = start;  // point at the number
      fail("a size without leading zeros");
    }
    if (overflow) fail_plain("size " + digits + " in the shape does not fit in 64 bits");
    // Python 2 wrote long integers as 3L; NumPy still reads them in version 1.0 and 2.0 files.
    if (python2_longs_ && peek() == 'L') ++at_;
    return value;
  }

  std::string_view text_;
  bool python2_longs_;
  const std::string& where_;
  size_t at_ = 0;
};

// Reads the magic, version and header of a .npy held in `prefix` (the first bytes of a file of
// `total` bytes, at least the whole header when it fits) and checks the data size against
// `total`. `read_more(offset, nbytes)` returns bytes beyond the prefix when the header needs them.
template <class ReadMore>
NpyHeader read_header(std::string_view prefix, uint64_t total, ReadMore&& read_more,
                      const std::string& where) {
  // np.load takes both; nabla's callers ask for one or the other, so say which this is.
  NABLA_CHECK(!prefix.starts_with("PK\x03\x04"), where,
              ": not a .npy file but a zip archive (an .npz file of several arrays?)");
  const size_t magic_seen = std::min(prefix.size(), kMagic.size());
  NABLA_CHECK(prefix.substr(0, magic_seen) == kMagic.substr(0, magic_seen), where,
              ": not a .npy file (it does not start with NumPy's magic \\x93NUMPY)");
  NABLA_CHECK(total >= kMagic.size() + 2, where, ": truncated: ", total,
              " bytes, too short for NumPy's magic and format version");
  const int major = static_cast<unsigned char>(prefix[6]);
  const int minor = static_cast<unsigned char>(prefix[7]);
  NABLA_CHECK(major >= 1 && major <= 3 && minor == 0, where, ": .npy format version ", major, ".",
              minor, " is not supported (1.0, 2.0 and 3.0 are)");
  const uint64_t length_bytes = major == 1 ? 2 : 4;
  const uint64_t preamble = kMagic.size() + 2 + length_bytes;
  NABLA_CHECK(total >= preamble, where, ": truncated: the file ends inside the header length (",
              total, " bytes)");
  uint64_t header_bytes = 0;
  for (uint64_t i = 0; i < length_bytes; ++i) {
    header_bytes |= uint64_t{static_cast<unsigned char>(prefix[8 + i])} << (8 * i);
  }
  NABLA_CHECK(header_bytes <= total - preamble, where, ": truncated: the header length ",
              header_bytes, " runs past the end of the file (", total, " bytes)");
  NABLA_CHECK(header_bytes <= kMaxNpyHeaderBytes, where, ": the header length ", header_bytes,
              " is above the limit of ", kMaxNpyHeaderBytes, " bytes");
  const std::string text = prefix.size() >= preamble + header_bytes
                               ? std::string(prefix.substr(preamble, header_bytes))
                               : read_more(preamble, header_bytes);
  NpyHeader header = HeaderParser(text, major < 3, where).parse();
  const std::optional<StoredType> type = stored_type(header.descr);
  if (!type) {
    const bool object = header.descr.size() >= 2 && header.descr[1] == 'O';
    detail::throw_error(detail::str(
        where, ": dtype '", header.descr, "' is not supported",
        object ? " (Python objects, stored as a pickle)" : "",
        "; nabla reads bool, uint8, uint16, uint32, int8 to int64 and float16 to float64"));
  }
  header.type = *type;
  header.data_offset = preamble + header_bytes;
  const int64_t count = core::checked_numel(header.shape, where, ": the header's shape");
  header.data_bytes = static_cast<uint64_t>(
      core::checked_nbytes(count, type->item_bytes, where, ": the header's shape"));
  const uint64_t held = total - header.data_offset;
  NABLA_CHECK(held == header.data_bytes, where, ": shape ", header.shape, " of '", header.descr,
              "' needs ", header.data_bytes, " bytes of data, the file holds ", held,
              held < header.data_bytes ? " (truncated)" : " (extra bytes after the data)");
  return header;
}

void swap_bytes(unsigned char* data, uint64_t count, int64_t item_bytes) {
  for (uint64_t i = 0; i < count; ++i)
    std::reverse(data + i * item_bytes, data + (i + 1) * item_bytes);
}

// IEEE half to float: exact (every half is a float).
float half_to_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000) << 16;
  const uint32_t exponent = (half >> 10) & 0x1F, mantissa = half & 0x3FF;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  const uint32_t bits = exponent == 0x1F ? sign | 0x7F800000 | mantissa << 13  // inf, nan
                                         : sign | (exponent + 112) << 23 | mantissa << 13;
  return std::bit_cast<float>(bits);
}

template <class From, class To>
void widen(const unsigned char* raw, To* out, uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) {
    From value;
    std::memcpy(&value, raw + i * sizeof(From), sizeof(From));
    if constexpr (std::is_same_v<From, uint16_t> && std::is_same_v<To, float>) {
      out[i] = half_to_float(value);
    } else {
      out[i] = static_cast<To>(value);
    }
  }
}

// Stored items converted to the tensor's dtype (int8 ... uint32 to i64, float16 to f32).
void convert(const StoredType& type, const unsigned char* raw, Tensor& out, uint64_t count) {
  if (type.kind == 'f') return widen<uint16_t>(raw, out.data<float>(), count);
  int64_t* values = out.data<int64_t>();
  const bool is_signed = type.kind == 'i';
  switch (type.item_bytes) {
    case 1:
      return widen<int8_t>(raw, values, count);
    case 2:
      return is_signed ? widen<int16_t>(raw, values, count) : widen<uint16_t>(raw, values, count);
    default:
      return is_signed ? widen<int32_t>(raw, values, count) : widen<uint32_t>(raw, values, count);
  }
}

// The array a header describes, its data taken from `read(destination, nbytes)`.
template <class Read>
Tensor read_array(const NpyHeader& header, Read&& read) {
  // Fortran order is C order of the reversed shape: read it so, then transpose back.
  Shape stored = header.shape;
  if (header.fortran_order) std::reverse(stored.begin(), stored.end());
  Tensor out = empty(stored, header.type.dtype);
  const auto count = static_cast<uint64_t>(out.numel());
  Tensor raw =
      header.type.native() ? out : empty({static_cast<int64_t>(header.data_bytes)}, DType::u8);
  auto* bytes = static_cast<unsigned char*>(raw.raw_data());
  if (header.data_bytes > 0) read(bytes, header.data_bytes);
  if (header.type.big_endian) swap_bytes(bytes, count, header.type.item_bytes);
  if (!header.type.native()) {
    convert(header.type, bytes, out, count);
  } else if (header.type.dtype == DType::boolean) {
    // NumPy reads any nonzero byte as True; a C++ bool must hold exactly 0 or 1.
    for (uint64_t i = 0; i < count; ++i) bytes[i] = bytes[i] != 0;
  }
  if (!header.fortran_order || out.dim() < 2) return out;
  Shape axes(out.dim());
  std::iota(axes.rbegin(), axes.rend(), 0);
  return out.permute(axes).contiguous();
}

// The array in .npy bytes held in memory (an .npz member).
Tensor parse_npy(std::string_view bytes, const std::string& where) {
  const NpyHeader header = read_header(
      bytes, bytes.size(), [](uint64_t, uint64_t) { return std::string(); }, where);
  return read_array(header, [&](unsigned char* out, uint64_t nbytes) {
    std::memcpy(out, bytes.data() + header.data_offset, nbytes);
  });
}

// NumPy's repr of a shape tuple: (), (3,), (3, 4).
std::string shape_repr(const Shape& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i > 0 ? ", " : "") + std::to_string(shape[i]);
  }
  return text + (shape.size() == 1 ? ",)" : ")");
}

// Magic, version, length and header, padded as NumPy pads them (format.py's _wrap_header):
// spaces, then '\n', so that the data starts at a multiple of 64 -- a full 64 when already
// aligned, as NumPy does.
std::string npy_header(const Tensor& tensor) {
  std::string dict = std::string("{'descr': '") + descr_of(tensor.dtype()) +
                     "', 'fortran_order': False, 'shape': " + shape_repr(tensor.shape()) + ", }";
  if (tensor.dim() > 0) dict.append(kGrowthDigits - std::to_string(tensor.size(0)).size(), ' ');
  for (const uint64_t length_bytes : {2, 4}) {
    const uint64_t preamble = kMagic.size() + 2 + length_bytes;
    const uint64_t text_bytes = dict.size() + 1;  // with the newline
    const uint64_t padding = kAlign - (preamble + text_bytes) % kAlign;
    const uint64_t header_bytes = text_bytes + padding;
    if (length_bytes == 2 && header_bytes > 0xFFFF) continue;  // version 2.0 then
    std::string out(kMagic);
    out.push_back(static_cast<char>(length_bytes == 2 ? 1 : 2));
    out.push_back(0);
    for (uint64_t i = 0; i < length_bytes; ++i) {
      out.push_back(static_cast<char>((header_bytes >> (8 * i)) & 0xFF));
    }
    out += dict;
    out.append(padding, ' ');
    out.push_back('\n');
    return out;
  }
  detail::throw_error(detail::str("save_npy: a header of ", dict.size(), " bytes is too long"));
}

std::string_view data_of(const Tensor& contiguous) {
  return {static_cast<const char*>(contiguous.raw_data()),
          static_cast<size_t>(contiguous.numel()) * dtype_size(contiguous.dtype())};
}

}  // namespace

Tensor load_npy(const std::string& path) {
  const std::string where = "load_npy: " + path;
  data::internal::InputFile file(path, "load_npy");
  // The preamble and, in every file NumPy writes for nabla's dtypes, the whole header.
  std::string prefix(std::min<uint64_t>(file.size(), 4096), '\0');
  file.read_at(0, prefix.data(), prefix.size());
  const NpyHeader header = read_header(
      prefix, file.size(),
      [&](uint64_t offset, uint64_t nbytes) {
        std::string text(nbytes, '\0');
        file.read_at(offset, text.data(), nbytes);
        return text;
      },
      where);
  return read_array(header, [&](unsigned char* out, uint64_t nbytes) {
    file.read_at(header.data_offset, out, nbytes);
  });
}

void save_npy(const std::string& path, const Tensor& tensor) {
  NABLA_CHECK(tensor.defined(), "save_npy: ", path, ": the tensor is undefined");
  const std::string header = npy_header(tensor);
  const Tensor data = tensor.contiguous();
  data::internal::AtomicFile file(path, "save_npy");
  file.write(header.data(), header.size());
  const std::string_view bytes = data_of(data);
  file.write(bytes.data(), bytes.size());
  file.commit();
}

std::map<std::string, Tensor> load_npz(const std::string& path) {
  std::map<std::string, Tensor> arrays;
  internal::read_zip(path, "load_npz", [&](const std::string& name, std::string_view bytes) {
    const std::string where = "load_npz: " + path + ": member '" + name + "'";
    NABLA_CHECK(name.size() > 4 && name.ends_with(".npy"), where,
                ": not an .npy array (an .npz archive holds NAME.npy members)");
    arrays.emplace(name.substr(0, name.size() - 4), parse_npy(bytes, where));
  });
  return arrays;
}

void save_npz(const std::string& path, const std::map<std::string, Tensor>& arrays,
              bool compressed) {
  for (const auto& [name, tensor] : arrays) {
    NABLA_CHECK(!name.empty(), "save_npz: ", path, ": an array needs a non-empty name");
    NABLA_CHECK(tensor.defined(), "save_npz: ", path, ": the tensor '", name, "' is undefined");
  }
  internal::ZipWriter zip(path, "save_npz");
  for (const auto& [name, tensor] : arrays) {
    const std::string header = npy_header(tensor);
    const Tensor data = tensor.contiguous();
    zip.add(name + ".npy", {header, data_of(data)}, compressed);
  }
  zip.commit();
}

}  // namespace nabla::io
