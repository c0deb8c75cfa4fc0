#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ocirelay/storage/store.hpp"
#include "storage/sqlite_queries.hpp"
#include "storage/sqlite_store.hpp"
#include "support/fixtures.hpp"
#include "support/temp_dir.hpp"
#include "unit/storage/store_test_support.hpp"

using ocirelay::storage::AttemptResult;
using ocirelay::storage::DestinationStats;
using ocirelay::storage::InsertOutcome;
using ocirelay::storage::Millis;
using ocirelay::storage::NewEvent;
using ocirelay::storage::open_sqlite_store;
using ocirelay::storage::SqliteOptions;
using ocirelay::storage::SqliteStore;
using ocirelay::storage::Store;
using ocirelay::storage::test::counter_mismatches;
using ocirelay::storage::test::dead;
using ocirelay::storage::test::delivered;
using ocirelay::storage::test::exec_sql;
using ocirelay::storage::test::kT0;
using ocirelay::storage::test::make_event;
using ocirelay::storage::test::numbered_id;
using ocirelay::storage::test::ok;
using ocirelay::storage::test::open_store;
using ocirelay::storage::test::program_opcodes;
using ocirelay::storage::test::query_int;
using ocirelay::storage::test::query_plan;
using ocirelay::storage::test::retry;
using ocirelay::test::read_file;
using ocirelay::test::TempDir;

namespace {

std::vector<InsertOutcome> insert(Store& store, std::vector<NewEvent> events) {
  return ok(store.insert_batch(events));
}

void complete(Store& store, std::vector<AttemptResult> results) { ok(store.complete(results)); }

const DestinationStats* find_stats(const std::vector<DestinationStats>& all,
                                   const std::string& destination) {
  for (const auto& s : all) {
    if (s.destination == destination) {
      return &s;
    }
  }
  return nullptr;
}

// The dedupe row of make_event("b"): no time, so the key is the two marks and
// the ID (storage::dedupe_key).
constexpr const char* kSeenB = "SELECT count(*) FROM seen WHERE event_id = char(31, 31) || 'b'";

std::int64_t count_rows(const std::string& path, const std::string& table) {
  return query_int(path, "SELECT count(*) FROM " + table);
}

}  // namespace

TEST_CASE("inserts queue new events and flag duplicates", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));

  auto first = insert(*store, {make_event("a", kT0), make_event("b", kT0 + 1)});
  CHECK(first == std::vector{InsertOutcome::queued, InsertOutcome::queued});

  SECTION("across batches") {
    auto second = insert(*store, {make_event("b", kT0 + 2), make_event("c", kT0 + 3)});
    CHECK(second == std::vector{InsertOutcome::duplicate, InsertOutcome::queued});
    CHECK(count_rows(store->path(), "events") == 3);
  }
  SECTION("inside one batch, the first one wins") {
    auto second =
        insert(*store, {make_event("d", kT0 + 2, {"oic"}, "first"),
                        make_event("d", kT0 + 3, {"oic"}, "second"), make_event("a", kT0 + 4)});
    CHECK(second ==
          std::vector{InsertOutcome::queued, InsertOutcome::duplicate, InsertOutcome::duplicate});
    auto due = ok(store->fetch_due("oic", kT0 + 10, 10)).due;
    REQUIRE(due.size() == 3);
    CHECK(due[2].event_id == "d");
    CHECK(due[2].body == "first");
  }
  SECTION("an empty batch is fine") { CHECK(insert(*store, {}).empty()); }
}

TEST_CASE("each destination gets its own delivery, due at once", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  insert(*store, {make_event("a", kT0, {"oic", "audit", "oic"})});  // "oic" named twice

  auto oic = ok(store->fetch_due("oic", kT0, 10));
  auto audit = ok(store->fetch_due("audit", kT0, 10));
  REQUIRE(oic.due.size() == 1);
  REQUIRE(audit.due.size() == 1);
  CHECK(oic.due[0].id != audit.due[0].id);
  CHECK(oic.due[0].destination == "oic");
  CHECK(audit.due[0].destination == "audit");
  CHECK(oic.due[0].attempts == 0);
  CHECK(oic.due[0].received_at == kT0);
  CHECK(ok(store->fetch_due("other", kT0, 10)).due.empty());
  CHECK(ok(store->fetch_due("oic", kT0 - 1, 10)).due.empty());  // not due before received
}

