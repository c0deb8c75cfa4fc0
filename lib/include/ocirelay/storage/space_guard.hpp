// SpaceGuard: decides, from measurements of the file system and of the
// database (SpaceSample), whether storage may take new events, so that new
// events never use up the space that delivery bookkeeping (fetch_due,
// complete, dead-lettering, the admin operations) needs to drain a backlog.
//
// The figures, in bytes:
//   reserve        storage.reserve, by default min(64 MiB, a tenth of the
//                  file system);
//   wal allowance  room kept for the write-ahead log: twice its checkpoint
//                  threshold, which is an eighth of the smaller of the
//                  reserve and the quota's keep (below), 8 to 1000 pages;
//   free           what the file system has free (statvfs f_bavail), less
//                  the part of the WAL allowance the -wal file has not taken
//                  yet (so a checkpoint that truncates the WAL changes
//                  nothing);
//   reusable       pages inside the database that deleted rows left free;
//                  new rows take them before the file grows;
//   used           database file + max(-wal file, WAL allowance) - reusable.
// New events are refused when
//   free + reusable < reserve            (room for events),
//   free < reserve / 2                   (the file system itself: a WAL and
//                                         checkpoints need real free space),
//   used > max_size - keep               (quota, when max_size is set; keep
//                                         = min(64 MiB, max_size / 10)),
// and taken again once every one of them clears its limit by a quarter of
// the reserve (of keep, for the quota), so that the WAL and the last group
// commit cannot make it flap.
//
// Thread contract: a value type; one thread at a time (the storage thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ocirelay::storage {

// From storage.reserve and storage.max_size.
struct SpaceLimits {
  std::optional<std::uint64_t> reserve;  // nullopt: SpaceGuard::default_reserve()
  std::uint64_t max_size = 0;            // 0: no quota

  bool operator==(const SpaceLimits&) const = default;
};

// One measurement (Store::measure_space()).
struct SpaceSample {
  std::uint64_t fs_size = 0;         // the file system holding the database
  std::uint64_t fs_free = 0;         // free for the relay's user (f_bavail)
  std::uint64_t database_bytes = 0;  // the main file (page_count * page_size)
  std::uint64_t reusable_bytes = 0;  // its free pages (freelist_count * page_size)
  std::uint64_t wal_bytes = 0;       // the -wal file
  std::uint64_t page_size = 4096;
  // Rows written since the store was opened: unchanged between two
  // measurements, nothing was written in between.
  std::uint64_t writes = 0;

  bool operator==(const SpaceSample&) const = default;
};

class SpaceGuard {
 public:
  static constexpr std::uint64_t kDefaultReserve = 64ull << 20;
  static constexpr std::uint64_t kDefaultReserveDivisor = 10;  // at most a tenth
  static constexpr std::uint64_t kMinWalPages = 8;
  static constexpr std::uint64_t kMaxWalPages = 1000;  // SQLite's default

  enum class Change { none, closed, reopened };
  // What refuses new events: nothing, the reserve (either rule) or the quota.
  enum class Limit { none, reserve, quota };

  static std::uint64_t default_reserve(std::uint64_t fs_size);
  // The part of max_size kept for delivery bookkeeping.
  static std::uint64_t quota_keep(std::uint64_t max_size);

  explicit SpaceGuard(SpaceLimits limits = {}) : limits_(limits) {}

  // Evaluates a new measurement; says whether it closed or reopened.
  Change update(const SpaceSample& sample);

  bool accepting() const noexcept { return limit_ == Limit::none; }
  Limit limit() const noexcept { return limit_; }
  const SpaceLimits& limits() const noexcept { return limits_; }
  const SpaceSample& sample() const noexcept { return sample_; }

  // As of the last measurement:
  std::uint64_t reserve() const noexcept { return reserve_; }
  // Bytes new events may still take before it closes; 0 when closed.
  std::uint64_t room() const noexcept { return room_; }
  // The WAL checkpoint threshold (pages) and the WAL allowance (bytes).
  std::uint64_t wal_pages() const noexcept { return wal_pages_; }
  std::uint64_t wal_allowance() const noexcept { return wal_pages_ * sample_.page_size * 2; }
  // free and used as defined above (free may be negative: the file system
  // has less than the WAL allowance).
  std::int64_t free() const noexcept { return free_; }
  std::uint64_t used() const noexcept;

  // The figures behind the current state, for the log: why events are
  // refused, or what room there is.
  std::string explain() const;

 private:
  SpaceLimits limits_;
  SpaceSample sample_;
  Limit limit_ = Limit::none;
  std::uint64_t reserve_ = 0;
  std::uint64_t room_ = 0;
  std::uint64_t wal_pages_ = kMaxWalPages;
  std::int64_t free_ = 0;
};

}  // namespace ocirelay::storage
