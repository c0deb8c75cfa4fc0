// Schema upgrades. Version 1 (delivery_counts kept by triggers) to 2 (kept by
// the store): a version 1 file made with version 1's own DDL opens, is
// upgraded in place with its counters recounted, and passes storage check
// before and after; results for deliveries no longer in flight leave the
// counts right. Version 2 to 3 (deliveries' CHECK written without IN): the
// table's definition is rewritten in place, rows and the id sequence kept,
// and a table that is not version 2's is refused, the file left as it was.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "ocirelay/storage/storage_check.hpp"
#include "storage/sqlite_connection.hpp"
#include "storage/sqlite_queries.hpp"
#include "storage/sqlite_schema.hpp"
#include "storage/sqlite_store.hpp"
#include "support/temp_dir.hpp"
#include "unit/storage/store_test_support.hpp"

using namespace ocirelay::storage;
using ocirelay::storage::test::counter_mismatches;
using ocirelay::storage::test::exec_sql;
using ocirelay::storage::test::kT0;
using ocirelay::storage::test::make_event;
using ocirelay::storage::test::numbered_id;
using ocirelay::storage::test::ok;
using ocirelay::storage::test::open_store;
using ocirelay::storage::test::program_opcodes;
using ocirelay::storage::test::query_int;
using ocirelay::test::TempDir;

namespace {

// A version 1 file as ocirelay 0.1 left it: a, b pending; one a in flight;
// one b dead; rows written through version 1's triggers.
void make_version_1_file(const std::string& path) {
  std::ofstream(path).flush();  // an empty file is an empty database
  exec_sql(path, sqlite_schema_sql(1) + "PRAGMA user_version = 1; PRAGMA application_id = " +
                     std::to_string(kSqliteApplicationId) + ";");
  exec_sql(path, R"sql(
    INSERT INTO events (id, event_id, body, received_at) VALUES
      (1, 'v1-a', '{"eventID":"v1-a"}', 1000),
      (2, 'v1-b', '{"eventID":"v1-b"}', 2000),
      (3, 'v1-c', '{"eventID":"v1-c"}', 3000);
    INSERT INTO seen (event_id, first_seen_at)
      VALUES ('v1-a', 1000), ('v1-b', 2000), ('v1-c', 3000);
    INSERT INTO deliveries (event, destination, state, next_attempt_at, received_at, updated_at)
      VALUES (1, 'a', 'pending', 1000, 1000, 1000), (1, 'b', 'pending', 1000, 1000, 1000),
             (2, 'a', 'inflight', 2000, 2000, 2000), (3, 'b', 'dead', 3000, 3000, 3000);
  )sql");
}

// A version 2 file as ocirelay left it before version 3: a and b pending,
// one a in flight, one b dead, and the highest id ever given (7) above the
// highest row left (4), as after deliveries at the end of the queue.
void make_version_2_file(const std::string& path) {
  std::ofstream(path).flush();
  exec_sql(path, sqlite_schema_sql(2) + "PRAGMA user_version = 2; PRAGMA application_id = " +
                     std::to_string(kSqliteApplicationId) + ";");
  exec_sql(path, R"sql(
    INSERT INTO events (id, event_id, body, received_at) VALUES
      (1, 'v2-a', '{"eventID":"v2-a"}', 1000),
      (2, 'v2-b', '{"eventID":"v2-b"}', 2000),
      (3, 'v2-c', '{"eventID":"v2-c"}', 3000);
    INSERT INTO seen (event_id, first_seen_at)
      VALUES ('v2-a', 1000), ('v2-b', 2000), ('v2-c', 3000);
    INSERT INTO deliveries (id, event, destination, state, next_attempt_at, received_at,
                            updated_at)
      VALUES (1, 1, 'a', 'pending', 1000, 1000, 1000), (2, 1, 'b', 'pending', 1000, 1000, 1000),
             (3, 2, 'a', 'inflight', 2000, 2000, 2000), (4, 3, 'b', 'dead', 3000, 3000, 3000),
             (7, 3, 'a', 'pending', 3000, 3000, 3000);
    DELETE FROM deliveries WHERE id = 7;
    INSERT INTO delivery_counts (destination, state, n) VALUES
      ('a', 'pending', 1), ('b', 'pending', 1), ('a', 'inflight', 1), ('b', 'dead', 1);
  )sql");
}

// Version 2 as far as user_version goes, but deliveries was made by hand
// (the same columns, the constraint spelled differently).
void make_hand_made_version_2_file(const std::string& path) {
  std::ofstream(path).flush();
  std::string ddl = sqlite_schema_sql(2);
  const std::string from = "CHECK (state IN ('pending', 'inflight', 'dead'))";
  REQUIRE(ddl.find(from) != std::string::npos);
  ddl.replace(ddl.find(from), from.size(), "CHECK (state IN ('pending','inflight','dead'))");
  exec_sql(path, ddl + "PRAGMA user_version = 2; PRAGMA application_id = " +
                     std::to_string(kSqliteApplicationId) + ";");
}

std::int64_t writable_schema(SqliteConnection& db) {
  std::int64_t on = -1;
  REQUIRE(db.query_int("PRAGMA writable_schema", on) == SQLITE_OK);
  return on;
}

std::int64_t ephemeral_tables(const std::string& path, const char* sql) {
  const auto opcodes = program_opcodes(path, sql);
  return std::count(opcodes.begin(), opcodes.end(), "OpenEphemeral");
}

}  // namespace

