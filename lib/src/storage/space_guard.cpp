#include "ocirelay/storage/space_guard.hpp"

#include <algorithm>
#include <array>
#include <limits>

#include "ocirelay/common/size.hpp"

namespace ocirelay::storage {

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

std::int64_t to_signed(std::uint64_t v) {
  return v > static_cast<std::uint64_t>(kMax) ? kMax : static_cast<std::int64_t>(v);
}

std::int64_t add(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return b > 0 ? kMax : kMin;
  return out;
}

std::int64_t sub(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_sub_overflow(a, b, &out)) return b < 0 ? kMax : kMin;
  return out;
}

// One condition for taking new events: `margin` must stay >= 0, and once
// it went below, reach `hysteresis` again.
struct Rule {
  std::int64_t margin;
  std::int64_t hysteresis;
  SpaceGuard::Limit limit;
};

}  // namespace

std::uint64_t SpaceGuard::default_reserve(std::uint64_t fs_size) {
  return std::min(kDefaultReserve, fs_size / kDefaultReserveDivisor);
}

std::uint64_t SpaceGuard::quota_keep(std::uint64_t max_size) {
  return std::min(kDefaultReserve, max_size / kDefaultReserveDivisor);
}

std::uint64_t SpaceGuard::used() const noexcept {
  const std::uint64_t wal = std::max(sample_.wal_bytes, wal_allowance());
  const std::uint64_t total = sample_.database_bytes + wal;
  return total > sample_.reusable_bytes ? total - sample_.reusable_bytes : 0;
}

SpaceGuard::Change SpaceGuard::update(const SpaceSample& sample) {
  sample_ = sample;
  sample_.page_size = std::max<std::uint64_t>(sample.page_size, 512);
  reserve_ = limits_.reserve ? *limits_.reserve : default_reserve(sample.fs_size);
  const std::uint64_t keep = limits_.max_size != 0 ? quota_keep(limits_.max_size)
                                                   : std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t bookkeeping = std::min(reserve_, keep);
  wal_pages_ = std::clamp(bookkeeping / 8 / sample_.page_size, kMinWalPages, kMaxWalPages);
  const std::uint64_t allowance = wal_allowance();
  const std::uint64_t wal_gap = allowance > sample_.wal_bytes ? allowance - sample_.wal_bytes : 0;
  free_ = sub(to_signed(sample_.fs_free), to_signed(wal_gap));

  const std::int64_t reserve = to_signed(reserve_);
  std::array<Rule, 3> rules{{
      {sub(add(free_, to_signed(sample_.reusable_bytes)), reserve), reserve / 4, Limit::reserve},
      {sub(free_, reserve / 2), reserve / 4, Limit::reserve},
      {kMax, 0, Limit::quota},
  }};
  if (limits_.max_size != 0) {
    const std::uint64_t quota = limits_.max_size > keep ? limits_.max_size - keep : 0;
    rules[2].margin = sub(to_signed(quota), to_signed(used()));
    rules[2].hysteresis = to_signed(keep / 4);
  }

  const bool was_accepting = accepting();
  Limit failing = Limit::none;  // the first rule below its limit
  bool cleared = true;          // every rule at or above its hysteresis
  std::int64_t room = kMax;
  for (const Rule& rule : rules) {
    if (rule.margin < 0 && failing == Limit::none) failing = rule.limit;
    if (rule.margin < rule.hysteresis) cleared = false;
    room = std::min(room, rule.margin);
  }
  if (was_accepting) {
    limit_ = failing;
  } else if (cleared) {
    limit_ = Limit::none;
  } else if (failing != Limit::none) {
    limit_ = failing;  // still closed; say by which rule now
  }
  room_ = accepting() && room > 0 ? static_cast<std::uint64_t>(room) : 0;
  if (was_accepting == accepting()) return Change::none;
  return accepting() ? Change::reopened : Change::closed;
}

std::string SpaceGuard::explain() const {
  std::string out = format_size(sample_.fs_free) + " free on the file system, " +
                    format_size(sample_.reusable_bytes) + " reusable in the database (" +
                    format_size(sample_.database_bytes + sample_.wal_bytes) +
                    " with its WAL); reserve " + format_size(reserve_) + ", WAL allowance " +
                    format_size(wal_allowance());
  if (limits_.max_size != 0) {
    out += "; database in use " + format_size(used()) + " of max_size " +
           format_size(limits_.max_size) + ", of which " +
           format_size(quota_keep(limits_.max_size)) + " kept for delivery bookkeeping";
  }
  return out;
}

}  // namespace ocirelay::storage
