#include <gtest/gtest.h>

#include <filesystem>

#include "data/test_util.hpp"
#include "data/utf8.hpp"
#include "nabla/nabla.hpp"

using namespace nabla;
using nabla::testing::error_message;
using nabla::testing::TempDir;
using nabla::testing::write_bytes;
using Strings = std::vector<std::string>;
using Ids = std::vector<int64_t>;

namespace {

// The read_text_file error for a file holding `bytes`.
std::string utf8_error(const std::string& bytes) {
  TempDir dir;
  write_bytes(dir.file("t.txt"), bytes);
  const std::string message = error_message([&] { data::read_text_file(dir.file("t.txt")); });
  const std::string prefix = "read_text_file: " + dir.file("t.txt") + ": ";
  EXPECT_EQ(message.rfind(prefix, 0), 0u) << message;
  const std::string suffix = " (convert the file to UTF-8, e.g. with iconv)";
  EXPECT_TRUE(message.size() > suffix.size() &&
              message.compare(message.size() - suffix.size(), suffix.size(), suffix) == 0)
      << message;
  return message.substr(prefix.size(), message.size() - prefix.size() - suffix.size());
}

data::Tokenizer fitted(const Strings& texts, data::TokenizerOptions options = {}) {
  data::Tokenizer tokenizer(options);
  tokenizer.fit(texts);
  return tokenizer;
}

data::TokenizerOptions char_level() {
  data::TokenizerOptions options;
  options.level = "char";
  return options;
}

}  // namespace

TEST(ReadTextFile, ReadsValidMultibyteText) {
  TempDir dir;
  // 1, 2, 3 and 4-byte sequences, including the largest code point U+10FFFF.
  const std::string text = "a\xC3\xA9\n\xE2\x82\xAC \xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\xEF\xBB\xBF";
  write_bytes(dir.file("ok.txt"), text);
  EXPECT_EQ(data::read_text_file(dir.file("ok.txt")), text);
}

TEST(ReadTextFile, MissingAndEmptyFiles) {
  TempDir dir;
  EXPECT_EQ(error_message([&] { data::read_text_file(dir.file("none.txt")); }),
            "read_text_file: cannot open " + dir.file("none.txt") + ": No such file or directory");
  write_bytes(dir.file("empty.txt"), "");
  EXPECT_EQ(error_message([&] { data::read_text_file(dir.file("empty.txt")); }),
            "read_text_file: " + dir.file("empty.txt") + " is empty; expected UTF-8 text");
}

TEST(ReadTextFile, InvalidUtf8NamesLineOffsetAndByte) {
  EXPECT_EQ(utf8_error("ab\ncd\n\xff"),
            "invalid UTF-8 at line 3, byte offset 6: byte 0xff never occurs in UTF-8; expected an "
            "ASCII byte (0x00-0x7f) or a lead byte (0xc2-0xf4)");
  EXPECT_EQ(utf8_error("x\x80"),
            "invalid UTF-8 at line 1, byte offset 1: byte 0x80 is a continuation byte with no lead "
            "byte; expected an ASCII byte (0x00-0x7f) or a lead byte (0xc2-0xf4)");
  // Truncated: a non-continuation byte follows, or the text ends.
  EXPECT_EQ(utf8_error("caf\xC3("),
            "invalid UTF-8 at line 1, byte offset 3: byte 0xc3 starts a 2-byte sequence but its "
            "byte 2 is 0x28; expected a continuation byte (0x80-0xbf)");
  EXPECT_EQ(utf8_error("\n\n\xE2\x82"),
            "invalid UTF-8 at line 3, byte offset 2: byte 0xe2 starts a 3-byte sequence but the "
            "text ends before its byte 3; expected a continuation byte (0x80-0xbf)");
  // Overlong encodings of "/" and of U+0000.
  EXPECT_EQ(utf8_error("\xC0\xAF"),
            "invalid UTF-8 at line 1, byte offset 0: bytes 0xc0 0xaf are an overlong encoding of "
            "U+002F; expected its shortest form");
  EXPECT_EQ(utf8_error("ok \xE0\x80\x80"),
            "invalid UTF-8 at line 1, byte offset 3: bytes 0xe0 0x80 0x80 are an overlong encoding "
            "of U+0000; expected its shortest form");
  EXPECT_EQ(utf8_error("\xF0\x8F\xBF\xBF"),
            "invalid UTF-8 at line 1, byte offset 0: bytes 0xf0 0x8f 0xbf 0xbf are an overlong "
            "encoding of U+FFFF; expected its shortest form");
  EXPECT_EQ(utf8_error("\xED\xA0\x80"),
            "invalid UTF-8 at line 1, byte offset 0: bytes 0xed 0xa0 0x80 encode U+D800, a UTF-16 "
            "surrogate; expected a code point outside U+D800-U+DFFF");
  EXPECT_EQ(utf8_error("\xF4\x90\x80\x80"),
            "invalid UTF-8 at line 1, byte offset 0: bytes 0xf4 0x90 0x80 0x80 encode U+110000; "
            "expected a code point at most U+10FFFF");
}