TEST_CASE("fetch_due returns the oldest due first, up to the limit", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  // Inserted out of order: c is the oldest, then a, b; x and y later.
  insert(*store, {make_event("a", kT0 + 20), make_event("b", kT0 + 20), make_event("c", kT0 + 10),
                  make_event("x", kT0 + 500), make_event("y", kT0 + 400)});

  auto first = ok(store->fetch_due("oic", kT0 + 100, 2));
  REQUIRE(first.due.size() == 2);
  CHECK(first.due[0].event_id == "c");
  CHECK(first.due[1].event_id == "a");  // same time as b, inserted first
  REQUIRE(first.next_due.has_value());
  CHECK(*first.next_due == kT0 + 400);  // the earliest not yet due

  SECTION("inflight rows are not fetched again") {
    auto second = ok(store->fetch_due("oic", kT0 + 100, 10));
    REQUIRE(second.due.size() == 1);
    CHECK(second.due[0].event_id == "b");
    auto third = ok(store->fetch_due("oic", kT0 + 1000, 10));
    REQUIRE(third.due.size() == 2);
    CHECK(third.due[0].event_id == "y");
    CHECK(third.due[1].event_id == "x");
    CHECK_FALSE(third.next_due.has_value());
    CHECK(ok(store->fetch_due("oic", kT0 + 1000, 10)).due.empty());
  }
  SECTION("a limit of zero fetches nothing") {
    auto none = ok(store->fetch_due("oic", kT0 + 100, 0));
    CHECK(none.due.empty());
    CHECK(none.next_due == kT0 + 400);
  }
  SECTION("next_due is empty when nothing waits") {
    auto other = ok(store->fetch_due("other", kT0 + 100, 10));
    CHECK(other.due.empty());
    CHECK_FALSE(other.next_due.has_value());
  }
}

TEST_CASE("complete applies delivered, retry and dead results", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  insert(*store, {make_event("a", kT0), make_event("b", kT0 + 1), make_event("c", kT0 + 2)});
  auto due = ok(store->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(due.size() == 3);

  complete(*store, {delivered(due[0].id), retry(due[1].id, 1, kT0 + 5000, 503, "HTTP 503"),
                    dead(due[2].id, 1, 400, "HTTP 400: bad request")});

  auto stats = ok(store->stats());
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].pending == 1);
  CHECK(stats[0].inflight == 0);
  CHECK(stats[0].dead == 1);

  // The retry waits for its time, then comes back with its attempt count.
  auto early = ok(store->fetch_due("oic", kT0 + 4999, 10));
  CHECK(early.due.empty());
  CHECK(early.next_due == kT0 + 5000);
  auto again = ok(store->fetch_due("oic", kT0 + 5000, 10)).due;
  REQUIRE(again.size() == 1);
  CHECK(again[0].event_id == "b");
  CHECK(again[0].attempts == 1);
  CHECK(again[0].id == due[1].id);

  auto letters = ok(store->dead_letters(10));
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].id == due[2].id);
  CHECK(letters[0].event_id == "c");
  CHECK(letters[0].destination == "oic");
  CHECK(letters[0].attempts == 1);
  CHECK(letters[0].last_status == 400);
  CHECK(letters[0].last_error == "HTTP 400: bad request");
  CHECK(letters[0].received_at == kT0 + 2);
  CHECK(letters[0].updated_at > 0);

  // The delivered event is gone; the dead letter keeps its body.
  CHECK(query_int(store->path(), "SELECT count(*) FROM events WHERE event_id = 'a'") == 0);
  CHECK(query_int(store->path(), "SELECT count(*) FROM events WHERE event_id = 'c'") == 1);
  CHECK(query_int(store->path(), "SELECT last_status FROM deliveries WHERE id = " +
                                     std::to_string(due[1].id)) == 503);

  SECTION("results for unknown or finished deliveries are ignored") {
    complete(*store, {delivered(due[0].id), retry(9999, 2, kT0, 0, "timeout")});
    CHECK(count_rows(store->path(), "deliveries") == 2);
  }
  SECTION("an empty batch is fine") { complete(*store, {}); }
}

