// PgStore against a real PostgreSQL server (tests/support/pg_cluster): the
// Store's behaviour, checked on both backends alike, then what several relays
// on one database need (cluster-wide dedupe, one claim at a time, leases,
// migrations under the advisory lock).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ocirelay/storage/store.hpp"
#include "storage/pg_connection.hpp"
#include "storage/pg_schema.hpp"
#include "storage/pg_store.hpp"
#include "support/pg_cluster.hpp"
#include "support/temp_dir.hpp"
#include "unit/storage/store_backend.hpp"
#include "unit/storage/store_test_support.hpp"

using namespace std::chrono_literals;
using ocirelay::storage::AttemptResult;
using ocirelay::storage::DestinationStats;
using ocirelay::storage::InsertOutcome;
using ocirelay::storage::kPgSchemaVersion;
using ocirelay::storage::Millis;
using ocirelay::storage::NewEvent;
using ocirelay::storage::open_postgresql_store;
using ocirelay::storage::open_sqlite_store;
using ocirelay::storage::PostgresqlOptions;
using ocirelay::storage::SqliteOptions;
using ocirelay::storage::Store;
using ocirelay::storage::test::dead;
using ocirelay::storage::test::delivered;
using ocirelay::storage::test::kT0;
using ocirelay::storage::test::make_event;
using ocirelay::storage::test::numbered_id;
using ocirelay::storage::test::ok;
using ocirelay::storage::test::retry;
using ocirelay::test::PgCluster;
using ocirelay::test::TempDir;

