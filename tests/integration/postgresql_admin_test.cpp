// The admin commands of ocirelayd on PostgreSQL, through the real binary and
// the tests' own PostgreSQL server (support/pg_cluster): `storage check`,
// `--check-config --connect`. Cases return early (with a warning) when
// PostgreSQL is not installed.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ocirelay/storage/store.hpp"
#include "support/daemon_process.hpp"
#include "support/pg_cluster.hpp"
#include "support/temp_dir.hpp"

using namespace ocirelay::test;
using ocirelay::storage::AttemptResult;
using ocirelay::storage::NewEvent;
using ocirelay::storage::PostgresqlOptions;
using ocirelay::storage::Store;

namespace {

// In every URL the tests hand the daemon; never in what it prints.
const std::string kPassword = "Pg-S3cret-9f27";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string database_of(const std::string& url) { return url.substr(url.rfind('/') + 1); }

// The cluster's URL with a password in it (the cluster trusts 127.0.0.1, so
// the password is carried and ignored).
std::string with_password(const std::string& url) {
  const std::string user = "postgres@";
  std::string out = url;
  out.replace(out.find(user), user.size(), "postgres:" + kPassword + "@");
  return out;
}

// A valid configuration on `url`, given as a ${file:} secret (mode 0600).
std::string write_config(const TempDir& dir, const std::string& url) {
  const std::string secret = dir.write("pg-url", url);
  std::filesystem::permissions(
      secret, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return dir.write("ocirelay.yaml",
                   "server:\n  listen: \"127.0.0.1:0\"\n"
                   "storage:\n  backend: postgresql\n  postgresql:\n"
                   "    url: \"${file:" +
                       secret +
                       "}\"\n    node_id: checker\n"
                       "destinations:\n  - name: oic\n"
                       "    url: http://127.0.0.1:9/flow\n"
                       "routes:\n  - { name: all, destinations: [oic] }\n");
}

std::unique_ptr<Store> open_store(const std::string& url, const std::string& node) {
  PostgresqlOptions options;
  options.url = url;
  options.node_id = node;
  auto store = ocirelay::storage::open_postgresql_store(options);
  if (!store) FAIL("open failed: " << store.error().message);
  return std::move(store).value();
}

// An OCI event as the relay stores it: its time is part of its dedupe key,
// which storage copy reads back from the body.
NewEvent event(const std::string& id, std::int64_t at) {
  NewEvent e;
  e.event_id = id;
  e.event_time = "2026-05-14T09:12:41.372Z";
  e.body = R"({"eventType":"t","eventID":")" + id + R"(","eventTime":")" + e.event_time +
           R"(","data":{}})";
  e.destinations = {"oic"};
  e.received_at = at;
  return e;
}

// Whether the ocirelay schema exists in `database`.
bool has_schema(PgCluster& pg, const std::string& database) {
  return contains(pg.psql(database, "SELECT to_regclass('ocirelay_schema') IS NOT NULL"), "t");
}

}  // namespace

TEST_CASE("postgresql: --check-config --connect reports the server and the schema state",
          "[cli][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  TempDir dir;
  const std::string url = pg->create_database("connect");
  const std::string database = database_of(url);
  const std::string config = write_config(dir, with_password(url));

  // An empty database: it will be created, and the check creates nothing.
  auto empty = run_ocirelayd({"--check-config", "--connect", "--config", config});
  INFO(empty.output);
  CHECK(empty.exit_code == 0);
  CHECK(contains(empty.output, config + ": configuration OK\n"));
  CHECK(contains(empty.output, "storage.postgresql: connected: PostgreSQL 15."));
  CHECK(contains(empty.output, "database " + database));
  CHECK(contains(empty.output, "no ocirelay schema yet: the first relay to start creates it"));
  CHECK_FALSE(has_schema(*pg, database));

  open_store(url, "relay-a");  // creates the schema
  auto current = run_ocirelayd({"--check-config", "--connect", "--config", config});
  INFO(current.output);
  CHECK(current.exit_code == 0);
  CHECK(contains(current.output, "schema version 3: current"));

  // A schema from a newer ocirelayd: the relay would refuse it, so exit 3.
  pg->psql(database, "INSERT INTO ocirelay_schema (version, applied_by) VALUES (99, 'future')");
  auto newer = run_ocirelayd({"--check-config", "--connect", "--config", config});
  INFO(newer.output);
  CHECK(newer.exit_code == 3);
  CHECK(contains(newer.output, "schema version 99 is newer than this ocirelayd supports (3)"));

  for (const auto& r : {empty, current, newer}) CHECK_FALSE(contains(r.output, kPassword));

  // Without --connect nothing is reached; --connect alone is a usage error.
  auto plain = run_ocirelayd({"--check-config", "--config", config});
  CHECK(plain.exit_code == 0);
  CHECK_FALSE(contains(plain.output, "storage.postgresql"));
  CHECK(run_ocirelayd({"--connect", "--config", config}).exit_code == 2);
}

