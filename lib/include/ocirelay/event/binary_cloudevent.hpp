// CloudEvents 1.0 in HTTP binary content mode (the default of the official
// SDKs' HTTP emitters): the attributes in `ce-<name>` headers, the data's
// media type in Content-Type and the data as the body. The relay turns such
// a request into the equivalent structured event (JSON format), so storage,
// routes and destinations see one shape:
//  - specversion, id, source, type first, then datacontenttype (the
//    Content-Type), then the other attributes in header order, each a JSON
//    string, its header value percent-decoded;
//  - JSON data (application/json, */*+json, or no Content-Type) embedded as
//    `data` byte for byte; text/* data that is UTF-8 as a `data` string; any
//    other data as `data_base64`; an empty body gives no data.
// Pure functions.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ocirelay/common/result.hpp"
#include "ocirelay/event/event.hpp"

namespace ocirelay::event {

// One `ce-` header: the attribute name (what follows "ce-", any case) and the
// value as sent.
struct CeHeader {
  std::string_view name;
  std::string_view value;
};

// Builds and validates the structured event. The error is a short reason fit
// for a 400 response, naming the header at fault ("missing header ce-id",
// "header ce-specversion: unsupported CloudEvents specversion ...").
Result<Event> parse_binary_cloudevent(std::span<const CeHeader> headers,
                                      std::optional<std::string_view> content_type,
                                      std::string_view body, const ParseLimits& limits = {});

// Decodes %XX escapes (CloudEvents HTTP binding, 3.1.3.2). nullopt when a '%'
// is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view value);

}  // namespace ocirelay::event