TEST_CASE("an event body is removed only when all its deliveries are done", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  insert(*store, {make_event("a", kT0, {"one", "two", "three"})});
  auto one = ok(store->fetch_due("one", kT0, 10)).due;
  auto two = ok(store->fetch_due("two", kT0, 10)).due;
  auto three = ok(store->fetch_due("three", kT0, 10)).due;
  REQUIRE((one.size() == 1 && two.size() == 1 && three.size() == 1));

  complete(*store, {delivered(one[0].id)});
  CHECK(count_rows(store->path(), "events") == 1);
  complete(*store, {retry(two[0].id, 1, kT0 + 1000, 0, "connection refused")});
  CHECK(count_rows(store->path(), "events") == 1);
  complete(*store, {delivered(three[0].id)});
  CHECK(count_rows(store->path(), "events") == 1);  // "two" still needs it

  auto retried = ok(store->fetch_due("two", kT0 + 1000, 10)).due;
  REQUIRE(retried.size() == 1);
  CHECK(retried[0].body == "{\"eventID\":\"a\"}");
  complete(*store, {delivered(retried[0].id, 2)});
  CHECK(count_rows(store->path(), "events") == 0);
  CHECK(count_rows(store->path(), "deliveries") == 0);
  CHECK(count_rows(store->path(), "seen") == 1);  // still deduped
  CHECK(ok(store->stats()).empty());
}