TEST(Utf8, SanitizeReplacesEachBadByte) {
  using data::internal::sanitize_utf8;
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(sanitize_utf8("caf\xE9!"), "caf" + fffd + "!");  // Latin-1 é
  // A truncated sequence: the lead byte and the lone continuation byte are each replaced.
  EXPECT_EQ(sanitize_utf8("a\xE2\x82"), "a" + fffd + fffd);
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80z"), fffd + fffd + fffd + "z");
  EXPECT_EQ(sanitize_utf8("na\xC3\xAFve"), "na\xC3\xAFve");
  EXPECT_EQ(data::internal::find_invalid_utf8("na\xC3\xAFve \xC3"), 7u);
  EXPECT_EQ(data::internal::find_invalid_utf8("plain"), std::string_view::npos);
}

TEST(Tokenizer, WordSplitPunctuationApostrophesAndNonAscii) {
  const data::Tokenizer tokenizer;
  EXPECT_EQ(tokenizer.split("Don't panic, it's 42!\n\tWell-known?"),
            (Strings{"Don't", "panic", ",", "it's", "42", "!", "Well", "-", "known", "?"}));
  EXPECT_EQ(tokenizer.split("A café, naïve: «Ελλάδα» 3×4 don\u2019t\u00A0x\u2014y"),
            (Strings{"A", "café", ",", "naïve", ":", "«", "Ελλάδα", "»", "3", "×", "4",
                     "don\u2019t", "x", "\u2014", "y"}));
  EXPECT_EQ(tokenizer.split("  \n "), Strings{});
}

TEST(Tokenizer, CharSplitKeepsWhitespaceAndCodePoints) {
  const data::Tokenizer tokenizer(char_level());
  EXPECT_EQ(tokenizer.split("é a\n€"), (Strings{"é", " ", "a", "\n", "€"}));
}

TEST(Tokenizer, LowercaseAsciiAndLatin1) {
  data::TokenizerOptions options;
  options.lowercase = true;
  const data::Tokenizer words(options);
  EXPECT_EQ(words.split("The CAFÉ Ελλάδα"), (Strings{"the", "café", "ελλάδα"}));
  options.level = "char";
  const data::Tokenizer chars(options);
  EXPECT_EQ(chars.split("AÉz"), (Strings{"a", "é", "z"}));
}

