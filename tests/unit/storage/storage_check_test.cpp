// The offline storage check: what it finds in good and damaged files, and
// that it changes nothing.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "ocirelay/storage/storage_check.hpp"
#include "storage/sqlite_store.hpp"
#include "support/fixtures.hpp"
#include "support/temp_dir.hpp"
#include "unit/storage/store_test_support.hpp"

using ocirelay::storage::AttemptResult;
using ocirelay::storage::check_sqlite_storage;
using ocirelay::storage::format_storage_check;
using ocirelay::storage::kStorageCheckCannotOpen;
using ocirelay::storage::kStorageCheckOk;
using ocirelay::storage::kStorageCheckProblems;
using ocirelay::storage::NewEvent;
using ocirelay::storage::SqliteOptions;
using ocirelay::storage::SqliteStore;
using ocirelay::storage::storage_check_exit_code;
using ocirelay::storage::StorageCheckReport;
using ocirelay::storage::test::exec_sql;
using ocirelay::storage::test::kT0;
using ocirelay::storage::test::make_event;
using ocirelay::storage::test::numbered_id;
using ocirelay::storage::test::ok;
using ocirelay::test::read_file;
using ocirelay::test::TempDir;

namespace {

using Outcome = StorageCheckReport::Outcome;

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

bool any_contains(const std::vector<std::string>& lines, const std::string& needle) {
  for (const auto& l : lines) {
    if (contains(l, needle)) return true;
  }
  return false;
}

// A closed store holding: e0..e3 for oic, e4 also for x; e0 delivered, e1
// dead, e2 inflight, the rest pending.
void make_store(const std::string& path) {
  auto opened = SqliteStore::open(SqliteOptions{path});
  REQUIRE(opened.ok());
  auto& store = *opened.value();
  std::vector<NewEvent> batch;
  for (int i = 0; i < 5; ++i) {
    batch.push_back(make_event(
        numbered_id(i), kT0 + i,
        i == 4 ? std::vector<std::string>{"oic", "x"} : std::vector<std::string>{"oic"}));
  }
  ok(store.insert_batch(batch));
  auto due = ok(store.fetch_due("oic", kT0 + 100, 3)).due;
  REQUIRE(due.size() == 3);
  ok(store.complete(std::vector<AttemptResult>{ocirelay::storage::test::delivered(due[0].id),
                                               ocirelay::storage::test::dead(due[1].id, 1, 400,
                                                                             "HTTP 400")}));
}

StorageCheckReport checked(const std::string& path) {
  auto report = check_sqlite_storage(path);
  INFO(format_storage_check(report));
  return report;
}

}  // namespace

TEST_CASE("storage check passes a healthy file, counts it and changes nothing",
          "[storage][check]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  make_store(path);
  REQUIRE_FALSE(std::filesystem::exists(path + "-wal"));  // closed cleanly
  const std::string before = read_file(path);

  auto report = checked(path);
  CHECK(report.outcome == Outcome::ok);
  CHECK(storage_check_exit_code(report) == kStorageCheckOk);
  CHECK(report.problems.empty());
  CHECK(report.schema_version == 3);
  CHECK(report.events == 4);  // e0's body went with its delivery
  CHECK(report.pending == 3);
  CHECK(report.inflight == 1);
  CHECK(report.dead == 1);
  CHECK(report.seen == 5);
  CHECK_FALSE(report.wal_present);
  CHECK(any_contains(report.notes, "1 delivery is marked in flight"));
  CHECK(any_contains(report.notes, "1 dead letter kept"));

  const std::string text = format_storage_check(report);
  CHECK(contains(text, "storage check: " + path));
  CHECK(contains(text, "deliveries 3 pending, 1 in flight, 1 dead"));
  CHECK(contains(text, "write-ahead log: none"));
  CHECK(contains(text, "\nresult: OK\n"));

  // Byte for byte the same, and nothing created next to it.
  CHECK(read_file(path) == before);
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));
  CHECK_FALSE(std::filesystem::exists(path + "-shm"));
}

TEST_CASE("storage check reads the -wal a crashed relay left and does not change it",
          "[storage][check]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Like kill -9: no close, no checkpoint; the rows are only in the -wal.
    auto store = SqliteStore::open(SqliteOptions{path});
    if (!store) ::_exit(2);
    std::vector<NewEvent> batch{make_event("a", kT0), make_event("b", kT0 + 1)};
    ::_exit((*store)->insert_batch(batch).ok() ? 0 : 3);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  REQUIRE(std::filesystem::exists(path + "-wal"));
  const std::string db_before = read_file(path);
  const std::string wal_before = read_file(path + "-wal");

  auto report = checked(path);
  CHECK(report.outcome == Outcome::ok);
  CHECK(report.wal_present);
  CHECK(report.wal_bytes == static_cast<std::int64_t>(wal_before.size()));
  CHECK(report.events == 2);
  CHECK(report.pending == 2);
  CHECK(contains(format_storage_check(report), "-wal present"));
  CHECK(read_file(path) == db_before);
  CHECK(read_file(path + "-wal") == wal_before);
}

