#include "data/json_input.hpp"

#include <unordered_set>
#include <vector>

namespace nabla::data::internal {

// Where the parser is: one frame per open array or object, so that an error raised by the parser
// (a number out of range) or by the depth limit names its JSON path.
struct JsonParseFrame {
  bool array = false;
  int64_t index = 0;  // arrays: the element being parsed
  bool has_key = false;
  std::string key;                       // objects: the member being parsed (an excerpt)
  std::unordered_set<std::string> keys;  // objects: the members seen so far
};
// (Not in the anonymous namespace: parse_json, a template with external linkage, holds a vector
// of them, which a unity build would warn of, -Wsubobject-linkage.)

namespace {

std::string path_of(const std::vector<JsonParseFrame>& frames) {
  std::string path;
  for (const JsonParseFrame& frame : frames) {
    if (frame.array) {
      path += "[" + std::to_string(frame.index) + "]";
    } else if (frame.has_key) {
      path += (path.empty() ? "" : ".") + frame.key;
    }
  }
  return excerpt(path);
}

// Line and column of byte `offset` in `text`.
std::string text_position(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return detail::str("line ", line, ", column ", column);
}

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1,
// column 2: " prefix, which names the library rather than the problem; cut like excerpt().
std::string reason_of(const std::string& what) {
  const size_t tag_end = what.find("] ");
  std::string reason = tag_end == std::string::npos ? what : what.substr(tag_end + 2);
  if (reason.rfind("parse error", 0) == 0) {
    const size_t colon = reason.find(": ");
    if (colon != std::string::npos) reason = reason.substr(colon + 2);
  }
  return excerpt(reason, 160);
}

void write_excerpt(const nlohmann::json& value, std::string& out, size_t max_chars) {
  const auto quoted = [&](const std::string& text) {
    // A prefix suffices; `replace` keeps a UTF-8 sequence cut by substr from throwing.
    out += nlohmann::json(text.substr(0, max_chars + 1))
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  if (value.is_object() || value.is_array()) {
    const bool object = value.is_object();
    out += object ? '{' : '[';
    bool first = true;
    for (auto it = value.begin(); it != value.end() && out.size() <= max_chars; ++it) {
      if (!first) out += ',';
      first = false;
      if (object) {
        quoted(it.key());
        out += ':';
      }
      write_excerpt(it.value(), out, max_chars);
    }
    out += object ? '}' : ']';
  } else if (value.is_string()) {
    quoted(value.get_ref<const std::string&>());
  } else {
    out += value.dump();  // a number, boolean or null: short
  }
}

}  // namespace

JsonError::JsonError(std::string path, std::string message)
    : Error(path.empty() ? message : path + ": " + message),
      path_(std::move(path)),
      message_(std::move(message)) {}

template <class Json>
Json parse_json(const std::string& text) {
  std::vector<JsonParseFrame> frames;
  const auto element_done = [&] {
    if (!frames.empty() && frames.back().array) ++frames.back().index;
  };
  using Event = typename Json::parse_event_t;
  const typename Json::parser_callback_t track = [&](int, Event event, Json& parsed) {
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        // Checked before the container opens, so that parsing stops at the first level too deep.
        if (frames.size() >= static_cast<size_t>(kMaxJsonDepth)) {
          throw JsonError(path_of(frames),
                          detail::str("arrays and objects nested more than ", kMaxJsonDepth,
                                      " levels deep, the most nabla reads"));
        }
        frames.push_back({event == Event::array_start, 0, false, "", {}});
        break;
      case Event::key: {
        // JSON allows a key twice, and the parser keeps the last: {"units": 10, "units": 20}
        // would build 20 units without a word, so a repeated key is an error.
        const auto& key = parsed.template get_ref<const std::string&>();
        JsonParseFrame& frame = frames.back();
        frame.has_key = true;
        frame.key = excerpt(key);
        if (!frame.keys.insert(key).second) {
          throw JsonError(path_of(frames), "the key appears twice in its object; give it once");
        }
        break;
      }
      case Event::object_end:
      case Event::array_end:
        frames.pop_back();
        element_done();
        break;
      case Event::value:
        element_done();
        break;
    }
    return true;
  };
  try {
    return Json::parse(text, track);
  } catch (const nlohmann::json::parse_error& e) {
    // A syntax error: its line and column say where better than a path.
    throw JsonError("", "invalid JSON at " + text_position(text, e.byte > 0 ? e.byte - 1 : 0) +
                            ": " + reason_of(e.what()));
  } catch (const nlohmann::json::exception& e) {
    // A number out of range ("1e400"): valid JSON that no double holds; the path says where.
    throw JsonError(path_of(frames), reason_of(e.what()));
  }
}

template nlohmann::json parse_json<nlohmann::json>(const std::string&);
template nlohmann::ordered_json parse_json<nlohmann::ordered_json>(const std::string&);

std::string excerpt(const std::string& text, size_t max_chars) {
  if (text.size() <= max_chars) return text;
  size_t cut = max_chars;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

std::string json_excerpt(const nlohmann::json& value, size_t max_chars) {
  std::string out;
  write_excerpt(value, out, max_chars);
  return excerpt(out, max_chars);
}

}  // namespace nabla::data::internal
