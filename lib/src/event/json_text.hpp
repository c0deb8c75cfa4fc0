// How the event area reads JSON text, with a document builder that stops
// past a nesting limit. Shared by the single-event, binary-mode and batch
// parsers. parse_json checks the whole text as UTF-8 in one pass and, when
// it is, parses a copy in place without validating each character again
// (about half the instructions of the validating reader). JsonInput is that
// validating reader: RapidJSON's iterative reader with UTF-8 validation over
// a bounded stream. It reads the batch scan's text, and whatever parse_json's
// fast path refuses, so that errors keep their reason and offset.
//
// JsonInput is a value over borrowed text; used by one thread at a time, and
// the text must outlive it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace ocirelay::event::detail {

constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

class JsonInput {
 public:
  explicit JsonInput(std::string_view text) : text_(text), bytes_(text.data(), text.size()) {}

  // The offset of the byte the reader looks at. Inside a SAX callback for
  // StartObject/StartArray or EndObject/EndArray, that is the bracket itself.
  std::size_t position() const { return bytes_.Tell(); }

  // Runs a SAX parse of the whole text into `handler`. Bounded by the text's
  // size, not by a terminating NUL: with kParseValidateEncodingFlag, RapidJSON
  // takes every continuation byte a UTF-8 lead byte announces before it
  // checks them, so a NUL-terminated stream could be read past its end.
  template <class Handler>
  rapidjson::ParseResult parse(Handler& handler) {
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(bytes_);
    rapidjson::Reader reader;
    return reader.Parse<kParseFlags>(stream, handler);
  }

  // Where the text has a NUL byte, else npos. RapidJSON reads '\0' as the end
  // of its input, and a NUL is never valid in JSON text (not even in strings).
  std::size_t nul_offset() const noexcept { return text_.find('\0'); }

 private:
  std::string_view text_;
  rapidjson::MemoryStream bytes_;
};

// "<what> is not valid JSON at offset N: <reason>".
std::string json_error(std::string_view what, std::size_t offset, std::string_view reason);

// Parses `text` into `doc`, nested at most `max_depth` containers deep, with
// no object at any depth that has a member name twice (RFC 8259 leaves the
// meaning of repeated names to the reader: a filter here could read the
// first and OIC the last). Returns an empty string on success, else the
// reason, naming the text as `what` ("body", "data").
std::string parse_json(std::string_view text, unsigned max_depth, rapidjson::Document& doc,
                       std::string_view what = "body");

}  // namespace ocirelay::event::detail
