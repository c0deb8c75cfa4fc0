// The dead-letter operations of the Store: list, show, replay, purge, on
// SQLite and on PostgreSQL alike; then what several relays on one PostgreSQL
// database need (any relay sees and acts on every dead letter).
#include <catch2/catch.hpp>

#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ocirelay/storage/store.hpp"
#include "storage/sqlite_dead_letter_queries.hpp"
#include "storage/sqlite_store.hpp"
#include "support/pg_cluster.hpp"
#include "support/temp_dir.hpp"
#include "unit/storage/store_backend.hpp"
#include "unit/storage/store_test_support.hpp"

using ocirelay::storage::AttemptResult;
using ocirelay::storage::DeadLetterQuery;
using ocirelay::storage::DeadLetterSelection;
using ocirelay::storage::Delivery;
using ocirelay::storage::DestinationStats;
using ocirelay::storage::Millis;
using ocirelay::storage::NewEvent;
using ocirelay::storage::SqliteOptions;
using ocirelay::storage::SqliteStore;
using ocirelay::storage::Store;
using ocirelay::storage::test::backends;
using ocirelay::storage::test::counter_mismatches;
using ocirelay::storage::test::exec_sql;
using ocirelay::storage::test::kT0;
using ocirelay::storage::test::make_event;
using ocirelay::storage::test::numbered_id;
using ocirelay::storage::test::ok;
using ocirelay::storage::test::open_store;
using ocirelay::storage::test::query_int;
using ocirelay::storage::test::query_plan;
using ocirelay::storage::test::StoreBackend;
using ocirelay::test::TempDir;

namespace {

// Takes every due delivery of `destination` and dead-letters it with `status`.
std::vector<Delivery> kill_all(Store& store, const std::string& destination, int status = 400,
                               int attempts = 3) {
  auto due = ok(store.fetch_due(destination, kT0 + 1'000'000, 1000)).due;
  std::vector<AttemptResult> results;
  for (const Delivery& d : due) {
    AttemptResult r;
    r.id = d.id;
    r.claim = d.claim;
    r.kind = AttemptResult::Kind::dead;
    r.attempts = attempts;
    r.last_status = status;
    r.last_error = "HTTP " + std::to_string(status) + " for " + d.event_id;
    results.push_back(r);
  }
  ok(store.complete(results));
  return due;
}

const DestinationStats* find_stats(const std::vector<DestinationStats>& stats,
                                   const std::string& destination) {
  for (const auto& s : stats) {
    if (s.destination == destination) {
      return &s;
    }
  }
  return nullptr;
}

std::vector<std::string> event_ids(const std::vector<ocirelay::storage::DeadLetter>& letters) {
  std::vector<std::string> out;
  for (const auto& l : letters) {
    out.push_back(l.event_id);
  }
  return out;
}

DeadLetterSelection by_id(std::int64_t id) {
  DeadLetterSelection s;
  s.id = id;
  return s;
}

DeadLetterSelection of_destination(std::string destination) {
  DeadLetterSelection s;
  s.destination = std::move(destination);
  return s;
}

// SQLite's per-destination counters match its rows (PostgreSQL counts rows).
void check_counters(const StoreBackend& backend) {
  if (!backend.postgresql()) CHECK(counter_mismatches(backend.path) == 0);
}

}  // namespace