namespace {

constexpr Millis kLease = 30'000;

PostgresqlOptions pg_options(const std::string& url, const std::string& node) {
  PostgresqlOptions options;
  options.url = url;
  options.node_id = node;
  options.lease = std::chrono::milliseconds(kLease);
  return options;
}

std::unique_ptr<Store> open_pg(const std::string& url, const std::string& node = "node-a") {
  auto store = open_postgresql_store(pg_options(url, node));
  if (!store) FAIL("open failed: " << store.error().message);
  return std::move(store).value();
}

// The same behaviour on both backends: a fresh store of the backend named.
using Backend = ocirelay::storage::test::StoreBackend;
using ocirelay::storage::test::backends;

std::vector<InsertOutcome> insert(Store& store, std::vector<NewEvent> events) {
  return ok(store.insert_batch(events));
}

void complete(Store& store, std::vector<AttemptResult> results) { ok(store.complete(results)); }

// "ce<i>", "node-<i>" (appended: GCC 12 warns with a false -Wrestrict on
// "literal" + std::string).
std::string shared_id(int i) {
  std::string id = "c";
  id += numbered_id(i);
  return id;
}
std::string node_name(int i) {
  std::string name = "node-";
  name += std::to_string(i);
  return name;
}

// Runs `body` on a thread of its own; what it throws ends up in `error`.
template <class Body>
std::thread guarded(std::string& error, Body body) {
  return std::thread([&error, body]() mutable {
    try {
      body();
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
}

std::int64_t sql_count(const std::string& url, const std::string& sql) {
  const std::string database = url.substr(url.rfind('/') + 1);
  return std::stoll(PgCluster::shared()->psql(database, sql));
}

}  // namespace

TEST_CASE("both backends: inserts queue new events and flag duplicates", "[storage][pg]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  CHECK(insert(*store, {make_event("a", kT0), make_event("b", kT0 + 1)}) ==
        std::vector{InsertOutcome::queued, InsertOutcome::queued});
  CHECK(insert(*store, {make_event("b", kT0 + 2), make_event("c", kT0 + 3)}) ==
        std::vector{InsertOutcome::duplicate, InsertOutcome::queued});
  // Inside one batch the first wins, whatever the order of the IDs.
  CHECK(insert(*store, {make_event("z", kT0 + 4, {"oic"}, "first"), make_event("d", kT0 + 5),
                        make_event("z", kT0 + 6, {"oic"}, "second"), make_event("a", kT0 + 7)}) ==
        std::vector{InsertOutcome::queued, InsertOutcome::queued, InsertOutcome::duplicate,
                    InsertOutcome::duplicate});
  CHECK(insert(*store, {}).empty());
  auto due = ok(store->fetch_due("oic", kT0 + 100, 10)).due;
  REQUIRE(due.size() == 5);
  CHECK(due[3].event_id == "z");
  CHECK(due[3].body == "first");
}

TEST_CASE("both backends: a duplicate has the eventID and the event time of one accepted",
          "[storage][pg][dedupe]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  auto at = [](std::string id, std::string time, std::string body) {
    NewEvent event = make_event(std::move(id), kT0, {"oic"}, std::move(body));
    event.event_time = std::move(time);
    return event;
  };
  const std::string t1 = "2026-05-14T09:12:41.372Z";
  const std::string t2 = "2026-05-14T09:12:42.001Z";
  // One batch: the same eventID at two times, and with none, are three
  // events; the second at t1 is the first one's duplicate.
  CHECK(insert(*store, {at("a", t1, "a at t1"), at("a", t2, "a at t2"), at("a", "", "a, no time"),
                        at("a", t1, "a at t1 again")}) ==
        std::vector{InsertOutcome::queued, InsertOutcome::queued, InsertOutcome::queued,
                    InsertOutcome::duplicate});
  CHECK(insert(*store, {at("a", t2, "later"), at("a", "", "later"), at("b", t1, "b at t1")}) ==
        std::vector{InsertOutcome::duplicate, InsertOutcome::duplicate, InsertOutcome::queued});
  // Each stored event kept its own body.
  auto due = ok(store->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(due.size() == 4);
  std::vector<std::string> bodies;
  for (const auto& d : due) bodies.push_back(d.event_id + ": " + d.body);
  std::sort(bodies.begin(), bodies.end());
  CHECK(bodies ==
        std::vector<std::string>{"a: a at t1", "a: a at t2", "a: a, no time", "b: b at t1"});
  // The dedupe table holds keys (mark, time, mark, ID), never a bare eventID.
  CHECK(backend.query_int("SELECT count(*) FROM seen") == 4);
  CHECK(backend.query_int("SELECT count(*) FROM seen WHERE event_id IN ('a', 'b')") == 0);
  CHECK(backend.query_int("SELECT count(*) FROM seen WHERE event_id LIKE '_" + t1 + "_a'") == 1);
  CHECK(backend.query_int("SELECT count(*) FROM seen WHERE event_id LIKE '__a'") == 1);
}

TEST_CASE("both backends: two events of one batch with one eventID keep their own deliveries",
          "[storage][pg][dedupe]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  std::vector<NewEvent> batch;
  for (int i = 0; i < 6; ++i) {
    const std::string id = i % 2 == 0 ? "same" : numbered_id(i);
    NewEvent event = make_event(id, kT0 + i, {i % 3 == 0 ? "x" : "y"}, "body " + numbered_id(i));
    event.event_time = "2026-05-14T09:12:4" + std::to_string(i) + "Z";
    batch.push_back(std::move(event));
  }
  CHECK(insert(*store, batch) == std::vector<InsertOutcome>(6, InsertOutcome::queued));
  std::vector<std::string> got;
  for (const char* destination : {"x", "y"}) {
    for (const auto& d : ok(store->fetch_due(destination, kT0 + 10, 10)).due) {
      got.push_back(d.destination + " " + d.event_id + " " + d.body);
    }
  }
  std::sort(got.begin(), got.end());
  CHECK(got == std::vector<std::string>{"x e3 body e3", "x same body e0", "y e1 body e1",
                                        "y e5 body e5", "y same body e2", "y same body e4"});
}

TEST_CASE("both backends: eventIDs an older build remembered stay duplicates until pruned",
          "[storage][pg][dedupe]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  backend.open().reset();  // creates the schema
  // As builds before the dedupe key wrote them: the bare eventID.
  backend.exec("INSERT INTO seen (event_id, first_seen_at) VALUES ('legacy', " +
               std::to_string(kT0) + ")");
  auto store = backend.open();
  auto at = [](std::string id, Millis received) {
    NewEvent event = make_event(std::move(id), received);
    event.event_time = "2026-05-14T09:12:41.372Z";
    return event;
  };
  CHECK(insert(*store, {at("legacy", kT0 + 10), at("other", kT0 + 10)}) ==
        std::vector{InsertOutcome::duplicate, InsertOutcome::queued});
  CHECK(ok(store->prune_dedupe(kT0 + 5)) == 1);  // the bare row only
  CHECK(insert(*store, {at("legacy", kT0 + 20), at("other", kT0 + 20)}) ==
        std::vector{InsertOutcome::queued, InsertOutcome::duplicate});
}

TEST_CASE("both backends: IDs and destination names with quotes, backslashes and commas",
          "[storage][pg]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  // What an array literal would misread, were a batch's values not quoted
  // and escaped: PostgreSQL stores a batch from arrays.
  const std::vector<std::string> ids = {"a\"b", "c\\d", "e,f", "{g}", "NULL", " h "};
  std::vector<NewEvent> events;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    events.push_back(make_event(ids[i], kT0 + static_cast<Millis>(i), {"oic \"x\", {y}\\"},
                                "body-" + std::to_string(i)));
  }
  CHECK(insert(*store, events) == std::vector(ids.size(), InsertOutcome::queued));
  // The same IDs again, one of them twice: all duplicates.
  events.push_back(events.front());
  CHECK(insert(*store, events) == std::vector(ids.size() + 1, InsertOutcome::duplicate));
  const auto due = ok(store->fetch_due("oic \"x\", {y}\\", kT0 + 100, 100)).due;
  REQUIRE(due.size() == ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CHECK(due[i].event_id == ids[i]);
    CHECK(due[i].body == "body-" + std::to_string(i));
  }
}

TEST_CASE("both backends: a large batch keeps its order and every body", "[storage][pg]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  std::vector<NewEvent> events;
  for (int i = 0; i < 300; ++i) {
    // Bodies of different sizes, so that each one's place in the batch matters.
    events.push_back(make_event(
        numbered_id(299 - i), kT0, {"oic", "ops"},
        std::string(static_cast<std::size_t>(1 + i % 17), static_cast<char>('a' + i % 26))));
  }
  CHECK(insert(*store, events) == std::vector(events.size(), InsertOutcome::queued));
  for (const char* destination : {"oic", "ops"}) {
    const auto due = ok(store->fetch_due(destination, kT0 + 100, 1000)).due;
    REQUIRE(due.size() == events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      CHECK(due[i].event_id == events[i].event_id);
      CHECK(due[i].body == events[i].body);
    }
  }
}

TEST_CASE("both backends: each destination gets its own delivery, due at once", "[storage][pg]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  insert(*store, {make_event("a", kT0, {"oic", "audit", "oic"})});
  auto oic = ok(store->fetch_due("oic", kT0, 10));
  auto audit = ok(store->fetch_due("audit", kT0, 10));
  REQUIRE(oic.due.size() == 1);
  REQUIRE(audit.due.size() == 1);
  CHECK(oic.due[0].id != audit.due[0].id);
  CHECK(oic.due[0].destination == "oic");
  CHECK(oic.due[0].attempts == 0);
  CHECK(oic.due[0].received_at == kT0);
  CHECK(ok(store->fetch_due("other", kT0, 10)).due.empty());
}

TEST_CASE("both backends: fetch_due returns the oldest due first, up to the limit",
          "[storage][pg]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  insert(*store, {make_event("a", kT0 + 20), make_event("b", kT0 + 20), make_event("c", kT0 + 10),
                  make_event("x", kT0 + 500), make_event("y", kT0 + 400)});
  CHECK(ok(store->fetch_due("oic", kT0 + 100, 0)).due.empty());
  auto first = ok(store->fetch_due("oic", kT0 + 100, 2));
  REQUIRE(first.due.size() == 2);
  CHECK(first.due[0].event_id == "c");
  CHECK(first.due[1].event_id == "a");
  // As many as asked for: when the next is due may be left out.
  CHECK((!first.next_due || *first.next_due == kT0 + 400));
  auto second = ok(store->fetch_due("oic", kT0 + 100, 10));
  REQUIRE(second.due.size() == 1);
  CHECK(second.due[0].event_id == "b");
  CHECK(second.next_due == kT0 + 400);
  auto third = ok(store->fetch_due("oic", kT0 + 1000, 10));
  REQUIRE(third.due.size() == 2);
  CHECK(third.due[0].event_id == "y");
  CHECK(third.due[1].event_id == "x");
  CHECK_FALSE(third.next_due.has_value());
  CHECK(ok(store->fetch_due("oic", kT0 + 1000, 10)).due.empty());
}

