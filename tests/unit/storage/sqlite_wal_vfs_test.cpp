// SqliteWalVfs: WAL writes gathered into one write per commit, with
// synchronous=FULL or NORMAL, and a database that reads back the same as one
// written without gathering, through the default VFS, in every case: spilled
// frames read back inside their transaction, frames rewritten in place,
// rollbacks, commits larger than the buffer, and a write that fails.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <sqlite3.h>
#include <catch2/catch.hpp>

#include "storage/sqlite_connection.hpp"
#include "storage/sqlite_wal_vfs.hpp"
#include "support/temp_dir.hpp"
#include "unit/storage/store_test_support.hpp"

namespace ocirelay::storage {
namespace {

using ocirelay::test::TempDir;
using test::kT0;
using test::make_event;
using test::numbered_id;
using test::ok;
using test::query_int;

// A new, empty database file in WAL mode, open through the VFS, with
// synchronous=FULL and a table of blobs.
void open_wal(SqliteConnection& db, const std::string& path) {
  std::ofstream(path).close();  // open() never creates the file
  REQUIRE(db.open(path, 5000) == SQLITE_OK);
  std::string mode;
  REQUIRE(db.query_text("PRAGMA journal_mode = WAL", mode) == SQLITE_OK);
  REQUIRE(mode == "wal");
  REQUIRE(db.exec("PRAGMA synchronous = FULL;"
                  "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL);") == SQLITE_OK);
}

// Inserts rows [from, from + n) with a random blob of `size` bytes each, in
// the caller's transaction or in one of its own.
void insert_rows(SqliteConnection& db, int from, int n, int size) {
  const std::string sql = "WITH RECURSIVE s(x) AS (SELECT " + std::to_string(from) +
                          " UNION ALL SELECT x + 1 FROM s" + " WHERE x < " +
                          std::to_string(from + n - 1) + ") INSERT INTO t (id, v) SELECT x, " +
                          "randomblob(" + std::to_string(size) + ") FROM s";
  REQUIRE(db.exec(sql.c_str()) == SQLITE_OK);
}

// What another connection, through the default VFS, reads from the file.
void check_contents(const std::string& path, std::int64_t rows, std::int64_t bytes) {
  CHECK(query_int(path, "SELECT count(*) FROM t") == rows);
  CHECK(query_int(path, "SELECT coalesce(sum(length(v)), 0) FROM t") == bytes);
  CHECK(query_int(path,
                  "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'") == 1);
}

// What a new process would read from the files as they are now, with the
// wal-index rebuilt from the WAL alone: a copy of the database and its WAL
// (not its -shm), opened through the default VFS. SQLite's recovery keeps
// the frames up to the last commit whose checksums hold, so this reads every
// commit only if each one's frames and checksums are in the file.
void check_recovered(const std::string& path, const std::string& copy, std::int64_t rows,
                     std::int64_t bytes) {
  namespace fs = std::filesystem;
  fs::copy_file(path, copy, fs::copy_options::overwrite_existing);
  fs::copy_file(path + "-wal", copy + "-wal", fs::copy_options::overwrite_existing);
  fs::remove(copy + "-shm");
  check_contents(copy, rows, bytes);
}

// The write counts since `before`; gathered_bytes and gathering as they are now.
SqliteWalVfs::Counts since(const SqliteWalVfs::Counts& now, const SqliteWalVfs::Counts& before) {
  return SqliteWalVfs::Counts{now.sqlite_writes - before.sqlite_writes,
                              now.file_writes - before.file_writes, now.gathered_bytes,
                              now.late_flushes - before.late_flushes, now.gathering};
}

TEST_CASE("the VFS is registered under its own name, not as the default", "[storage][wal]") {
  const char* name = SqliteWalVfs::name();
  REQUIRE(name != nullptr);
  CHECK(std::string(name) == "ocirelay-wal");
  REQUIRE(sqlite3_vfs_find(name) != nullptr);
  CHECK(std::string(sqlite3_vfs_find(nullptr)->zName) != name);
}

TEST_CASE("a commit's WAL frames reach the file in one write while gathering", "[storage][wal]") {
  TempDir dir;
  const std::string path = dir.file("t.db");
  SqliteConnection db;
  open_wal(db, path);

  SECTION("gathering on") {
    REQUIRE(SqliteWalVfs::set_gathering(db.handle(), true) == SQLITE_OK);
    const auto before = SqliteWalVfs::counts(db.handle());
    CHECK(before.gathering);
    insert_rows(db, 1, 40, 2000);  // one transaction of some 25 pages
    const auto d = since(SqliteWalVfs::counts(db.handle()), before);
    CHECK(d.sqlite_writes >= 40);  // a header and a page per frame
    CHECK(d.file_writes == 1);
    CHECK(d.late_flushes == 0);
    check_contents(path, 40, 80000);
    check_recovered(path, dir.file("copy.db"), 40, 80000);
  }
  SECTION("gathering off: every write goes to the file") {
    const auto before = SqliteWalVfs::counts(db.handle());
    CHECK_FALSE(before.gathering);
    insert_rows(db, 1, 40, 2000);
    const auto d = since(SqliteWalVfs::counts(db.handle()), before);
    CHECK(d.sqlite_writes >= 40);
    CHECK(d.file_writes == d.sqlite_writes);
    check_contents(path, 40, 80000);
  }
  SECTION("many commits in a row, each read back by another connection") {
    REQUIRE(SqliteWalVfs::set_gathering(db.handle(), true) == SQLITE_OK);
    for (int i = 0; i < 20; ++i) {
      const auto before = SqliteWalVfs::counts(db.handle());
      insert_rows(db, 1 + i * 10, 10, 3000);
      CHECK(since(SqliteWalVfs::counts(db.handle()), before).file_writes == 1);
      CHECK(query_int(path, "SELECT count(*) FROM t") == (i + 1) * 10);
    }
    check_contents(path, 200, 600000);
  }
}

TEST_CASE("a commit without a sync is in the file before another connection can see it",
          "[storage][wal]") {
  TempDir dir;
  const std::string path = dir.file("t.db");
  SqliteConnection db;
  open_wal(db, path);
  REQUIRE(db.exec("PRAGMA synchronous = NORMAL") == SQLITE_OK);
  REQUIRE(SqliteWalVfs::set_gathering(db.handle(), true) == SQLITE_OK);

  SECTION("one commit of some 25 pages") {
    const auto before = SqliteWalVfs::counts(db.handle());
    insert_rows(db, 1, 40, 2000);
    const auto d = since(SqliteWalVfs::counts(db.handle()), before);
    CHECK(d.sqlite_writes >= 40);
    CHECK(d.file_writes == 1);
    CHECK(d.gathered_bytes == 0);
    CHECK(d.late_flushes == 0);
    check_contents(path, 40, 80000);
    check_recovered(path, dir.file("copy.db"), 40, 80000);
  }
  SECTION("commits in a row, small and large, each read by another connection at once") {
    std::int64_t rows = 0;
    std::int64_t bytes = 0;
    for (int i = 0; i < 30; ++i) {
      const int n = 1 + (i * 7) % 45;  // 1 to 45 rows: one frame to past 128 KiB
      const int size = 200 + (i * 911) % 3000;
      const auto before = SqliteWalVfs::counts(db.handle());
      insert_rows(db, 1 + static_cast<int>(rows), n, size);
      rows += n;
      bytes += static_cast<std::int64_t>(n) * size;
      const auto d = since(SqliteWalVfs::counts(db.handle()), before);
      CHECK(d.gathered_bytes == 0);
      CHECK(d.late_flushes == 0);
      CHECK(d.file_writes * 20 <= d.sqlite_writes + 40);  // gathered, a few pieces at most
      CHECK(query_int(path, "SELECT count(*) FROM t") == rows);
    }
    check_contents(path, rows, bytes);
    check_recovered(path, dir.file("copy.db"), rows, bytes);
  }
}

TEST_CASE("frames rewritten in place within a transaction commit with valid checksums",
          "[storage][wal]") {
  // A small cache spills pages to the WAL mid-transaction; updating them
  // again overwrites those frames in place, and at the commit SQLite reads
  // them back and rewrites their headers' checksums, the commit frame's last.
  TempDir dir;
  for (const char* sync : {"NORMAL", "FULL"}) {
    CAPTURE(sync);
    const std::string path = dir.file(std::string("t-") + sync + ".db");
    SqliteConnection db;
    open_wal(db, path);
    REQUIRE(db.exec((std::string("PRAGMA synchronous = ") + sync).c_str()) == SQLITE_OK);
    insert_rows(db, 1, 40, 2000);
    REQUIRE(db.exec("PRAGMA cache_size = 2") == SQLITE_OK);
    REQUIRE(SqliteWalVfs::set_gathering(db.handle(), true) == SQLITE_OK);
    REQUIRE(db.prepare_transaction_statements() == SQLITE_OK);
    REQUIRE(db.begin_immediate() == SQLITE_OK);
    const auto before = SqliteWalVfs::counts(db.handle());
    REQUIRE(db.exec("UPDATE t SET v = zeroblob(2000) WHERE id <= 30") == SQLITE_OK);
    REQUIRE(db.exec("UPDATE t SET v = zeroblob(1000) WHERE id <= 20") == SQLITE_OK);
    REQUIRE(db.exec("UPDATE t SET v = zeroblob(500) WHERE id <= 10") == SQLITE_OK);
    REQUIRE(db.commit() == SQLITE_OK);
    const auto d = since(SqliteWalVfs::counts(db.handle()), before);
    CHECK(d.gathered_bytes == 0);
    CHECK(d.late_flushes == 0);
    const std::int64_t bytes = 10 * 500 + 10 * 1000 + 10 * 2000 + 10 * 2000;
    check_contents(path, 40, bytes);
    check_recovered(path, dir.file(std::string("copy-") + sync + ".db"), 40, bytes);
    CHECK(query_int(path, "SELECT count(*) FROM t WHERE v = zeroblob(500)") == 10);
  }
}

TEST_CASE("a transaction that spills its cache reads its own frames back", "[storage][wal]") {
  TempDir dir;
  // Spills of a few pages stay gathered (less than 128 KiB) until read back;
  // the larger ones were partly written out already.
  for (const int rows : {8, 16, 24, 32, 48, 64, 400}) {
    CAPTURE(rows);
    const std::string path = dir.file("t" + std::to_string(rows) + ".db");
    SqliteConnection db;
    open_wal(db, path);
    REQUIRE(db.exec("PRAGMA cache_size = 2") == SQLITE_OK);  // pages: spills at once
    REQUIRE(SqliteWalVfs::set_gathering(db.handle(), true) == SQLITE_OK);
    REQUIRE(db.prepare_transaction_statements() == SQLITE_OK);
    REQUIRE(db.begin_immediate() == SQLITE_OK);
    insert_rows(db, 1, rows, 2000);
    std::int64_t total = 0;
    REQUIRE(db.query_int("SELECT sum(length(v)) FROM t", total) == SQLITE_OK);
    CHECK(total == 2000 * rows);
    std::int64_t distinct = 0;  // every blob read back whole, none zeroed
    REQUIRE(db.query_int("SELECT count(DISTINCT v) FROM t", distinct) == SQLITE_OK);
    CHECK(distinct == rows);
    REQUIRE(db.commit() == SQLITE_OK);
    check_contents(path, rows, 2000 * rows);
  }
}

TEST_CASE("a transaction rolled back after spilling leaves the database as it was",
          "[storage][wal]") {
  TempDir dir;
  const std::string path = dir.file("t.db");
  SqliteConnection db;
  open_wal(db, path);
  REQUIRE(db.exec("PRAGMA cache_size = 2") == SQLITE_OK);
  REQUIRE(SqliteWalVfs::set_gathering(db.handle(), true) == SQLITE_OK);
  REQUIRE(db.prepare_transaction_statements() == SQLITE_OK);
  insert_rows(db, 1, 5, 100);
  for (const int rows : {16, 400}) {
    REQUIRE(db.begin_immediate() == SQLITE_OK);
    insert_rows(db, 100, rows, 2000);
    REQUIRE(db.rollback() == SQLITE_OK);
  }
  insert_rows(db, 6, 5, 100);
  check_contents(path, 10, 1000);
  std::int64_t rows = 0;
  REQUIRE(db.query_int("SELECT count(*) FROM t", rows) == SQLITE_OK);
  CHECK(rows == 10);
}

TEST_CASE("frames of a rolled-back transaction never overwrite another connection's commit",
          "[storage][wal]") {
  TempDir dir;
  for (const int rows : {4, 8, 16, 24, 48}) {
    CAPTURE(rows);
    const std::string path = dir.file("t" + std::to_string(rows) + ".db");
    SqliteConnection db;
    open_wal(db, path);
    insert_rows(db, 1, 5, 100);
    REQUIRE(db.exec("PRAGMA cache_size = 2") == SQLITE_OK);
    REQUIRE(SqliteWalVfs::set_gathering(db.handle(), true) == SQLITE_OK);
    REQUIRE(db.prepare_transaction_statements() == SQLITE_OK);
    REQUIRE(db.begin_immediate() == SQLITE_OK);
    insert_rows(db, 100, rows, 2000);  // spills frames after the last commit
    REQUIRE(db.rollback() == SQLITE_OK);
    CHECK(SqliteWalVfs::counts(db.handle()).gathered_bytes == 0);

    // Another connection (another process, as far as SQLite can tell)
    // commits frames at the same offsets of the WAL.
    test::exec_sql(path, "INSERT INTO t (id, v) SELECT 1000 + id, zeroblob(3000) FROM t");

    std::int64_t n = 0;
    REQUIRE(db.query_int("SELECT count(*) FROM t", n) == SQLITE_OK);
    CHECK(n == 10);
    REQUIRE(db.query_int("SELECT sum(length(v)) FROM t", n) == SQLITE_OK);
    CHECK(n == 5 * 100 + 5 * 3000);
    check_contents(path, 10, 5 * 100 + 5 * 3000);
  }
}

TEST_CASE("what a rolled-back transaction gathered is written before its write lock is released",
          "[storage][wal]") {
  // Rows updated in place, on a checkpointed file: the rollback reloads no
  // page from the WAL, so nothing but the end of the write transaction
  // writes out the frames that the small cache spilled.
  TempDir dir;
  const std::string path = dir.file("t.db");
  SqliteConnection db;
  open_wal(db, path);
  insert_rows(db, 1, 40, 2000);
  REQUIRE(db.exec("PRAGMA wal_checkpoint(TRUNCATE)") == SQLITE_OK);
  REQUIRE(db.exec("PRAGMA cache_size = 2") == SQLITE_OK);
  REQUIRE(SqliteWalVfs::set_gathering(db.handle(), true) == SQLITE_OK);
  REQUIRE(db.prepare_transaction_statements() == SQLITE_OK);
  REQUIRE(db.begin_immediate() == SQLITE_OK);
  const auto before = SqliteWalVfs::counts(db.handle());
  REQUIRE(db.exec("UPDATE t SET v = zeroblob(2000) WHERE id <= 10") == SQLITE_OK);
  CHECK(SqliteWalVfs::counts(db.handle()).gathered_bytes > 0);  // spilled, held
  REQUIRE(db.rollback() == SQLITE_OK);
  const auto d = since(SqliteWalVfs::counts(db.handle()), before);
  CHECK(d.gathered_bytes == 0);
  CHECK(d.file_writes >= 1);

  // Another connection commits frames at the offsets the rolled-back ones
  // took; this connection's next read must not write over them.
  test::exec_sql(path, "UPDATE t SET v = zeroblob(3000) WHERE id > 30");
  std::int64_t n = 0;
  REQUIRE(db.query_int("SELECT sum(length(v)) FROM t", n) == SQLITE_OK);
  CHECK(n == 30 * 2000 + 10 * 3000);
  REQUIRE(db.query_int("SELECT count(*) FROM t WHERE v = zeroblob(2000)", n) == SQLITE_OK);
  CHECK(n == 0);
  check_contents(path, 40, 30 * 2000 + 10 * 3000);
}

TEST_CASE("a commit larger than the buffer is written in pieces of 128 KiB", "[storage][wal]") {
  TempDir dir;
  const std::string path = dir.file("t.db");
  SqliteConnection db;
  open_wal(db, path);
  REQUIRE(db.exec("PRAGMA cache_size = -32768") == SQLITE_OK);  // 32 MiB: no spill
  REQUIRE(SqliteWalVfs::set_gathering(db.handle(), true) == SQLITE_OK);
  const auto before = SqliteWalVfs::counts(db.handle());
  insert_rows(db, 1, 1500, 2000);  // some 3 MiB of frames
  const auto d = since(SqliteWalVfs::counts(db.handle()), before);
  // Pieces of up to 128 KiB: 31 frames of a header and a page each.
  CHECK(d.file_writes >= 3000000 / 131071);
  CHECK(d.file_writes * 60 <= d.sqlite_writes);
  check_contents(path, 1500, 3000000);
}

TEST_CASE("turning gathering off writes out nothing more and leaves the data", "[storage][wal]") {
  TempDir dir;
  const std::string path = dir.file("t.db");
  SqliteConnection db;
  open_wal(db, path);
  REQUIRE(SqliteWalVfs::set_gathering(db.handle(), true) == SQLITE_OK);
  insert_rows(db, 1, 10, 500);
  const auto before = SqliteWalVfs::counts(db.handle());
  REQUIRE(SqliteWalVfs::set_gathering(db.handle(), false) == SQLITE_OK);
  const auto after = SqliteWalVfs::counts(db.handle());
  CHECK_FALSE(after.gathering);
  CHECK(after.file_writes == before.file_writes);  // the commit's fsync wrote it out
  check_contents(path, 10, 5000);
}

TEST_CASE("a connection outside the VFS is left alone", "[storage][wal]") {
  TempDir dir;
  const std::string path = dir.file("t.db");
  {
    SqliteConnection db;
    open_wal(db, path);
  }
  sqlite3* plain = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &plain, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(plain, "INSERT INTO t (id, v) VALUES (1, x'00')", nullptr, nullptr,
                       nullptr) == SQLITE_OK);
  CHECK(SqliteWalVfs::set_gathering(plain, true) == SQLITE_OK);
  CHECK_FALSE(SqliteWalVfs::counts(plain).gathering);
  CHECK(SqliteWalVfs::counts(plain).sqlite_writes == 0);
  sqlite3_close_v2(plain);
}

// In a child process, so that its file size limit stays there: exit status 0
// when every step went as expected, else the step that did not.
int failed_write_child(const std::string& path, const std::string& sync) {
  std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal
  SqliteConnection db;
  if (db.open(path, 5000) != SQLITE_OK ||
      db.exec(("PRAGMA synchronous = " + sync).c_str()) != SQLITE_OK ||
      db.prepare_transaction_statements() != SQLITE_OK) {
    return 2;
  }
  if (db.exec("INSERT INTO t (id, v) VALUES (1000, randomblob(100))") != SQLITE_OK) {
    return 3;  // opens the WAL file
  }
  if (SqliteWalVfs::set_gathering(db.handle(), true) != SQLITE_OK) {
    return 4;
  }
  struct rlimit limit {};
  limit.rlim_cur = limit.rlim_max = 256 * 1024;
  if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) {
    return 5;
  }
  // Some 400 KiB of frames: the gathered write fails past the limit.
  const int rc = db.exec(
      "WITH RECURSIVE s(x) AS (SELECT 2000 UNION ALL SELECT x + 1 FROM s WHERE x < 2199)"
      " INSERT INTO t (id, v) SELECT x, randomblob(2000) FROM s");
  if (rc == SQLITE_OK) {
    return 6;
  }
  if ((rc & 0xff) != SQLITE_IOERR && (rc & 0xff) != SQLITE_FULL) {
    return 7;
  }
  // The connection goes on: a small commit fits under the limit.
  if (db.in_transaction() && db.rollback() != SQLITE_OK) {
    return 8;
  }
  if (db.exec("INSERT INTO t (id, v) VALUES (1001, randomblob(100))") != SQLITE_OK) {
    return 9;
  }
  return 0;
}

