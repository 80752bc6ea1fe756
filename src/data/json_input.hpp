// JSON that comes from outside (model specs, safetensors headers, tokenizer files): parsed with a
// bounded nesting depth, with errors that say where; and values shown in errors as bounded
// excerpts. nlohmann's parser is iterative, but dump() and every walk of the result recurse, so
// a value nested 100,000 deep crashed the process as soon as an error message printed it. Internal.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

#include "nabla/error.hpp"

namespace nabla::data::internal {

// Arrays and objects nested deeper are refused while parsing. nabla's own files nest about six
// levels (a graph spec's layer arguments); 128 is serde_json's limit, a bound that real
// JSON files do not reach and that keeps every recursive walk a few kilobytes of stack.
constexpr int kMaxJsonDepth = 128;

// Invalid JSON, a number out of range, or nesting deeper than kMaxJsonDepth. `path` is where it
// happened ("layers[1].units"; empty for syntax errors, whose message gives line and column).
class JsonError : public Error {
 public:
  JsonError(std::string path, std::string message);
  const std::string& path() const { return path_; }
  const std::string& message() const { return message_; }

 private:
  std::string path_;
  std::string message_;
};

// Parses `text` (nlohmann::json or nlohmann::ordered_json); JsonError when it fails.
template <class Json = nlohmann::json>
Json parse_json(const std::string& text);

// `text` cut to at most about `max_chars` at a UTF-8 character boundary, "..." marking a cut.
std::string excerpt(const std::string& text, size_t max_chars = 80);

// `value` as compact JSON for an error message, cut like excerpt(). Never dumps the whole value:
// it writes only what it shows, so that its time and recursion depth are bounded by `max_chars`
// whatever the value's size and depth.
std::string json_excerpt(const nlohmann::json& value, size_t max_chars = 80);

}  // namespace nabla::data::internal