TEST_CASE("dead letters are listed oldest first, by destination and up to a limit",
          "[storage][dlq][pg]") {
  const StoreBackend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  CHECK(ok(store->list_dead_letters(DeadLetterQuery{})).empty());

  // Inserted newest first, so the order comes from received_at, not the id.
  std::vector<NewEvent> batch{make_event("c", kT0 + 30, {"a", "b"}), make_event("b", kT0 + 20),
                              make_event("a", kT0 + 10, {"a"})};
  ok(store->insert_batch(batch));
  kill_all(*store, "a", 400);
  kill_all(*store, "b", 410);
  kill_all(*store, "oic", 422);

  auto all = ok(store->list_dead_letters(DeadLetterQuery{}));
  REQUIRE(all.size() == 4);
  CHECK(event_ids(all) == std::vector<std::string>{"a", "b", "c", "c"});
  CHECK(all[0].destination == "a");
  CHECK(all[0].attempts == 3);
  CHECK(all[0].last_status == 400);
  CHECK(all[0].last_error == "HTTP 400 for a");
  CHECK(all[0].received_at == kT0 + 10);
  CHECK(all[0].updated_at > 0);

  DeadLetterQuery only_a;
  only_a.destination = "a";
  CHECK(event_ids(ok(store->list_dead_letters(only_a))) == std::vector<std::string>{"a", "c"});
  only_a.limit = 1;
  CHECK(event_ids(ok(store->list_dead_letters(only_a))) == std::vector<std::string>{"a"});
  DeadLetterQuery unknown;
  unknown.destination = "nowhere";
  CHECK(ok(store->list_dead_letters(unknown)).empty());
  DeadLetterQuery none;
  none.limit = 0;
  CHECK(ok(store->list_dead_letters(none)).empty());
}

TEST_CASE("a dead letter is shown with its event body, others are not found",
          "[storage][dlq][pg]") {
  const StoreBackend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  const std::string body = "{\"eventID\":\"x\",  \"data\":{\"b\":\"\\u00e9\xc3\xa9\"}}\n";
  std::vector<NewEvent> batch{make_event("x", kT0, {"oic"}, body), make_event("y", kT0 + 1)};
  ok(store->insert_batch(batch));
  auto due = ok(store->fetch_due("oic", kT0 + 100, 1)).due;  // x only
  REQUIRE(due.size() == 1);
  AttemptResult r;
  r.id = due[0].id;
  r.claim = due[0].claim;
  r.kind = AttemptResult::Kind::dead;
  r.attempts = 2;
  r.last_status = 404;
  r.last_error = "HTTP 404: no such integration";
  ok(store->complete(std::vector{r}));

  auto shown = ok(store->dead_letter(due[0].id));
  REQUIRE(shown.has_value());
  CHECK(shown->letter.id == due[0].id);
  CHECK(shown->letter.event_id == "x");
  CHECK(shown->letter.destination == "oic");
  CHECK(shown->letter.attempts == 2);
  CHECK(shown->letter.last_status == 404);
  CHECK(shown->letter.last_error == "HTTP 404: no such integration");
  CHECK(shown->letter.received_at == kT0);
  CHECK(shown->body == body);  // byte for byte

  CHECK_FALSE(ok(store->dead_letter(due[0].id + 1000)).has_value());  // unknown
  const std::int64_t pending_id =
      backend.query_int("SELECT id FROM deliveries WHERE state = 'pending'");
  CHECK_FALSE(ok(store->dead_letter(pending_id)).has_value());  // not dead
}

TEST_CASE("a replayed dead letter is next in its queue, with a fresh attempt count",
          "[storage][dlq][pg]") {
  const StoreBackend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  ok(store->insert_batch(std::vector{make_event("old", kT0)}));
  auto killed = kill_all(*store, "oic", 400, 5);
  REQUIRE(killed.size() == 1);
  const std::int64_t id = killed[0].id;
  // Newer events wait in the queue, the first of them due long ago.
  std::vector<NewEvent> batch;
  for (int i = 0; i < 5; ++i) {
    batch.push_back(make_event(numbered_id(i), kT0 + 10 + i));
  }
  ok(store->insert_batch(batch));

  const Millis now = kT0 + 50'000;
  auto outcome = ok(store->replay_dead_letters(by_id(id), now));
  CHECK(outcome.count == 1);
  CHECK(outcome.destinations == std::vector<std::string>{"oic"});
  CHECK_FALSE(ok(store->dead_letter(id)).has_value());
  CHECK(backend.query_int("SELECT last_status FROM deliveries WHERE id = " + std::to_string(id)) ==
        0);
  CHECK(backend.query_int("SELECT length(last_error) FROM deliveries WHERE id = " +
                          std::to_string(id)) == 0);
  auto stats = ok(store->stats());
  REQUIRE(find_stats(stats, "oic") != nullptr);
  CHECK(find_stats(stats, "oic")->dead == 0);
  CHECK(find_stats(stats, "oic")->pending == 6);
  check_counters(backend);

  // Already replayed: nothing more to do.
  CHECK(ok(store->replay_dead_letters(by_id(id), now)).count == 0);
  CHECK(ok(store->replay_dead_letters(by_id(id + 999), now)).count == 0);

  auto due = ok(store->fetch_due("oic", now, 2)).due;
  REQUIRE(due.size() == 2);
  CHECK(due[0].id == id);
  CHECK(due[0].event_id == "old");
  CHECK(due[0].attempts == 0);
  CHECK(due[0].body == "{\"eventID\":\"old\"}");
  CHECK(due[0].received_at == now);  // max_age counts from the replay
  CHECK(due[1].event_id == "e0");
}