TEST_CASE("both backends: complete applies delivered, retry and dead results", "[storage][pg]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  insert(*store, {make_event("a", kT0), make_event("b", kT0 + 1), make_event("c", kT0 + 2)});
  auto due = ok(store->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(due.size() == 3);
  complete(*store, {delivered(due[0]), retry(due[1], 1, kT0 + 5000, 503, "HTTP 503"),
                    dead(due[2], 1, 400, "HTTP 400: bad request")});

  auto stats = ok(store->stats());
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].pending == 1);
  CHECK(stats[0].inflight == 0);
  CHECK(stats[0].dead == 1);
  CHECK(stats[0].oldest_received_at == kT0 + 1);

  auto early = ok(store->fetch_due("oic", kT0 + 4999, 10));
  CHECK(early.due.empty());
  CHECK(early.next_due == kT0 + 5000);
  auto again = ok(store->fetch_due("oic", kT0 + 5000, 10)).due;
  REQUIRE(again.size() == 1);
  CHECK(again[0].id == due[1].id);
  CHECK(again[0].attempts == 1);

  auto letters = ok(store->dead_letters(10));
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].id == due[2].id);
  CHECK(letters[0].event_id == "c");
  CHECK(letters[0].attempts == 1);
  CHECK(letters[0].last_status == 400);
  CHECK(letters[0].last_error == "HTTP 400: bad request");
  CHECK(letters[0].received_at == kT0 + 2);
  CHECK(letters[0].updated_at > 0);

  // Unknown or finished deliveries are ignored; an empty batch is fine.
  complete(*store, {delivered(due[0].id), retry(9999, 2, kT0, 0, "timeout")});
  complete(*store, {});
  CHECK(ok(store->stats())[0].dead == 1);
}

