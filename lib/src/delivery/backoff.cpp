#include "ocirelay/delivery/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace ocirelay::delivery {

Verdict classify(std::optional<int> status) {
  if (!status) return Verdict::retry;
  const int s = *status;
  if (s >= 200 && s <= 299) return Verdict::delivered;
  if (s >= 500 && s <= 599) return Verdict::retry;
  if (s == 408 || s == 429 || s == 401 || s == 403 || s == 404) return Verdict::retry;
  return Verdict::dead;
}

Duration backoff_delay(const config::Retry& retry, int attempts, double unit_random) {
  const double initial = static_cast<double>(retry.initial_backoff.count());
  const double cap = static_cast<double>(retry.max_backoff.count());
  const int exponent = std::clamp(attempts - 1, 0, 62);
  const double full = std::min(cap, initial * std::ldexp(1.0, exponent));
  const double r = std::clamp(unit_random, 0.0, 1.0);
  const double jittered = full / 2.0 + r * (full / 2.0);
  return Duration(static_cast<Duration::rep>(std::llround(jittered)));
}

}  // namespace ocirelay::delivery