TEST_CASE("bodies come back byte for byte", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  std::string binary("nul\0inside", 10);
  binary += "\xff\xfe\x80\xc3\x28 not utf-8 \x00\x01\x02";
  binary.push_back('\0');
  std::string large(1 << 20, '\0');
  for (std::size_t i = 0; i < large.size(); ++i) {
    large[i] = static_cast<char>(i * 131 % 256);
  }
  NewEvent empty = make_event("empty", kT0 + 2);
  empty.body.clear();
  insert(*store, {make_event("binary", kT0, {"oic"}, binary),
                  make_event("large", kT0 + 1, {"oic"}, large), empty});

  auto due = ok(store->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(due.size() == 3);
  CHECK(due[0].body.size() == binary.size());
  CHECK(due[0].body == binary);
  CHECK(due[1].body == large);
  CHECK(due[2].body.empty());
  CHECK(query_int(store->path(),
                  "SELECT typeof(body) = 'blob' FROM events WHERE event_id = "
                  "'binary'") == 1);
}

TEST_CASE("a delivered event's body does not stay readable in the database file", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  const std::string queued = "still-queued-object-3c9a";
  const std::string delivered_name = "delivered-object-7d1f";
  insert(*store, {make_event("queued", kT0, {"oic"}, "{\"name\":\"" + queued + "\"}"),
                  make_event("done", kT0 + 1, {"oic"}, "{\"name\":\"" + delivered_name + "\"}")});
  auto due = ok(store->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(due.size() == 2);
  REQUIRE(due[1].body.find(delivered_name) != std::string::npos);
  complete(*store, {delivered(due[1].id)});
  ok(store->shrink_wal());  // every page in the database file, the WAL empty

  const std::string file = read_file(store->path());
  CHECK(file.find(queued) != std::string::npos);  // the scan sees what is there
  CHECK(file.find(delivered_name) == std::string::npos);
  CHECK(read_file(store->path() + "-wal").empty());
}

TEST_CASE("release_inflight for one destination leaves the others inflight", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  insert(*store,
         {make_event("a", kT0, {"oic", "other"}), make_event("b", kT0 + 1, {"oic", "other"})});
  REQUIRE(ok(store->fetch_due("oic", kT0 + 10, 10)).due.size() == 2);
  REQUIRE(ok(store->fetch_due("other", kT0 + 10, 10)).due.size() == 2);
  CHECK(ok(store->release_inflight("oic")) == 2);
  CHECK(ok(store->fetch_due("oic", kT0 + 10, 10)).due.size() == 2);  // back to pending
  CHECK(ok(store->fetch_due("other", kT0 + 10, 10)).due.empty());    // still inflight
  CHECK(ok(store->release_inflight("nowhere")) == 0);
}

TEST_CASE("release_inflight returns inflight deliveries to pending", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  insert(*store, {make_event("a", kT0), make_event("b", kT0 + 1), make_event("c", kT0 + 2)});
  auto due = ok(store->fetch_due("oic", kT0 + 10, 2)).due;
  REQUIRE(due.size() == 2);
  complete(*store, {dead(due[1].id, 3, 500, "HTTP 500")});

  CHECK(ok(store->release_inflight()) == 1);
  CHECK(ok(store->release_inflight()) == 0);
  auto again = ok(store->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(again.size() == 2);
  CHECK(again[0].event_id == "a");
  CHECK(again[1].event_id == "c");
  CHECK(ok(store->dead_letters(10)).size() == 1);  // dead letters stay dead
}

TEST_CASE("prune_dedupe forgets old event IDs only", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  insert(*store, {make_event("old", kT0), make_event("new", kT0 + 1000)});

  CHECK(ok(store->prune_dedupe(kT0 + 500)) == 1);
  CHECK(ok(store->prune_dedupe(kT0 + 500)) == 0);
  auto again = insert(*store, {make_event("old", kT0 + 2000), make_event("new", kT0 + 2000)});
  CHECK(again == std::vector{InsertOutcome::queued, InsertOutcome::duplicate});
}

TEST_CASE("stats count per destination and state", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  CHECK(ok(store->stats()).empty());

  insert(*store, {make_event("a", kT0 + 100, {"oic", "audit"}), make_event("b", kT0 + 50, {"oic"}),
                  make_event("c", kT0 + 300, {"oic"}), make_event("d", kT0 + 10, {"audit"})});
  auto oic = ok(store->fetch_due("oic", kT0 + 1000, 1)).due;  // b, the oldest, now inflight
  REQUIRE(oic.size() == 1);
  auto audit = ok(store->fetch_due("audit", kT0 + 1000, 10)).due;  // d, a
  REQUIRE(audit.size() == 2);
  complete(*store, {dead(audit[0].id, 5, 502, "HTTP 502"), delivered(audit[1].id)});

  auto stats = ok(store->stats());
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].destination == "audit");  // sorted by name
  const DestinationStats* o = find_stats(stats, "oic");
  const DestinationStats* a = find_stats(stats, "audit");
  REQUIRE(o != nullptr);
  REQUIRE(a != nullptr);
  CHECK(o->pending == 2);
  CHECK(o->inflight == 1);
  CHECK(o->dead == 0);
  CHECK(o->oldest_received_at == kT0 + 50);  // inflight b counts
  CHECK(a->pending == 0);
  CHECK(a->inflight == 0);
  CHECK(a->dead == 1);
  CHECK_FALSE(a->oldest_received_at.has_value());  // dead letters do not count
}

TEST_CASE("dead_letters lists dead deliveries oldest first, up to the limit", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  insert(*store, {make_event("a", kT0), make_event("b", kT0 + 1), make_event("c", kT0 + 2)});
  auto due = ok(store->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(due.size() == 3);
  complete(*store, {dead(due[2].id, 1, 0, "TLS handshake failed"),
                    dead(due[0].id, 2, 404, "HTTP 404"), delivered(due[1].id)});

  auto letters = ok(store->dead_letters(10));
  REQUIRE(letters.size() == 2);
  CHECK(letters[0].event_id == "a");
  CHECK(letters[0].last_status == 404);
  CHECK(letters[1].event_id == "c");
  CHECK(letters[1].last_status == 0);
  CHECK(letters[1].last_error == "TLS handshake failed");
  CHECK(ok(store->dead_letters(1)).size() == 1);
  CHECK(ok(store->dead_letters(0)).empty());
}

TEST_CASE("a reopened store keeps everything", "[storage]") {
  TempDir dir;
  const std::string path = dir.file("relay.db");
  std::int64_t dead_id = 0;
  {
    auto store = open_store(path);
    insert(*store,
           {make_event("a", kT0), make_event("b", kT0 + 1), make_event("c", kT0 + 2, {"x"})});
    auto due = ok(store->fetch_due("oic", kT0 + 10, 1)).due;
    REQUIRE(due.size() == 1);
    dead_id = due[0].id;
    complete(*store, {dead(dead_id, 4, 401, "HTTP 401")});
    ok(store->fetch_due("x", kT0 + 10, 10));  // c inflight at close
  }
  auto reopened = open_sqlite_store(SqliteOptions{path});
  REQUIRE(reopened.ok());
  Store& store = **reopened;
  CHECK(insert(store, {make_event("a", kT0 + 20)}) == std::vector{InsertOutcome::duplicate});
  auto letters = ok(store.dead_letters(10));
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].id == dead_id);
  CHECK(letters[0].last_error == "HTTP 401");
  CHECK(ok(store.release_inflight()) == 1);
  auto due = ok(store.fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(due.size() == 1);
  CHECK(due[0].event_id == "b");
  CHECK(due[0].id > dead_id);
  auto x = ok(store.fetch_due("x", kT0 + 10, 10)).due;
  REQUIRE(x.size() == 1);
  CHECK(x[0].event_id == "c");
}

TEST_CASE("a new database is private and its folder is created", "[storage]") {
  TempDir dir;
  const std::string path = dir.file("var/lib/ocirelay/relay.db");
  {
    auto store = open_store(path);
    insert(*store, {make_event("a", kT0)});
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat((path + "-wal").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    REQUIRE(::stat(dir.file("var/lib/ocirelay").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0750);
    CHECK(query_int(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") ==
          1);
    CHECK(query_int(path, "PRAGMA user_version") == 3);
  }

  SECTION("unless told not to create the folder") {
    SqliteOptions options{dir.file("missing/relay.db")};
    options.create_parent = false;
    auto store = open_sqlite_store(options);
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error().message,
               Catch::Contains(options.path) && Catch::Contains("No such file or directory"));
  }
}

TEST_CASE("open errors name the path and the cause", "[storage]") {
  TempDir dir;

  SECTION("a directory") {
    std::filesystem::create_directories(dir.file("db"));
    auto store = open_sqlite_store(SqliteOptions{dir.file("db")});
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error().message,
               Catch::StartsWith(dir.file("db") + ": ") && Catch::Contains("is a directory"));
  }
  SECTION("a file that is not a database") {
    const std::string path =
        dir.write("garbage.db", std::string(4096, 'x') + "this is not an SQLite file");
    auto store = open_sqlite_store(SqliteOptions{path});
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error().message,
               Catch::StartsWith(path + ": ") && Catch::Contains("not an SQLite database"));
  }
  SECTION("a short garbage file") {
    const std::string path = dir.write("short.db", "garbage");
    auto store = open_sqlite_store(SqliteOptions{path});
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error().message, Catch::StartsWith(path + ": "));
  }
  SECTION("another application's database") {
    const std::string path = dir.write("other.db", "");
    exec_sql(path, "CREATE TABLE t (x); PRAGMA user_version = 1;");
    auto store = open_sqlite_store(SqliteOptions{path});
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error().message, Catch::Contains("not an ocirelay database"));
  }
  SECTION("a parent that is a file") {
    dir.write("file", "x");
    auto store = open_sqlite_store(SqliteOptions{dir.file("file/relay.db")});
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error().message, Catch::Contains("is not a directory"));
  }
  SECTION("an empty path") { CHECK_FALSE(open_sqlite_store(SqliteOptions{""}).ok()); }
  SECTION("no permission") {
    const std::string path = dir.file("locked.db");
    { open_store(path); }
    ::chmod(path.c_str(), 0600);
    ::chmod(dir.path().c_str(), 0755);
    auto denied = [&path] {
      auto store = open_sqlite_store(SqliteOptions{path});
      return !store.ok() && store.error().message.rfind(path + ": ", 0) == 0 &&
             store.error().message.find("Permission denied") != std::string::npos;
    };
    if (::geteuid() != 0) {
      ::chmod(path.c_str(), 0400);
      CHECK(denied());
    } else {
      // Root reads and writes anything: try as nobody, in a child process.
      const pid_t child = ::fork();
      REQUIRE(child >= 0);
      if (child == 0) {
        const bool dropped = ::setgid(65534) == 0 && ::setuid(65534) == 0;
        ::_exit(!dropped ? 2 : denied() ? 0 : 1);
      }
      int status = 0;
      REQUIRE(::waitpid(child, &status, 0) == child);
      REQUIRE(WIFEXITED(status));
      CHECK(WEXITSTATUS(status) == 0);
    }
  }
}

