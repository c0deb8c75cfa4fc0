#include "ocirelay/delivery/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace ocirelay::delivery {

RateLimiter::RateLimiter(double per_second, Clock::time_point now) : full_at_(now) {
  if (per_second > 0) {
    const double ticks = std::ceil(static_cast<double>(Clock::period::den) /
                                   (per_second * static_cast<double>(Clock::period::num)));
    // At least one tick; at most about a year between tokens.
    interval_ = Clock::duration(static_cast<Clock::rep>(std::clamp(ticks, 1.0, 3.2e16)));
  }
}

bool RateLimiter::try_take(Clock::time_point now) {
  if (interval_.count() == 0) return true;
  if (now < full_at_) return false;
  // The bucket holds one token: time spent full is not saved up.
  full_at_ = now + interval_;
  return true;
}

RateLimiter::Clock::time_point RateLimiter::next_token_at(Clock::time_point now) const {
  return std::max(now, full_at_);
}

}  // namespace ocirelay::delivery