TEST_CASE("storage check refuses what it cannot open, creating nothing", "[storage][check]") {
  TempDir dir;
  SECTION("a missing file") {
    const std::string path = dir.file("nothing.db");
    auto report = checked(path);
    CHECK(report.outcome == Outcome::cannot_open);
    CHECK(storage_check_exit_code(report) == kStorageCheckCannotOpen);
    CHECK(contains(report.cannot_open_reason, path));
    CHECK(contains(report.cannot_open_reason, "does not exist"));
    CHECK_FALSE(std::filesystem::exists(path));
    CHECK(contains(format_storage_check(report), "result: CANNOT OPEN (exit 3)"));
  }
  SECTION("a directory") {
    std::filesystem::create_directory(dir.file("adir"));
    auto report = checked(dir.file("adir"));
    CHECK(report.outcome == Outcome::cannot_open);
    CHECK(contains(report.cannot_open_reason, "is a directory"));
  }
  SECTION("a file that is not a database") {
    const std::string path = dir.write("junk.db", std::string(8192, 'j'));
    auto report = checked(path);
    CHECK(report.outcome == Outcome::cannot_open);
    CHECK(contains(report.cannot_open_reason, "not an SQLite database"));
    CHECK(read_file(path) == std::string(8192, 'j'));
  }
  SECTION("another application's database") {
    const std::string path = dir.write("other.db", "");
    exec_sql(path, "CREATE TABLE t (x)");
    auto report = checked(path);
    CHECK(report.outcome == Outcome::cannot_open);
    CHECK(contains(report.cannot_open_reason, "not an ocirelay database"));
  }
  SECTION("an empty path") { CHECK(checked("").outcome == Outcome::cannot_open); }
}

TEST_CASE("storage check finds counters that disagree with the rows", "[storage][check]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  make_store(path);
  exec_sql(path,
           "UPDATE delivery_counts SET n = n + 5 WHERE destination = 'oic' AND state = "
           "'pending'; DELETE FROM delivery_counts WHERE destination = 'x'");
  auto report = checked(path);
  CHECK(report.outcome == Outcome::problems);
  CHECK(storage_check_exit_code(report) == kStorageCheckProblems);
  CHECK(any_contains(report.problems,
                     "delivery counter for destination 'oic' state 'pending' says 7, the table "
                     "holds 2"));
  CHECK(any_contains(report.problems,
                     "delivery counter for destination 'x' state 'pending' says 0, the table "
                     "holds 1"));
  CHECK(contains(format_storage_check(report), "result: 2 problems found (exit 1)"));
}

TEST_CASE("storage check finds rows in states the relay never writes", "[storage][check]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  make_store(path);
  SECTION("an event body nothing refers to") {
    exec_sql(path, "INSERT INTO events (event_id, body, received_at) VALUES ('lost', 'x', 1)");
    auto report = checked(path);
    CHECK(report.outcome == Outcome::problems);
    CHECK(any_contains(report.problems, "1 event bodies no delivery refers to"));
  }
  SECTION("a delivery whose body is gone") {
    exec_sql(path, "DELETE FROM events WHERE event_id = 'e3'");
    auto report = checked(path);
    CHECK(any_contains(report.problems, "1 deliveries whose event body is missing"));
  }
  SECTION("an unknown state and a negative attempt count") {
    exec_sql(path,
             "PRAGMA ignore_check_constraints = ON;"
             "UPDATE deliveries SET state = 'lost', attempts = -1 WHERE id = "
             "(SELECT max(id) FROM deliveries)");
    auto report = checked(path);
    CHECK(any_contains(report.problems, "1 delivery in unknown state 'lost'"));
    CHECK(any_contains(report.problems, "1 deliveries with a negative attempt count"));
  }
  SECTION("two deliveries of one event to one destination") {
    exec_sql(path,
             "INSERT INTO deliveries (event, destination, state, next_attempt_at, "
             "received_at, updated_at) SELECT event, destination, 'pending', 0, 0, 0 "
             "FROM deliveries WHERE destination = 'x'");
    auto report = checked(path);
    CHECK(any_contains(report.problems, "1 events stored twice for the same destination"));
  }
}

TEST_CASE("storage check finds a schema that is not the expected one", "[storage][check]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  make_store(path);
  exec_sql(path,
           "DROP INDEX deliveries_age; CREATE TRIGGER extra_trigger AFTER DELETE ON events "
           "BEGIN SELECT 1; END; CREATE TABLE extra (x)");
  auto report = checked(path);
  CHECK(report.outcome == Outcome::problems);
  CHECK(any_contains(report.problems, "schema: index deliveries_age is missing"));
  CHECK(any_contains(report.problems, "schema: unexpected trigger extra_trigger"));
  CHECK(any_contains(report.problems, "schema: unexpected table extra"));
  CHECK(any_contains(report.notes, "content checks skipped"));
}

TEST_CASE("storage check reports a damaged page", "[storage][check]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  {
    auto opened = SqliteStore::open(SqliteOptions{path});
    REQUIRE(opened.ok());
    std::vector<NewEvent> batch;
    for (int i = 0; i < 200; ++i) {
      batch.push_back(make_event(numbered_id(i), kT0 + i, {"oic"}, std::string(500, 'b')));
    }
    ok(opened.value()->insert_batch(batch));
  }
  const std::int64_t pages = ocirelay::storage::test::query_int(path, "PRAGMA page_count");
  const std::int64_t page_size = ocirelay::storage::test::query_int(path, "PRAGMA page_size");
  REQUIRE(pages > 10);
  {
    // Scribble over the b-tree headers of the last pages.
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    for (std::int64_t page = pages - 5; page < pages; ++page) {
      f.seekp(page * page_size);
      const std::string junk(64, '\xA5');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }
  auto report = checked(path);
  CHECK(report.outcome == Outcome::problems);
  CHECK_FALSE(report.problems.empty());
}
