#include <catch2/catch.hpp>

#include "ocirelay/delivery/backoff.hpp"

using namespace ocirelay;
using namespace ocirelay::delivery;
using namespace std::chrono_literals;

TEST_CASE("statuses are classified as the relay documents", "[backoff]") {
  for (int s : {200, 201, 202, 204, 299}) CHECK(classify(s) == Verdict::delivered);
  for (int s : {408, 429, 500, 502, 503, 504, 599, 401, 403, 404}) {
    INFO(s);
    CHECK(classify(s) == Verdict::retry);
  }
  CHECK(classify(std::nullopt) == Verdict::retry);
  for (int s : {400, 405, 409, 410, 413, 415, 422, 100, 301, 302, 304}) {
    INFO(s);
    CHECK(classify(s) == Verdict::dead);
  }
}

TEST_CASE("backoff doubles from initial to max with equal jitter", "[backoff]") {
  config::Retry r;
  r.initial_backoff = 1s;
  r.max_backoff = 5min;
  CHECK(backoff_delay(r, 1, 0.999999) == Duration(1000));
  CHECK(backoff_delay(r, 1, 0.0) == Duration(500));
  CHECK(backoff_delay(r, 2, 0.999999) == Duration(2000));
  CHECK(backoff_delay(r, 3, 0.0) == Duration(2000));
  CHECK(backoff_delay(r, 10, 0.999999) == Duration(5min));  // 512s capped
  CHECK(backoff_delay(r, 10, 0.0) == Duration(150s));
  CHECK(backoff_delay(r, 1000, 0.5) <= Duration(5min));
  CHECK(backoff_delay(r, 0, 1.0) == Duration(1000));
  for (int attempt = 1; attempt < 40; ++attempt) {
    for (double u : {0.0, 0.25, 0.5, 0.75, 0.99}) {
      const auto d = backoff_delay(r, attempt, u);
      CHECK(d >= Duration(500));
      CHECK(d <= Duration(5min));
    }
  }
}

TEST_CASE("retry_on and dead_letter_on override the defaults", "[backoff]") {
  config::Retry r;
  r.retry_on = {400, 409};
  r.dead_letter_on = {404, 503};
  CHECK(classify(400, r) == Verdict::retry);
  CHECK(classify(409, r) == Verdict::retry);
  CHECK(classify(404, r) == Verdict::dead);
  CHECK(classify(503, r) == Verdict::dead);
  CHECK(classify(502, r) == Verdict::retry);
  CHECK(classify(422, r) == Verdict::dead);
  CHECK(classify(202, r) == Verdict::delivered);
  CHECK(classify(std::nullopt, r) == Verdict::retry);
}

TEST_CASE("destination-level failures are the ones that say the destination is unwell",
          "[backoff]") {
  for (int s : {408, 429, 500, 503, 401, 403, 404}) CHECK(is_destination_failure(s));
  CHECK(is_destination_failure(std::nullopt));
  for (int s : {200, 202, 400, 409, 422}) CHECK_FALSE(is_destination_failure(s));
}

TEST_CASE("Retry-After takes seconds or an HTTP date", "[backoff]") {
  using Clock = std::chrono::system_clock;
  const auto now = Clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  CHECK(parse_retry_after("120", now) == Duration(120s));
  CHECK(parse_retry_after(" 0 ", now) == Duration(0));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", now) == Duration(60s));
  CHECK(parse_retry_after("Sunday, 06-Nov-94 08:49:47 GMT", now) == Duration(10s));
  CHECK(parse_retry_after("Sun Nov  6 08:49:39 1994", now) == Duration(2s));
  CHECK(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now) == Duration(0));
  CHECK_FALSE(parse_retry_after("soon", now));
  CHECK_FALSE(parse_retry_after("-5", now));
  CHECK_FALSE(parse_retry_after("", now));
  CHECK(parse_retry_after("99999999999999", now) >= Duration(24h));
}
