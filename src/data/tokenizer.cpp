// Tokenizer: text to ids and back, at word or character (code point) level.
#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <numeric>

#include "data/json_input.hpp"
#include "data/utf8.hpp"
#include "nabla/data.hpp"

namespace nabla::data {
namespace {

using internal::Utf8Char;
using internal::Utf8Status;

constexpr const char* kPadToken = "<pad>";
constexpr const char* kUnknownToken = "<unk>";

enum class CharClass : uint8_t { kSpace, kWord, kSymbol };

struct Range {
  char32_t first, last;
};

// Non-ASCII whitespace: separates words like a space.
constexpr Range kSpaceRanges[] = {
    {0x85, 0x85},     {0xa0, 0xa0},     {0x1680, 0x1680}, {0x2000, 0x200b}, {0x2028, 0x2029},
    {0x202f, 0x202f}, {0x205f, 0x205f}, {0x3000, 0x3000}, {0xfeff, 0xfeff},
};

// Non-ASCII punctuation and symbols (sorted). Rather than carry Unicode's category tables, words
// take every other code point >= 0x80 as a letter: accented and non-Latin letters, digits and
// combining marks then join words, and the common punctuation, currency signs, arrows, math
// operators, box drawing, dingbats and emoji split them.
constexpr Range kSymbolRanges[] = {
    // C1 controls, Latin-1 punctuation and signs (ª, µ and º are letters), × and ÷
    {0x80, 0xa9},
    {0xab, 0xb4},
    {0xb6, 0xb9},
    {0xbb, 0xbf},
    {0xd7, 0xd7},
    {0xf7, 0xf7},
    // Greek, Armenian, Hebrew, Arabic and Devanagari punctuation
    {0x37e, 0x37e},
    {0x387, 0x387},
    {0x55a, 0x55f},
    {0x589, 0x58a},
    {0x5be, 0x5be},
    {0x5c0, 0x5c0},
    {0x5c3, 0x5c3},
    {0x5f3, 0x5f4},
    {0x60c, 0x60d},
    {0x61b, 0x61f},
    {0x66a, 0x66d},
    {0x964, 0x965},
    // General Punctuation (the apostrophe U+2019 is taken out before), currency signs
    {0x2000, 0x206f},
    {0x20a0, 0x20cf},
    // arrows, math operators, technical symbols, box drawing, blocks, shapes, dingbats
    {0x2190, 0x23ff},
    {0x2500, 0x2bff},
    // supplemental punctuation, CJK punctuation and brackets
    {0x2e00, 0x2e7f},
    {0x3001, 0x3003},
    {0x3008, 0x3011},
    {0x3014, 0x301f},
    // vertical, compatibility and small forms, fullwidth ASCII punctuation
    {0xfe10, 0xfe1f},
    {0xfe30, 0xfe6f},
    {0xff01, 0xff0f},
    {0xff1a, 0xff20},
    {0xff3b, 0xff40},
    {0xff5b, 0xff65},
    // specials (U+FFFD included); mahjong, cards, emoji and pictographs
    {0xfff0, 0xffff},
    {0x1f000, 0x1faff},
};

template <size_t N>
bool in_ranges(const Range (&ranges)[N], char32_t code_point) {
  const Range* it = std::upper_bound(std::begin(ranges), std::end(ranges), code_point,
                                     [](char32_t c, const Range& r) { return c < r.first; });
  return it != std::begin(ranges) && code_point <= (it - 1)->last;
}

constexpr std::array<CharClass, 128> kAsciiClasses = [] {
  std::array<CharClass, 128> classes{};
  for (int c = 0; c < 128; ++c) {
    const bool word =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '\'';
    const bool space = c == ' ' || (c >= '\t' && c <= '\r');
    classes[c] = word ? CharClass::kWord : space ? CharClass::kSpace : CharClass::kSymbol;
  }
  return classes;
}();

CharClass classify(char32_t code_point) {
  if (code_point < 0x80) return kAsciiClasses[code_point];
  if (code_point == 0x2019) return CharClass::kWord;  // the typographic apostrophe: don’t
  if (in_ranges(kSpaceRanges, code_point)) return CharClass::kSpace;
  if (in_ranges(kSymbolRanges, code_point)) return CharClass::kSymbol;
  return CharClass::kWord;
}

// Simple case folding: ASCII, Latin-1, and the regular blocks of Greek and Cyrillic capitals
// (one-to-one mappings at a fixed offset). Other code points are kept as they are; full Unicode
// case folding would need the Unicode tables.
char32_t to_lower(char32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 0x20 : c;
  if (c >= 0xc0 && c <= 0xde && c != 0xd7) return c + 0x20;
  if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return c + 0x20;
  if (c >= 0x410 && c <= 0x42f) return c + 0x20;
  if (c >= 0x400 && c <= 0x40f) return c + 0x50;
  return c;
}

// One token as the splitter hands it out: `text` views the input or a scratch buffer (valid
// until the next token). A byte that is not UTF-8 comes as a token of its own with bad = true.
struct Piece {
  std::string_view text;
  char32_t code_point;  // char level only
  bool bad;
};

Utf8Char next_char(std::string_view text, size_t pos) {
  const auto byte = static_cast<unsigned char>(text[pos]);
  if (byte < 0x80) return {byte, 1, Utf8Status::kOk};
  return internal::decode_utf8(text, pos);
}

// Calls emit(Piece) for each token of `text`, in order.
template <class Emit>
void for_each_token(std::string_view text, bool char_level, bool lowercase, Emit&& emit) {
  std::string scratch;
  std::string word;
  const auto flush_word = [&] {
    if (word.empty()) return;
    emit(Piece{word, 0, false});
    word.clear();
  };
  size_t pos = 0;
  while (pos < text.size()) {
    const Utf8Char c = next_char(text, pos);
    const std::string_view bytes = text.substr(pos, c.length);
    pos += c.length;
    if (c.status != Utf8Status::kOk) {
      flush_word();
      emit(Piece{bytes, 0, true});
      continue;
    }
    const char32_t lowered = lowercase ? to_lower(c.code_point) : c.code_point;
    std::string_view token = bytes;
    if (lowered != c.code_point) {
      scratch.clear();
      internal::append_utf8(scratch, lowered);
      token = scratch;
    }
    if (char_level) {
      emit(Piece{token, lowered, false});
      continue;
    }
    switch (classify(c.code_point)) {
      case CharClass::kWord:
        word.append(token);
        break;
      case CharClass::kSpace:
        flush_word();
        break;
      case CharClass::kSymbol:
        flush_word();
        emit(Piece{token, lowered, false});
        break;
    }
  }
  flush_word();
}

// Tokens in order of first appearance, with their counts. Characters are keyed by code point
// (an array for ASCII): counting megabytes of text stays a small fraction of a second.
struct TokenCounts {
  std::vector<std::string> tokens;
  std::vector<int64_t> counts;
  int64_t add(std::string_view token) {
    tokens.emplace_back(token);
    counts.push_back(0);
    return static_cast<int64_t>(tokens.size()) - 1;
  }
};

TokenCounts count_tokens(const std::vector<std::string>& texts, const TokenizerOptions& options) {
  TokenCounts result;
  if (options.level == "char") {
    std::array<int64_t, 128> ascii;
    ascii.fill(-1);
    std::unordered_map<char32_t, int64_t> others;
    for (const std::string& text : texts) {
      for_each_token(text, true, options.lowercase, [&](const Piece& piece) {
        if (piece.bad) return;
        int64_t* slot;
        if (piece.code_point < 0x80) {
          slot = &ascii[piece.code_point];
        } else {
          slot = &others.try_emplace(piece.code_point, -1).first->second;
        }
        if (*slot < 0) *slot = result.add(piece.text);
        ++result.counts[static_cast<size_t>(*slot)];
      });
    }
  } else {
    std::unordered_map<std::string, int64_t> index;
    std::string key;
    for (const std::string& text : texts) {
      for_each_token(text, false, options.lowercase, [&](const Piece& piece) {
        if (piece.bad) return;
        key.assign(piece.text);
        auto [it, inserted] = index.try_emplace(key, 0);
        if (inserted) it->second = result.add(piece.text);
        ++result.counts[static_cast<size_t>(it->second)];
      });
    }
  }
  return result;
}

void check_options(const TokenizerOptions& options, const char* where) {
  NABLA_CHECK(options.level == "word" || options.level == "char", where,
              ": level must be \"word\" or \"char\", got \"", options.level, "\"");
  NABLA_CHECK(options.max_vocab == 0 || options.max_vocab >= 2, where,
              ": max_vocab must be 0 (no limit) or at least 2 (the reserved <pad> and <unk>), got ",
              options.max_vocab);
  NABLA_CHECK(options.min_count >= 1, where, ": min_count must be at least 1, got ",
              options.min_count);
}

}  // namespace

Tokenizer::Tokenizer(TokenizerOptions options) : options_(std::move(options)) {
  check_options(options_, "Tokenizer");
  tokens_ = {kPadToken, kUnknownToken};
  ids_ = {{kPadToken, kPad}, {kUnknownToken, kUnknown}};
}

// Replaces the vocabulary with the tokens of `texts`.
void Tokenizer::fit(const std::vector<std::string>& texts) {
  const TokenCounts counted = count_tokens(texts, options_);
  std::vector<size_t> order(counted.tokens.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Stable: equal counts keep the order of first appearance.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return counted.counts[a] > counted.counts[b]; });
  tokens_ = {kPadToken, kUnknownToken};
  for (size_t i : order) {
    if (options_.max_vocab > 0 && vocab_size() >= options_.max_vocab) break;
    if (counted.counts[i] < options_.min_count) break;  // sorted: the rest are rarer still
    tokens_.push_back(counted.tokens[i]);
  }
  ids_.clear();
  ids_.reserve(tokens_.size());
  for (size_t i = 0; i < tokens_.size(); ++i) ids_.emplace(tokens_[i], static_cast<int64_t>(i));
}

