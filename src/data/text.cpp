// UTF-8 helpers, the text file reader, pad_sequences and the fortune-file reader.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "core/tensor_impl.hpp"
#include "data/file_util.hpp"
#include "data/utf8.hpp"
#include "nabla/data.hpp"

namespace nabla::data {
namespace internal {
namespace {

std::string hex_byte(unsigned char byte) {
  char text[8];
  std::snprintf(text, sizeof(text), "0x%02x", byte);
  return text;
}

std::string code_point_name(char32_t code_point) {
  char text[16];
  std::snprintf(text, sizeof(text), "U+%04X", static_cast<unsigned>(code_point));
  return text;
}

// The bytes text[pos, pos + count) as "0xed 0xa0 0x80".
std::string hex_bytes(std::string_view text, size_t pos, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    if (i > 0) out += ' ';
    out += hex_byte(static_cast<unsigned char>(text[pos + i]));
  }
  return out;
}

// The length of the sequence a lead byte announces (0 for bytes that cannot start one).
size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xc0) return 0;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  if (lead < 0xf8) return 4;
  return 0;
}

constexpr const char* kExpectedStart =
    "expected an ASCII byte (0x00-0x7f) or a lead byte (0xc2-0xf4)";

}  // namespace

Utf8Char decode_utf8(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {lead, 1, Utf8Status::kOk};
  const size_t length = sequence_length(lead);
  if (length == 0) {
    return {0, 1, lead < 0xc0 ? Utf8Status::kStrayContinuation : Utf8Status::kInvalidByte};
  }
  // The lead byte keeps 7 - length payload bits (5, 4 or 3).
  char32_t code_point = lead & (0x7f >> length);
  for (size_t k = 1; k < length; ++k) {
    if (pos + k >= text.size() || (byte(pos + k) & 0xc0) != 0x80) {
      return {0, 1, Utf8Status::kTruncated};
    }
    code_point = (code_point << 6) | (byte(pos + k) & 0x3f);
  }
  static constexpr char32_t kShortest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kShortest[length]) return {code_point, 1, Utf8Status::kOverlong};
  if (code_point >= 0xd800 && code_point <= 0xdfff) return {code_point, 1, Utf8Status::kSurrogate};
  if (code_point > 0x10ffff) return {code_point, 1, Utf8Status::kTooLarge};
  return {code_point, static_cast<uint8_t>(length), Utf8Status::kOk};
}

void append_utf8(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xc0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3f));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xe0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code_point & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code_point & 0x3f));
  }
}

size_t find_invalid_utf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const Utf8Char c = decode_utf8(text, pos);
    if (c.status != Utf8Status::kOk) return pos;
    pos += c.length;
  }
  return std::string_view::npos;
}

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const Utf8Char c = decode_utf8(text, pos);
    if (c.status == Utf8Status::kOk) {
      out.append(text.substr(pos, c.length));
    } else {
      out.append(kReplacementCharacter);
    }
    pos += c.length;
  }
  return out;
}

std::string describe_invalid_utf8(std::string_view text, size_t pos) {
  const Utf8Char c = decode_utf8(text, pos);
  const unsigned char lead = static_cast<unsigned char>(text[pos]);
  const size_t length = sequence_length(lead);
  const std::string bytes = hex_bytes(text, pos, std::min(length, text.size() - pos));
  switch (c.status) {
    case Utf8Status::kStrayContinuation:
      return detail::str("byte ", hex_byte(lead), " is a continuation byte with no lead byte; ",
                         kExpectedStart);
    case Utf8Status::kInvalidByte:
      return detail::str("byte ", hex_byte(lead), " never occurs in UTF-8; ", kExpectedStart);
    case Utf8Status::kTruncated: {
      size_t have = 1;
      while (pos + have < text.size() &&
             (static_cast<unsigned char>(text[pos + have]) & 0xc0) == 0x80) {
        ++have;
      }
      const std::string found = pos + have < text.size()
                                    ? "its byte " + std::to_string(have + 1) + " is " +
                                          hex_byte(static_cast<unsigned char>(text[pos + have]))
                                    : "the text ends before its byte " + std::to_string(have + 1);
      return detail::str("byte ", hex_byte(lead), " starts a ", length, "-byte sequence but ",
                         found, "; expected a continuation byte (0x80-0xbf)");
    }
    case Utf8Status::kOverlong:
      return detail::str("bytes ", bytes, " are an overlong encoding of ",
                         code_point_name(c.code_point), "; expected its shortest form");
    case Utf8Status::kSurrogate:
      return detail::str("bytes ", bytes, " encode ", code_point_name(c.code_point),
                         ", a UTF-16 surrogate; expected a code point outside U+D800-U+DFFF");
    case Utf8Status::kTooLarge:
      return detail::str("bytes ", bytes, " encode ", code_point_name(c.code_point),
                         "; expected a code point at most U+10FFFF");
    case Utf8Status::kOk:
      break;
  }
  return "valid UTF-8";
}

}  // namespace internal

