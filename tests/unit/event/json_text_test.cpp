// parse_json's two readers: text that is valid UTF-8 goes through RapidJSON's
// reader in place (no per-character validation), anything else, and any text
// the fast reader refuses, through the validating reader. These tests hold
// the two to the same results: what the validating reader alone accepted,
// decoded to the same values, and refused with the same reason and offset.
#include <catch2/catch.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "event/json_text.hpp"
#include "ocirelay/common/printable_text.hpp"
#include "ocirelay/event/json_document.hpp"
#include "support/fixtures.hpp"

using ocirelay::event::JsonDocument;
using ocirelay::event::detail::json_error;
using ocirelay::event::detail::parse_json;

namespace {

// The reference: RapidJSON's validating reader over the text's bytes, as
// parse_json read every text before it had a fast path. Returns an empty
// string or the refusal, worded as parse_json words it; the document's
// "k" member, when accepted, in `value`.
std::string reference(std::string_view text, std::string& value) {
  rapidjson::Document doc;
  rapidjson::MemoryStream bytes(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(bytes);
  doc.ParseStream<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(stream);
  if (doc.HasParseError()) {
    return json_error("body", doc.GetErrorOffset(),
                      rapidjson::GetParseError_En(doc.GetParseError()));
  }
  value.clear();
  if (doc.IsObject() && doc.HasMember("k") && doc["k"].IsString()) {
    value.assign(doc["k"].GetString(), doc["k"].GetStringLength());
  }
  return {};
}

// parse_json's answer for the same text, in the same form.
std::string actual(std::string_view text, std::string& value) {
  JsonDocument doc;
  std::string error = parse_json(text, 64, doc.document());
  value.clear();
  const rapidjson::Document& d = doc.document();
  if (error.empty() && d.IsObject() && d.HasMember("k") && d["k"].IsString()) {
    value.assign(d["k"].GetString(), d["k"].GetStringLength());
  }
  return error;
}

// Checks that `bytes` inside a JSON string get the same answer both ways;
// counts how many were accepted.
void same_answer(const std::string& bytes, int& accepted) {
  const std::string text = "{\"k\":\"" + bytes + "\"}";
  std::string want_value;
  std::string got_value;
  const std::string want = reference(text, want_value);
  const std::string got = actual(text, got_value);
  if (want != got || want_value != got_value) {
    // Only on a mismatch, so that the loops below stay quick.
    INFO("bytes: " << ocirelay::printable_text(bytes, 64) << " (size " << bytes.size() << ")");
    CHECK(got == want);
    CHECK(got_value == want_value);
  }
  if (want.empty()) ++accepted;
}

}  // namespace

TEST_CASE("parse_json accepts exactly the byte sequences the validating reader accepts",
          "[event][json][utf8]") {
  int accepted = 0;
  // Every one- and two-byte sequence (NUL aside: refused before either
  // reader, and covered by the NUL tests).
  for (int a = 1; a < 256; ++a) {
    same_answer(std::string(1, static_cast<char>(a)), accepted);
    for (int b = 1; b < 256; ++b) {
      same_answer(std::string{static_cast<char>(a), static_cast<char>(b)}, accepted);
    }
  }
  // Every lead byte from 0xC0 with every second byte, and third and fourth
  // bytes at the edges of the continuation range and just outside it.
  const std::array<int, 6> edges{0x22, 0x41, 0x7F, 0x80, 0xBF, 0xC0};
  for (int a = 0xC0; a < 256; ++a) {
    for (int b = 1; b < 256; ++b) {
      for (int c : edges) {
        same_answer(std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)},
                    accepted);
        if (a < 0xF0) continue;
        for (int d : edges) {
          same_answer(std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                                  static_cast<char>(d)},
                      accepted);
        }
      }
    }
  }
  // The loops reached both answers: valid text went through the fast path
  // and invalid text was refused.
  CHECK(accepted > 1000);
}

TEST_CASE("parse_json refuses every raw control character wherever it sits in a long string",
          "[event][json]") {
  // Readers that scan strings in blocks (RapidJSON's SSE2 code, built with
  // RAPIDJSON_SSE2) test a block for control characters apart from the
  // bytes before it; Debian's RapidJSON 1.1.0 let 0x1A-0x1F through there.
  // Every control character at every offset across several 16-byte blocks.
  int accepted = 0;
  for (int control = 1; control < 0x20; ++control) {
    for (std::size_t at = 0; at < 48; ++at) {
      std::string bytes(64, 'a');
      bytes[at] = static_cast<char>(control);
      same_answer(bytes, accepted);
    }
  }
  CHECK(accepted == 0);
}