TEST_CASE("both backends: a released delivery is pending again as it was", "[storage][pg]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  insert(*store, {make_event("a", kT0), make_event("b", kT0 + 1)});
  auto due = ok(store->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(due.size() == 2);
  complete(*store, {retry(due[0], 1, kT0 + 5000, 503, "HTTP 503")});
  auto retried = ok(store->fetch_due("oic", kT0 + 5000, 10)).due;
  REQUIRE(retried.size() == 1);
  AttemptResult back_a;
  back_a.id = retried[0].id;
  back_a.claim = retried[0].claim;
  back_a.kind = AttemptResult::Kind::released;
  back_a.attempts = 1;
  AttemptResult back_b = back_a;
  back_b.id = due[1].id;
  back_b.claim = due[1].claim;
  back_b.attempts = 0;
  complete(*store, {back_a, back_b});
  auto stats = ok(store->stats());
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].pending == 2);
  CHECK(stats[0].inflight == 0);
  // Due as before, attempts unchanged: b since it was received, a at its
  // retry time; a keeps its last error.
  auto early = ok(store->fetch_due("oic", kT0 + 4999, 10));
  REQUIRE(early.due.size() == 1);
  CHECK(early.due[0].id == due[1].id);
  CHECK(early.due[0].attempts == 0);
  CHECK(early.next_due == kT0 + 5000);
  auto later = ok(store->fetch_due("oic", kT0 + 5000, 10)).due;
  REQUIRE(later.size() == 1);
  CHECK(later[0].id == due[0].id);
  CHECK(later[0].attempts == 1);
  if (backend.name == "postgresql") {
    const std::string db = backend.url.substr(backend.url.rfind('/') + 1);
    CHECK(PgCluster::shared()->psql(db, "SELECT last_error FROM deliveries WHERE id = " +
                                            std::to_string(due[0].id)) == "HTTP 503\n");
    // Under a claim token it no longer holds, a release does nothing.
    AttemptResult stale = back_a;
    stale.id = later[0].id;
    stale.claim = later[0].claim + 1000;
    complete(*store, {stale});
    CHECK(ok(store->stats())[0].inflight == 2);
  }
}

TEST_CASE("both backends: bodies come back byte for byte, and go with the last delivery",
          "[storage][pg]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  std::string binary("nul\0inside", 10);
  binary += "\xff\xfe\x80\xc3\x28 not utf-8 \x00\x01\x02";
  std::string large(1 << 20, '\0');
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 131 % 256);
  NewEvent empty = make_event("empty", kT0 + 2, {"one", "two"});
  empty.body.clear();
  insert(*store, {make_event("binary", kT0, {"one", "two"}, binary),
                  make_event("large", kT0 + 1, {"one"}, large), empty});
  auto one = ok(store->fetch_due("one", kT0 + 10, 10)).due;
  REQUIRE(one.size() == 3);
  CHECK(one[0].body == binary);
  CHECK(one[1].body == large);
  CHECK(one[2].body.empty());
  complete(*store, {delivered(one[0].id), delivered(one[1].id), delivered(one[2].id)});
  // "two" still needs two of the bodies.
  auto two = ok(store->fetch_due("two", kT0 + 10, 10)).due;
  REQUIRE(two.size() == 2);
  CHECK(two[0].body == binary);
  complete(*store, {delivered(two[0].id), delivered(two[1].id)});
  CHECK(ok(store->stats()).empty());
  if (backend.name == "postgresql") {
    CHECK(sql_count(backend.url, "SELECT count(*) FROM events") == 0);
    CHECK(sql_count(backend.url, "SELECT count(*) FROM seen") == 3);
  }
}

TEST_CASE("both backends: release_inflight, prune_dedupe and stats", "[storage][pg]") {
  const Backend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  insert(*store,
         {make_event("a", kT0, {"oic", "other"}), make_event("b", kT0 + 1, {"oic", "other"}),
          make_event("old", kT0 - 1000, {"oic"})});
  REQUIRE(ok(store->fetch_due("oic", kT0 + 10, 10)).due.size() == 3);
  REQUIRE(ok(store->fetch_due("other", kT0 + 10, 10)).due.size() == 2);
  auto stats = ok(store->stats());
  REQUIRE(stats.size() == 2);
  CHECK(stats[0].destination == "oic");
  CHECK(stats[0].inflight == 3);
  CHECK(stats[0].oldest_received_at == kT0 - 1000);

  CHECK(ok(store->release_inflight("oic")) == 3);
  CHECK(ok(store->fetch_due("other", kT0 + 10, 10)).due.empty());  // still inflight
  CHECK(ok(store->release_inflight()) == 2);
  CHECK(ok(store->release_inflight()) == 0);
  CHECK(ok(store->fetch_due("other", kT0 + 10, 10)).due.size() == 2);

  CHECK(ok(store->prune_dedupe(kT0 - 500)) == 1);
  CHECK(ok(store->prune_dedupe(kT0 - 500)) == 0);
  CHECK(insert(*store, {make_event("old", kT0 + 5), make_event("a", kT0 + 5)}) ==
        std::vector{InsertOutcome::queued, InsertOutcome::duplicate});
}

