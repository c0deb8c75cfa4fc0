// Several events in one request body, a JSON array of them:
//  - CloudEvents batch mode (`application/cloudevents-batch+json`): each
//    member a structured CloudEvents 1.0 event;
//  - a plain JSON array (`application/json`), what Service Connector Hub
//    posts to a Functions-style target: each member an event as a single
//    POST takes it (an OCI Events envelope, or a structured CloudEvent).
// Each member keeps its own bytes, exactly as they stand in the array, as its
// body. Pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "ocirelay/common/result.hpp"
#include "ocirelay/event/event.hpp"

namespace ocirelay::event {

enum class BatchForm { cloudevents, events };

struct BatchError {
  std::string reason;     // fit for the response, naming the member: "events[3]: missing id"
  bool too_many = false;  // more than max_events members (413, not 400)
};

// Parses and validates every member; one bad member fails the whole batch.
// An empty array is a batch of no events (the CloudEvents batch format allows
// it).
Result<std::vector<Event>, BatchError> parse_event_batch(std::string_view body, BatchForm form,
                                                         std::size_t max_events,
                                                         const ParseLimits& limits = {});

// Whether the body is meant as a JSON array (its first non-blank byte is '['),
// before it is parsed.
bool is_json_array(std::string_view body) noexcept;

}  // namespace ocirelay::event
