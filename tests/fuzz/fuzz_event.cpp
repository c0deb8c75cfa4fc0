// libFuzzer target: the event parsers and validators of every input form of
// POST /v1/events: a single event (event::parse_event), a batch
// (event::parse_event_batch, both forms) and a CloudEvents binary-mode request
// (event::parse_binary_cloudevent).
//
// Every input is parsed as a request body, and as a batch, twice: with the
// ingress defaults and with tight limits (depth 3, eventID at most 8 bytes, at
// most 3 batch members), so the limit paths are reached too. It is also read
// as a binary-mode request: "name: value" lines up to the first blank line
// are the ce-* headers (a line "content-type: ..." the Content-Type), the
// rest the body. Besides ASan/UBSan, the target checks what the parsers
// promise: an accepted event is an object whose identity fields are the
// strings the relay needs, within the limits, nested no deeper than
// max_depth, with no member name twice in one object; a single event keeps
// its body byte for byte, a batch member its own bytes of the array, a
// binary-mode event is a structured CloudEvent that parses again to the same
// document; a rejected input has a reason.
//
// Single-threaded; libFuzzer calls LLVMFuzzerTestOneInput sequentially.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "ocirelay/event/binary_cloudevent.hpp"
#include "ocirelay/event/event.hpp"
#include "ocirelay/event/event_batch.hpp"

namespace {

using ocirelay::event::Format;
using ocirelay::event::ParseLimits;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "fuzz_event: invariant violated: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) violated(what);
}

// Nesting depth of a value (a scalar is 0, [] and {} are 1), without recursion.
unsigned depth_of(const rapidjson::Value& root) {
  unsigned deepest = 0;
  std::vector<std::pair<const rapidjson::Value*, unsigned>> stack{{&root, 0U}};
  while (!stack.empty()) {
    auto [value, depth] = stack.back();
    stack.pop_back();
    if (value->IsObject()) {
      deepest = std::max(deepest, depth + 1);
      for (auto m = value->MemberBegin(); m != value->MemberEnd(); ++m) {
        stack.emplace_back(&m->value, depth + 1);
      }
    } else if (value->IsArray()) {
      deepest = std::max(deepest, depth + 1);
      for (const auto& element : value->GetArray()) stack.emplace_back(&element, depth + 1);
    }
  }
  return deepest;
}

std::string_view member_text(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  check(it != object.MemberEnd(), "accepted event lacks its identity member");
  check(it->value.IsString(), "identity member is not a string");
  return {it->value.GetString(), it->value.GetStringLength()};
}

// Whether any object in `root` has a member name twice, without recursion.
bool has_repeated_names(const rapidjson::Value& root) {
  std::vector<const rapidjson::Value*> stack{&root};
  while (!stack.empty()) {
    const rapidjson::Value* value = stack.back();
    stack.pop_back();
    if (value->IsObject()) {
      for (auto m = value->MemberBegin(); m != value->MemberEnd(); ++m) {
        for (auto n = value->MemberBegin(); n != m; ++n) {
          if (n->name == m->name) return true;
        }
        stack.push_back(&m->value);
      }
    } else if (value->IsArray()) {
      for (const auto& element : value->GetArray()) stack.push_back(&element);
    }
  }
  return false;
}

void check_accepted(const ocirelay::event::Event& ev, const ParseLimits& limits) {
  check(ev.json().IsObject(), "accepted event is not an object");
  check(!has_repeated_names(ev.json()), "accepted event has a member name twice");
  const bool cloudevents = ev.json().HasMember("specversion");
  check(cloudevents || ev.data().IsObject(), "accepted OCI event's data is not an object");
  // CloudEvents 1.0 forbids both; an OCI Events envelope has no data_base64,
  // so there it is just another member.
  check(!cloudevents || !(ev.json().HasMember("data") && ev.json().HasMember("data_base64")),
        "accepted CloudEvent has both data and data_base64");
  check(depth_of(ev.json()) <= limits.max_depth, "accepted event nests deeper than max_depth");
  check(!ev.event_type().empty(), "empty event type accepted");
  check(!ev.event_id().empty(), "empty event ID accepted");
  check(ev.event_id().size() <= limits.max_event_id_bytes, "event ID over the limit accepted");
  for (const char c : ev.event_id()) {
    const auto u = static_cast<unsigned char>(c);
    check(u >= 0x20 && u != 0x7F, "control character in an accepted event ID");
  }
  check(ev.format() == (cloudevents ? Format::cloudevents_1_0 : Format::oci_events),
        "format does not follow specversion");
  check(member_text(ev.json(), cloudevents ? "type" : "eventType") == ev.event_type(),
        "event_type() differs from the document");
  check(member_text(ev.json(), cloudevents ? "id" : "eventID") == ev.event_id(),
        "event_id() differs from the document");
}

