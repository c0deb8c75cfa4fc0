// plan_attempt: delivered, retried at a time, or dead-lettered, by the
// destination's retry settings; whether the failure pauses the destination.
#include <catch2/catch.hpp>

#include "ocirelay/delivery/attempt_plan.hpp"

using namespace ocirelay;
using namespace ocirelay::delivery;
using namespace std::chrono_literals;
using Why = AttemptPlan::Why;

namespace {

constexpr storage::Millis kQueued = 1'700'000'000'000;
constexpr double kFull = 0.999999;

config::Retry retry_settings() {
  config::Retry r;
  r.initial_backoff = 1s;
  r.max_backoff = 1min;
  r.max_age = 1h;
  return r;
}

AttemptOutcome outcome(int attempt, std::optional<int> status,
                       std::optional<Duration> retry_after = std::nullopt) {
  AttemptOutcome o;
  o.attempt = attempt;
  o.received_at = kQueued;
  o.status = status;
  o.retry_after = retry_after;
  return o;
}

}  // namespace

TEST_CASE("a 2xx is delivered", "[plan]") {
  for (int status : {200, 202, 204}) {
    const auto plan = plan_attempt(retry_settings(), outcome(3, status), kQueued + 5000, kFull);
    CHECK(plan.verdict == Verdict::delivered);
    CHECK(plan.why == Why::success);
    CHECK_FALSE(plan.destination_failure);
  }
}

TEST_CASE("a retryable failure comes back after the backoff, doubling to max_backoff", "[plan]") {
  const storage::Millis now = kQueued + 10'000;
  std::vector<Duration> delays;
  for (int attempt = 1; attempt <= 8; ++attempt) {
    const auto plan = plan_attempt(retry_settings(), outcome(attempt, 503), now, kFull);
    REQUIRE(plan.verdict == Verdict::retry);
    CHECK(plan.why == Why::retryable);
    CHECK(plan.destination_failure);
    CHECK(plan.next_attempt_at == now + plan.delay.count());
    delays.push_back(plan.delay);
  }
  CHECK(delays == std::vector<Duration>{1s, 2s, 4s, 8s, 16s, 32s, 1min, 1min});
  // Jittered in the upper half.
  CHECK(plan_attempt(retry_settings(), outcome(3, 503), now, 0.0).delay == 2s);
}

TEST_CASE("no response is retried and pauses the destination", "[plan]") {
  const auto plan = plan_attempt(retry_settings(), outcome(1, std::nullopt), kQueued, kFull);
  CHECK(plan.verdict == Verdict::retry);
  CHECK(plan.destination_failure);
}

TEST_CASE("Retry-After is waited for, capped at max_backoff", "[plan]") {
  const storage::Millis now = kQueued + 1000;
  SECTION("longer than the backoff") {
    const auto plan = plan_attempt(retry_settings(), outcome(1, 429, 20s), now, kFull);
    CHECK(plan.delay == 20s);
    CHECK(plan.next_attempt_at == now + 20'000);
  }
  SECTION("shorter than the backoff: the backoff") {
    CHECK(plan_attempt(retry_settings(), outcome(4, 503, 1s), now, kFull).delay == 8s);
  }
  SECTION("an hour asked: max_backoff given") {
    CHECK(plan_attempt(retry_settings(), outcome(1, 503, Duration(1h)), now, kFull).delay == 1min);
  }
}

TEST_CASE("a status that cannot succeed is dead at once, the destination is fine", "[plan]") {
  for (int status : {400, 405, 409, 410, 413, 422, 301}) {
    INFO(status);
    const auto plan = plan_attempt(retry_settings(), outcome(1, status), kQueued, kFull);
    CHECK(plan.verdict == Verdict::dead);
    CHECK(plan.why == Why::not_retryable);
    CHECK_FALSE(plan.destination_failure);
  }
}

TEST_CASE("retry_on and dead_letter_on decide, and are about the event", "[plan]") {
  auto r = retry_settings();
  r.retry_on = {400};
  r.dead_letter_on = {503};
  const auto dead = plan_attempt(r, outcome(1, 503), kQueued, kFull);
  CHECK(dead.verdict == Verdict::dead);
  CHECK(dead.why == Why::not_retryable);
  CHECK_FALSE(dead.destination_failure);
  const auto retried = plan_attempt(r, outcome(1, 400), kQueued, kFull);
  CHECK(retried.verdict == Verdict::retry);
  CHECK(retried.delay == 1s);
  CHECK_FALSE(retried.destination_failure);  // 400 says nothing about the destination
}

TEST_CASE("max_attempts: the last attempt's failure is dead", "[plan]") {
  auto r = retry_settings();
  r.max_attempts = 3;
  CHECK(plan_attempt(r, outcome(1, 500), kQueued, kFull).verdict == Verdict::retry);
  CHECK(plan_attempt(r, outcome(2, 500), kQueued, kFull).verdict == Verdict::retry);
  const auto last = plan_attempt(r, outcome(3, 500), kQueued, kFull);
  CHECK(last.verdict == Verdict::dead);
  CHECK(last.why == Why::max_attempts);
  CHECK(last.destination_failure);  // the destination still pauses
  // A success on the last attempt is a success.
  CHECK(plan_attempt(r, outcome(3, 202), kQueued, kFull).verdict == Verdict::delivered);
  // 0 is no limit.
  r.max_attempts = 0;
  CHECK(plan_attempt(r, outcome(500, 500), kQueued, kFull).verdict == Verdict::retry);
}

TEST_CASE("max_age: a retry that would come after it is dead instead", "[plan]") {
  auto r = retry_settings();
  r.max_age = 10s;
  // Attempt 2 (2 s backoff) at 8 s of age: the retry at 10 s is still in time.
  const auto in_time = plan_attempt(r, outcome(2, 500), kQueued + 8000, kFull);
  CHECK(in_time.verdict == Verdict::retry);
  CHECK(in_time.next_attempt_at == kQueued + 10'000);
  // One millisecond later it would not be.
  const auto late = plan_attempt(r, outcome(2, 500), kQueued + 8001, kFull);
  CHECK(late.verdict == Verdict::dead);
  CHECK(late.why == Why::max_age);
  CHECK(late.destination_failure);
  // Retry-After counts toward the age too.
  CHECK(plan_attempt(r, outcome(1, 429, 15s), kQueued, kFull).why == Why::max_age);
}