TEST(Tokenizer, InvalidBytesAreUnknownTokens) {
  const std::string text =
      "ab\xFF"
      "cd \xC3";
  const data::Tokenizer words = fitted({text, "ab cd"});
  EXPECT_EQ(words.vocabulary(), (Strings{"<pad>", "<unk>", "ab", "cd"}));
  EXPECT_EQ(words.split(text), (Strings{"ab", "\xEF\xBF\xBD", "cd", "\xEF\xBF\xBD"}));
  EXPECT_EQ(words.encode(text), (Ids{2, 1, 3, 1}));
  const data::Tokenizer chars = fitted({text}, char_level());
  EXPECT_EQ(chars.vocabulary(), (Strings{"<pad>", "<unk>", "a", "b", "c", "d", " "}));
  EXPECT_EQ(chars.encode(text), (Ids{2, 3, 1, 4, 5, 6, 1}));
  EXPECT_EQ(chars.decode(chars.encode(text)),
            "ab\xEF\xBF\xBD"
            "cd \xEF\xBF\xBD");
}

TEST(Tokenizer, VocabularyByCountThenFirstAppearance) {
  const data::Tokenizer tokenizer = fitted({"b a c a", "d c a e"});
  // a: 3, c: 2, then b, d, e once each in order of first appearance.
  EXPECT_EQ(tokenizer.vocabulary(), (Strings{"<pad>", "<unk>", "a", "c", "b", "d", "e"}));
  EXPECT_EQ(tokenizer.vocab_size(), 7);
  EXPECT_EQ(tokenizer.id("c"), 3);
  EXPECT_EQ(tokenizer.id("zebra"), data::Tokenizer::kUnknown);
  EXPECT_EQ(tokenizer.id("<pad>"), data::Tokenizer::kPad);
  EXPECT_EQ(data::Tokenizer().vocabulary(), (Strings{"<pad>", "<unk>"}));
}

TEST(Tokenizer, MaxVocabAndMinCount) {
  data::TokenizerOptions options;
  options.max_vocab = 4;
  const data::Tokenizer capped = fitted({"b a c a", "d c a e"}, options);
  EXPECT_EQ(capped.vocabulary(), (Strings{"<pad>", "<unk>", "a", "c"}));
  EXPECT_EQ(capped.encode("a b c"), (Ids{2, 1, 3}));
  options.max_vocab = 0;
  options.min_count = 2;
  const data::Tokenizer frequent = fitted({"b a c a", "d c a e"}, options);
  EXPECT_EQ(frequent.vocabulary(), (Strings{"<pad>", "<unk>", "a", "c"}));
  // A second fit replaces the vocabulary.
  data::Tokenizer refit = fitted({"x y"});
  refit.fit({"z"});
  EXPECT_EQ(refit.vocabulary(), (Strings{"<pad>", "<unk>", "z"}));
}

TEST(Tokenizer, EncodeDecodeRoundTrip) {
  const data::Tokenizer words = fitted({"the cat sat on the mat ."});
  const Ids ids = words.encode("the dog sat .");
  EXPECT_EQ(ids, (Ids{2, 1, 4, 7}));
  EXPECT_EQ(words.decode(ids), "the <unk> sat .");
  EXPECT_EQ(words.decode({0, 2, 0, 3, 0}), "the cat");
  const std::string text = "naïve café\n€1";
  const data::Tokenizer chars = fitted({text}, char_level());
  EXPECT_EQ(chars.encode(text).size(), 13u);
  EXPECT_EQ(chars.decode(chars.encode(text)), text);
  EXPECT_EQ(chars.decode({2, 0, 1}), "a\xEF\xBF\xBD");  // "a" is the most frequent
  EXPECT_EQ(error_message([&] {
              words.decode({2, 8});
            }),
            "Tokenizer::decode: id 8 out of range for a vocabulary of 8 tokens");
  EXPECT_EQ(error_message([&] { words.decode({-1}); }),
            "Tokenizer::decode: id -1 out of range for a vocabulary of 8 tokens");
}

