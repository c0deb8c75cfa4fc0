// What to do after a delivery attempt, and when to try again. Pure functions.
#pragma once

#include <optional>
#include <string>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::delivery {

enum class Verdict { delivered, retry, dead };

// By HTTP status (nullopt: no response: connection error or timeout).
// 2xx delivered; 408, 429, 5xx, 401, 403, 404 and no response: retry (the
// destination may come back, be reactivated or be fixed); any other status
// (other 4xx, 1xx, 3xx): dead at once, since sending it again cannot help.
Verdict classify(std::optional<int> status);

// The pause before attempt number `attempts + 1`, given `attempts` made:
// initial_backoff * 2^(attempts-1), capped at max_backoff, then "equal
// jitter": a uniform draw in [d/2, d] with `unit_random` in [0, 1).
Duration backoff_delay(const config::Retry& retry, int attempts, double unit_random);

}  // namespace ocirelay::delivery
