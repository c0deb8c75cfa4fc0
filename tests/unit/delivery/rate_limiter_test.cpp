// RateLimiter in simulated time: starts spaced by 1/rate_limit, no burst
// after a quiet spell, and no limit at 0.
#include <catch2/catch.hpp>

#include "ocirelay/delivery/rate_limiter.hpp"

using namespace ocirelay::delivery;
using namespace std::chrono_literals;

namespace {
const RateLimiter::Clock::time_point kT0 = RateLimiter::Clock::time_point{} + 1000h;
}

TEST_CASE("rate_limit 0 is no limit", "[rate]") {
  RateLimiter limiter(0, kT0);
  for (int i = 0; i < 1000; ++i) REQUIRE(limiter.try_take(kT0));
  CHECK(limiter.next_token_at(kT0) == kT0);
}

TEST_CASE("starts are spaced by one over the rate", "[rate]") {
  RateLimiter limiter(10, kT0);
  CHECK(limiter.try_take(kT0));  // the bucket starts full
  CHECK_FALSE(limiter.try_take(kT0));
  CHECK(limiter.next_token_at(kT0) == kT0 + 100ms);
  CHECK_FALSE(limiter.try_take(kT0 + 99ms));
  CHECK(limiter.next_token_at(kT0 + 99ms) == kT0 + 100ms);
  CHECK(limiter.try_take(kT0 + 100ms));
  CHECK(limiter.next_token_at(kT0 + 100ms) == kT0 + 200ms);
  // Late by 50 ms: the next one is a full interval after this start.
  CHECK(limiter.try_take(kT0 + 250ms));
  CHECK(limiter.next_token_at(kT0 + 250ms) == kT0 + 350ms);
}

TEST_CASE("a quiet spell saves up no burst: the bucket holds one token", "[rate]") {
  RateLimiter limiter(5, kT0);
  REQUIRE(limiter.try_take(kT0));
  const auto later = kT0 + 1h;
  CHECK(limiter.next_token_at(later) == later);
  CHECK(limiter.try_take(later));
  CHECK_FALSE(limiter.try_take(later));
  CHECK_FALSE(limiter.try_take(later + 199ms));
  CHECK(limiter.try_take(later + 200ms));
}

TEST_CASE("taking as fast as allowed for ten seconds gives rate times ten, plus the first",
          "[rate]") {
  for (double rate : {1.0, 20.0, 0.5, 4.0}) {
    INFO("rate_limit " << rate);
    RateLimiter limiter(rate, kT0);
    int taken = 0;
    for (auto now = kT0; now <= kT0 + 10s; now += 1ms) {
      if (limiter.try_take(now)) ++taken;
    }
    CHECK(taken == static_cast<int>(rate * 10) + 1);
  }
}

TEST_CASE("a rate that is not a whole number of nanoseconds rounds the interval up", "[rate]") {
  RateLimiter limiter(3, kT0);  // 333,333,333.3 ns
  REQUIRE(limiter.try_take(kT0));
  CHECK(limiter.next_token_at(kT0) == kT0 + 333'333'334ns);
}