// --- PostgreSQL only: several relays on one database -------------------------

TEST_CASE("postgresql: dedupe is cluster-wide", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("dedupe");
  auto a = open_pg(url, "node-a");
  auto b = open_pg(url, "node-b");
  CHECK(insert(*a, {make_event("e1", kT0)}) == std::vector{InsertOutcome::queued});
  CHECK(insert(*b, {make_event("e1", kT0 + 1)}) == std::vector{InsertOutcome::duplicate});

  // At once from two threads, many times: each eventID queued exactly once.
  constexpr int kEvents = 200;
  std::vector<InsertOutcome> from_a(kEvents), from_b(kEvents);
  // Opposite orders in the two threads, and within their batches: the row
  // locks must not deadlock.
  std::string error_a, error_b;
  std::thread ta = guarded(error_a, [&] {
    for (int i = 0; i < kEvents; i += 4) {
      std::vector<NewEvent> batch;
      for (int j = 0; j < 4; ++j) batch.push_back(make_event(shared_id(i + j), kT0));
      auto outcomes = a->insert_batch(batch);
      if (!outcomes) throw std::runtime_error(outcomes.error().message);
      for (int j = 0; j < 4; ++j) from_a[static_cast<std::size_t>(i + j)] = (*outcomes)[j];
    }
  });
  std::thread tb = guarded(error_b, [&] {
    for (int i = kEvents - 4; i >= 0; i -= 4) {
      std::vector<NewEvent> batch;
      for (int j = 3; j >= 0; --j) batch.push_back(make_event(shared_id(i + j), kT0));
      auto outcomes = b->insert_batch(batch);
      if (!outcomes) throw std::runtime_error(outcomes.error().message);
      for (int j = 0; j < 4; ++j) from_b[static_cast<std::size_t>(i + 3 - j)] = (*outcomes)[j];
    }
  });
  ta.join();
  tb.join();
  REQUIRE(error_a.empty());
  REQUIRE(error_b.empty());
  for (int i = 0; i < kEvents; ++i) {
    INFO(i);
    CHECK((from_a[i] == InsertOutcome::queued) != (from_b[i] == InsertOutcome::queued));
  }
  CHECK(sql_count(url, "SELECT count(*) FROM events") == kEvents + 1);
}

TEST_CASE("postgresql: two nodes never claim the same delivery", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("claims");
  auto a = open_pg(url, "node-a");
  auto b = open_pg(url, "node-b");
  constexpr int kEvents = 400;
  std::vector<NewEvent> events;
  for (int i = 0; i < kEvents; ++i) events.push_back(make_event(numbered_id(i), kT0 + i));
  ok(a->insert_batch(events));

  // Both take, deliver and finish in a loop until nothing is left.
  auto worker = [](Store* store, std::vector<std::int64_t>* taken) {
    for (;;) {
      auto fetched = store->fetch_due("oic", kT0 + kEvents, 7);
      if (!fetched) throw std::runtime_error(fetched.error().message);
      if (fetched->due.empty()) return;
      std::vector<AttemptResult> results;
      for (const auto& d : fetched->due) {
        taken->push_back(d.id);
        results.push_back(delivered(d.id));
      }
      if (auto done = store->complete(results); !done) {
        throw std::runtime_error(done.error().message);
      }
    }
  };
  std::vector<std::int64_t> by_a, by_b;
  std::string error_a, error_b;
  std::thread ta = guarded(error_a, [&] { worker(a.get(), &by_a); });
  std::thread tb = guarded(error_b, [&] { worker(b.get(), &by_b); });
  ta.join();
  tb.join();
  REQUIRE(error_a.empty());
  REQUIRE(error_b.empty());
  std::set<std::int64_t> all(by_a.begin(), by_a.end());
  all.insert(by_b.begin(), by_b.end());
  CHECK(by_a.size() + by_b.size() == kEvents);  // nothing twice
  CHECK(all.size() == kEvents);                 // nothing missed
  CHECK(!by_a.empty());
  CHECK(!by_b.empty());
  CHECK(ok(a->stats()).empty());
  CHECK(sql_count(url, "SELECT count(*) FROM events") == 0);
}

