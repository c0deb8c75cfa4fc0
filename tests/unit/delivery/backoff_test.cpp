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
