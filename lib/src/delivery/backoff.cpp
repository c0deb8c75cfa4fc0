#include "ocirelay/delivery/backoff.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>

namespace ocirelay::delivery {

Verdict classify(std::optional<int> status) {
  if (!status) return Verdict::retry;
  const int s = *status;
  if (s >= 200 && s <= 299) return Verdict::delivered;
  if (s >= 500 && s <= 599) return Verdict::retry;
  if (s == 408 || s == 429 || s == 401 || s == 403 || s == 404) return Verdict::retry;
  return Verdict::dead;
}

Verdict classify(std::optional<int> status, const config::Retry& retry) {
  if (status && (*status < 200 || *status > 299)) {
    const auto has = [&](const std::vector<int>& v) {
      return std::find(v.begin(), v.end(), *status) != v.end();
    };
    if (has(retry.dead_letter_on)) return Verdict::dead;
    if (has(retry.retry_on)) return Verdict::retry;
  }
  return classify(status);
}

bool is_destination_failure(std::optional<int> status) {
  if (!status) return true;
  const int s = *status;
  return (s >= 500 && s <= 599) || s == 408 || s == 429 || s == 401 || s == 403 || s == 404;
}

std::optional<Duration> parse_retry_after(std::string_view value,
                                          std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return Duration(std::chrono::hours(24 * 365));
    long long seconds = 0;
    std::from_chars(value.data(), value.data() + value.size(), seconds);
    return Duration(std::chrono::seconds(seconds));
  }
  const std::string text(value);
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                             "%a %b %e %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end != nullptr && *end == '\0') {
      const auto at = std::chrono::system_clock::from_time_t(::timegm(&tm));
      if (at <= now) return Duration::zero();
      return std::chrono::duration_cast<Duration>(at - now);
    }
  }
  return std::nullopt;
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