TEST_CASE("a database from a newer ocirelay is refused", "[storage]") {
  TempDir dir;
  const std::string path = dir.file("relay.db");
  {
    auto store = open_store(path);
    insert(*store, {make_event("a", kT0)});
  }
  exec_sql(path, "PRAGMA user_version = 99");
  auto store = open_sqlite_store(SqliteOptions{path});
  REQUIRE_FALSE(store.ok());
  CHECK_THAT(store.error().message, Catch::StartsWith(path + ": ") &&
                                        Catch::Contains("schema version 99 is newer") &&
                                        Catch::Contains("(3)"));
  CHECK_FALSE(store.error().disk_full);
}

TEST_CASE("a failed batch leaves no partial rows and no open transaction", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  insert(*store, {make_event("before", kT0)});
  const std::int64_t pages = query_int(store->path(), "PRAGMA page_count");

  // A full disk, as far as this connection can tell.
  ok(store->execute("PRAGMA max_page_count = " + std::to_string(pages + 2)));
  std::vector<NewEvent> batch;
  for (int i = 0; i < 50; ++i) {
    batch.push_back(make_event(numbered_id(i), kT0 + i, {"oic", "audit"},
                               std::string(8000, static_cast<char>('a' + i % 26))));
  }
  auto failed = store->insert_batch(batch);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().disk_full);
  CHECK_THAT(failed.error().message, Catch::Contains("insert_batch"));

  CHECK(count_rows(store->path(), "events") == 1);
  CHECK(count_rows(store->path(), "deliveries") == 1);
  CHECK(count_rows(store->path(), "seen") == 1);

  // The connection is usable again, and nothing of the batch counts as seen.
  ok(store->execute("PRAGMA max_page_count = 1073741823"));
  auto outcomes = insert(*store, batch);
  CHECK(std::count(outcomes.begin(), outcomes.end(), InsertOutcome::queued) == 50);
  CHECK(count_rows(store->path(), "deliveries") == 101);
}