void parse_and_check(const std::string& input, const ParseLimits& limits) {
  auto parsed = ocirelay::event::parse_event(input, limits);
  if (!parsed) {
    check(!parsed.error().empty(), "rejection without a reason");
    return;
  }
  check(parsed->body() == input, "body not kept byte for byte");
  check_accepted(parsed.value(), limits);
}

void batch_and_check(const std::string& input, ocirelay::event::BatchForm form,
                     std::size_t max_events, const ParseLimits& limits) {
  auto batch = ocirelay::event::parse_event_batch(input, form, max_events, limits);
  if (!batch) {
    check(!batch.error().reason.empty(), "batch rejection without a reason");
    return;
  }
  // An empty array is a batch of no events (CloudEvents allows it).
  check(!batch->empty() || input.find('{') == std::string::npos,
        "a batch with members accepted as empty");
  check(batch->size() <= max_events, "batch over max_events accepted");
  check(ocirelay::event::is_json_array(input), "accepted batch does not start with '['");
  std::size_t from = 0;
  for (const auto& ev : *batch) {
    // Members are the array's own bytes, in order, never overlapping.
    const auto at = input.find(ev.body(), from);
    check(at != std::string::npos, "batch member body is not the array's text");
    from = at + ev.body().size();
    check_accepted(ev, limits);
    check(form == ocirelay::event::BatchForm::events || ev.format() == Format::cloudevents_1_0,
          "non-CloudEvent in a CloudEvents batch");
  }
}

void binary_and_check(const std::string& input) {
  std::vector<std::pair<std::string, std::string>> lines;
  std::size_t at = 0;
  while (at < input.size()) {
    const auto end = input.find('\n', at);
    if (end == std::string::npos || end == at) break;
    const std::string line = input.substr(at, end - at);
    const auto colon = line.find(':');
    if (colon != std::string::npos)
      lines.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    at = end + 1;
  }
  const std::string body = at < input.size() ? input.substr(at + 1) : std::string();
  std::vector<ocirelay::event::CeHeader> headers;
  std::optional<std::string_view> content_type;
  for (const auto& [name, value] : lines) {
    if (name == "content-type") {
      content_type = value;
    } else {
      headers.push_back({name, value});
    }
  }
  auto ev = ocirelay::event::parse_binary_cloudevent(headers, content_type, body);
  if (!ev) {
    check(!ev.error().empty(), "binary-mode rejection without a reason");
    return;
  }
  check(ev->format() == Format::cloudevents_1_0, "binary-mode event is not a CloudEvent");
  check(member_text(ev->json(), "specversion") == "1.0", "binary-mode specversion is not 1.0");
  check_accepted(ev.value(), ParseLimits{});
  auto again = ocirelay::event::parse_event(ev->body());
  check(again.ok() && again->json() == ev->json(), "structured form does not parse the same");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  parse_and_check(input, ParseLimits{});
  ParseLimits tight;
  tight.max_depth = 3;
  tight.max_event_id_bytes = 8;
  parse_and_check(input, tight);
  using ocirelay::event::BatchForm;
  batch_and_check(input, BatchForm::events, 1000, ParseLimits{});
  batch_and_check(input, BatchForm::cloudevents, 3, tight);
  binary_and_check(input);
  return 0;
}