TEST(Tokenizer, JsonRoundTrip) {
  data::TokenizerOptions options;
  options.lowercase = true;
  options.min_count = 1;
  options.max_vocab = 50;
  const data::Tokenizer original = fitted({"Say \"hi\"\\ to Zoë\t— \u2603 {x: [1]}"}, options);
  const std::string json = original.to_json();
  EXPECT_EQ(json.rfind("{\"level\":\"word\",\"lowercase\":true,\"max_vocab\":50,\"min_count\":1,"
                       "\"vocabulary\":[\"<pad>\",\"<unk>\",\"\\\"\",\"say\",\"hi\",\"\\\\\",",
                       0),
            0u)
      << json;
  const data::Tokenizer restored = data::Tokenizer::from_json(json);
  EXPECT_EQ(restored.vocabulary(), original.vocabulary());
  EXPECT_EQ(restored.options().level, "word");
  EXPECT_TRUE(restored.options().lowercase);
  EXPECT_EQ(restored.options().max_vocab, 50);
  EXPECT_EQ(restored.encode("zoë SAYS hi"), original.encode("zoë SAYS hi"));
  const data::Tokenizer chars = fitted({"a\n\"\\\u00e9"}, char_level());
  const data::Tokenizer chars_back = data::Tokenizer::from_json(chars.to_json());
  EXPECT_EQ(chars_back.vocabulary(), (Strings{"<pad>", "<unk>", "a", "\n", "\"", "\\", "é"}));
  EXPECT_EQ(chars_back.options().level, "char");
}

TEST(Tokenizer, FromJsonErrors) {
  const auto error = [](const std::string& json) {
    return error_message([&] { data::Tokenizer::from_json(json); });
  };
  EXPECT_EQ(error("{\"level\": \"word\"")
                .rfind("Tokenizer::from_json: invalid JSON at line 1, column 17: ", 0),
            0u);
  EXPECT_EQ(error("[1]"), "Tokenizer::from_json: expected a JSON object, got array");
  EXPECT_EQ(error("{\"vocabulary\": []}"),
            "Tokenizer::from_json: expected \"level\": \"word\" or \"char\"");
  EXPECT_EQ(error("{\"level\": \"bytes\", \"vocabulary\": [\"<pad>\", \"<unk>\"]}"),
            "Tokenizer::from_json: level must be \"word\" or \"char\", got \"bytes\"");
  EXPECT_EQ(error("{\"level\": \"word\", \"lowercase\": 1, \"vocabulary\": []}"),
            "Tokenizer::from_json: \"lowercase\" must be true or false, got 1");
  EXPECT_EQ(error("{\"level\": \"word\"}"),
            "Tokenizer::from_json: expected \"vocabulary\": an array of tokens starting with "
            "\"<pad>\", \"<unk>\"");
  EXPECT_EQ(error("{\"level\": \"word\", \"vocabulary\": [\"<pad>\"]}"),
            "Tokenizer::from_json: the vocabulary has 1 entries, expected at least the reserved "
            "\"<pad>\" and \"<unk>\"");
  EXPECT_EQ(error("{\"level\": \"word\", \"vocabulary\": [\"<unk>\", \"<pad>\"]}"),
            "Tokenizer::from_json: vocabulary entry 0 is \"<unk>\", expected the reserved "
            "\"<pad>\"");
  EXPECT_EQ(error("{\"level\": \"word\", \"vocabulary\": [\"<pad>\", \"<unk>\", 3]}"),
            "Tokenizer::from_json: vocabulary entry 2 is number, expected a string");
  EXPECT_EQ(error("{\"level\": \"word\", \"vocabulary\": [\"<pad>\", \"<unk>\", \"a\", \"a\"]}"),
            "Tokenizer::from_json: vocabulary entry 3 \"a\" repeats entry 2");
  EXPECT_EQ(error("{\"level\": \"char\", \"vocabulary\": [\"<pad>\", \"<unk>\", \"ab\"]}"),
            "Tokenizer::from_json: vocabulary entry 2 \"ab\" is not one character, expected one "
            "per entry at level \"char\"");
  EXPECT_EQ(error("{\"level\": \"word\", \"min_count\": 0, \"vocabulary\": []}"),
            "Tokenizer::from_json: min_count must be at least 1, got 0");
}

