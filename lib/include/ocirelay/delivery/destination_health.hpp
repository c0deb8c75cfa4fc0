// Whether a destination may be sent to, and how much: the pause-and-probe
// state machine of one destination, with time passed in (no clock, no I/O).
//
//   healthy --destination failure--> paused (for a backoff pause)
//   paused  --pause over (update)--> probing (one request at a time)
//   probing --success--------------> healthy
//   probing --destination failure--> paused (a longer pause)
//
// A pause lasts backoff_delay(retry, failures in a row, jitter), at least the
// Retry-After the destination asked for (capped at max_backoff). Every pause
// and every recovery starts a new epoch; an attempt remembers the epoch it
// started in, and its failure counts only if no pause or recovery came in
// between: the requests that were in flight when the destination went down
// add nothing to the pause. Any answer that is not a destination failure (an
// attempt of any epoch) means the destination works: healthy again.
//
// Thread and lifetime contract: a plain value; not synchronised.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::delivery {

class DestinationHealth {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State { healthy, paused, probing };

  explicit DestinationHealth(config::Retry retry);

  State state() const noexcept { return state_; }
  // "healthy", "paused" or "probing": as /health and /metrics show it.
  static const char* name(State state) noexcept;
  const char* name() const noexcept { return name(state_); }

  // Paused until then (meaningful while paused).
  Clock::time_point paused_until() const noexcept { return paused_until_; }
  // Destination failures in a row that paused it (0 when healthy).
  int failure_streak() const noexcept { return failure_streak_; }
  // The epoch an attempt starting now belongs to.
  std::uint64_t epoch() const noexcept { return epoch_; }

  // Attempts that may be in flight: `concurrency` when healthy, 1 when
  // probing, none when paused.
  std::size_t limit(std::size_t concurrency) const noexcept;

  // Paused and the pause is over at `now`: probing. True when it changed.
  bool update(Clock::time_point now);

  // An attempt started in `started_epoch` failed in a way that says the
  // destination is unwell (is_destination_failure). Returns the pause it
  // started, or nullopt when it counts for nothing (a pause or a recovery
  // came since the attempt started). `unit_random` in [0, 1) is the jitter.
  std::optional<Duration> failed(std::uint64_t started_epoch, Clock::time_point now,
                                 std::optional<Duration> retry_after, double unit_random);

  // An attempt got an answer that is not a destination failure: healthy.
  // Returns the failures in a row it recovers from (0: it was healthy).
  int succeeded();

 private:
  config::Retry retry_;
  State state_ = State::healthy;
  int failure_streak_ = 0;
  std::uint64_t epoch_ = 0;  // grows with every pause and every recovery
  Clock::time_point paused_until_{};
};

}  // namespace ocirelay::delivery
