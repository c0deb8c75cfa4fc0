// Parsing request targets of the admin API: the path and the query string
// ("destination=oic&limit=10", percent-decoded, '+' as a space). Pure
// functions; no thread affinity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ocirelay/common/result.hpp"

namespace ocirelay::admin {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// "/v1/dlq?limit=3" -> "/v1/dlq" and "limit=3".
std::string_view target_path(std::string_view target);
std::string_view target_query(std::string_view target);

// The decoded parameters in order. Fails (with the reason) on a bad %-escape
// or a parameter given twice.
Result<QueryParams> parse_query(std::string_view query);

// "%XX"-encodes everything but unreserved characters (RFC 3986).
std::string percent_encode(std::string_view text);

// A delivery id: decimal digits only, 1 to 2^63-1.
std::optional<std::int64_t> parse_id(std::string_view text);

}  // namespace ocirelay::admin
