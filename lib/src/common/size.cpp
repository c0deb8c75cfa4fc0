#include "ocirelay/common/size.hpp"

#include <array>
#include <charconv>
#include <limits>

namespace ocirelay {

namespace {

struct SizeUnit {
  std::string_view names[3];
  std::uint64_t bytes;
};

constexpr std::array<SizeUnit, 5> kSizeUnits{{
    {{"B", "B", "B"}, 1},
    {{"K", "KB", "KiB"}, 1ull << 10},
    {{"M", "MB", "MiB"}, 1ull << 20},
    {{"G", "GB", "GiB"}, 1ull << 30},
    {{"T", "TB", "TiB"}, 1ull << 40},
}};

}  // namespace

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  std::uint64_t count = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, count);
  if (ec != std::errc{} || ptr != text.data() + digits) {
    return std::nullopt;
  }
  const std::string_view suffix = text.substr(digits);
  if (suffix.empty()) {
    return count;
  }
  for (const SizeUnit& unit : kSizeUnits) {
    for (const std::string_view name : unit.names) {
      if (suffix != name) {
        continue;
      }
      if (count > std::numeric_limits<std::uint64_t>::max() / unit.bytes) {
        return std::nullopt;
      }
      return count * unit.bytes;
    }
  }
  return std::nullopt;
}

std::string format_size(std::uint64_t bytes) {
  const SizeUnit* unit = &kSizeUnits[0];
  for (const SizeUnit& u : kSizeUnits) {
    if (bytes >= u.bytes) {
      unit = &u;
    }
  }
  const std::uint64_t whole = bytes / unit->bytes;
  const std::string name(unit->names[2]);
  if (unit->bytes == 1) {
    return std::to_string(whole) + name;
  }
  // Tenths, rounded down: (remainder * 10) / unit cannot overflow, as the
  // remainder is below unit->bytes <= 2^40.
  const std::uint64_t tenths = (bytes % unit->bytes) * 10 / unit->bytes;
  if (tenths == 0) {
    return std::to_string(whole) + name;
  }
  return std::to_string(whole) + "." + std::to_string(tenths) + name;
}

}  // namespace ocirelay
