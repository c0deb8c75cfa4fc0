// SpaceGuard's decisions on made-up measurements: when new events are refused
// and taken again, what counts as free, and how the WAL is sized.
#include <catch2/catch.hpp>

#include "ocirelay/storage/space_guard.hpp"

using ocirelay::storage::SpaceGuard;
using ocirelay::storage::SpaceLimits;
using ocirelay::storage::SpaceSample;

namespace {

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr std::uint64_t kPage = 4096;

// A database on a file system of `fs_size`, `fs_free` of it free, with a
// -wal file that already has its allowance (so the allowance costs nothing).
SpaceSample sample(std::uint64_t fs_size, std::uint64_t fs_free, std::uint64_t reusable = 0,
                   std::uint64_t database = 1 * MiB, std::uint64_t wal = 8000 * kPage) {
  SpaceSample s;
  s.fs_size = fs_size;
  s.fs_free = fs_free;
  s.database_bytes = database;
  s.reusable_bytes = reusable;
  s.wal_bytes = wal;
  s.page_size = kPage;
  return s;
}

SpaceLimits reserve_of(std::uint64_t bytes) {
  SpaceLimits limits;
  limits.reserve = bytes;
  return limits;
}

}  // namespace

TEST_CASE("the default reserve is 64 MiB, at most a tenth of the file system", "[storage][space]") {
  CHECK(SpaceGuard::default_reserve(100 * GiB) == 64 * MiB);
  CHECK(SpaceGuard::default_reserve(640 * MiB) == 64 * MiB);
  CHECK(SpaceGuard::default_reserve(320 * MiB) == 32 * MiB);
  CHECK(SpaceGuard::default_reserve(4 * MiB) == 4 * MiB / 10);
  CHECK(SpaceGuard::default_reserve(0) == 0);
  CHECK(SpaceGuard::quota_keep(2 * GiB) == 64 * MiB);
  CHECK(SpaceGuard::quota_keep(10 * MiB) == 1 * MiB);

  SpaceGuard big;
  big.update(sample(100 * GiB, 50 * GiB));
  CHECK(big.reserve() == 64 * MiB);
  SpaceGuard small;
  small.update(sample(8 * MiB, 4 * MiB));
  CHECK(small.reserve() == 8 * MiB / 10);
  SpaceGuard configured(reserve_of(1 * GiB));
  configured.update(sample(100 * GiB, 50 * GiB));
  CHECK(configured.reserve() == 1 * GiB);  // as written, not capped
}

TEST_CASE("new events are refused below the reserve and taken again a quarter above it",
          "[storage][space]") {
  SpaceGuard guard(reserve_of(64 * MiB));
  CHECK(guard.accepting());  // before any measurement

  CHECK(guard.update(sample(10 * GiB, 1 * GiB)) == SpaceGuard::Change::none);
  CHECK(guard.accepting());
  CHECK(guard.room() == 1 * GiB - 64 * MiB);

  CHECK(guard.update(sample(10 * GiB, 64 * MiB)) == SpaceGuard::Change::none);  // at the limit
  CHECK(guard.accepting());
  CHECK(guard.room() == 0);

  CHECK(guard.update(sample(10 * GiB, 64 * MiB - 1)) == SpaceGuard::Change::closed);
  CHECK_FALSE(guard.accepting());
  CHECK(guard.limit() == SpaceGuard::Limit::reserve);
  CHECK(guard.room() == 0);
  CHECK(guard.update(sample(10 * GiB, 10 * MiB)) == SpaceGuard::Change::none);  // said once

  // Back above the reserve, but not by a quarter of it: still refusing.
  CHECK(guard.update(sample(10 * GiB, 64 * MiB)) == SpaceGuard::Change::none);
  CHECK(guard.update(sample(10 * GiB, 80 * MiB - 1)) == SpaceGuard::Change::none);
  CHECK_FALSE(guard.accepting());
  CHECK(guard.update(sample(10 * GiB, 80 * MiB)) == SpaceGuard::Change::reopened);
  CHECK(guard.accepting());
  CHECK(guard.limit() == SpaceGuard::Limit::none);
  CHECK(guard.room() == 16 * MiB);
}