TEST_CASE("postgresql: --check-config --connect exits 3 without showing the URL", "[cli][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  TempDir dir;
  SECTION("nothing listening") {
    const std::string config =
        write_config(dir, "postgresql://relay:" + kPassword + "@127.0.0.1:1/relay");
    auto r = run_ocirelayd({"--check-config", "--connect", "--config", config});
    INFO(r.output);
    CHECK(r.exit_code == 3);
    CHECK(contains(r.output, config + ": postgresql: storage.postgresql.url: cannot connect"));
    CHECK_FALSE(contains(r.output, kPassword));
  }
  SECTION("a database that does not exist") {
    const std::string config =
        write_config(dir, "postgresql://postgres:" + kPassword +
                              "@127.0.0.1:" + std::to_string(pg->port()) + "/no_such_database");
    auto r = run_ocirelayd({"--check-config", "--connect", "--config", config});
    INFO(r.output);
    CHECK(r.exit_code == 3);
    CHECK(contains(r.output, "no_such_database"));
    CHECK_FALSE(contains(r.output, kPassword));
  }
  SECTION("a conninfo string libpq cannot parse") {
    const std::string config = write_config(dir, "host=127.0.0.1 password=" + kPassword + " x");
    auto r = run_ocirelayd({"--check-config", "--connect", "--config", config});
    INFO(r.output);
    CHECK(r.exit_code == 3);
    CHECK(contains(r.output, "not a valid libpq URI"));
    CHECK_FALSE(contains(r.output, kPassword));
  }
}