TEST(Tokenizer, OptionErrors) {
  data::TokenizerOptions options;
  options.max_vocab = 1;
  EXPECT_EQ(error_message([&] { data::Tokenizer{options}; }),
            "Tokenizer: max_vocab must be 0 (no limit) or at least 2 (the reserved <pad> and "
            "<unk>), got 1");
  options.max_vocab = 0;
  options.level = "bpe";
  EXPECT_EQ(error_message([&] { data::Tokenizer{options}; }),
            "Tokenizer: level must be \"word\" or \"char\", got \"bpe\"");
}

TEST(Tokenizer, LargeTextCharLevel) {
  // 2 MB of text: fit and encode must agree with a direct count.
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "Héllo, wörld! " + std::to_string(i % 7) + "\n";
  const data::Tokenizer chars = fitted({text}, char_level());
  const Ids ids = chars.encode(text);
  EXPECT_EQ(ids.size(), text.size() - 2 * 100000u);  // é and ö take two bytes each
  EXPECT_EQ(chars.vocabulary()[2], "l");             // 3 per line, the most frequent
  EXPECT_EQ(chars.decode(ids), text);
}

TEST(PadSequences, PostAndPre) {
  const std::vector<Ids> sequences = {{1, 2, 3, 4}, {5}, {}};
  const Tensor post = data::pad_sequences(sequences, 3);
  EXPECT_EQ(post.shape(), (Shape{3, 3}));
  EXPECT_EQ(post.dtype(), DType::i64);
  EXPECT_EQ(post.to_vector<int64_t>(), (Ids{1, 2, 3, 5, 0, 0, 0, 0, 0}));
  const Tensor pre = data::pad_sequences(sequences, 3, -1, true, true);
  EXPECT_EQ(pre.to_vector<int64_t>(), (Ids{2, 3, 4, -1, -1, 5, -1, -1, -1}));
  const Tensor mixed = data::pad_sequences({{1, 2, 3}, {4}}, 2, 0, true, false);
  EXPECT_EQ(mixed.to_vector<int64_t>(), (Ids{1, 2, 0, 4}));
  EXPECT_EQ(data::pad_sequences({}, 4).shape(), (Shape{0, 4}));
  EXPECT_EQ(error_message([&] { data::pad_sequences(sequences, 0); }),
            "pad_sequences: length must be positive, got 0");
}

TEST(ReadFortunes, EntriesLabelsAndBadBytes) {
  TempDir dir;
  write_bytes(dir.file("science"), "E = mc^2\n%\nTwo lines\nof text\n%\r\n%\n  \n%\nLast\n");
  write_bytes(dir.file("food"), "%\ncaf\xE9 au lait\n%\n");
  const data::TextClassificationData data =
      data::read_fortunes(dir.path().string(), {"science", "food"});
  EXPECT_EQ(data.texts, (Strings{"E = mc^2", "Two lines\nof text", "Last", "caf\uFFFD au lait"}));
  EXPECT_EQ(data.labels, (Ids{0, 0, 0, 1}));
  EXPECT_EQ(data.class_names, (Strings{"science", "food"}));
}

TEST(ReadFortunes, Errors) {
  TempDir dir;
  write_bytes(dir.file("blank"), "%\n\n%\n");
  EXPECT_EQ(error_message([&] { data::read_fortunes(dir.path().string(), {"blank"}); }),
            "read_fortunes: " + dir.file("blank") +
                " holds no fortunes; expected entries separated by lines holding only \"%\"");
  EXPECT_EQ(error_message([&] { data::read_fortunes(dir.path().string(), {"none"}); }),
            "read_fortunes: no fortune file " + dir.file("none") +
                " for category \"none\"; on Debian the fortune files come with the fortunes-min "
                "and fortunes packages");
  EXPECT_EQ(error_message([&] { data::read_fortunes(dir.path().string(), {}); }),
            "read_fortunes: expected at least one category");
}

