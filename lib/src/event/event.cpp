#include "ocirelay/event/event.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace ocirelay::event {

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

constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

std::string json_error(std::size_t offset, std::string_view what) {
  std::string reason = "body is not valid JSON at offset ";
  reason += std::to_string(offset);
  reason += ": ";
  reason += what;
  return reason;
}

// Parses `body` into `doc`. Returns an empty string on success, else the reason.
std::string parse_json(const std::string& body, unsigned max_depth, rapidjson::Document& doc) {
  // RapidJSON reads '\0' as the end of its input, so a NUL byte would silently
  // cut the body short. A NUL is never valid in JSON text (not even in strings).
  if (const auto nul = body.find('\0'); nul != std::string::npos) {
    return json_error(nul, "NUL byte.");
  }

  rapidjson::ParseResult result;
  bool depth_exceeded = false;
  auto generate = [&](rapidjson::Document& target) {
    DepthLimitedHandler handler(target, max_depth);
    // Bounded by the body's size, not by its terminating NUL: with
    // kParseValidateEncodingFlag, RapidJSON 1.1 takes every continuation byte
    // a UTF-8 lead byte announces before it checks them, so a body ending in
    // a truncated sequence (say a lone 0xF0) made a NUL-terminated
    // StringStream read up to two bytes past the end of the string.
    // MemoryStream answers '\0' at its end instead of reading on.
    rapidjson::MemoryStream bytes(body.data(), body.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(bytes);
    rapidjson::Reader reader;
    result = reader.Parse<kParseFlags>(stream, handler);
    depth_exceeded = handler.depth_exceeded();
    return !result.IsError();
  };
  doc.Populate(generate);

  if (depth_exceeded) {
    return "body nests JSON deeper than " + std::to_string(max_depth) + " levels (at offset " +
           std::to_string(result.Offset()) + ")";
  }
  if (result.IsError()) {
    return json_error(result.Offset(), rapidjson::GetParseError_En(result.Code()));
  }
  return {};
}

bool is_control(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7F) {
      return true;
    }
    // C1 controls U+0080..U+009F, UTF-8 encoded as C2 80..C2 9F (the document
    // is already validated as UTF-8).
    if (c == 0xC2 && i + 1 < text.size()) {
      const auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9F) {
        return true;
      }
    }
  }
  return false;
}

// Reads a required string member. Returns an empty string on success, else the reason.
std::string required_string(const rapidjson::Value& object, const char* name,
                            std::string_view& out) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd()) {
    return std::string("missing ") + name;
  }
  if (!it->value.IsString()) {
    return std::string(name) + " must be a string";
  }
  out = std::string_view(it->value.GetString(), it->value.GetStringLength());
  return {};
}

std::string check_event_type(const char* name, std::string_view type) {
  if (type.empty()) {
    return std::string(name) + " must not be empty";
  }
  if (is_control(type)) {
    return std::string(name) + " must not contain control characters";
  }
  return {};
}

std::string check_event_id(const char* name, std::string_view id, const ParseLimits& limits) {
  if (id.empty()) {
    return std::string(name) + " must not be empty";
  }
  if (id.size() > limits.max_event_id_bytes) {
    return std::string(name) + " is longer than " + std::to_string(limits.max_event_id_bytes) +
           " bytes";
  }
  if (is_control(id)) {
    return std::string(name) + " must not contain control characters";
  }
  return {};
}

}  // namespace

Event::Event(std::string body, std::unique_ptr<rapidjson::Document> doc, Format format,
             std::string event_type, std::string event_id)
    : body_(std::move(body)),
      doc_(std::move(doc)),
      format_(format),
      event_type_(std::move(event_type)),
      event_id_(std::move(event_id)) {}

const rapidjson::Value& Event::data() const noexcept {
  // parse_event guarantees an object; an Event built by hand without one
  // reads as an empty value rather than crashing.
  static const rapidjson::Value kNoData;
  if (doc_ && doc_->IsObject()) {
    const auto it = doc_->FindMember("data");
    if (it != doc_->MemberEnd()) {
      return it->value;
    }
  }
  return kNoData;
}

Result<Event> parse_event(std::string body, const ParseLimits& limits) {
  auto doc = std::make_unique<rapidjson::Document>();
  if (std::string error = parse_json(body, limits.max_depth, *doc); !error.empty()) {
    return fail(std::move(error));
  }
  if (!doc->IsObject()) {
    return fail("body is not a JSON object");
  }

  const bool cloudevents = doc->HasMember("specversion");
  const char* type_name = cloudevents ? "type" : "eventType";
  const char* id_name = cloudevents ? "id" : "eventID";

  if (cloudevents) {
    const auto& version = (*doc)["specversion"];
    if (!version.IsString()) {
      return fail("specversion must be a string");
    }
    if (std::string_view(version.GetString(), version.GetStringLength()) != "1.0") {
      return fail("unsupported CloudEvents specversion (only \"1.0\" is accepted)");
    }
  }

  std::string_view type;
  std::string_view id;
  if (std::string error = required_string(*doc, type_name, type); !error.empty()) {
    return fail(std::move(error));
  }
  if (std::string error = check_event_type(type_name, type); !error.empty()) {
    return fail(std::move(error));
  }
  if (std::string error = required_string(*doc, id_name, id); !error.empty()) {
    return fail(std::move(error));
  }
  if (std::string error = check_event_id(id_name, id, limits); !error.empty()) {
    return fail(std::move(error));
  }

  const auto data = doc->FindMember("data");
  if (data == doc->MemberEnd()) {
    return fail("missing data");
  }
  if (!data->value.IsObject()) {
    return fail("data must be an object");
  }

  std::string event_type(type);
  std::string event_id(id);
  return Event(std::move(body), std::move(doc),
               cloudevents ? Format::cloudevents_1_0 : Format::oci_events, std::move(event_type),
               std::move(event_id));
}

}  // namespace ocirelay::event
