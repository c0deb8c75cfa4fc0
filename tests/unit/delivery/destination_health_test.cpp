// DestinationHealth in simulated time: every transition of the pause-and-probe
// machine, the pause lengths, Retry-After, and the epoch rule (failures of
// attempts started before the current pause or recovery count for nothing).
#include <catch2/catch.hpp>

#include "ocirelay/delivery/backoff.hpp"
#include "ocirelay/delivery/destination_health.hpp"

using namespace ocirelay;
using namespace ocirelay::delivery;
using namespace std::chrono_literals;
using State = DestinationHealth::State;

namespace {

constexpr double kFull = 0.999999;  // jitter draw giving (almost) the full backoff
const DestinationHealth::Clock::time_point kT0 = DestinationHealth::Clock::time_point{} + 1000h;

config::Retry retry_settings() {
  config::Retry r;
  r.initial_backoff = 1s;
  r.max_backoff = 30s;
  return r;
}

}  // namespace

TEST_CASE("a healthy destination runs at full concurrency until a destination failure",
          "[health]") {
  DestinationHealth health(retry_settings());
  CHECK(health.state() == State::healthy);
  CHECK(std::string(health.name()) == "healthy");
  CHECK(health.limit(8) == 8);
  CHECK(health.failure_streak() == 0);
  CHECK_FALSE(health.update(kT0 + 1h));  // time alone changes nothing
  CHECK(health.succeeded() == 0);        // nothing to recover from
  CHECK(health.state() == State::healthy);
  CHECK(health.epoch() == 0);  // a success while healthy starts no epoch

  const auto pause = health.failed(health.epoch(), kT0, std::nullopt, kFull);
  REQUIRE(pause);
  CHECK(*pause == 1s);
  CHECK(health.state() == State::paused);
  CHECK(std::string(health.name()) == "paused");
  CHECK(health.limit(8) == 0);
  CHECK(health.paused_until() == kT0 + 1s);
  CHECK(health.failure_streak() == 1);
}

TEST_CASE("a pause ends exactly at its end: probing with one request", "[health]") {
  DestinationHealth health(retry_settings());
  REQUIRE(health.failed(health.epoch(), kT0, std::nullopt, kFull) == Duration(1s));
  CHECK_FALSE(health.update(kT0 + 999ms));
  CHECK(health.state() == State::paused);
  CHECK(health.update(kT0 + 1s));
  CHECK(health.state() == State::probing);
  CHECK(std::string(health.name()) == "probing");
  CHECK(health.limit(8) == 1);
  CHECK_FALSE(health.update(kT0 + 2s));  // stays probing until an answer
  CHECK(health.state() == State::probing);
}

TEST_CASE("a successful probe restores full concurrency", "[health]") {
  DestinationHealth health(retry_settings());
  REQUIRE(health.failed(health.epoch(), kT0, std::nullopt, kFull));
  REQUIRE(health.update(kT0 + 1s));
  const auto probe_epoch = health.epoch();
  CHECK(health.succeeded() == 1);  // recovered from one failure
  CHECK(health.state() == State::healthy);
  CHECK(health.limit(8) == 8);
  CHECK(health.failure_streak() == 0);
  CHECK(health.epoch() != probe_epoch);
  // The next failure starts from the initial backoff again.
  CHECK(health.failed(health.epoch(), kT0 + 2s, std::nullopt, kFull) == Duration(1s));
}

TEST_CASE("a failed probe pauses again, twice as long, up to max_backoff", "[health]") {
  DestinationHealth health(retry_settings());
  auto now = kT0;
  std::vector<Duration> pauses;
  for (int i = 0; i < 7; ++i) {
    const auto pause = health.failed(health.epoch(), now, std::nullopt, kFull);
    REQUIRE(pause);
    pauses.push_back(*pause);
    CHECK(health.state() == State::paused);
    CHECK(health.failure_streak() == i + 1);
    now = health.paused_until();
    REQUIRE(health.update(now));  // the probe goes out, and fails again
  }
  CHECK(pauses == std::vector<Duration>{1s, 2s, 4s, 8s, 16s, 30s, 30s});
}

TEST_CASE("a pause is jittered in the upper half of the backoff", "[health]") {
  for (double u : {0.0, 0.5, kFull}) {
    DestinationHealth health(retry_settings());
    REQUIRE(health.failed(0, kT0, std::nullopt, u));
    const auto second = health.failed(health.epoch(), kT0, std::nullopt, u);
    REQUIRE(second);
    CHECK(*second == backoff_delay(retry_settings(), 2, u));
    CHECK(*second >= 1s);
    CHECK(*second <= 2s);
  }
}

TEST_CASE("Retry-After lengthens a pause, never beyond max_backoff", "[health]") {
  DestinationHealth health(retry_settings());
  SECTION("longer than the backoff: waited for") {
    CHECK(health.failed(0, kT0, Duration(7s), kFull) == Duration(7s));
    CHECK(health.paused_until() == kT0 + 7s);
    CHECK_FALSE(health.update(kT0 + 6999ms));
    CHECK(health.update(kT0 + 7s));
  }
  SECTION("shorter than the backoff: the backoff") {
    CHECK(health.failed(0, kT0, Duration(200ms), kFull) == Duration(1s));
  }
  SECTION("an hour: max_backoff") {
    CHECK(health.failed(0, kT0, Duration(1h), kFull) == Duration(30s));
    CHECK(health.update(kT0 + 30s));
  }
}

TEST_CASE("failures of attempts started before the pause add nothing", "[health]") {
  DestinationHealth health(retry_settings());
  // Four attempts in flight when the destination goes down.
  const auto before = health.epoch();
  REQUIRE(health.failed(before, kT0, std::nullopt, kFull) == Duration(1s));
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(health.failed(before, kT0 + 10ms, Duration(20s), kFull));
  }
  CHECK(health.failure_streak() == 1);
  CHECK(health.paused_until() == kT0 + 1s);
  REQUIRE(health.update(kT0 + 1s));
  // Late failures while probing count for nothing either; the probe's does.
  CHECK_FALSE(health.failed(before, kT0 + 1s, std::nullopt, kFull));
  CHECK(health.state() == State::probing);
  CHECK(health.failed(health.epoch(), kT0 + 1100ms, std::nullopt, kFull) == Duration(2s));
  CHECK(health.failure_streak() == 2);
}

TEST_CASE("failures of attempts started before a recovery add nothing", "[health]") {
  DestinationHealth health(retry_settings());
  REQUIRE(health.failed(0, kT0, std::nullopt, kFull));
  REQUIRE(health.update(kT0 + 1s));
  const auto probing_epoch = health.epoch();
  REQUIRE(health.succeeded() == 1);
  CHECK_FALSE(health.failed(probing_epoch, kT0 + 2s, std::nullopt, kFull));
  CHECK(health.state() == State::healthy);
}

TEST_CASE("any answer that is not a destination failure ends a pause", "[health]") {
  // An attempt that was in flight when the destination paused comes back
  // fine: the destination works, whatever the epoch.
  DestinationHealth health(retry_settings());
  REQUIRE(health.failed(0, kT0, std::nullopt, kFull));
  REQUIRE(health.failed(health.epoch(), kT0, std::nullopt, kFull));
  CHECK(health.state() == State::paused);
  CHECK(health.succeeded() == 2);
  CHECK(health.state() == State::healthy);
  CHECK(health.limit(3) == 3);
  CHECK_FALSE(health.update(kT0 + 1h));
}
