#include <catch2/catch.hpp>

#include <string>

#include "ocirelay/common/json_escape.hpp"

using ocirelay::json_escape;

TEST_CASE("json_escape escapes quotes, backslashes and control characters", "[json_escape]") {
  CHECK(json_escape("a\\b\t") == "a\\\\b\\t");
  CHECK(json_escape("say \"hi\"\r\n") == "say \\\"hi\\\"\\r\\n");
  CHECK(json_escape(std::string("\x01\x1f", 2)) == "\\u0001\\u001f");
  CHECK(json_escape(std::string("nul\0byte", 8)) == "nul\\u0000byte");
}

TEST_CASE("json_escape keeps printable ASCII and UTF-8 as they are", "[json_escape]") {
  CHECK(json_escape("") == "");
  CHECK(json_escape("plain text/with:punctuation") == "plain text/with:punctuation");
  CHECK(json_escape("caf\xc3\xa9 \xe2\x82\xac") == "caf\xc3\xa9 \xe2\x82\xac");
  CHECK(json_escape("\x7f") == "\x7f");
}
