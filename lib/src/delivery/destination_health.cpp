#include "ocirelay/delivery/destination_health.hpp"

#include <algorithm>
#include <utility>

#include "ocirelay/delivery/backoff.hpp"

namespace ocirelay::delivery {

DestinationHealth::DestinationHealth(config::Retry retry) : retry_(std::move(retry)) {}

const char* DestinationHealth::name(State state) noexcept {
  switch (state) {
    case State::healthy: return "healthy";
    case State::paused: return "paused";
    case State::probing: return "probing";
  }
  return "?";
}

std::size_t DestinationHealth::limit(std::size_t concurrency) const noexcept {
  switch (state_) {
    case State::healthy: return concurrency;
    case State::probing: return 1;
    case State::paused: return 0;
  }
  return 0;
}

bool DestinationHealth::update(Clock::time_point now) {
  if (state_ != State::paused || now < paused_until_) return false;
  state_ = State::probing;
  return true;
}

std::optional<Duration> DestinationHealth::failed(std::uint64_t started_epoch,
                                                  Clock::time_point now,
                                                  std::optional<Duration> retry_after,
                                                  double unit_random) {
  if (started_epoch != epoch_) return std::nullopt;
  ++epoch_;
  ++failure_streak_;
  Duration pause = backoff_delay(retry_, failure_streak_, unit_random);
  if (retry_after) pause = std::max(pause, std::min(*retry_after, retry_.max_backoff));
  paused_until_ = now + pause;
  state_ = State::paused;
  return pause;
}

int DestinationHealth::succeeded() {
  const int recovered_from = failure_streak_;
  if (state_ != State::healthy) ++epoch_;
  state_ = State::healthy;
  failure_streak_ = 0;
  return recovered_from;
}

}  // namespace ocirelay::delivery
