#include "ocirelay/common/printable_text.hpp"

#include <cstddef>
#include <string>

#include <catch2/catch.hpp>

using ocirelay::is_utf8;
using ocirelay::printable_text;
using ocirelay::valid_utf8;

namespace {

const std::string kFffd = "\xEF\xBF\xBD";

}  // namespace

TEST_CASE("valid_utf8 keeps valid text byte for byte", "[common][utf8]") {
  const std::string text =
      "plain ASCII, caf\xC3\xA9, \xE2\x82\xAC, \xF0\x9F\x93\xA6, \xF4\x8F\xBF\xBF";
  CHECK(valid_utf8(text) == text);
  CHECK(valid_utf8("") == "");
}

TEST_CASE("valid_utf8 replaces each invalid byte and NUL with U+FFFD", "[common][utf8]") {
  // Latin-1, a lone continuation byte, a truncated sequence at the end.
  CHECK(valid_utf8("caf\xE9") == "caf" + kFffd);
  CHECK(valid_utf8("a\x80z") == "a" + kFffd + "z");
  CHECK(valid_utf8("x\xE2\x82") == "x" + kFffd + kFffd);
  // Overlong forms, a surrogate, above U+10FFFF, bytes that never occur.
  CHECK(valid_utf8("\xC0\xAF") == kFffd + kFffd);
  CHECK(valid_utf8("\xE0\x80\xAF") == kFffd + kFffd + kFffd);
  CHECK(valid_utf8("\xED\xA0\x80") == kFffd + kFffd + kFffd);
  CHECK(valid_utf8("\xF4\x90\x80\x80") == kFffd + kFffd + kFffd + kFffd);
  CHECK(valid_utf8("\xFF\xFE") == kFffd + kFffd);
  // PostgreSQL's text refuses NUL.
  CHECK(valid_utf8(std::string("a\0b", 3)) == "a" + kFffd + "b");
}

TEST_CASE("printable_text blanks controls and cuts on a character boundary", "[common][utf8]") {
  CHECK(printable_text("line one\r\nline\ttwo\x7f", 100) == "line one  line two ");
  CHECK(printable_text("short", 5) == "short");
  CHECK(printable_text("longer", 5) == "longe...");
  // A 2-byte character that would straddle the limit is left out whole.
  CHECK(printable_text("abcd\xC3\xA9", 5) == "abcd...");
  CHECK(printable_text("abc\xC3\xA9", 5) == "abc\xC3\xA9");
  // Invalid bytes come out as U+FFFD (3 bytes), and count as such.
  CHECK(printable_text("a\xE9", 10) == "a" + kFffd);
  CHECK(printable_text("ab\xE9", 4) == "ab...");
  // Whatever the input, the output is valid UTF-8.
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  const std::string out = printable_text(every_byte, 1000);
  CHECK(valid_utf8(out) == out);
}

TEST_CASE("is_utf8 accepts well-formed text, NUL included, and nothing else", "[common][utf8]") {
  CHECK(is_utf8(""));
  CHECK(is_utf8("caf\xC3\xA9 \xF0\x9F\x93\xA6"));
  CHECK(is_utf8(std::string("a\0b", 3)));
  CHECK_FALSE(is_utf8("caf\xE9"));
  CHECK_FALSE(is_utf8("\xC0\xAF"));          // overlong
  CHECK_FALSE(is_utf8("\xED\xA0\x80"));      // surrogate
  CHECK_FALSE(is_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(is_utf8("x\xE2\x82"));         // cut short
}

TEST_CASE("is_utf8 finds a bad byte or a split sequence wherever it sits in ASCII text",
          "[common][utf8]") {
  // ASCII is skipped eight bytes at a time: every position against that stride.
  for (std::size_t at = 0; at < 24; ++at) {
    for (std::size_t size = at + 1; size <= 26; ++size) {
      INFO("at " << at << " of " << size);
      std::string text(size, 'a');
      text[at] = '\xff';
      CHECK_FALSE(is_utf8(text));
      // A lead byte without its continuation bytes.
      text[at] = '\xe2';
      CHECK_FALSE(is_utf8(text));
      // A whole three-byte sequence starting here, where it fits.
      if (at + 3 <= size) {
        text.replace(at, 3, "\xe2\x82\xac");
        CHECK(is_utf8(text));
      }
    }
  }
}
