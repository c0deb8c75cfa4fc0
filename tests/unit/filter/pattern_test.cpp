#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include <rapidjson/document.h>

#include "ocirelay/filter/condition.hpp"

using ocirelay::filter::Pattern;

namespace {

struct Case {
  const char* pattern;
  const char* value;
  bool expected;
};

rapidjson::Document json(const char* text) {
  rapidjson::Document doc;
  doc.Parse(text);
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

}  // namespace

TEST_CASE("patterns match text with '*' wildcards", "[pattern]") {
  const Case cases[] = {
      // Literal: exact and case-sensitive.
      {"finance", "finance", true},
      {"finance", "Finance", false},
      {"finance", "finance2", false},
      {"finance", "finan", false},
      {"finance", "", false},
      // The empty pattern matches only the empty string.
      {"", "", true},
      {"", "a", false},
      // A lone star matches everything, the empty string included.
      {"*", "", true},
      {"*", "anything at all", true},
      // Star at the end.
      {"invoices-*", "invoices-inbound", true},
      {"invoices-*", "invoices-", true},
      {"invoices-*", "invoices", false},
      {"invoices-*", "Invoices-inbound", false},
      {"invoices-*", "x-invoices-inbound", false},
      // Star at the start.
      {"*bucket", "com.oraclecloud.objectstorage.createbucket", true},
      {"*bucket", "bucket", true},
      {"*bucket", "bucketx", false},
      // Star in the middle (the example from OCI's documentation).
      {"com.oraclecloud.objectstorage.*bucket", "com.oraclecloud.objectstorage.createbucket", true},
      {"com.oraclecloud.objectstorage.*bucket", "com.oraclecloud.objectstorage.deletebucket", true},
      {"com.oraclecloud.objectstorage.*bucket", "com.oraclecloud.objectstorage.bucket", true},
      {"com.oraclecloud.objectstorage.*bucket", "com.oraclecloud.objectstorage.createobject",
       false},
      {"com.oraclecloud.objectstorage.*bucket", "com.oraclecloud.objectstorage.createbucketx",
       false},
      // Stars at both ends.
      {"*inv*", "inv", true},
      {"*inv*", "my-invoices", true},
      {"*inv*", "in-v", false},
      // Multiple stars.
      {"a*b*c", "abc", true},
      {"a*b*c", "axxbyyc", true},
      {"a*b*c", "acb", false},
      {"a*b*c", "abcx", false},
      {"a*b*c*d", "a-b-c-b-c-d", true},
      {"a*b*c*d", "a-c-b-d", false},
      {"**", "", true},
      {"**", "xyz", true},
      {"a**b", "ab", true},
      {"a**b", "a-b", true},
      {"*.*", "a.b", true},
      {"*.*", "ab", false},
      // Prefix and suffix may not overlap.
      {"a*a", "a", false},
      {"a*a", "aa", true},
      {"a*a", "aba", true},
      {"ab*ba", "aba", false},
      {"ab*ba", "abba", true},
      {"aa*aa", "aaa", false},
      {"aa*aa", "aaaa", true},
      // Middle parts must not overlap the suffix, and overlapping candidates
      // in the value are handled (leftmost-first is safe).
      {"*aab", "aaab", true},
      {"*aab*aab", "aabaab", true},
      {"*aab*aab", "aaab", false},
      {"a*ab*b", "aabb", true},
      {"a*ab*b", "aab", false},
      {"x*abc*y", "xababcy", true},
      {"x*abc*y", "xababy", false},
      // '.' is a literal character, never "any character".
      {"a.c", "a.c", true},
      {"a.c", "abc", false},
      {"com.oraclecloud.*", "com.oraclecloud.x", true},
      {"com.oraclecloud.*", "comXoraclecloudYx", false},
      // Other regex and glob metacharacters are literal too.
      {"a?c", "abc", false},
      {"a?c", "a?c", true},
      {"[ab]", "a", false},
      {"[ab]", "[ab]", true},
      {"a+", "aa", false},
      {"^a$", "^a$", true},
      {"a\\*", "a\\xyz", true},  // backslash does not escape the star
      // Bytes are compared as bytes (UTF-8).
      {"caf\xc3\xa9*", "caf\xc3\xa9-bar", true},
      {"caf\xc3\xa9*", "cafe-bar", false},
  };
  for (const auto& c : cases) {
    INFO("pattern '" << c.pattern << "' value '" << c.value << "'");
    CHECK(Pattern(c.pattern).matches(c.value) == c.expected);
  }
}

TEST_CASE("only the pattern \"*\" is the match-any pattern", "[pattern]") {
  CHECK(Pattern("*").is_match_any());
  CHECK_FALSE(Pattern("**").is_match_any());
  CHECK_FALSE(Pattern("a*").is_match_any());
  CHECK_FALSE(Pattern("").is_match_any());
  CHECK(Pattern("a*b").text() == "a*b");
}

TEST_CASE("values with embedded NUL bytes are compared in full", "[pattern]") {
  const std::string value("ab\0cd", 5);
  CHECK(Pattern("ab*").matches(value));
  CHECK(Pattern("*cd").matches(value));
  CHECK_FALSE(Pattern("ab").matches(value));
  CHECK(Pattern(std::string("ab\0cd", 5)).matches(value));
}

TEST_CASE("pathological patterns match in polynomial time", "[pattern]") {
  // A backtracking matcher takes exponential time here.
  const std::string value(20000, 'a');
  std::string pattern;
  for (int i = 0; i < 50; ++i) {
    pattern += "a*";
  }
  pattern += "b";
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(Pattern(pattern).matches(value));
  CHECK(Pattern(pattern.substr(0, pattern.size() - 1)).matches(value));
  CHECK_FALSE(Pattern("*" + std::string(100, 'a') + "b*").matches(value));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::seconds(1));
}