TEST_CASE("committed inserts survive a process that dies without closing", "[storage]") {
  TempDir dir;
  const std::string path = dir.file("relay.db");
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // Like kill -9 after the 2xx: no destructor, no close, no checkpoint.
    auto store = SqliteStore::open(SqliteOptions{path});
    if (!store) {
      ::_exit(2);
    }
    std::vector<NewEvent> batch{make_event("a", kT0), make_event("b", kT0 + 1, {"oic", "x"})};
    auto outcome = (*store)->insert_batch(batch);
    auto fetched = (*store)->fetch_due("x", kT0 + 10, 10);
    ::_exit(outcome.ok() && fetched.ok() ? 0 : 3);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(std::filesystem::exists(path + "-wal"));

  auto store = open_store(path);
  ok(store->release_inflight());
  auto stats = ok(store->stats());
  const DestinationStats* oic = find_stats(stats, "oic");
  REQUIRE(oic != nullptr);
  CHECK(oic->pending == 2);
  auto x = ok(store->fetch_due("x", kT0 + 10, 10)).due;
  REQUIRE(x.size() == 1);
  CHECK(x[0].body == "{\"eventID\":\"b\"}");
  CHECK(insert(*store, {make_event("a", kT0 + 5)}) == std::vector{InsertOutcome::duplicate});
}