TEST_CASE("a version 2 file is upgraded to version 3 in place, rows and ids kept",
          "[storage][schema]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  make_version_2_file(path);
  REQUIRE(ephemeral_tables(path, kSqlDeliveryInsert) == 1);  // what version 3 removes

  auto before = check_sqlite_storage(path);
  INFO(format_storage_check(before));
  CHECK(before.outcome == StorageCheckReport::Outcome::ok);
  CHECK(before.schema_version == 2);
  bool noted = false;
  for (const auto& n : before.notes) noted = noted || n.find("upgrades it to 3") != n.npos;
  CHECK(noted);

  {
    auto store = open_store(path);
    CHECK(query_int(path, "PRAGMA user_version") == 3);
    CHECK(query_int(path, "SELECT count(*) FROM deliveries") == 4);
    CHECK(query_int(path, "SELECT seq FROM sqlite_sequence WHERE name = 'deliveries'") == 7);
    CHECK(query_int(path,
                    "SELECT count(*) FROM sqlite_schema WHERE name = 'deliveries'"
                    " AND sql LIKE '%state IN (%'") == 0);
    CHECK(ephemeral_tables(path, kSqlDeliveryInsert) == 0);
    CHECK(ephemeral_tables(path, kSqlMarkInflight) == 0);
    // The constraint itself still holds.
    CHECK_THROWS_WITH(exec_sql(path, "UPDATE deliveries SET state = 'lost' WHERE id = 1"),
                      Catch::Contains("CHECK constraint failed"));

    // The store works on it: the in-flight row released, a new event gets an
    // id above every one given before, results recorded.
    CHECK(ok(store->release_inflight()) == 1);
    ok(store->insert_batch(std::vector<NewEvent>{make_event("v3-d", kT0, {"a"})}));
    CHECK(query_int(path, "SELECT max(id) FROM deliveries") == 8);
    auto due = ok(store->fetch_due("a", kT0 + 10, 10)).due;
    REQUIRE(due.size() == 3);
    ok(store->complete(std::vector<AttemptResult>{test::delivered(due[0].id),
                                                  test::dead(due[1].id, 1, 400, "HTTP 400")}));
    CHECK(counter_mismatches(path) == 0);
  }
  CHECK(query_int(path,
                  "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'") ==
        0);
  auto after = check_sqlite_storage(path);
  INFO(format_storage_check(after));
  CHECK(after.outcome == StorageCheckReport::Outcome::ok);
  CHECK(after.schema_version == 3);
}

TEST_CASE("a version 2 file whose deliveries table is not version 2's is not upgraded",
          "[storage][schema]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  make_hand_made_version_2_file(path);

  auto store = SqliteStore::open(SqliteOptions{path});
  REQUIRE_FALSE(store);
  CHECK_THAT(store.error().message,
             Catch::StartsWith(path + ": cannot upgrade the schema from version 2 to 3: the "
                                      "deliveries table is not version 2's"));
  CHECK(query_int(path, "PRAGMA user_version") == 2);
  CHECK(query_int(path,
                  "SELECT count(*) FROM sqlite_schema WHERE name = 'deliveries'"
                  " AND sql LIKE '%''pending'',''inflight''%'") == 1);
}

TEST_CASE("the upgrade's connection is left with writable_schema off, upgraded or refused",
          "[storage][schema]") {
  TempDir dir;
  const std::string upgraded = dir.file("upgraded.db");
  make_version_2_file(upgraded);
  SqliteConnection a;
  REQUIRE(a.open(upgraded, 5000) == SQLITE_OK);
  REQUIRE(a.prepare_transaction_statements() == SQLITE_OK);
  auto version = migrate_sqlite_schema(a, upgraded, 2);
  REQUIRE(version.ok());
  CHECK(*version == 3);
  CHECK(writable_schema(a) == 0);
  // The same connection reads the new definition: the constraint it
  // enforces is version 3's.
  const int rc = a.exec(
      "INSERT INTO deliveries (event, destination, state, next_attempt_at, received_at,"
      " updated_at) VALUES (1, 'a', 'lost', 1, 1, 1)");
  CHECK(rc != SQLITE_OK);
  CHECK(a.describe(rc).find("state = 'pending' OR") != std::string::npos);

  const std::string refused = dir.file("refused.db");
  make_hand_made_version_2_file(refused);
  SqliteConnection b;
  REQUIRE(b.open(refused, 5000) == SQLITE_OK);
  REQUIRE(b.prepare_transaction_statements() == SQLITE_OK);
  auto failed = migrate_sqlite_schema(b, refused, 2);
  REQUIRE_FALSE(failed);
  CHECK(writable_schema(b) == 0);
  CHECK(query_int(refused, "PRAGMA user_version") == 2);
}