TEST_CASE("replaying all dead letters, of one destination or every one", "[storage][dlq][pg]") {
  const StoreBackend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  std::vector<NewEvent> batch;
  for (int i = 0; i < 4; ++i) {
    batch.push_back(make_event(numbered_id(i), kT0 + i, {"a", "b", "c"}));
  }
  ok(store->insert_batch(batch));
  kill_all(*store, "a");
  kill_all(*store, "b");
  kill_all(*store, "c");

  auto outcome = ok(store->replay_dead_letters(of_destination("b"), kT0 + 100));
  CHECK(outcome.count == 4);
  CHECK(outcome.destinations == std::vector<std::string>{"b"});
  auto stats = ok(store->stats());
  CHECK(find_stats(stats, "a")->dead == 4);
  CHECK(find_stats(stats, "b")->dead == 0);
  CHECK(find_stats(stats, "b")->pending == 4);
  // Oldest first among themselves.
  auto due = ok(store->fetch_due("b", kT0 + 100, 10)).due;
  REQUIRE(due.size() == 4);
  for (int i = 0; i < 4; ++i) {
    CHECK(due[static_cast<std::size_t>(i)].event_id == numbered_id(i));
  }

  outcome = ok(store->replay_dead_letters(DeadLetterSelection{}, kT0 + 200));
  CHECK(outcome.count == 8);
  CHECK(outcome.destinations == std::vector<std::string>{"a", "c"});
  CHECK(ok(store->list_dead_letters(DeadLetterQuery{})).empty());
  check_counters(backend);

  // A cutoff replays only those dead-lettered before it.
  kill_all(*store, "a");
  backend.exec(
      "UPDATE deliveries SET updated_at = 1000 WHERE destination = 'a' AND event IN"
      " (SELECT id FROM events WHERE event_id IN ('e0', 'e1'))");
  DeadLetterSelection old_ones;
  old_ones.updated_before = 2000;
  CHECK(ok(store->replay_dead_letters(old_ones, kT0 + 300)).count == 2);
  DeadLetterQuery only_a;
  only_a.destination = "a";
  CHECK(event_ids(ok(store->list_dead_letters(only_a))) == std::vector<std::string>{"e2", "e3"});
}

TEST_CASE("replay by id also honours the destination and cutoff given", "[storage][dlq][pg]") {
  const StoreBackend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  ok(store->insert_batch(std::vector{make_event("x", kT0, {"a"})}));
  const std::int64_t id = kill_all(*store, "a").at(0).id;
  DeadLetterSelection wrong = by_id(id);
  wrong.destination = "b";
  CHECK(ok(store->replay_dead_letters(wrong, kT0)).count == 0);
  DeadLetterSelection too_young = by_id(id);
  too_young.updated_before = 1;
  CHECK(ok(store->purge_dead_letters(too_young)) == 0);
  DeadLetterSelection right = by_id(id);
  right.destination = "a";
  CHECK(ok(store->replay_dead_letters(right, kT0)).count == 1);
}

