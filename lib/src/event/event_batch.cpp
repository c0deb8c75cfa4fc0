#include "ocirelay/event/event_batch.hpp"

#include <cstdint>
#include <optional>
#include <utility>

#include <rapidjson/error/en.h>

#include "event/json_text.hpp"

namespace ocirelay::event {

namespace {

struct Span {
  std::size_t begin = 0;
  std::size_t end = 0;
};

// SAX handler for the outer pass: checks that the body is an array of
// objects, nested no deeper than a limit, with at most `max_events` members,
// and notes where each member's text begins and ends. Builds no document.
class MemberSpans {
 public:
  MemberSpans(const detail::JsonInput& input, unsigned max_depth, std::size_t max_events)
      : input_(input), max_depth_(max_depth), max_events_(max_events) {}

  enum class Stop { none, not_array, not_object, too_many, too_deep };
  Stop stop() const noexcept { return stop_; }
  std::size_t members() const noexcept { return members_; }
  std::vector<Span>& spans() noexcept { return spans_; }

  bool Null() { return scalar(); }
  bool Bool(bool) { return scalar(); }
  bool Int(int) { return scalar(); }
  bool Uint(unsigned) { return scalar(); }
  bool Int64(std::int64_t) { return scalar(); }
  bool Uint64(std::uint64_t) { return scalar(); }
  bool Double(double) { return scalar(); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return scalar(); }
  bool String(const char*, rapidjson::SizeType, bool) { return scalar(); }
  bool Key(const char*, rapidjson::SizeType, bool) { return true; }
  bool StartObject() {
    if (depth_ == 0) return halt(Stop::not_array);
    if (depth_ == 1) {
      if (!member()) return false;
      spans_.push_back(Span{input_.position(), 0});
    }
    return enter();
  }
  bool EndObject(rapidjson::SizeType) {
    if (--depth_ == 1) spans_.back().end = input_.position() + 1;
    return true;
  }
  bool StartArray() {
    if (depth_ == 1) return member() && halt(Stop::not_object);
    return enter();
  }
  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return true;
  }

 private:
  bool scalar() {
    if (depth_ == 0) return halt(Stop::not_array);
    if (depth_ == 1) return member() && halt(Stop::not_object);
    return true;
  }
  // A new member of the top-level array.
  bool member() {
    if (++members_ > max_events_) return halt(Stop::too_many);
    return true;
  }
  bool enter() {
    if (depth_ >= max_depth_) return halt(Stop::too_deep);
    ++depth_;
    return true;
  }
  bool halt(Stop why) {
    stop_ = why;
    return false;
  }

  const detail::JsonInput& input_;
  unsigned max_depth_;
  std::size_t max_events_;
  unsigned depth_ = 0;
  std::size_t members_ = 0;
  std::vector<Span> spans_;
  Stop stop_ = Stop::none;
};

std::string member_label(std::size_t index) { return "events[" + std::to_string(index) + "]"; }

BatchError bad(std::string reason) { return BatchError{std::move(reason), false}; }

}  // namespace

bool is_json_array(std::string_view body) noexcept {
  // The parser skips a UTF-8 byte order mark, each of its three bytes on its
  // own when present (RapidJSON's EncodedInputStream); so does this.
  for (const char bom : {'\xEF', '\xBB', '\xBF'}) {
    if (!body.empty() && body.front() == bom) body.remove_prefix(1);
  }
  const auto first = body.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && body[first] == '[';
}

Result<std::vector<Event>, BatchError> parse_event_batch(std::string_view body, BatchForm form,
                                                         std::size_t max_events,
                                                         const ParseLimits& limits) {
  detail::JsonInput input(body);
  if (const auto nul = input.nul_offset(); nul != std::string_view::npos) {
    return fail(bad(detail::json_error("body", nul, "NUL byte.")));
  }
  // The array is one level more than a single event's limit allows.
  MemberSpans handler(input, limits.max_depth + 1, max_events);
  const rapidjson::ParseResult result = input.parse(handler);
  using Stop = MemberSpans::Stop;
  switch (handler.stop()) {
    case Stop::not_array:
      return fail(bad("body is not a JSON array of events"));
    case Stop::not_object:
      return fail(bad(member_label(handler.members() - 1) + ": not a JSON object"));
    case Stop::too_many:
      return fail(BatchError{
          "batch has more than " + std::to_string(max_events) + " events (server.max_batch_events)",
          true});
    case Stop::too_deep:
      return fail(
          bad((handler.members() == 0 ? std::string("body") : member_label(handler.members() - 1)) +
              ": nests JSON deeper than " + std::to_string(limits.max_depth) + " levels"));
    case Stop::none:
      break;
  }
  if (result.IsError()) {
    return fail(bad(
        detail::json_error("body", result.Offset(), rapidjson::GetParseError_En(result.Code()))));
  }
  std::vector<Event> events;
  events.reserve(handler.spans().size());
  for (std::size_t i = 0; i < handler.spans().size(); ++i) {
    const Span& span = handler.spans()[i];
    auto parsed = parse_event(std::string(body.substr(span.begin, span.end - span.begin)), limits);
    if (!parsed) {
      // The member is the text at fault, not the whole body.
      std::string_view reason = parsed.error();
      if (reason.starts_with("body ")) reason.remove_prefix(5);
      return fail(bad(member_label(i) + ": " + std::string(reason)));
    }
    if (form == BatchForm::cloudevents && parsed->format() != Format::cloudevents_1_0) {
      return fail(bad(member_label(i) + ": not a CloudEvent (missing specversion)"));
    }
    events.push_back(std::move(parsed).value());
  }
  return events;
}

}  // namespace ocirelay::event