TEST_CASE("queries are index lookups, not table scans", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  using namespace ocirelay::storage;
  struct Query {
    const char* name;
    const char* sql;
  };
  for (const Query& q : {Query{"due", kSqlDueSelect}, Query{"next_due", kSqlNextDue},
                         Query{"oldest", kSqlOldestReceived}, Query{"dead list", kSqlDeadList},
                         Query{"release", kSqlReleaseInflight}, Query{"prune", kSqlPruneSeen},
                         Query{"event release", kSqlEventRelease}, Query{"count", kSqlCountStates},
                         Query{"delivery row", kSqlDeliveryRow}, Query{"bare IDs", kSqlHasBareIds},
                         Query{"bare ID", kSqlBareIdSeen}}) {
    const auto plan = query_plan(store->path(), q.sql);
    std::string text;
    for (const auto& line : plan) {
      text += line + "\n";
    }
    INFO(q.name << ":\n" << text);
    for (const auto& line : plan) {
      if (line.rfind("SCAN", 0) == 0) {
        // Only the counts read a whole table: the small one of counters.
        CHECK(line == "SCAN delivery_counts");
      }
      if (std::string(q.name) == "due") {
        CHECK(line.find("TEMP B-TREE") == std::string::npos);  // index order, no sort
      }
    }
  }
}

TEST_CASE("no per-event statement builds a temporary table or index as it runs", "[storage]") {
  // Schema 2's `state IN ('pending', 'inflight', 'dead')` made SQLite build
  // an ephemeral index in every statement that wrote deliveries.state, once
  // per delivery row inserted or moved, and RETURNING gathers its rows in an
  // ephemeral table, once per delivered event (docs/benchmarks.md has what
  // removing them bought). The bulk releases, once per reload or shutdown,
  // keep RETURNING, and the dead letter list (an operator's command) sorts.
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  using namespace ocirelay::storage;
  for (const char* sql :
       {kSqlSeenInsert, kSqlEventInsert, kSqlDeliveryInsert, kSqlDueSelect, kSqlMarkInflight,
        kSqlNextDue, kSqlDeliveryRow, kSqlDelivered, kSqlEventRelease, kSqlRetry, kSqlReleaseOne,
        kSqlDead, kSqlPruneSeen, kSqlCountStates, kSqlOldestReceived, kSqlBareIdSeen}) {
    INFO(sql);
    const auto opcodes = program_opcodes(store->path(), sql);
    CHECK(!opcodes.empty());
    CHECK(std::count(opcodes.begin(), opcodes.end(), "OpenEphemeral") == 0);
  }
}

TEST_CASE("the per-state counters match the rows after every kind of change", "[storage]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  const std::string path = store->path();
  auto check_counts = [&] { CHECK(counter_mismatches(path) == 0); };

  std::vector<NewEvent> batch;
  for (int i = 0; i < 40; ++i) {
    batch.push_back(make_event(numbered_id(i), kT0 + i, {"one", "two"}));
  }
  insert(*store, batch);
  check_counts();
  auto one = ok(store->fetch_due("one", kT0 + 100, 30)).due;
  check_counts();
  std::vector<AttemptResult> results;
  for (std::size_t i = 0; i < one.size(); ++i) {
    switch (i % 3) {
      case 0:
        results.push_back(delivered(one[i].id));
        break;
      case 1:
        results.push_back(retry(one[i].id, 1, kT0 + 500, 503, "HTTP 503"));
        break;
      default:
        results.push_back(dead(one[i].id, 1, 400, "HTTP 400"));
        break;
    }
  }
  complete(*store, results);
  check_counts();
  ok(store->fetch_due("two", kT0 + 100, 5));
  CHECK(ok(store->release_inflight()) == 5);
  check_counts();

  auto stats = ok(store->stats());
  const DestinationStats* s1 = find_stats(stats, "one");
  REQUIRE(s1 != nullptr);
  CHECK(s1->pending == 10 + 10);  // 10 never fetched, 10 retried
  CHECK(s1->inflight == 0);
  CHECK(s1->dead == 10);
}

