// A received event: the body exactly as received, its parsed JSON document,
// and the identity fields the relay needs (event type, ID and time).
//
// Accepted shapes (PROTOCOLS.md):
//  - an OCI Events envelope (cloudEventsVersion 0.1): requires a string
//    `eventType`, a string `eventID` and an object `data`;
//  - a CloudEvents 1.0 structured event (has `specversion`): requires a string
//    `type` and a string `id`; `data` is optional and any JSON value, or the
//    data is binary as a base64 string `data_base64` (not both).
// Binary-mode CloudEvents (binary_cloudevent.hpp) and batches (event_batch.hpp)
// become events of these shapes.
// An ONS notification carries the raw event as its body, so both ingress
// paths parse the same way.
//
// Value type, movable, not copyable (owns a RapidJSON document). Not shared
// between threads.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "ocirelay/common/result.hpp"
#include "ocirelay/event/json_document.hpp"

namespace ocirelay::event {

enum class Format { oci_events, cloudevents_1_0 };

class Event {
 public:
  Event(std::string body, std::unique_ptr<JsonDocument> doc, Format format, std::string event_type,
        std::string event_id, std::string event_time);

  Event(Event&&) noexcept = default;
  Event& operator=(Event&&) noexcept = default;
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  // The request body, byte for byte.
  const std::string& body() const noexcept { return body_; }
  std::string take_body() noexcept { return std::move(body_); }
  // The whole parsed event (an object).
  const rapidjson::Value& json() const noexcept { return doc_->document(); }
  // The event's `data`: an object for OCI Events; any value for a CloudEvent,
  // null when it has none.
  const rapidjson::Value& data() const noexcept;
  Format format() const noexcept { return format_; }
  const std::string& event_type() const noexcept { return event_type_; }
  const std::string& event_id() const noexcept { return event_id_; }
  // The event's own time as written (`eventTime`; CloudEvents: `time`), part
  // of its dedupe key (storage::dedupe_key). Empty when the event has none
  // fit for a key: absent, not a string, longer than kMaxEventTimeBytes, or
  // holding control characters. Never a reason to refuse the event.
  const std::string& event_time() const noexcept { return event_time_; }

  static constexpr std::size_t kMaxEventTimeBytes = 64;

 private:
  std::string body_;
  std::unique_ptr<JsonDocument> doc_;
  Format format_;
  std::string event_type_;
  std::string event_id_;
  std::string event_time_;
};

struct ParseLimits {
  // Deeper JSON is rejected before it can exhaust the stack.
  unsigned max_depth = 64;
  // eventID longer than this is rejected (it becomes a storage key and a header).
  std::size_t max_event_id_bytes = 256;
};

// Parses and validates a request body. The error is a short reason fit for a
// 400 response ("body is not valid JSON at offset 17: ...", "missing eventID").
Result<Event> parse_event(std::string body, const ParseLimits& limits = {});

}  // namespace ocirelay::event