TEST_CASE("a file another process upgraded meanwhile is taken as it is, or refused if newer",
          "[storage][schema]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  make_version_2_file(path);
  // This connection read version 2; another process upgrades the file
  // before this one's upgrade transaction starts.
  SqliteConnection late;
  REQUIRE(late.open(path, 5000) == SQLITE_OK);
  REQUIRE(late.prepare_transaction_statements() == SQLITE_OK);
  open_store(path);  // the other process
  REQUIRE(query_int(path, "PRAGMA user_version") == 3);
  auto version = migrate_sqlite_schema(late, path, 2);
  REQUIRE(version);
  CHECK(*version == 3);
  CHECK(query_int(path, "SELECT count(*) FROM deliveries") == 4);
  // A newer ocirelay's upgrade is refused, as when the version is first read.
  exec_sql(path, "PRAGMA user_version = 4");
  auto newer = migrate_sqlite_schema(late, path, 2);
  REQUIRE_FALSE(newer);
  CHECK(newer.error().message == path +
                                     ": schema version 4 is newer than this ocirelay supports "
                                     "(3); run a newer ocirelay or use another storage path");
}

TEST_CASE("a version 1 file is upgraded to version 3 in place, counters recounted",
          "[storage][schema]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  make_version_1_file(path);
  REQUIRE(query_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'") == 3);
  REQUIRE(counter_mismatches(path) == 0);  // the triggers kept them

  // storage check reads a version 1 file as version 1: sound, to be upgraded.
  auto before = check_sqlite_storage(path);
  INFO(format_storage_check(before));
  CHECK(before.outcome == StorageCheckReport::Outcome::ok);
  CHECK(before.schema_version == 1);
  bool noted = false;
  for (const auto& n : before.notes) noted = noted || n.find("upgrades it to 3") != n.npos;
  CHECK(noted);

  // A counter that drifted under version 1 comes out right.
  exec_sql(path,
           "UPDATE delivery_counts SET n = n + 7 WHERE destination = 'a' AND "
           "state = 'pending'");
  REQUIRE(counter_mismatches(path) > 0);
  {
    auto store = open_store(path);
    CHECK(query_int(path, "PRAGMA user_version") == 3);
    CHECK(query_int(path, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'") == 0);
    CHECK(counter_mismatches(path) == 0);
    auto stats = ok(store->stats());
    REQUIRE(stats.size() == 2);
    CHECK(stats[0].destination == "a");
    CHECK(stats[0].pending == 1);
    CHECK(stats[0].inflight == 1);
    CHECK(stats[1].destination == "b");
    CHECK(stats[1].pending == 1);
    CHECK(stats[1].dead == 1);

    // The store keeps them from here on, for every kind of change.
    CHECK(ok(store->release_inflight()) == 1);
    ok(store->insert_batch(std::vector<NewEvent>{make_event("v2-d", kT0, {"a", "b"})}));
    auto due = ok(store->fetch_due("a", kT0 + 10, 10)).due;
    REQUIRE(due.size() == 3);
    ok(store->complete(std::vector<AttemptResult>{test::delivered(due[0].id),
                                                  test::dead(due[1].id, 1, 400, "HTTP 400")}));
    CHECK(ok(store->replay_dead_letters(DeadLetterSelection{}, kT0 + 20)).count == 2);
    CHECK(counter_mismatches(path) == 0);
  }
  auto after = check_sqlite_storage(path);
  INFO(format_storage_check(after));
  CHECK(after.outcome == StorageCheckReport::Outcome::ok);
  CHECK(after.schema_version == 3);

  // A second open finds version 3 and changes nothing.
  open_store(path);
  CHECK(query_int(path, "PRAGMA user_version") == 3);
}

TEST_CASE("retry and dead results for a delivery no longer in flight are ignored",
          "[storage][schema]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  auto store = open_store(path);
  std::vector<NewEvent> batch;
  for (int i = 0; i < 3; ++i) batch.push_back(make_event(numbered_id(i), kT0 + i));
  ok(store->insert_batch(batch));
  auto due = ok(store->fetch_due("oic", kT0 + 10, 3)).due;
  REQUIRE(due.size() == 3);
  // A reload released them (its dispatcher was replaced); the old
  // dispatcher's results arrive afterwards.
  CHECK(ok(store->release_inflight("oic")) == 3);
  ok(store->complete(
      std::vector<AttemptResult>{test::retry(due[0].id, 1, kT0 + 100'000, 503, "HTTP 503"),
                                 test::dead(due[1].id, 1, 400, "HTTP 400"),
                                 test::delivered(due[2].id)}));  // final, whatever the state
  CHECK(counter_mismatches(path) == 0);
  auto stats = ok(store->stats());
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].pending == 2);  // still due at once, with no attempt counted
  CHECK(stats[0].dead == 0);
  CHECK(query_int(path,
                  "SELECT count(*) FROM deliveries WHERE attempts = 0 AND "
                  "next_attempt_at <= " +
                      std::to_string(kT0 + 10)) == 2);
  CHECK(ok(store->fetch_due("oic", kT0 + 10, 10)).due.size() == 2);
}