TEST_CASE("pages freed inside the database count as room for new events", "[storage][space]") {
  SpaceGuard guard(reserve_of(64 * MiB));
  // The file system itself has only 40 MiB, but deliveries freed 100 MiB of
  // pages that new events take first.
  guard.update(sample(10 * GiB, 40 * MiB, 100 * MiB, 500 * MiB));
  CHECK(guard.accepting());
  CHECK(guard.room() == 40 * MiB - 32 * MiB);  // the file-system floor is the nearer limit

  // A backlog drains while refusing: the file system stays as full as it
  // was, the freed pages reopen it.
  SpaceGuard draining(reserve_of(64 * MiB));
  draining.update(sample(10 * GiB, 60 * MiB, 0, 900 * MiB));
  CHECK_FALSE(draining.accepting());
  draining.update(sample(10 * GiB, 60 * MiB, 19 * MiB, 900 * MiB));
  CHECK_FALSE(draining.accepting());
  CHECK(draining.update(sample(10 * GiB, 60 * MiB, 20 * MiB, 900 * MiB)) ==
        SpaceGuard::Change::reopened);
}

TEST_CASE("the file system itself must keep half the reserve free", "[storage][space]") {
  SpaceGuard guard(reserve_of(64 * MiB));
  // Plenty of free pages in the database, but something else filled the
  // file system: the WAL and checkpoints could not grow.
  CHECK(guard.update(sample(10 * GiB, 32 * MiB - 1, 1 * GiB, 2 * GiB)) ==
        SpaceGuard::Change::closed);
  CHECK(guard.limit() == SpaceGuard::Limit::reserve);
  CHECK(guard.update(sample(10 * GiB, 48 * MiB - 1, 1 * GiB, 2 * GiB)) == SpaceGuard::Change::none);
  CHECK(guard.update(sample(10 * GiB, 48 * MiB, 1 * GiB, 2 * GiB)) == SpaceGuard::Change::reopened);
}

TEST_CASE("truncating the WAL changes nothing: its allowance is counted as taken",
          "[storage][space]") {
  SpaceGuard before(reserve_of(64 * MiB));
  SpaceGuard after(reserve_of(64 * MiB));
  // 64 MiB reserve: checkpoints every 1000 pages, allowance 2000 pages.
  before.update(sample(10 * GiB, 70 * MiB, 0, 100 * MiB, 2000 * kPage));
  REQUIRE(before.wal_allowance() == 2000 * kPage);
  after.update(sample(10 * GiB, 70 * MiB + 2000 * kPage, 0, 100 * MiB, 0));
  CHECK(before.free() == after.free());
  CHECK(before.room() == after.room());
  CHECK(before.used() == after.used());
  // A -wal file beyond its allowance (one large transaction) is just used space.
  SpaceGuard large(reserve_of(64 * MiB));
  large.update(sample(10 * GiB, 70 * MiB, 0, 100 * MiB, 3000 * kPage));
  CHECK(large.free() == static_cast<std::int64_t>(70 * MiB));
}

TEST_CASE("the quota refuses once the database would pass max_size less its keep",
          "[storage][space]") {
  SpaceLimits limits;
  limits.max_size = 100 * MiB;  // keep 10 MiB; WAL 320 pages, allowance 640 pages
  SpaceGuard guard(limits);
  const std::uint64_t allowance = 640 * kPage;

  guard.update(sample(1000 * GiB, 500 * GiB, 0, 80 * MiB, 0));
  REQUIRE(guard.wal_pages() == 320);
  CHECK(guard.accepting());
  CHECK(guard.used() == 80 * MiB + allowance);
  CHECK(guard.room() == 90 * MiB - 80 * MiB - allowance);

  const std::uint64_t limit = 90 * MiB - allowance;  // the main file at which it closes
  CHECK(guard.update(sample(1000 * GiB, 500 * GiB, 0, limit, 0)) == SpaceGuard::Change::none);
  CHECK(guard.update(sample(1000 * GiB, 500 * GiB, 0, limit + kPage, 0)) ==
        SpaceGuard::Change::closed);
  CHECK(guard.limit() == SpaceGuard::Limit::quota);
  // Freed pages are reused: used space falls although the file does not shrink.
  CHECK(guard.update(sample(1000 * GiB, 500 * GiB, 2 * MiB, limit + kPage, 0)) ==
        SpaceGuard::Change::none);  // 2 MiB - 1 page below: not yet a quarter of keep
  CHECK(guard.update(sample(1000 * GiB, 500 * GiB, 2 * MiB + 2 * kPage, limit + kPage, 0)) ==
        SpaceGuard::Change::none);
  CHECK(guard.update(sample(1000 * GiB, 500 * GiB, 2 * MiB + 4 * kPage + MiB / 2, limit + kPage,
                            0)) == SpaceGuard::Change::reopened);
}

