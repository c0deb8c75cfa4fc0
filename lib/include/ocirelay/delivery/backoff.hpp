// What to do after a delivery attempt, and when to try again. Pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::delivery {

enum class Verdict { delivered, retry, dead };

// By HTTP status (nullopt: no response: connection error or timeout).
// 2xx delivered; 408, 429, 5xx, 401, 403, 404 and no response: retry (the
// destination may come back, be reactivated or be fixed); any other status
// (other 4xx, 1xx, 3xx): dead at once, since sending it again cannot help.
Verdict classify(std::optional<int> status);
// The same, with the destination's retry_on / dead_letter_on overrides.
Verdict classify(std::optional<int> status, const config::Retry& retry);

// True when a failure says the destination itself is unwell (so the whole
// destination pauses): no response, 408, 429, 5xx, 401, 403, 404.
bool is_destination_failure(std::optional<int> status);

// A Retry-After header value: delay-seconds or an HTTP-date (IMF-fixdate,
// RFC 850 or asctime), relative to `now`. Dates in the past give zero.
std::optional<Duration> parse_retry_after(std::string_view value,
                                          std::chrono::system_clock::time_point now);

// The pause before attempt number `attempts + 1`, given `attempts` made:
// initial_backoff * 2^(attempts-1), capped at max_backoff, then "equal
// jitter": a uniform draw in [d/2, d] with `unit_random` in [0, 1).
Duration backoff_delay(const config::Retry& retry, int attempts, double unit_random);

}  // namespace ocirelay::delivery