TEST_CASE("postgresql: a claim whose lease ran out is taken by another node", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("lease");
  auto a = open_pg(url, "node-a");
  auto b = open_pg(url, "node-b");
  insert(*a, {make_event("e1", kT0), make_event("e2", kT0 + 1)});
  auto claimed = ok(a->fetch_due("oic", kT0 + 10, 1)).due;
  REQUIRE(claimed.size() == 1);
  CHECK(sql_count(url,
                  "SELECT count(*) FROM deliveries WHERE claimed_by = 'node-a'"
                  " AND lease_until = " +
                      std::to_string(kT0 + 10 + kLease)) == 1);

  // Within the lease, b gets only the other one, and waits for the lease.
  auto other = ok(b->fetch_due("oic", kT0 + 10, 10));
  REQUIRE(other.due.size() == 1);
  CHECK(other.due[0].event_id == "e2");
  auto none = ok(b->fetch_due("oic", kT0 + 10 + kLease - 1, 10));
  CHECK(none.due.empty());
  CHECK(none.next_due == kT0 + 10 + kLease);

  // a's release does not touch b's claim, and b's does not touch a's.
  CHECK(ok(b->release_inflight()) == 1);
  REQUIRE(ok(b->fetch_due("oic", kT0 + 20, 10)).due.size() == 1);

  // Once the lease ran out, b takes a's claim, attempts unchanged.
  auto taken = ok(b->fetch_due("oic", kT0 + 10 + kLease, 10)).due;
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].id == claimed[0].id);
  CHECK(taken[0].attempts == 0);
  // a's late results no longer apply: retry and dead only to its own claims.
  complete(*a, {retry(claimed[0], 1, kT0 + 99'000, 503, "HTTP 503"),
                dead(claimed[0], 1, 400, "HTTP 400")});
  CHECK(ok(a->release_inflight()) == 0);
  CHECK(ok(b->stats())[0].inflight == 2);
  // A delivery is final whoever reports it.
  complete(*a, {delivered(claimed[0].id)});
  CHECK(ok(b->stats())[0].inflight == 1);
}

TEST_CASE("postgresql: a claim merges lapsed claims and due rows, oldest first, up to the limit",
          "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("merge");
  auto a = open_pg(url, "node-a");
  auto b = open_pg(url, "node-b");
  std::vector<NewEvent> events;
  for (int i = 0; i < 6; ++i) events.push_back(make_event(numbered_id(i), kT0 + i));
  // Not due yet at the claims below.
  events.push_back(make_event("later", kT0 + 10 * kLease));
  insert(*a, std::move(events));
  // a claims the 2nd and 4th oldest (the others retried at once, due again).
  auto first = ok(a->fetch_due("oic", kT0 + 10, 4)).due;
  REQUIRE(first.size() == 4);
  complete(*a, {retry(first[0], 1, kT0 + 10, 503, "HTTP 503"),
                retry(first[2], 1, kT0 + 10, 503, "HTTP 503")});
  // b, once a's lease ran out: a's lapsed claims (due since kT0 + 1 and
  // kT0 + 3) and the pending rows (kT0 + 4, kT0 + 5, and the two retried at
  // kT0 + 10) in one order; the limit cuts across both kinds.
  const Millis later = kT0 + 10 + kLease;
  auto taken = ok(b->fetch_due("oic", later, 3)).due;
  REQUIRE(taken.size() == 3);
  CHECK(taken[0].id == first[1].id);
  CHECK(taken[1].id == first[3].id);
  CHECK(taken[2].event_id == numbered_id(4));
  auto rest = ok(b->fetch_due("oic", later, 10));
  REQUIRE(rest.due.size() == 3);
  CHECK(rest.due[0].event_id == numbered_id(5));
  CHECK(rest.due[1].id == first[0].id);
  CHECK(rest.due[1].attempts == 1);
  CHECK(rest.due[2].id == first[2].id);
  CHECK(rest.next_due == kT0 + 10 * kLease);
  CHECK(sql_count(url, "SELECT count(*) FROM deliveries WHERE claimed_by = 'node-b'") == 6);
}

TEST_CASE("postgresql: one complete() delivering every delivery of an event releases its body",
          "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("together");
  auto store = open_pg(url);
  insert(*store,
         {make_event("both", kT0, {"one", "two"}), make_event("kept", kT0, {"one", "two"})});
  auto one = ok(store->fetch_due("one", kT0 + 10, 10)).due;
  auto two = ok(store->fetch_due("two", kT0 + 10, 10)).due;
  REQUIRE(one.size() == 2);
  REQUIRE(two.size() == 2);
  REQUIRE(one[0].event_id == "both");
  REQUIRE(two[0].event_id == "both");
  // Both of "both" in one transaction, one of "kept", and one already gone.
  complete(*store, {delivered(one[0].id), delivered(two[0].id), delivered(one[1].id),
                    delivered(one[0].id)});
  CHECK(sql_count(url, "SELECT count(*) FROM events") == 1);
  CHECK(sql_count(url, "SELECT count(*) FROM deliveries") == 1);
  complete(*store, {delivered(two[1].id)});
  CHECK(sql_count(url, "SELECT count(*) FROM events") == 0);
}