TEST_CASE("either limit refuses, and both must clear to take events again", "[storage][space]") {
  SpaceLimits limits;
  limits.reserve = 64 * MiB;
  limits.max_size = 1 * GiB;  // keep 64 MiB
  SpaceGuard guard(limits);
  guard.update(sample(10 * GiB, 10 * MiB, 0, 100 * MiB));
  CHECK(guard.limit() == SpaceGuard::Limit::reserve);
  // The disk got space, but the database is now over its quota.
  guard.update(sample(10 * GiB, 5 * GiB, 0, 1 * GiB));
  CHECK_FALSE(guard.accepting());
  CHECK(guard.limit() == SpaceGuard::Limit::quota);
  CHECK(guard.update(sample(10 * GiB, 5 * GiB, 0, 100 * MiB)) == SpaceGuard::Change::reopened);
}

TEST_CASE("the WAL checkpoints at an eighth of the bookkeeping room, 8 to 1000 pages",
          "[storage][space]") {
  SpaceGuard big;
  big.update(sample(100 * GiB, 50 * GiB));
  CHECK(big.wal_pages() == 1000);  // SQLite's default, unchanged on a big volume
  CHECK(big.wal_allowance() == 2000 * kPage);

  SpaceGuard small;  // 4 MiB tmpfs: reserve 409.6 KiB, a checkpoint every 12 pages
  small.update(sample(4 * MiB, 3 * MiB));
  CHECK(small.wal_pages() == 12);

  SpaceGuard none(reserve_of(0));
  none.update(sample(100 * GiB, 50 * GiB));
  CHECK(none.wal_pages() == SpaceGuard::kMinWalPages);

  SpaceLimits quota;
  quota.max_size = 16 * MiB;  // keep 1.6 MiB, smaller than the 64 MiB reserve
  SpaceGuard quoted(quota);
  quoted.update(sample(100 * GiB, 50 * GiB));
  CHECK(quoted.wal_pages() == 16 * MiB / 10 / 8 / kPage);
}

TEST_CASE("a reserve of 0 refuses only when the file system cannot hold the WAL",
          "[storage][space]") {
  SpaceGuard guard(reserve_of(0));
  CHECK(guard.update(sample(1 * GiB, 1 * MiB, 0, 10 * MiB, 0)) == SpaceGuard::Change::none);
  CHECK(guard.accepting());
  // 8 pages a checkpoint, 16 pages allowance; the -wal file has 4 of them.
  CHECK(guard.update(sample(1 * GiB, 12 * kPage - 1, 0, 10 * MiB, 4 * kPage)) ==
        SpaceGuard::Change::closed);
  CHECK(guard.update(sample(1 * GiB, 12 * kPage, 0, 10 * MiB, 4 * kPage)) ==
        SpaceGuard::Change::reopened);
}

TEST_CASE("explain() gives the figures behind the decision", "[storage][space]") {
  SpaceLimits limits;
  limits.reserve = 64 * MiB;
  limits.max_size = 2 * GiB;
  SpaceGuard guard(limits);
  guard.update(sample(10 * GiB, 60 * MiB, 3 * MiB / 2, 100 * MiB, 0));
  const std::string text = guard.explain();
  CHECK_THAT(text, Catch::Contains("60MiB free on the file system"));
  CHECK_THAT(text, Catch::Contains("1.5MiB reusable in the database"));
  CHECK_THAT(text, Catch::Contains("reserve 64MiB"));
  CHECK_THAT(text, Catch::Contains("max_size 2GiB"));
}
