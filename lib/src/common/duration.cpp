#include "ocirelay/common/duration.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <utility>

namespace ocirelay {

namespace {

struct Suffix {
  std::string_view suffix;
  std::int64_t millis;
};

// Longest suffix first, so "ms" is not read as "m" followed by garbage.
constexpr std::array<Suffix, 5> kUnits{{
    {"ms", 1},
    {"s", 1000},
    {"m", 60 * 1000},
    {"h", 60 * 60 * 1000},
    {"d", 24 * 60 * 60 * 1000},
}};

}  // namespace

std::optional<Duration> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0 || digits == text.size()) {
    return std::nullopt;
  }
  std::int64_t count = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, count);
  if (ec != std::errc{} || ptr != text.data() + digits) {
    return std::nullopt;
  }
  const std::string_view suffix = text.substr(digits);
  for (const auto& unit : kUnits) {
    if (suffix == unit.suffix) {
      if (count > std::numeric_limits<std::int64_t>::max() / unit.millis) {
        return std::nullopt;
      }
      return Duration(count * unit.millis);
    }
  }
  return std::nullopt;
}

std::string format_duration(Duration d) {
  const std::int64_t ms = d.count();
  if (ms == 0) {
    return "0s";
  }
  for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
    if (ms % it->millis == 0) {
      return std::to_string(ms / it->millis) + std::string(it->suffix);
    }
  }
  return std::to_string(ms) + "ms";
}

}  // namespace ocirelay