TEST_CASE("inserts are refused once the file was deleted or replaced under the store",
          "[storage]") {
  TempDir dir;
  const std::string path = dir.file("relay.db");
  auto store = open_store(path);
  CHECK(insert(*store, {make_event("a", kT0)}) == std::vector{InsertOutcome::queued});
  SECTION("deleted") { REQUIRE(std::filesystem::remove(path)); }
  SECTION("replaced") {
    std::filesystem::rename(path, path + ".old");
    std::ofstream(path) << "";
  }
  std::vector<NewEvent> batch{make_event("b", kT0 + 1)};
  auto refused = store->insert_batch(batch);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find(path + ": the storage file was deleted or replaced") == 0);
  CHECK_FALSE(refused.error().disk_full);
  // What is queued in the open file can still be delivered.
  auto due = ok(store->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(due.size() == 1);
  complete(*store, {delivered(due[0].id)});
}

TEST_CASE("a group commits its calls in one transaction, or keeps nothing of them", "[storage]") {
  TempDir dir;
  const std::string path = dir.file("relay.db");
  auto store = open_store(path);
  CHECK(insert(*store, {make_event("a", kT0)}) == std::vector{InsertOutcome::queued});
  const auto taken = ok(store->fetch_due("oic", kT0 + 1, 10)).due;
  REQUIRE(taken.size() == 1);

  REQUIRE(store->begin_group(true));
  CHECK_FALSE(store->begin_group(true));  // one at a time
  CHECK(insert(*store, {make_event("b", kT0 + 2)}) == std::vector{InsertOutcome::queued});
  complete(*store, {delivered(taken[0].id)});
  const auto due = ok(store->fetch_due("oic", kT0 + 3, 10)).due;
  REQUIRE(due.size() == 1);
  CHECK(due[0].event_id == "b");
  // Nothing is visible to another connection before the group commits.
  CHECK(query_int(path, kSeenB) == 0);
  CHECK(query_int(path, "SELECT count(*) FROM events WHERE event_id = 'a'") == 1);

  SECTION("committed: all of it") {
    ok(store->end_group());
    CHECK(query_int(path, kSeenB) == 1);
    CHECK(query_int(path, "SELECT count(*) FROM events WHERE event_id = 'a'") == 0);
    CHECK(query_int(path, "SELECT count(*) FROM deliveries WHERE state = 'inflight'") == 1);
    CHECK(counter_mismatches(path) == 0);
  }
  SECTION("aborted: none of it, and the store works on alone") {
    store->abort_group();
    CHECK(query_int(path, kSeenB) == 0);
    CHECK(insert(*store, {make_event("b", kT0 + 4)}) == std::vector{InsertOutcome::queued});
    const auto again = ok(store->fetch_due("oic", kT0 + 5, 10)).due;
    REQUIRE(again.size() == 1);  // "a" is still in flight
    CHECK(again[0].event_id == "b");
    complete(*store, {delivered(taken[0].id)});
    CHECK(query_int(path, "SELECT count(*) FROM events WHERE event_id = 'a'") == 0);
    CHECK(counter_mismatches(path) == 0);
  }
}

TEST_CASE("a call in a group that SQLite rolled back fails instead of committing alone",
          "[storage]") {
  TempDir dir;
  const std::string path = dir.file("relay.db");
  auto store = open_store(path);
  REQUIRE(store->begin_group(true));
  ok(store->execute("ROLLBACK"));  // as SQLite does itself after some errors
  std::vector<NewEvent> batch{make_event("a", kT0)};
  CHECK_FALSE(store->insert_batch(batch).ok());
  CHECK_FALSE(store->end_group().ok());
  CHECK(query_int(path, "SELECT count(*) FROM seen") == 0);
  // Ungrouped again: the next insert commits on its own.
  CHECK(insert(*store, {make_event("a", kT0)}) == std::vector{InsertOutcome::queued});
  CHECK(query_int(path, "SELECT count(*) FROM seen") == 1);
}