std::string read_text_file(const std::string& path) {
  std::string text = internal::read_file(path, "read_text_file");
  NABLA_CHECK(!text.empty(), "read_text_file: ", path, " is empty; expected UTF-8 text");
  const size_t bad = internal::find_invalid_utf8(text);
  if (bad != std::string::npos) {
    const auto line =
        1 + std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(bad), '\n');
    detail::throw_error(detail::str("read_text_file: ", path, ": invalid UTF-8 at line ", line,
                                    ", byte offset ", bad, ": ",
                                    internal::describe_invalid_utf8(text, bad),
                                    " (convert the file to UTF-8, e.g. with iconv)"));
  }
  return text;
}

Tensor pad_sequences(const std::vector<std::vector<int64_t>>& sequences, int64_t length,
                     int64_t pad_id, bool pad_front, bool truncate_front) {
  NABLA_CHECK(length > 0, "pad_sequences: length must be positive, got ", length);
  const auto rows = static_cast<int64_t>(sequences.size());
  Tensor out = make_tensor({rows, length}, DType::i64);
  int64_t* data = out.data<int64_t>();
  std::fill(data, data + rows * length, pad_id);
  for (int64_t row = 0; row < rows; ++row) {
    const std::vector<int64_t>& sequence = sequences[static_cast<size_t>(row)];
    const auto kept = std::min<int64_t>(length, static_cast<int64_t>(sequence.size()));
    const int64_t* from = sequence.data() + (truncate_front ? sequence.size() - kept : 0);
    int64_t* to = data + row * length + (pad_front ? length - kept : 0);
    std::copy(from, from + kept, to);
  }
  return out;
}

namespace {

bool is_blank(std::string_view text) {
  return text.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

// The entries of a fortune file: the text between lines holding only "%" (a trailing "\r" is
// tolerated), without the newline that ends each entry's last line; blank entries are dropped.
std::vector<std::string> split_fortunes(std::string_view text) {
  std::vector<std::string> entries;
  size_t entry_start = 0;
  size_t line_start = 0;
  const auto finish = [&](size_t entry_end) {
    std::string_view entry = text.substr(entry_start, entry_end - entry_start);
    if (!entry.empty() && entry.back() == '\n') entry.remove_suffix(1);
    if (!is_blank(entry)) entries.emplace_back(entry);
  };
  while (line_start < text.size()) {
    size_t line_end = text.find('\n', line_start);
    const size_t next = line_end == std::string_view::npos ? text.size() : line_end + 1;
    if (line_end == std::string_view::npos) line_end = text.size();
    const std::string_view line = text.substr(line_start, line_end - line_start);
    if (line == "%" || line == "%\r") {
      finish(line_start);
      entry_start = next;
    }
    line_start = next;
  }
  if (entry_start < text.size()) finish(text.size());
  return entries;
}

}  // namespace

TextClassificationData read_fortunes(const std::string& dir,
                                     const std::vector<std::string>& categories) {
  NABLA_CHECK(!categories.empty(), "read_fortunes: expected at least one category");
  TextClassificationData data;
  data.class_names = categories;
  for (size_t label = 0; label < categories.size(); ++label) {
    const std::string path = (std::filesystem::path(dir) / categories[label]).string();
    std::error_code error;
    NABLA_CHECK(std::filesystem::is_regular_file(path, error), "read_fortunes: no fortune file ",
                path, " for category \"", categories[label],
                "\"; on Debian the fortune files come with the fortunes-min and fortunes packages");
    // Fortune files are mostly ASCII but some hold Latin-1 bytes: those become U+FFFD rather
    // than failing the whole data set.
    const std::vector<std::string> entries =
        split_fortunes(internal::sanitize_utf8(internal::read_file(path, "read_fortunes")));
    NABLA_CHECK(!entries.empty(), "read_fortunes: ", path,
                " holds no fortunes; expected entries separated by lines holding only \"%\"");
    for (const std::string& entry : entries) {
      data.texts.push_back(entry);
      data.labels.push_back(static_cast<int64_t>(label));
    }
  }
  return data;
}

}  // namespace nabla::data