TEST_CASE("postgresql: storage check reports the cluster's queue, claims and problems",
          "[cli][storage-check][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  TempDir dir;
  const std::string url = pg->create_database("check");
  const std::string database = database_of(url);
  const std::string config = write_config(dir, with_password(url));

  auto empty = run_ocirelayd({"storage", "check", "--config", config});
  INFO(empty.output);
  CHECK(empty.exit_code == 0);
  CHECK(contains(empty.output, "storage check: postgresql database " + database + "\n"));
  CHECK(contains(empty.output, "no ocirelay schema yet"));
  CHECK(contains(empty.output, "result: OK"));
  CHECK_FALSE(has_schema(*pg, database));  // read-only: nothing created

  // Two relays: 6 events; relay-a holds 1 with a lease long over, relay-b
  // holds 2, one is a dead letter, 2 wait.
  const std::int64_t now = ocirelay::storage::now_millis();
  auto a = open_store(url, "relay-a");
  auto b = open_store(url, "relay-b");
  std::vector<NewEvent> events;
  for (int i = 0; i < 6; ++i) {
    std::string id = "e";  // (not "e" + ...: GCC 12 warns with a false -Wrestrict)
    id += std::to_string(i);
    events.push_back(event(id, now - 10'000 + i));
  }
  REQUIRE(a->insert_batch(events).ok());
  auto claimed_a = a->fetch_due("oic", now, 1);
  REQUIRE(claimed_a.ok());
  REQUIRE(claimed_a.value().due.size() == 1);
  auto claimed_b = b->fetch_due("oic", now, 3);
  REQUIRE(claimed_b.ok());
  REQUIRE(claimed_b.value().due.size() == 3);
  // relay-a "died": its lease ran out long ago.
  pg->psql(database, "UPDATE deliveries SET lease_until = 1 WHERE claimed_by = 'relay-a'");
  AttemptResult dead;
  dead.id = claimed_b.value().due[0].id;
  dead.claim = claimed_b.value().due[0].claim;
  dead.kind = AttemptResult::Kind::dead;
  dead.attempts = 1;
  dead.last_status = 400;
  dead.last_error = "HTTP 400";
  REQUIRE(b->complete(std::vector{dead}).ok());

  auto r = run_ocirelayd({"storage", "check", "--config", config});
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(contains(r.output, "server: PostgreSQL 15."));
  CHECK(contains(r.output, "schema version 3"));
  CHECK(contains(r.output,
                 "6 events stored; deliveries 2 pending, 3 in flight, 1 dead; "
                 "6 event IDs remembered"));
  CHECK(contains(r.output, "note: in flight by relay: relay-a 1, relay-b 2\n"));
  CHECK(contains(r.output, "note: 1 delivery is in flight with its lease run out"));
  CHECK(contains(r.output, "note: 1 dead letter kept"));
  CHECK(contains(r.output, "result: OK"));
  CHECK_FALSE(contains(r.output, kPassword));

  // Rows the relays never leave: an event body nothing refers to, a
  // negative attempt count; then a missing index.
  pg->psql(database, "INSERT INTO events (event_id, body, received_at) VALUES ('orphan', '', 0)");
  pg->psql(database, "UPDATE deliveries SET attempts = -1 WHERE state = 'pending'");
  auto bad = run_ocirelayd({"storage", "check", "--config", config});
  INFO(bad.output);
  CHECK(bad.exit_code == 1);
  CHECK(contains(bad.output, "PROBLEM: 1 event bodies no delivery refers to"));
  CHECK(contains(bad.output, "PROBLEM: 2 deliveries with a negative attempt count"));
  CHECK(contains(bad.output, "result: 2 problems found (exit 1)"));

  pg->psql(database, "DROP INDEX deliveries_due");
  auto broken = run_ocirelayd({"storage", "check", "--config", config});
  INFO(broken.output);
  CHECK(broken.exit_code == 1);
  CHECK(contains(broken.output, "PROBLEM: schema: index deliveries_due is missing"));

  // Unreachable: exit 3, the URL not shown.
  TempDir other;
  const std::string unreachable =
      write_config(other, "postgresql://relay:" + kPassword + "@127.0.0.1:1/relay");
  auto down = run_ocirelayd({"storage", "check", "--config", unreachable});
  INFO(down.output);
  CHECK(down.exit_code == 3);
  CHECK(contains(down.output, "cannot connect"));
  CHECK(contains(down.output, "result: CANNOT OPEN (exit 3)"));
  CHECK_FALSE(contains(down.output, kPassword));
}

namespace {

// A relay's SQLite file, made through the store as a relay would make it:
// p0..p2 queued for oic (p1 with 2 failed attempts, in flight when the relay
// stopped), d0 a dead letter for oic and queued for audit, done delivered
// (only its event ID is left, for deduplication).
std::string make_sqlite_backlog(const TempDir& dir, std::int64_t now) {
  const std::string path = dir.file("queue.db");
  auto opened = ocirelay::storage::open_sqlite_store(ocirelay::storage::SqliteOptions{path});
  if (!opened) FAIL("open failed: " << opened.error().message);
  Store& store = *opened.value();
  std::vector<NewEvent> events{event("p0", now - 5000), event("p1", now - 4000),
                               event("p2", now - 3000), event("d0", now - 2000),
                               event("done", now - 1000)};
  events[1].body = std::string("binary\0body\xff", 12);
  events[1].event_time.clear();  // as the relay would: no time in the body
  events[3].destinations = {"oic", "audit"};
  REQUIRE(store.insert_batch(events).ok());
  auto due = store.fetch_due("oic", now, 10);
  REQUIRE(due.ok());
  REQUIRE(due.value().due.size() == 5);
  std::vector<AttemptResult> results;
  for (const auto& d : due.value().due) {
    AttemptResult r;
    r.id = d.id;
    r.claim = d.claim;
    if (d.event_id == "p1") continue;  // stays in flight
    if (d.event_id == "d0") {
      r.kind = AttemptResult::Kind::dead;
      r.attempts = 4;
      r.last_status = 422;
      r.last_error = "HTTP 422: unprocessable";
    } else if (d.event_id == "done") {
      r.kind = AttemptResult::Kind::delivered;
      r.attempts = 1;
    } else {
      r.kind = AttemptResult::Kind::retry;
      r.attempts = 2;
      r.next_attempt_at = now - 100;
      r.last_status = 503;
      r.last_error = "HTTP 503";
    }
    results.push_back(r);
  }
  REQUIRE(store.complete(results).ok());
  return path;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("postgresql: storage copy moves a SQLite backlog once, and only once",
          "[cli][storage-copy][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  TempDir dir;
  const std::int64_t now = ocirelay::storage::now_millis();
  const std::string source = make_sqlite_backlog(dir, now);
  const std::string before = file_bytes(source);
  const std::string url = pg->create_database("copy");
  const std::string database = database_of(url);
  TempDir config_dir;
  const std::string config = write_config(config_dir, with_password(url));

  auto first = run_ocirelayd({"storage", "copy", "--from", source, "--to-config", config});
  INFO(first.output);
  REQUIRE(first.exit_code == 0);
  CHECK(contains(first.output, "storage copy: " + source + " -> postgresql database " + database));
  CHECK(contains(first.output,
                 "deliveries copied: 5 (4 queued, 1 dead letter), with 4 event "
                 "bodies\n"));
  CHECK(contains(first.output, "already present: 0 deliveries"));
  CHECK(contains(first.output, "event IDs for deduplication: 5 added, 0 already present"));
  CHECK_FALSE(contains(first.output, kPassword));
  // Read-only: the file is as it was, and nothing was made next to it.
  CHECK(file_bytes(source) == before);
  CHECK_FALSE(std::filesystem::exists(source + "-shm"));

  // What arrived, as a relay of the cluster sees it.
  auto relay = open_store(url, "relay-b");
  auto stats = relay->stats();
  REQUIRE(stats.ok());
  REQUIRE(stats.value().size() == 2);
  CHECK(stats.value()[0].destination == "audit");
  CHECK(stats.value()[0].pending == 1);
  CHECK(stats.value()[1].destination == "oic");
  CHECK(stats.value()[1].pending == 3);  // p1 was in flight: queued again
  CHECK(stats.value()[1].inflight == 0);
  CHECK(stats.value()[1].dead == 1);
  auto letters = relay->list_dead_letters(ocirelay::storage::DeadLetterQuery{});
  REQUIRE(letters.ok());
  REQUIRE(letters.value().size() == 1);
  CHECK(letters.value()[0].event_id == "d0");
  CHECK(letters.value()[0].attempts == 4);
  CHECK(letters.value()[0].last_status == 422);
  CHECK(letters.value()[0].last_error == "HTTP 422: unprocessable");
  auto due = relay->fetch_due("oic", now, 10);
  REQUIRE(due.ok());
  REQUIRE(due.value().due.size() == 3);
  std::map<std::string, ocirelay::storage::Delivery> by_id;
  for (const auto& d : due.value().due) by_id[d.event_id] = d;
  REQUIRE(by_id.count("p0") == 1);
  REQUIRE(by_id.count("p1") == 1);
  REQUIRE(by_id.count("p2") == 1);
  CHECK(by_id["p0"].attempts == 2);
  CHECK(by_id["p0"].received_at == now - 5000);
  CHECK(by_id["p0"].body == event("p0", now).body);
  CHECK(by_id["p1"].body == std::string("binary\0body\xff", 12));  // byte for byte
  CHECK(by_id["p1"].attempts == 0);
  // The cluster's dedupe knows every event of the file, delivered ones too,
  // by eventID and time; the same eventID at another time is another event.
  std::vector<NewEvent> again{event("done", now), event("p2", now), event("new", now),
                              event("p1", now), event("p2", now)};
  again[3].body = std::string("binary\0body\xff", 12);
  again[3].event_time.clear();
  again[4].event_time = "2026-05-14T09:12:42.000Z";
  auto outcomes = relay->insert_batch(again);
  REQUIRE(outcomes.ok());
  using ocirelay::storage::InsertOutcome;
  CHECK(outcomes.value() == std::vector{InsertOutcome::duplicate, InsertOutcome::duplicate,
                                        InsertOutcome::queued, InsertOutcome::duplicate,
                                        InsertOutcome::queued});

  // p0 is delivered meanwhile; copying the same file again adds nothing.
  AttemptResult delivered;
  delivered.id = by_id["p0"].id;
  delivered.kind = AttemptResult::Kind::delivered;
  delivered.attempts = 3;
  REQUIRE(relay->complete(std::vector{delivered}).ok());
  auto second = run_ocirelayd({"storage", "copy", "--from", source, "--to-config", config});
  INFO(second.output);
  REQUIRE(second.exit_code == 0);
  CHECK(contains(second.output,
                 "deliveries copied: 0 (0 queued, 0 dead letters), with 0 event "
                 "bodies\n"));
  CHECK(contains(second.output, "already present: 5 deliveries"));
  CHECK(contains(second.output, "event IDs for deduplication: 0 added, 5 already present"));
  // The 4 copied deliveries p0 is not one of any more, "new" and p2 at 42 s.
  CHECK(pg->psql(database, "SELECT count(*) FROM deliveries") == "6\n");
  CHECK(pg->psql(database, "SELECT count(*) FROM events WHERE event_id = 'p0'") == "0\n");
}

TEST_CASE("postgresql: storage copy refuses a target that is not postgresql, and bad sources",
          "[cli][storage-copy][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  TempDir dir;
  const std::string source = make_sqlite_backlog(dir, ocirelay::storage::now_millis());
  const std::string sqlite_config =
      dir.write("sqlite.yaml",
                "server:\n  listen: \"127.0.0.1:0\"\nstorage:\n  path: " + dir.file("other.db") +
                    "\ndestinations:\n  - name: oic\n    url: http://127.0.0.1:9/flow\n"
                    "routes:\n  - { name: all, destinations: [oic] }\n");
  auto not_pg = run_ocirelayd({"storage", "copy", "--from", source, "--to-config", sqlite_config});
  INFO(not_pg.output);
  CHECK(not_pg.exit_code == 2);
  CHECK(contains(not_pg.output, "storage.backend is sqlite"));
  CHECK_FALSE(std::filesystem::exists(dir.file("other.db")));

  CHECK(run_ocirelayd({"storage", "copy", "--from", source}).exit_code == 2);

  const std::string url = pg->create_database("copy_refused");
  TempDir config_dir;
  const std::string config = write_config(config_dir, with_password(url));
  auto missing =
      run_ocirelayd({"storage", "copy", "--from", dir.file("none.db"), "--to-config", config});
  INFO(missing.output);
  CHECK(missing.exit_code == 3);
  CHECK(contains(missing.output, dir.file("none.db") + ": does not exist; nothing was copied"));
  CHECK_FALSE(std::filesystem::exists(dir.file("none.db")));

  const std::string not_db = dir.write("notes.txt", "not a database at all, just some text\n");
  auto wrong = run_ocirelayd({"storage", "copy", "--from", not_db, "--to-config", config});
  INFO(wrong.output);
  CHECK(wrong.exit_code == 3);
  CHECK(contains(wrong.output, "nothing was copied"));

  const std::string unreachable =
      write_config(config_dir, "postgresql://relay:" + kPassword + "@127.0.0.1:1/relay");
  auto down = run_ocirelayd({"storage", "copy", "--from", source, "--to-config", unreachable});
  INFO(down.output);
  CHECK(down.exit_code == 3);
  CHECK(contains(down.output, "cannot connect"));
  CHECK_FALSE(contains(down.output, kPassword));
}
