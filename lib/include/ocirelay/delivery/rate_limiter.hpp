// A destination's rate_limit: a token bucket holding at most one token,
// refilled at `per_second`, so deliveries start at most that often and never
// in a burst after a quiet spell. Time is passed in (no clock, no I/O).
//
// Thread and lifetime contract: a plain value; not synchronised.
#pragma once

#include <chrono>

namespace ocirelay::delivery {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // per_second <= 0: no limit. The bucket starts full at `now`.
  RateLimiter(double per_second, Clock::time_point now);

  // Takes the token if there is one at `now`.
  bool try_take(Clock::time_point now);
  // When the next token will be there (at or before `now`: now).
  Clock::time_point next_token_at(Clock::time_point now) const;

 private:
  Clock::duration interval_{0};  // between tokens; 0: no limit
  Clock::time_point full_at_;    // the token is there from this time on
};

}  // namespace ocirelay::delivery
