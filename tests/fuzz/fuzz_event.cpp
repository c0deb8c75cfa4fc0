// libFuzzer target: the event parser and validator (event::parse_event).
//
// Every input is parsed as a request body twice: with the ingress defaults
// and with tight limits (depth 3, eventID at most 8 bytes), so the limit
// paths are reached too. Besides ASan/UBSan, the target checks what the
// parser promises: an accepted event is an object whose identity fields are
// the strings the relay needs, within the limits, its body kept byte for
// byte, nested no deeper than max_depth; a rejected one has a reason.
//
// Single-threaded; libFuzzer calls LLVMFuzzerTestOneInput sequentially.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "ocirelay/event/event.hpp"

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

void parse_and_check(const std::string& input, const ParseLimits& limits) {
  auto parsed = ocirelay::event::parse_event(input, limits);
  if (!parsed) {
    check(!parsed.error().empty(), "rejection without a reason");
    return;
  }
  const auto& ev = parsed.value();
  check(ev.body() == input, "body not kept byte for byte");
  check(ev.json().IsObject(), "accepted event is not an object");
  check(ev.data().IsObject(), "accepted event's data is not an object");
  check(depth_of(ev.json()) <= limits.max_depth, "accepted event nests deeper than max_depth");
  check(!ev.event_type().empty(), "empty event type accepted");
  check(!ev.event_id().empty(), "empty event ID accepted");
  check(ev.event_id().size() <= limits.max_event_id_bytes, "event ID over the limit accepted");
  for (const char c : ev.event_id()) {
    const auto u = static_cast<unsigned char>(c);
    check(u >= 0x20 && u != 0x7F, "control character in an accepted event ID");
  }
  const bool cloudevents = ev.json().HasMember("specversion");
  check(ev.format() == (cloudevents ? Format::cloudevents_1_0 : Format::oci_events),
        "format does not follow specversion");
  check(member_text(ev.json(), cloudevents ? "type" : "eventType") == ev.event_type(),
        "event_type() differs from the document");
  check(member_text(ev.json(), cloudevents ? "id" : "eventID") == ev.event_id(),
        "event_id() differs from the document");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  parse_and_check(input, ParseLimits{});
  ParseLimits tight;
  tight.max_depth = 3;
  tight.max_event_id_bytes = 8;
  parse_and_check(input, tight);
  return 0;
}