TEST_CASE("a write that fails fails its commit and loses nothing committed", "[storage][wal]") {
  TempDir dir;
  // With a sync, the gathered write fails at the xSync; without one, at the
  // commit frame's page.
  const std::string sync = GENERATE(as<std::string>{}, "FULL", "NORMAL");
  CAPTURE(sync);
  const std::string path = dir.file("t-" + sync + ".db");
  {
    SqliteConnection db;
    open_wal(db, path);
    insert_rows(db, 1, 10, 100);
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::_exit(failed_write_child(path, sync));
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  check_contents(path, 12, 1200);
  CHECK(query_int(path, "SELECT count(*) FROM t WHERE id >= 2000") == 0);
}

TEST_CASE("the store gathers the writes of every commit, with or without its fsync",
          "[storage][wal]") {
  TempDir dir;
  auto store = test::open_store(dir.file("relay.db"));
  std::vector<NewEvent> batch;
  for (int i = 0; i < 30; ++i) {
    batch.push_back(make_event(numbered_id(i), kT0 + i, {"oic"}, std::string(1000, 'x')));
  }
  auto before = store->wal_writes();
  ok(store->insert_batch(batch));
  auto d = since(store->wal_writes(), before);
  CHECK(d.gathering);
  CHECK(d.sqlite_writes > 10);
  CHECK(d.file_writes == 1);

  // fetch_due and the results commit without fsync: gathered all the same.
  before = store->wal_writes();
  const auto fetched = ok(store->fetch_due("oic", kT0 + 1000, 30));
  CHECK(fetched.due.size() == 30);
  d = since(store->wal_writes(), before);
  CHECK(d.sqlite_writes > 2);
  CHECK(d.file_writes == 1);
  CHECK(d.gathered_bytes == 0);
  CHECK(d.late_flushes == 0);
  CHECK(query_int(store->path(), "SELECT count(*) FROM deliveries WHERE state = 'inflight'") == 30);

  std::vector<AttemptResult> results;
  for (const Delivery& delivery : fetched.due) {
    results.push_back(test::delivered(delivery));
  }
  before = store->wal_writes();
  ok(store->complete(results));
  d = since(store->wal_writes(), before);
  CHECK(d.sqlite_writes > 2);
  CHECK(d.file_writes == 1);
  CHECK(d.late_flushes == 0);
  CHECK(query_int(store->path(), "SELECT count(*) FROM deliveries") == 0);

  // And the next durable commit after them.
  batch.clear();
  for (int i = 30; i < 40; ++i) {
    batch.push_back(make_event(numbered_id(i), kT0 + i, {"oic"}, std::string(1000, 'x')));
  }
  before = store->wal_writes();
  ok(store->insert_batch(batch));
  d = since(store->wal_writes(), before);
  CHECK(d.file_writes == 1);
  CHECK(query_int(store->path(), "SELECT count(*) FROM deliveries WHERE state = 'pending'") == 10);
}

}  // namespace
}  // namespace ocirelay::storage
