#include "ocirelay/event/event.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "ocirelay/common/base64.hpp"

#include "event/json_text.hpp"

namespace ocirelay::event {

namespace {

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

// An OCI Events envelope always carries an object `data`.
std::string check_oci_data(const rapidjson::Value& event) {
  const auto data = event.FindMember("data");
  if (data == event.MemberEnd()) {
    return "missing data";
  }
  if (!data->value.IsObject()) {
    return "data must be an object";
  }
  return {};
}

// CloudEvents 1.0 (JSON format): `data` is optional and any JSON value, or
// the data is binary and given as `data_base64`; never both.
std::string check_cloudevents_data(const rapidjson::Value& event) {
  const auto base64 = event.FindMember("data_base64");
  if (base64 == event.MemberEnd()) {
    return {};
  }
  if (event.HasMember("data")) {
    return "data and data_base64 must not both be present";
  }
  if (!base64->value.IsString() ||
      !base64_decode(
          std::string_view(base64->value.GetString(), base64->value.GetStringLength()))) {
    return "data_base64 must be a base64 string";
  }
  return {};
}

// The event's time member as it is written, when it can be part of a key;
// else empty (the event is still accepted: the time is not validated here).
std::string_view key_time(const rapidjson::Value& event, const char* name) {
  const auto it = event.FindMember(name);
  if (it == event.MemberEnd() || !it->value.IsString()) {
    return {};
  }
  const std::string_view time(it->value.GetString(), it->value.GetStringLength());
  if (time.size() > Event::kMaxEventTimeBytes || is_control(time)) {
    return {};
  }
  return time;
}

}  // namespace

Event::Event(std::string body, std::unique_ptr<JsonDocument> doc, Format format,
             std::string event_type, std::string event_id, std::string event_time)
    : body_(std::move(body)),
      doc_(std::move(doc)),
      format_(format),
      event_type_(std::move(event_type)),
      event_id_(std::move(event_id)),
      event_time_(std::move(event_time)) {}

const rapidjson::Value& Event::data() const noexcept {
  // An event without data (a CloudEvent may have none, or data_base64)
  // reads as a null value.
  static const rapidjson::Value kNoData;
  if (doc_ && doc_->document().IsObject()) {
    const auto it = doc_->document().FindMember("data");
    if (it != doc_->document().MemberEnd()) {
      return it->value;
    }
  }
  return kNoData;
}

Result<Event> parse_event(std::string body, const ParseLimits& limits) {
  auto parsed = std::make_unique<JsonDocument>();
  rapidjson::Document* doc = &parsed->document();
  if (std::string error = detail::parse_json(body, limits.max_depth, *doc); !error.empty()) {
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

  if (std::string error = cloudevents ? check_cloudevents_data(*doc) : check_oci_data(*doc);
      !error.empty()) {
    return fail(std::move(error));
  }

  std::string event_type(type);
  std::string event_id(id);
  std::string event_time(key_time(*doc, cloudevents ? "time" : "eventTime"));
  return Event(std::move(body), std::move(parsed),
               cloudevents ? Format::cloudevents_1_0 : Format::oci_events, std::move(event_type),
               std::move(event_id), std::move(event_time));
}

}  // namespace ocirelay::event
