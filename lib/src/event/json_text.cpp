#include "event/json_text.hpp"

#include <cstdint>

#include <rapidjson/error/en.h>

namespace ocirelay::event::detail {

namespace {

// RapidJSON SAX handler that forwards every event to a document under
// construction and stops the parse once containers nest deeper than a limit.
// The parse runs with kParseIterativeFlag, so RapidJSON itself never recurses;
// the limit protects every later recursive walk of the document.
class DepthLimitedHandler {
 public:
  DepthLimitedHandler(rapidjson::Document& doc, unsigned max_depth)
      : doc_(doc), max_depth_(max_depth) {}

  bool depth_exceeded() const noexcept { return depth_exceeded_; }

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned i) { return doc_.Uint(i); }
  bool Int64(std::int64_t i) { return doc_.Int64(i); }
  bool Uint64(std::uint64_t i) { return doc_.Uint64(i); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* str, rapidjson::SizeType length, bool copy) {
    return doc_.RawNumber(str, length, copy);
  }
  bool String(const char* str, rapidjson::SizeType length, bool copy) {
    return doc_.String(str, length, copy);
  }
  bool Key(const char* str, rapidjson::SizeType length, bool copy) {
    return doc_.Key(str, length, copy);
  }
  bool StartObject() { return enter() && doc_.StartObject(); }
  bool EndObject(rapidjson::SizeType count) {
    --depth_;
    return doc_.EndObject(count);
  }
  bool StartArray() { return enter() && doc_.StartArray(); }
  bool EndArray(rapidjson::SizeType count) {
    --depth_;
    return doc_.EndArray(count);
  }

 private:
  bool enter() {
    if (depth_ >= max_depth_) {
      depth_exceeded_ = true;
      return false;
    }
    ++depth_;
    return true;
  }

  rapidjson::Document& doc_;
  unsigned max_depth_;
  unsigned depth_ = 0;
  bool depth_exceeded_ = false;
};

}  // namespace

std::string json_error(std::string_view what, std::size_t offset, std::string_view reason) {
  std::string text(what);
  text += " is not valid JSON at offset ";
  text += std::to_string(offset);
  text += ": ";
  text += reason;
  return text;
}

std::string parse_json(std::string_view text, unsigned max_depth, rapidjson::Document& doc,
                       std::string_view what) {
  JsonInput input(text);
  if (const auto nul = input.nul_offset(); nul != std::string_view::npos) {
    return json_error(what, nul, "NUL byte.");
  }

  rapidjson::ParseResult result;
  bool depth_exceeded = false;
  auto generate = [&](rapidjson::Document& target) {
    DepthLimitedHandler handler(target, max_depth);
    result = input.parse(handler);
    depth_exceeded = handler.depth_exceeded();
    return !result.IsError();
  };
  doc.Populate(generate);

  if (depth_exceeded) {
    return std::string(what) + " nests JSON deeper than " + std::to_string(max_depth) +
           " levels (at offset " + std::to_string(result.Offset()) + ")";
  }
  if (result.IsError()) {
    return json_error(what, result.Offset(), rapidjson::GetParseError_En(result.Code()));
  }
  return {};
}

}  // namespace ocirelay::event::detail
