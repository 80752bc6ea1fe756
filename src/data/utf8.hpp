// UTF-8 decoding shared by the text readers and the tokenizer (src/data/text.cpp). Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nabla::data::internal {

enum class Utf8Status : uint8_t {
  kOk,
  kStrayContinuation,  // 0x80-0xbf with no lead byte before it
  kInvalidByte,        // 0xf8-0xff: never part of UTF-8
  kTruncated,          // a lead byte not followed by enough continuation bytes
  kOverlong,           // a longer encoding than the code point needs
  kSurrogate,          // U+D800-U+DFFF
  kTooLarge,           // above U+10FFFF
};

// One decoded code point. When status is not kOk only the first byte is taken as bad and
// `length` is 1: decoding resumes at the next byte, so that each bad byte is reported (or
// replaced) once and the valid text after it is kept.
struct Utf8Char {
  char32_t code_point = 0;
  uint8_t length = 1;
  Utf8Status status = Utf8Status::kOk;
};

// Decodes the code point starting at text[pos] (pos < text.size()).
Utf8Char decode_utf8(std::string_view text, size_t pos);

// Appends the UTF-8 encoding of a valid code point.
void append_utf8(std::string& out, char32_t code_point);

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// The offset of the first byte that is not valid UTF-8, or std::string_view::npos.
size_t find_invalid_utf8(std::string_view text);

// `text` with each byte that is not valid UTF-8 replaced by U+FFFD.
std::string sanitize_utf8(std::string_view text);

// What is wrong with the bad byte at text[pos] and what was expected, for error messages:
// "byte 0xff never occurs in UTF-8; expected ...".
std::string describe_invalid_utf8(std::string_view text, size_t pos);

}  // namespace nabla::data::internal