TEST_CASE("patterns match JSON values as text", "[pattern]") {
  const auto doc = json(R"({
    "s": "invoices-inbound", "empty": "", "i": 5, "neg": -12, "big": 18446744073709551615,
    "d": 2.5, "whole": 5.0, "exp": 1e2, "huge": 1e300, "t": true, "f": false, "n": null,
    "o": {"a": 1}, "eo": {}, "a": ["x", 5, true, null, {"k": "x"}, ["nested"]], "ea": []})");
  struct ValueCase {
    const char* pattern;
    const char* key;
    bool expected;
  };
  const ValueCase cases[] = {
      {"invoices-*", "s", true},
      {"*", "s", true},
      {"*", "empty", true},
      {"", "empty", true},
      {"", "s", false},
      // Numbers: integers as integers, doubles in shortest form, integral
      // doubles as integers.
      {"5", "i", true},
      {"5*", "i", true},
      {"5.0", "i", false},
      {"-12", "neg", true},
      {"18446744073709551615", "big", true},
      {"2.5", "d", true},
      {"2.50", "d", false},
      {"5", "whole", true},
      {"100", "exp", true},
      {"1e2", "exp", false},
      {"1e+300", "huge", true},
      // Booleans as "true" / "false".
      {"true", "t", true},
      {"false", "f", true},
      {"t*", "t", true},
      {"True", "t", false},
      {"1", "t", false},
      // Null matches nothing, not even "*" or "null".
      {"*", "n", false},
      {"null", "n", false},
      {"", "n", false},
      // Objects match only "*", even when empty.
      {"*", "o", true},
      {"*", "eo", true},
      {"**", "o", false},
      {"{}", "eo", false},
      // Arrays: any scalar element; "*" matches any array, even an empty one.
      {"x", "a", true},
      {"5", "a", true},
      {"true", "a", true},
      {"y", "a", false},
      {"null", "a", false},
      {"nested", "a", false},  // nested arrays are not searched
      {"*", "a", true},
      {"*", "ea", true},
      {"x", "ea", false},
  };
  for (const auto& c : cases) {
    INFO("pattern '" << c.pattern << "' key '" << c.key << "'");
    CHECK(Pattern(c.pattern).matches_value(doc[c.key]) == c.expected);
  }
}

TEST_CASE("numbers built in memory format the same as parsed ones", "[pattern]") {
  CHECK(Pattern("5").matches_value(rapidjson::Value(5)));
  CHECK(Pattern("5").matches_value(rapidjson::Value(5.0)));
  CHECK(Pattern("-5").matches_value(rapidjson::Value(-5.0)));
  CHECK(Pattern("0").matches_value(rapidjson::Value(-0.0)));
  CHECK(Pattern("0.1").matches_value(rapidjson::Value(0.1)));
  CHECK(
      Pattern("9007199254740993").matches_value(rapidjson::Value(std::int64_t{9007199254740993})));
}