TEST_CASE("purging dead letters deletes their orphaned event bodies", "[storage][dlq][pg]") {
  const StoreBackend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  // "shared" is dead for a but still queued for b; "alone" is dead for a only.
  std::vector<NewEvent> batch{make_event("shared", kT0, {"a", "b"}),
                              make_event("alone", kT0 + 1, {"a"})};
  ok(store->insert_batch(batch));
  auto killed = kill_all(*store, "a");
  REQUIRE(killed.size() == 2);
  CHECK(backend.query_int("SELECT count(*) FROM events") == 2);

  CHECK(ok(store->purge_dead_letters(by_id(killed[0].id))) == 1);  // shared
  CHECK(ok(store->purge_dead_letters(by_id(killed[0].id))) == 0);  // already gone
  CHECK(backend.query_int("SELECT count(*) FROM events") == 2);    // b still needs it
  CHECK(ok(store->purge_dead_letters(by_id(killed[1].id))) == 1);  // alone
  CHECK(backend.query_int("SELECT count(*) FROM events") == 1);
  CHECK(backend.query_int("SELECT count(*) FROM events WHERE event_id = 'shared'") == 1);

  auto b = ok(store->fetch_due("b", kT0 + 10, 10)).due;
  REQUIRE(b.size() == 1);
  CHECK(b[0].body == "{\"eventID\":\"shared\"}");
  check_counters(backend);
}

TEST_CASE("purging all dead letters, by destination and by age", "[storage][dlq][pg]") {
  const StoreBackend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open();
  std::vector<NewEvent> batch;
  for (int i = 0; i < 6; ++i) {
    batch.push_back(make_event(numbered_id(i), kT0 + i, {i % 2 == 0 ? "even" : "odd"}));
  }
  ok(store->insert_batch(batch));
  kill_all(*store, "even");
  kill_all(*store, "odd");
  // e0 and e1 were dead-lettered 8 days ago, the others just now.
  const Millis now = ocirelay::storage::now_millis();
  const Millis day = 86'400'000;
  backend.exec("UPDATE deliveries SET updated_at = " + std::to_string(now - 8 * day) +
               " WHERE event IN (SELECT id FROM events WHERE event_id IN ('e0', 'e1'))");

  DeadLetterSelection week_old;
  week_old.updated_before = now - 7 * day;
  week_old.destination = "odd";
  CHECK(ok(store->purge_dead_letters(week_old)) == 1);  // e1
  week_old.destination.reset();
  CHECK(ok(store->purge_dead_letters(week_old)) == 1);  // e0
  CHECK(ok(store->purge_dead_letters(week_old)) == 0);
  CHECK(event_ids(ok(store->list_dead_letters(DeadLetterQuery{}))) ==
        std::vector<std::string>{"e2", "e3", "e4", "e5"});

  CHECK(ok(store->purge_dead_letters(of_destination("even"))) == 2);
  CHECK(event_ids(ok(store->list_dead_letters(DeadLetterQuery{}))) ==
        std::vector<std::string>{"e3", "e5"});
  CHECK(ok(store->purge_dead_letters(DeadLetterSelection{})) == 2);
  CHECK(ok(store->list_dead_letters(DeadLetterQuery{})).empty());
  CHECK(backend.query_int("SELECT count(*) FROM events") == 0);
  CHECK(backend.query_int("SELECT count(*) FROM deliveries") == 0);
  check_counters(backend);
}

TEST_CASE("replay and purge are durable", "[storage][dlq][pg]") {
  const StoreBackend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  std::int64_t replayed = 0;
  {
    auto store = backend.open();
    ok(store->insert_batch(std::vector{make_event("r", kT0), make_event("p", kT0 + 1)}));
    auto killed = kill_all(*store, "oic");
    replayed = killed.at(0).id;
    ok(store->replay_dead_letters(by_id(replayed), kT0 + 5));
    ok(store->purge_dead_letters(by_id(killed.at(1).id)));
  }
  auto store = backend.open();
  CHECK(ok(store->list_dead_letters(DeadLetterQuery{})).empty());
  auto due = ok(store->fetch_due("oic", kT0 + 5, 10)).due;
  REQUIRE(due.size() == 1);
  CHECK(due[0].id == replayed);
  CHECK(backend.query_int("SELECT count(*) FROM events") == 1);
}