std::vector<std::string> Tokenizer::split(const std::string& text) const {
  std::vector<std::string> tokens;
  for_each_token(text, options_.level == "char", options_.lowercase, [&](const Piece& piece) {
    tokens.emplace_back(piece.bad ? internal::kReplacementCharacter : piece.text);
  });
  return tokens;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text) const {
  std::vector<int64_t> ids;
  const auto lookup = [&](std::string_view token) {
    const auto it = ids_.find(std::string(token));
    return it == ids_.end() ? kUnknown : it->second;
  };
  if (options_.level == "char") {
    ids.reserve(text.size());
    // Characters repeat: look each distinct one up once per call.
    std::array<int64_t, 128> ascii;
    ascii.fill(-1);
    std::unordered_map<char32_t, int64_t> others;
    for_each_token(text, true, options_.lowercase, [&](const Piece& piece) {
      if (piece.bad) {
        ids.push_back(kUnknown);
      } else if (piece.code_point < 0x80) {
        int64_t& id = ascii[piece.code_point];
        if (id < 0) id = lookup(piece.text);
        ids.push_back(id);
      } else {
        auto [it, inserted] = others.try_emplace(piece.code_point, 0);
        if (inserted) it->second = lookup(piece.text);
        ids.push_back(it->second);
      }
    });
  } else {
    for_each_token(text, false, options_.lowercase, [&](const Piece& piece) {
      ids.push_back(piece.bad ? kUnknown : lookup(piece.text));
    });
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  const bool char_level = options_.level == "char";
  std::string text;
  bool first = true;
  for (int64_t id : ids) {
    NABLA_CHECK(id >= 0 && id < vocab_size(), "Tokenizer::decode: id ", id,
                " out of range for a vocabulary of ", vocab_size(), " tokens");
    if (id == kPad) continue;
    if (!char_level && !first) text += ' ';
    first = false;
    if (id == kUnknown) {
      text += char_level ? internal::kReplacementCharacter : std::string_view(kUnknownToken);
    } else {
      text += tokens_[static_cast<size_t>(id)];
    }
  }
  return text;
}

int64_t Tokenizer::id(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? kUnknown : it->second;
}

std::string Tokenizer::to_json() const {
  nlohmann::ordered_json json;
  json["level"] = options_.level;
  json["lowercase"] = options_.lowercase;
  json["max_vocab"] = options_.max_vocab;
  json["min_count"] = options_.min_count;
  json["vocabulary"] = tokens_;
  return json.dump();
}

namespace {

// Checks one vocabulary entry read from JSON; `index` is its id.
void check_token(const nlohmann::json& entry, size_t index, bool char_level) {
  constexpr const char* kWhere = "Tokenizer::from_json";
  NABLA_CHECK(entry.is_string(), kWhere, ": vocabulary entry ", index, " is ", entry.type_name(),
              ", expected a string");
  const auto& token = entry.get_ref<const std::string&>();
  if (index < 2) {
    const char* reserved = index == 0 ? kPadToken : kUnknownToken;
    NABLA_CHECK(token == reserved, kWhere, ": vocabulary entry ", index, " is \"", token,
                "\", expected the reserved \"", reserved, "\"");
    return;
  }
  NABLA_CHECK(!token.empty(), kWhere, ": vocabulary entry ", index, " is empty");
  if (char_level) {
    const Utf8Char c = internal::decode_utf8(token, 0);
    NABLA_CHECK(c.length == token.size(), kWhere, ": vocabulary entry ", index, " \"", token,
                "\" is not one character, expected one per entry at level \"char\"");
  }
}

}  // namespace

Tokenizer Tokenizer::from_json(const std::string& json_text) {
  constexpr const char* kWhere = "Tokenizer::from_json";
  nlohmann::json json;
  try {
    json = internal::parse_json(json_text);
  } catch (const internal::JsonError& e) {
    detail::throw_error(detail::str(kWhere, ": ", e.what()));
  }
  NABLA_CHECK(json.is_object(), kWhere, ": expected a JSON object, got ", json.type_name());
  TokenizerOptions options;
  NABLA_CHECK(json.contains("level") && json["level"].is_string(), kWhere,
              ": expected \"level\": \"word\" or \"char\"");
  options.level = json["level"].get<std::string>();
  if (json.contains("lowercase")) {
    NABLA_CHECK(json["lowercase"].is_boolean(), kWhere,
                ": \"lowercase\" must be true or false, got ",
                internal::json_excerpt(json["lowercase"]));
    options.lowercase = json["lowercase"].get<bool>();
  }
  const auto read_integer = [&](const char* key, int64_t& value) {
    if (!json.contains(key)) return;
    NABLA_CHECK(json[key].is_number_integer(), kWhere, ": \"", key, "\" must be an integer, got ",
                internal::json_excerpt(json[key]));
    value = json[key].get<int64_t>();
  };
  read_integer("max_vocab", options.max_vocab);
  read_integer("min_count", options.min_count);
  check_options(options, kWhere);
  NABLA_CHECK(json.contains("vocabulary") && json["vocabulary"].is_array(), kWhere,
              ": expected \"vocabulary\": an array of tokens starting with \"<pad>\", \"<unk>\"");
  const nlohmann::json& vocabulary = json["vocabulary"];
  NABLA_CHECK(vocabulary.size() >= 2, kWhere, ": the vocabulary has ", vocabulary.size(),
              " entries, expected at least the reserved \"<pad>\" and \"<unk>\"");
  Tokenizer tokenizer(options);
  tokenizer.tokens_.clear();
  tokenizer.ids_.clear();
  for (size_t i = 0; i < vocabulary.size(); ++i) {
    check_token(vocabulary[i], i, options.level == "char");
    const auto& token = vocabulary[i].get_ref<const std::string&>();
    const bool added = tokenizer.ids_.emplace(token, static_cast<int64_t>(i)).second;
    NABLA_CHECK(added, kWhere, ": vocabulary entry ", i, " \"", token, "\" repeats entry ",
                tokenizer.ids_.at(token));
    tokenizer.tokens_.push_back(token);
  }
  return tokenizer;
}

}  // namespace nabla::data
