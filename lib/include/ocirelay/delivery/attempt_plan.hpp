// What becomes of a delivery after one attempt: delivered, retried at a
// given time, or dead-lettered, by the destination's retry settings. Time is
// passed in (no clock, no I/O).
//
// - 2xx: delivered.
// - A status that classify() calls permanent: dead at once.
// - Otherwise a retry after backoff_delay(attempt) (jittered), at least the
//   Retry-After asked for, capped at max_backoff; dead instead when that was
//   attempt max_attempts, or when the retry would come after max_age (counted
//   from when the event was queued).
//
// Thread and lifetime contract: pure functions over values.
#pragma once

#include <optional>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/config/config.hpp"
#include "ocirelay/delivery/backoff.hpp"
#include "ocirelay/storage/records.hpp"

namespace ocirelay::delivery {

// One attempt's outcome, as the dispatcher saw it.
struct AttemptOutcome {
  int attempt = 1;                      // this attempt's number, from 1
  storage::Millis received_at = 0;      // when the event was queued
  std::optional<int> status;            // nullopt: no response (connection error, timeout)
  std::optional<Duration> retry_after;  // asked for by a 429 or 503
};

struct AttemptPlan {
  enum class Why {
    success,        // delivered
    retryable,      // retry
    not_retryable,  // dead: the status cannot succeed later
    max_attempts,   // dead: it was attempt max_attempts
    max_age,        // dead: the next attempt would be past max_age
  };
  Verdict verdict = Verdict::delivered;
  Why why = Why::success;
  Duration delay{0};                    // retry: until the next attempt
  storage::Millis next_attempt_at = 0;  // retry: now + delay
  // The failure says the destination itself is unwell (a retryable status
  // by classify() that is_destination_failure()): the destination pauses,
  // even when this event has run out of attempts or age.
  bool destination_failure = false;
};

// `now` is the wall-clock time of the outcome; `unit_random` in [0, 1) the
// backoff jitter.
AttemptPlan plan_attempt(const config::Retry& retry, const AttemptOutcome& outcome,
                         storage::Millis now, double unit_random);

}  // namespace ocirelay::delivery