TEST_CASE("postgresql: nodes opening a new database at once migrate it once", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("migrate");
  constexpr int kNodes = 6;
  std::vector<std::string> errors(kNodes);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < kNodes; ++i) {
    threads.emplace_back([&, i] {
      ++ready;
      while (ready < kNodes) std::this_thread::yield();
      auto store = open_postgresql_store(pg_options(url, node_name(i)));
      if (!store) errors[i] = store.error().message;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) CHECK(e.empty());
  CHECK(sql_count(url, "SELECT count(*) FROM ocirelay_schema") == kPgSchemaVersion);
  CHECK(sql_count(url, "SELECT max(version) FROM ocirelay_schema") == kPgSchemaVersion);
  // And a store opened later finds nothing to do.
  open_pg(url, "late");
  CHECK(sql_count(url, "SELECT count(*) FROM ocirelay_schema") == kPgSchemaVersion);
}

TEST_CASE("postgresql: a version 1 database is upgraded in place and keeps its rows",
          "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("upgrade_v1");
  const std::string database = url.substr(url.rfind('/') + 1);
  std::int64_t e2_claimed = 0;
  {
    auto store = open_pg(url, "node-a");
    insert(*store, {make_event("e1", kT0), make_event("e2", kT0 + 1), make_event("e3", kT0 + 2)});
    auto due = ok(store->fetch_due("oic", kT0 + 10, 3)).due;
    REQUIRE(due.size() == 3);
    e2_claimed = due[1].id;
    complete(*store,
             {retry(due[0], 1, kT0 + 10, 503, "HTTP 503"), dead(due[2], 1, 400, "HTTP 400")});
  }
  // Back to what version 1 left: its schema is migration 1's exactly, so
  // taking away what migrations 2 and 3 added gives a version 1 database (e2
  // in flight under a version 1 claim: no token; seen keyed by bare eventIDs).
  pg->psql(database,
           "ALTER TABLE deliveries DROP COLUMN claim; DROP SEQUENCE delivery_claims;"
           " COMMENT ON TABLE seen IS NULL; DELETE FROM ocirelay_schema WHERE version > 1;"
           " DELETE FROM seen; INSERT INTO seen SELECT event_id, received_at FROM events");
  REQUIRE(sql_count(url, "SELECT max(version) FROM ocirelay_schema") == 1);

  auto a = open_pg(url, "node-a");
  CHECK(sql_count(url, "SELECT max(version) FROM ocirelay_schema") == 3);
  CHECK(sql_count(url,
                  "SELECT count(*) FROM ocirelay_schema WHERE version IN (2, 3)"
                  " AND applied_by = 'node-a'") == 2);
  CHECK(sql_count(url, "SELECT count(*) FROM events") == 3);
  // The bare eventIDs version 1 remembered are still duplicates.
  NewEvent e1 = make_event("e1", kT0 + 5);
  e1.event_time = "2026-05-14T09:12:41.372Z";
  CHECK(insert(*a, {e1}) == std::vector{InsertOutcome::duplicate});
  auto stats = ok(a->stats());
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].pending == 1);
  CHECK(stats[0].inflight == 1);
  CHECK(stats[0].dead == 1);
  auto letters = ok(a->dead_letters(10));
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].event_id == "e3");

  // The pending row is claimed under a token, and its result applies.
  auto again = ok(a->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(again.size() == 1);
  CHECK(again[0].event_id == "e1");
  CHECK(again[0].attempts == 1);
  CHECK(again[0].claim != 0);
  complete(*a, {delivered(again[0], 2)});
  // The version 1 claim has no token: no renewal keeps it; once its lease
  // ran out it is claimed again, with one.
  auto b = open_pg(url, "node-b");
  auto taken = ok(b->fetch_due("oic", kT0 + 10 + kLease, 10)).due;
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].id == e2_claimed);
  CHECK(taken[0].claim != 0);
  complete(*b, {delivered(taken[0])});
  CHECK(sql_count(url, "SELECT count(*) FROM deliveries WHERE state <> 'dead'") == 0);
}

TEST_CASE("postgresql: a database from a newer ocirelay is refused", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("newer");
  open_pg(url);
  const std::string database = url.substr(url.rfind('/') + 1);
  pg->psql(database, "INSERT INTO ocirelay_schema (version, applied_by) VALUES (" +
                         std::to_string(kPgSchemaVersion + 1) + ", 'future')");
  auto store = open_postgresql_store(pg_options(url, "node-a"));
  REQUIRE_FALSE(store.ok());
  CHECK_THAT(store.error().message,
             Catch::Contains("schema version " + std::to_string(kPgSchemaVersion + 1) +
                             " is newer than this ocirelay supports"));
}