TEST(ReadFortunes, InstalledCategory) {
  const std::string path = std::string(data::kFortunesDir) + "/fortunes";
  if (!std::filesystem::is_regular_file(path)) GTEST_SKIP() << path << " is not installed";
  const data::TextClassificationData data = data::read_fortunes(data::kFortunesDir, {"fortunes"});
  EXPECT_GT(data.texts.size(), 10u);
  EXPECT_EQ(data.labels.size(), data.texts.size());
  for (const std::string& text : data.texts) {
    EXPECT_FALSE(text.empty());
    EXPECT_EQ(data::internal::find_invalid_utf8(text), std::string_view::npos);
  }
}

TEST(SequenceWindowDataset, WindowsAndSizes) {
  const Tensor ids = arange(10);  // 0 .. 9
  const data::SequenceWindowDataset dataset(ids, 3, 2);
  EXPECT_EQ(dataset.size(), 4);  // starts 0, 2, 4, 6: the last target ends at 9
  const data::Example third = dataset.get(2);
  EXPECT_EQ(third.input.to_vector<int64_t>(), (Ids{4, 5, 6}));
  EXPECT_EQ(third.target.to_vector<int64_t>(), (Ids{5, 6, 7}));
  EXPECT_EQ(data::SequenceWindowDataset(ids, 9, 1).size(), 1);
  EXPECT_EQ(data::SequenceWindowDataset(ids, 4, 3).size(), 2);
  EXPECT_EQ(data::SequenceWindowDataset(ids, 1, 1).size(), 9);

  const data::Batch batch = dataset.get_batch({3, 0, 3});
  EXPECT_EQ(batch.inputs.shape(), (Shape{3, 3}));
  EXPECT_EQ(batch.targets.dtype(), DType::i64);
  EXPECT_EQ(batch.inputs.to_vector<int64_t>(), (Ids{6, 7, 8, 0, 1, 2, 6, 7, 8}));
  EXPECT_EQ(batch.targets.to_vector<int64_t>(), (Ids{7, 8, 9, 1, 2, 3, 7, 8, 9}));
  const std::vector<int64_t> indices = {1, 2};
  const data::Batch generic = dataset.data::Dataset::get_batch(indices);
  EXPECT_EQ(dataset.get_batch(indices).inputs.to_vector<int64_t>(),
            generic.inputs.to_vector<int64_t>());
  EXPECT_EQ(dataset.get_batch(indices).targets.to_vector<int64_t>(),
            generic.targets.to_vector<int64_t>());
}

TEST(SequenceWindowDataset, Errors) {
  const Tensor ids = arange(5);
  EXPECT_EQ(error_message([&] { data::SequenceWindowDataset(ids, 5, 1); }),
            "SequenceWindowDataset: the stream has 5 tokens, expected at least window + 1 = 6 (a "
            "window of inputs and the token after it)");
  EXPECT_EQ(error_message([&] { data::SequenceWindowDataset(ids, 0, 1); }),
            "SequenceWindowDataset: window must be at least 1, got 0");
  EXPECT_EQ(error_message([&] { data::SequenceWindowDataset(ids, 2, 0); }),
            "SequenceWindowDataset: stride must be at least 1, got 0");
  EXPECT_EQ(error_message([&] { data::SequenceWindowDataset(zeros({5}), 2, 1); }),
            "SequenceWindowDataset: expected a 1-d i64 tensor of token ids, got shape [5] (f32)");
  EXPECT_EQ(error_message([&] {
              data::SequenceWindowDataset(zeros({2, 3}, DType::i64), 2, 1);
            }),
            "SequenceWindowDataset: expected a 1-d i64 tensor of token ids, got shape [2, 3] "
            "(i64)");
  const data::SequenceWindowDataset dataset(ids, 2, 1);
  EXPECT_EQ(error_message([&] { dataset.get(3); }),
            "SequenceWindowDataset::get: index 3 out of range for 3 windows");
  EXPECT_EQ(error_message([&] {
              dataset.get_batch({0, -1});
            }),
            "SequenceWindowDataset::get_batch: index -1 out of range for 3 windows");
}