TEST_CASE("RapidJSON's writer escapes every control character wherever it sits in a long string",
          "[event][json]") {
  // The same block scans exist in the writer: Payload and the admin API
  // write JSON through it, and a raw control character makes that invalid.
  for (int control = 0; control < 0x20; ++control) {
    for (std::size_t at = 0; at < 48; ++at) {
      std::string value(64, 'a');
      value[at] = static_cast<char>(control);
      rapidjson::StringBuffer out;
      rapidjson::Writer<rapidjson::StringBuffer> writer(out);
      writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
      const std::string_view text(out.GetString(), out.GetSize());
      bool raw_control = false;
      for (const char c : text) raw_control = raw_control || static_cast<unsigned char>(c) < 0x20;
      if (raw_control) {
        INFO("control " << control << " at " << at);
        CHECK_FALSE(raw_control);
      }
      // And it reads back as it was.
      rapidjson::Document back;
      back.Parse(text.data(), text.size());
      REQUIRE(back.IsString());
      CHECK(std::string_view(back.GetString(), back.GetStringLength()) == value);
    }
  }
}

TEST_CASE(
    "parse_json decodes escapes, byte order marks and long text as the validating reader does",
    "[event][json]") {
  int accepted = 0;
  for (const std::string& bytes : {
           std::string(R"(a\"b\\c\/d\b\f\n\r\t)"), std::string(R"(\u00e9\u20ac\ud83d\ude00)"),
           std::string(R"(\ud800)"),  // a lone surrogate: refused
           std::string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
           std::string(5000, 'x') + "\xc3\xa9" + std::string(5000, 'y'),
           std::string(5000, 'x') + "\xc3" + std::string(5000, 'y'),  // bad far into the text
           std::string("tab\there"),                                  // a raw control: refused
       }) {
    same_answer(bytes, accepted);
  }
  CHECK(accepted == 4);

  // A byte order mark, whole or in part, before the text.
  for (const std::string prefix : {"\xef\xbb\xbf", "\xef\xbb", "\xef", "\xbb\xbf", "\xbf"}) {
    const std::string text = prefix + R"({"k":"v"})";
    std::string want_value;
    std::string got_value;
    const std::string want = reference(text, want_value);
    CHECK(actual(text, got_value) == want);
    CHECK(got_value == want_value);
  }
  std::string value;
  CHECK(actual("\xef\xbb\xbf{\"k\":\"v\"}", value).empty());
  CHECK(value == "v");
}

TEST_CASE("parse_json refuses with the validating reader's reason and offset", "[event][json]") {
  for (const std::string& text : {
           std::string(R"({"k":"v",})"),
           std::string(R"({"k":"v"} x)"),
           std::string(R"({"k":tru})"),
           std::string(R"({"k":"v")"),
           std::string(R"([1,2)"),
           std::string(""),
           std::string("{\"k\":\"\xff\"}"),
       }) {
    std::string ignored;
    const std::string want = reference(text, ignored);
    REQUIRE_FALSE(want.empty());
    CHECK(actual(text, ignored) == want);
  }
  // Too deep: refused by the fast reader, reported by the validating one.
  JsonDocument doc;
  const std::string deep = "{\"k\":" + std::string(70, '[') + std::string(70, ']') + "}";
  CHECK(parse_json(deep, 64, doc.document()) ==
        "body nests JSON deeper than 64 levels (at offset 68)");
  // A repeated name is found after either reader.
  JsonDocument twice;
  CHECK(parse_json(R"({"k":1,"k":2})", 64, twice.document())
            .starts_with("body has the member name \"k\" twice"));
}

TEST_CASE("a typical event's document and text fit in JsonDocument's inline first chunk",
          "[event][json]") {
  JsonDocument doc;
  const std::string body = ocirelay::test::fixture("events/createobject.json");
  REQUIRE(parse_json(body, 64, doc.document()).empty());
  // Only the inline 4 KiB (less the pool's chunk header): no chunk from the
  // heap. The pool holds the values and the copy of the text they point into.
  const auto& pool = doc.document().GetAllocator();
  INFO("pool bytes used: " << pool.Size());
  CHECK(pool.Capacity() < 4096);
  CHECK(pool.Size() > body.size());
  // The strings are the copy's, not the caller's text.
  const rapidjson::Value& id = doc.document()["eventID"];
  CHECK(std::string_view(id.GetString(), id.GetStringLength()) ==
        "3e47d127-19de-6eb8-eb67-0c1ab961fcbc");
  CHECK((id.GetString() < body.data() || id.GetString() >= body.data() + body.size()));
}