TEST_CASE("dead-letter queries are index lookups", "[storage][dlq]") {
  TempDir dir;
  auto store = open_store(dir.file("relay.db"));
  using namespace ocirelay::storage;
  struct Query {
    const char* name;
    const char* sql;
  };
  for (const Query& q :
       {Query{"list all", kSqlDeadLettersAll},
        Query{"list destination", kSqlDeadLettersOfDestination}, Query{"get", kSqlDeadLetterGet},
        Query{"replay one", kSqlReplayOne}, Query{"replay destination", kSqlReplayOfDestination},
        Query{"replay all", kSqlReplayAll}, Query{"purge one", kSqlPurgeOne},
        Query{"purge destination", kSqlPurgeOfDestination}, Query{"purge all", kSqlPurgeAll},
        Query{"event body", kSqlPurgeEventBody}}) {
    const auto plan = query_plan(store->path(), q.sql);
    std::string text;
    for (const auto& line : plan) {
      text += line + "\n";
    }
    INFO(q.name << ":\n" << text);
    CHECK_FALSE(plan.empty());
    for (const auto& line : plan) {
      CHECK(line.rfind("SCAN", 0) != 0);
      if (std::string(q.name) == "list destination") {
        CHECK(line.find("TEMP B-TREE") == std::string::npos);  // index order, no sort
      }
    }
  }
}

TEST_CASE("a Store without dead-letter support says so", "[storage][dlq]") {
  struct Minimal : Store {
    ocirelay::storage::StoreResult<std::vector<ocirelay::storage::InsertOutcome>> insert_batch(
        std::span<const NewEvent>) override {
      return std::vector<ocirelay::storage::InsertOutcome>{};
    }
    ocirelay::storage::StoreResult<ocirelay::storage::FetchResult> fetch_due(const std::string&,
                                                                             Millis,
                                                                             std::size_t) override {
      return ocirelay::storage::FetchResult{};
    }
    ocirelay::storage::StoreResult<ocirelay::Unit> complete(
        std::span<const AttemptResult>) override {
      return ocirelay::Unit{};
    }
    ocirelay::storage::StoreResult<std::int64_t> release_inflight() override { return 0; }
    ocirelay::storage::StoreResult<std::int64_t> release_inflight(const std::string&) override {
      return 0;
    }
    ocirelay::storage::StoreResult<std::int64_t> prune_dedupe(Millis) override { return 0; }
    ocirelay::storage::StoreResult<std::vector<DestinationStats>> stats() override {
      return std::vector<DestinationStats>{};
    }
    ocirelay::storage::StoreResult<std::vector<ocirelay::storage::DeadLetter>> dead_letters(
        std::size_t) override {
      return std::vector<ocirelay::storage::DeadLetter>{};
    }
  } minimal;
  auto listed = minimal.list_dead_letters(DeadLetterQuery{});
  REQUIRE_FALSE(listed.ok());
  CHECK(listed.error().message.find("not supported") != std::string::npos);
  CHECK_FALSE(minimal.replay_dead_letters(DeadLetterSelection{}, kT0).ok());
  CHECK_FALSE(minimal.purge_dead_letters(DeadLetterSelection{}).ok());
  CHECK_FALSE(minimal.dead_letter(1).ok());
}

// --- PostgreSQL: several relays on one database ------------------------------