TEST_CASE("postgresql: connection errors never show the URL", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string secret = "s3cret-pa55";
  SECTION("a database that does not exist") {
    auto store = open_postgresql_store(pg_options("postgresql://postgres:" + secret +
                                                      "@127.0.0.1:" + std::to_string(pg->port()) +
                                                      "/no_such_database",
                                                  "node-a"));
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error().message, Catch::Contains("cannot connect"));
    CHECK_THAT(store.error().message, Catch::Contains("no_such_database"));
    CHECK_THAT(store.error().message, !Catch::Contains(secret));
  }
  SECTION("a malformed URL") {
    auto store =
        open_postgresql_store(pg_options("host=127.0.0.1 password=" + secret + " bogus", "node-a"));
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error().message, Catch::Contains("not a valid libpq URI"));
    CHECK_THAT(store.error().message, !Catch::Contains(secret));
  }
  SECTION("nothing listening") {
    auto store =
        open_postgresql_store(pg_options("postgresql://u:" + secret + "@127.0.0.1:1/db", "node-a"));
    REQUIRE_FALSE(store.ok());
    CHECK_THAT(store.error().message, Catch::Contains("storage.postgresql.url: cannot connect"));
    CHECK_THAT(store.error().message, !Catch::Contains(secret));
  }
}

namespace {
constexpr const char* kSqlPlusOne = "SELECT $1::bigint + 1";
constexpr const char* kSqlTimesTwo = "SELECT $1::bigint * 2";
}  // namespace

TEST_CASE("postgresql: a statement run again is prepared once per connection", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  using ocirelay::storage::PgConnection;
  using ocirelay::storage::PgParams;
  ocirelay::storage::PgConnectOptions options;
  options.url = pg->create_database("prepared");
  auto connected = PgConnection::connect(options);
  REQUIRE(connected.ok());
  PgConnection db = std::move(connected).value();
  const auto prepared = [&db] {
    auto r = db.exec("SELECT count(*) FROM pg_prepared_statements");
    REQUIRE(r.ok());
    return r.int64(0, 0);
  };

  for (std::int64_t i = 0; i < 3; ++i) {
    auto r = db.exec_prepared(kSqlPlusOne, PgParams{}.int64(i));
    REQUIRE(r.ok());
    CHECK(r.int64(0, 0) == i + 1);
  }
  CHECK(prepared() == 1);
  auto twice = db.exec_prepared(kSqlTimesTwo, PgParams{}.int64(21));
  REQUIRE(twice.ok());
  CHECK(twice.int64(0, 0) == 42);
  CHECK(prepared() == 2);

  // The server forgot them (as behind a pooler that lost the session's
  // state): each is prepared again at its next use.
  REQUIRE(db.exec("DEALLOCATE ALL").ok());
  auto again = db.exec_prepared(kSqlTimesTwo, PgParams{}.int64(5));
  REQUIRE(again.ok());
  CHECK(again.int64(0, 0) == 10);
  auto plus = db.exec_prepared(kSqlPlusOne, PgParams{}.int64(5));
  REQUIRE(plus.ok());
  CHECK(plus.int64(0, 0) == 6);
  CHECK(prepared() == 2);
  // Only one lost: the other keeps its name.
  REQUIRE(db.exec("DEALLOCATE ocirelay_0").ok());
  CHECK(db.exec_prepared(kSqlPlusOne, PgParams{}.int64(1)).int64(0, 0) == 2);
  CHECK(db.exec_prepared(kSqlTimesTwo, PgParams{}.int64(1)).int64(0, 0) == 2);
  CHECK(prepared() == 2);
  // Lost inside a transaction: the error aborted it, so it is not hidden by
  // a retry that could only fail; after the rollback it is prepared again.
  REQUIRE(db.exec("BEGIN").ok());
  REQUIRE(db.exec("DEALLOCATE ALL").ok());
  CHECK(db.exec_prepared(kSqlPlusOne, PgParams{}.int64(1)).sqlstate() == "26000");
  REQUIRE(db.exec("ROLLBACK").ok());  // (DEALLOCATE is not undone by it)
  CHECK(db.exec_prepared(kSqlPlusOne, PgParams{}.int64(1)).int64(0, 0) == 2);
  CHECK(db.exec_prepared(kSqlTimesTwo, PgParams{}.int64(2)).int64(0, 0) == 4);

  // A statement that does not prepare fails with the server's reason, and
  // is tried again at the next use.
  constexpr const char* kBroken = "SELECT FROM nowhere WHERE $1::bigint";
  auto broken = db.exec_prepared(kBroken, PgParams{}.int64(1));
  CHECK_FALSE(broken.ok());
  CHECK(broken.sqlstate() == "42P01");
  CHECK(db.exec_prepared(kBroken, PgParams{}.int64(1)).sqlstate() == "42P01");
  CHECK(prepared() == 2);
}
