// Untrusted JSON: the nesting limit, the JSON path in errors, and bounded excerpts.
#include <gtest/gtest.h>

#include "data/json_input.hpp"
#include "data/test_util.hpp"

using namespace nabla;
using data::internal::excerpt;
using data::internal::json_excerpt;
using data::internal::JsonError;
using data::internal::kMaxJsonDepth;
using data::internal::parse_json;

namespace {
std::string nested(int depth, const std::string& inner = "1") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

// The JsonError `text` raises: path and message.
std::pair<std::string, std::string> parse_failure(const std::string& text) {
  try {
    parse_json(text);
  } catch (const JsonError& e) {
    return {e.path(), e.message()};
  }
  ADD_FAILURE() << "expected a JsonError for " << excerpt(text);
  return {};
}
}  // namespace

TEST(JsonInput, ParsesUpToTheDepthLimit) {
  EXPECT_EQ(parse_json(nested(kMaxJsonDepth)).dump(), nested(kMaxJsonDepth));
  EXPECT_EQ(parse_json<nlohmann::ordered_json>(R"({"b":1,"a":2})").dump(), R"({"b":1,"a":2})");
}

TEST(JsonInput, DeeperNestingIsOneError) {
  const auto [path, message] = parse_failure(nested(kMaxJsonDepth + 1));
  EXPECT_EQ(message, "arrays and objects nested more than 128 levels deep, the most nabla reads");
  EXPECT_EQ(path.rfind("[0][0][0]", 0), 0u);
  EXPECT_LE(path.size(), 83u);  // an excerpt
  // 100,000 levels, as issue 12 row 1 gave it: stopped at level 129, no stack overflow.
  const auto [deep_path, deep_message] =
      parse_failure(R"({"layers": [{"units": )" + nested(100000) + "}]}");
  EXPECT_EQ(deep_path.rfind("layers[0].units[0][0]", 0), 0u) << deep_path;
  EXPECT_EQ(deep_message, message);
}

TEST(JsonInput, NumberOutOfRangeNamesItsPath) {
  const auto [path, message] =
      parse_failure(R"({"layers": [{"type": "Flatten"}, {"units": 1e400}]})");
  EXPECT_EQ(path, "layers[1].units");
  EXPECT_EQ(message, "number overflow parsing '1e400'");
}

TEST(JsonInput, RepeatedKeyNamesItsPath) {
  const auto [path, message] = parse_failure(R"({"layers": [{}, {"units": 10, "units": 20}]})");
  EXPECT_EQ(path, "layers[1].units");
  EXPECT_EQ(message, "the key appears twice in its object; give it once");
  // The same key in different objects is fine.
  EXPECT_EQ(parse_json(R"([{"a": 1}, {"a": 2, "b": {"a": 3}}])").dump(),
            R"([{"a":1},{"a":2,"b":{"a":3}}])");
}

TEST(JsonInput, SyntaxErrorsGiveLineAndColumn) {
  const auto [path, message] = parse_failure("{\n  \"a\": [1,, 2]}");
  EXPECT_EQ(path, "");
  EXPECT_EQ(message.rfind("invalid JSON at line 2, column 11: syntax error", 0), 0u) << message;
  // A long token in nlohmann's message is cut.
  const auto [_, long_message] = parse_failure("[\"" + std::string(100000, 'x'));
  EXPECT_LE(long_message.size(), 220u) << long_message.size();
}

TEST(JsonInput, ExcerptsAreBounded) {
  EXPECT_EQ(excerpt("short"), "short");
  EXPECT_EQ(excerpt(std::string(100, 'a'), 10), "aaaaaaaaaa...");
  EXPECT_EQ(excerpt("ab\xC3\xA9"
                    "cd",
                    3),
            "ab...");  // not inside the two bytes of "é"
  EXPECT_EQ(json_excerpt(nlohmann::json::parse(R"({"a":[1,2],"b":"x"})")),
            R"({"a":[1,2],"b":"x"})");
  EXPECT_EQ(json_excerpt(nlohmann::json(std::string(1000, 'y')), 8), "\"yyyyyyy...");
  // A value built deeper than any parse allows: excerpted without walking it all.
  nlohmann::json deep = 1;
  for (int i = 0; i < 100000; ++i) {
    nlohmann::json wrapper = nlohmann::json::array();
    wrapper.push_back(std::move(deep));  // moved, not copied: a copy would recurse
    deep = std::move(wrapper);
  }
  EXPECT_EQ(json_excerpt(deep, 5), "[[[[[...");
  nlohmann::json wide = nlohmann::json::array();
  for (int i = 0; i < 100000; ++i) wide.push_back(i);
  EXPECT_EQ(json_excerpt(wide, 12), "[0,1,2,3,4,5...");
}