TEST_CASE("postgresql: a dead letter made by one relay is replayed and delivered by another",
          "[storage][dlq][pg]") {
  if (ocirelay::test::PgCluster::shared() == nullptr) return;
  const StoreBackend backend("postgresql");
  auto a = backend.open("node-a");
  auto b = backend.open("node-b");
  ok(a->insert_batch(std::vector{make_event("x", kT0), make_event("y", kT0 + 1)}));
  auto killed = kill_all(*a, "oic", 422);
  REQUIRE(killed.size() == 2);

  // Node B sees node A's dead letters, and each one with its body.
  auto listed = ok(b->list_dead_letters(DeadLetterQuery{}));
  CHECK(event_ids(listed) == std::vector<std::string>{"x", "y"});
  auto shown = ok(b->dead_letter(killed[0].id));
  REQUIRE(shown.has_value());
  CHECK(shown->letter.last_status == 422);
  CHECK(shown->body == "{\"eventID\":\"x\"}");

  // Node B replays one: node A finds nothing left to replay there, and node
  // B, not only A, can claim it.
  auto outcome = ok(b->replay_dead_letters(by_id(killed[0].id), kT0 + 2'000'000));
  CHECK(outcome.count == 1);
  CHECK(outcome.destinations == std::vector<std::string>{"oic"});
  CHECK(ok(a->replay_dead_letters(by_id(killed[0].id), kT0 + 2'000'000)).count == 0);
  auto due = ok(b->fetch_due("oic", kT0 + 2'000'000, 10)).due;
  REQUIRE(due.size() == 1);
  CHECK(due[0].id == killed[0].id);
  CHECK(due[0].attempts == 0);
  CHECK(ok(a->fetch_due("oic", kT0 + 2'000'000, 10)).due.empty());  // B's claim
  AttemptResult done;
  done.id = due[0].id;
  done.kind = AttemptResult::Kind::delivered;
  done.attempts = 1;
  done.last_status = 200;
  ok(b->complete(std::vector{done}));

  // Node A purges what is left, B's view follows.
  CHECK(ok(a->purge_dead_letters(DeadLetterSelection{})) == 1);
  CHECK(ok(b->list_dead_letters(DeadLetterQuery{})).empty());
  CHECK(ok(b->stats()).empty());
  CHECK(backend.query_int("SELECT count(*) FROM events") == 0);
}

TEST_CASE("postgresql: a purge on one relay and a delivery on another free every body",
          "[storage][dlq][pg]") {
  if (ocirelay::test::PgCluster::shared() == nullptr) return;
  const StoreBackend backend("postgresql");
  auto a = backend.open("node-a");
  auto b = backend.open("node-b");
  // Each event is dead for "dead" (on node A) and in flight for "live" (node
  // B): whichever of the purge and the delivery commits last frees the body.
  constexpr int kEvents = 200;
  std::vector<NewEvent> batch;
  for (int i = 0; i < kEvents; ++i) {
    batch.push_back(make_event(numbered_id(i), kT0 + i, {"dead", "live"}));
  }
  ok(a->insert_batch(batch));
  auto dead = kill_all(*a, "dead");
  auto live = ok(b->fetch_due("live", kT0 + 1'000'000, 1000)).due;
  REQUIRE(dead.size() == static_cast<std::size_t>(kEvents));
  REQUIRE(live.size() == static_cast<std::size_t>(kEvents));

  std::string purge_error;
  std::thread purging([&] {
    try {
      for (const Delivery& d : dead) {
        auto purged = a->purge_dead_letters(by_id(d.id));  // no Catch2 macros off its thread
        if (!purged) throw std::runtime_error(purged.error().message);
        if (purged.value() != 1) throw std::runtime_error("not purged: " + d.event_id);
      }
    } catch (const std::exception& e) {
      purge_error = e.what();
    }
  });
  for (const Delivery& d : live) {
    AttemptResult r;
    r.id = d.id;
    r.kind = AttemptResult::Kind::delivered;
    r.attempts = 1;
    r.last_status = 200;
    CHECK(b->complete(std::vector{r}).ok());
  }
  purging.join();
  CHECK(purge_error.empty());
  CHECK(backend.query_int("SELECT count(*) FROM deliveries") == 0);
  CHECK(backend.query_int("SELECT count(*) FROM events") == 0);
}
