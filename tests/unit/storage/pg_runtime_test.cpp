// What a running relay needs of PgStore and PgListener on a real PostgreSQL
// server (tests/support/pg_cluster): lease renewal by claim token, results
// under a claim token, notifications of new events, and losing and finding
// the database again.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>

#include "ocirelay/storage/pg_listener.hpp"
#include "ocirelay/storage/storage_worker.hpp"
#include "ocirelay/storage/store.hpp"
#include "support/pg_cluster.hpp"
#include "unit/storage/store_test_support.hpp"

using namespace std::chrono_literals;
using ocirelay::storage::AttemptResult;
using ocirelay::storage::Delivery;
using ocirelay::storage::InsertOutcome;
using ocirelay::storage::Millis;
using ocirelay::storage::NewEvent;
using ocirelay::storage::open_postgresql_store;
using ocirelay::storage::PgListener;
using ocirelay::storage::PostgresqlOptions;
using ocirelay::storage::StorageWorker;
using ocirelay::storage::Store;
using ocirelay::storage::StoreResult;
using ocirelay::storage::test::dead;
using ocirelay::storage::test::delivered;
using ocirelay::storage::test::kT0;
using ocirelay::storage::test::make_event;
using ocirelay::storage::test::ok;
using ocirelay::storage::test::retry;
using ocirelay::test::PgCluster;

namespace {

constexpr Millis kLease = 30'000;

PostgresqlOptions options_for(const std::string& url, const std::string& node) {
  PostgresqlOptions options;
  options.url = url;
  options.node_id = node;
  options.lease = std::chrono::milliseconds(kLease);
  options.connect_timeout = 2s;
  options.notify_interval = 0ms;  // every batch notifies (coalescing has its own test)
  return options;
}

std::unique_ptr<Store> open_store(const std::string& url, const std::string& node,
                                  std::chrono::milliseconds notify_interval = 0ms) {
  PostgresqlOptions options = options_for(url, node);
  options.notify_interval = notify_interval;
  auto store = open_postgresql_store(options);
  if (!store) FAIL("open failed: " << store.error().message);
  return std::move(store).value();
}

// What a PgListener heard, for the test thread to wait on.
struct Heard {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::vector<std::string>> calls;

  void add(std::vector<std::string> destinations) {
    std::lock_guard lock(mutex);
    calls.push_back(std::move(destinations));
    cv.notify_all();
  }
  // Waits until `n` calls were heard; false at the timeout.
  bool wait_for(std::size_t n, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, timeout, [&] { return calls.size() >= n; });
  }
  std::vector<std::string> call(std::size_t i) {
    std::lock_guard lock(mutex);
    return calls.at(i);
  }
};

// Inserts `event` through `worker` and waits for it to be stored.
void insert_through(StorageWorker& worker, NewEvent event) {
  boost::asio::io_context io;
  std::optional<StoreResult<InsertOutcome>> result;
  worker.async_insert(std::move(event), boost::asio::bind_executor(
                                            io, [&](auto r) { result.emplace(std::move(r)); }));
  io.run();
  REQUIRE(result);
  REQUIRE(result->ok());
}

// A listener of node `node` on `url` telling `heard`, once connected (its
// first call, empty: anything may have been missed before).
std::unique_ptr<PgListener> listen(const std::string& url, const std::string& node, Heard& heard) {
  auto listener = PgListener::start(
      options_for(url, node),
      [&heard](std::vector<std::string> destinations) { heard.add(std::move(destinations)); },
      nullptr);
  REQUIRE(listener != nullptr);
  REQUIRE(heard.wait_for(1, 10s));
  CHECK(heard.call(0).empty());
  return listener;
}

}  // namespace

TEST_CASE("postgresql: renewing a claim keeps it from other nodes", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("renew");
  auto a = open_store(url, "node-a");
  auto b = open_store(url, "node-b");
  CHECK(a->shared());
  std::vector<NewEvent> events{make_event("e1", kT0), make_event("e2", kT0)};
  ok(a->insert_batch(events));
  auto claimed = ok(a->fetch_due("oic", kT0 + 10, 1)).due;
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].event_id == "e1");

  // a renews its claim two thirds into the lease: it now runs to then + lease.
  const std::vector<std::int64_t> a_holds{claimed[0].claim};
  CHECK(ok(a->renew_claims(kT0 + 20'000, a_holds)) == 1);
  // Past the first lease, b takes only the other delivery, and waits for the
  // renewed end of a's claim.
  auto other = ok(b->fetch_due("oic", kT0 + 10 + kLease, 10));
  REQUIRE(other.due.size() == 1);
  CHECK(other.due[0].event_id == "e2");
  CHECK(other.next_due == kT0 + 20'000 + kLease);
  // b's renewal is of b's claim only, even when it names a's token.
  const std::vector<std::int64_t> b_holds{other.due[0].claim, claimed[0].claim};
  CHECK(ok(b->renew_claims(kT0 + 20'000 + kLease, b_holds)) == 1);
  // A claim that is not renewed again is taken once its lease ran out.
  auto taken = ok(b->fetch_due("oic", kT0 + 20'000 + kLease, 10)).due;
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].event_id == "e1");
  // Completed claims are no longer renewed.
  std::vector<ocirelay::storage::AttemptResult> done{delivered(taken[0].id)};
  ok(b->complete(done));
  CHECK(ok(a->renew_claims(kT0 + 60'000, a_holds)) == 0);
}

TEST_CASE("postgresql: each fetch stamps its deliveries with a new claim token", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("tokens");
  auto a = open_store(url, "node-a");
  auto b = open_store(url, "node-b");
  std::vector<NewEvent> events{make_event("e1", kT0), make_event("e2", kT0), make_event("e3", kT0)};
  ok(a->insert_batch(events));
  auto first = ok(a->fetch_due("oic", kT0 + 10, 2)).due;
  auto second = ok(b->fetch_due("oic", kT0 + 10, 2)).due;
  REQUIRE(first.size() == 2);
  REQUIRE(second.size() == 1);
  CHECK(first[0].claim != 0);
  CHECK(first[1].claim == first[0].claim);
  CHECK(second[0].claim != 0);
  CHECK(second[0].claim != first[0].claim);
}

TEST_CASE("postgresql: renewal extends only the claims the relay says it holds", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("renew_held");
  auto a = open_store(url, "node-a");
  auto b = open_store(url, "node-b");
  std::vector<NewEvent> events{make_event("held", kT0), make_event("lost1", kT0 + 1),
                               make_event("lost2", kT0 + 2)};
  ok(a->insert_batch(events));
  auto held = ok(a->fetch_due("oic", kT0 + 10, 1)).due;
  // a second fetch whose rows the relay never received (its connection
  // dropped as the server committed): a claim it does not hold.
  auto lost = ok(a->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(held.size() == 1);
  REQUIRE(lost.size() == 2);
  REQUIRE(lost[0].claim != held[0].claim);

  const std::vector<std::int64_t> holds{held[0].claim};
  CHECK(ok(a->renew_claims(kT0 + 20'000, holds)) == 1);
  // Nothing held: nothing renewed.
  CHECK(ok(a->renew_claims(kT0 + 20'000, {})) == 0);
  // Past the first lease, b takes the lost claim's rows, not the held one.
  auto taken = ok(b->fetch_due("oic", kT0 + 10 + kLease, 10));
  REQUIRE(taken.due.size() == 2);
  CHECK(taken.due[0].event_id == "lost1");
  CHECK(taken.due[1].event_id == "lost2");
  CHECK(taken.next_due == kT0 + 20'000 + kLease);
  // b delivers them; a's renewal of the lost token (were it still named)
  // no longer touches them.
  std::vector<AttemptResult> done{delivered(taken.due[0]), delivered(taken.due[1])};
  ok(b->complete(done));
  const std::vector<std::int64_t> both{held[0].claim, lost[0].claim};
  CHECK(ok(a->renew_claims(kT0 + 30'000, both)) == 1);
}

TEST_CASE("postgresql: a result under a stale claim token changes nothing", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("stale_claim");
  auto a = open_store(url, "node-a");
  std::vector<NewEvent> events{make_event("e1", kT0), make_event("e2", kT0 + 1)};
  ok(a->insert_batch(events));
  auto old_claim = ok(a->fetch_due("oic", kT0 + 10, 10)).due;
  REQUIRE(old_claim.size() == 2);
  // A database outage longer than the lease: the relay, still holding the
  // rows in memory, claims them again itself under a new token.
  auto fresh = ok(a->fetch_due("oic", kT0 + 10 + kLease, 10)).due;
  REQUIRE(fresh.size() == 2);
  REQUIRE(fresh[0].id == old_claim[0].id);
  REQUIRE(fresh[0].claim != old_claim[0].claim);

  // The stale copies' retry and dead results are ignored: the fresh claim
  // stays in flight, its lease and attempts unchanged.
  std::vector<AttemptResult> stale{retry(old_claim[0], 1, kT0 + 99'000, 503, "HTTP 503"),
                                   dead(old_claim[1], 1, 400, "HTTP 400")};
  ok(a->complete(stale));
  auto stats = ok(a->stats());
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].inflight == 2);
  CHECK(stats[0].pending == 0);
  CHECK(stats[0].dead == 0);
  const std::string database = url.substr(url.rfind('/') + 1);
  CHECK(std::stoll(pg->psql(database,
                            "SELECT count(*) FROM deliveries WHERE state = 'inflight'"
                            " AND attempts = 0 AND lease_until = " +
                                std::to_string(kT0 + 10 + 2 * kLease))) == 2);
  const std::vector<std::int64_t> fresh_holds{fresh[0].claim};
  const std::vector<std::int64_t> stale_holds{old_claim[0].claim};
  CHECK(ok(a->renew_claims(kT0 + 20'000 + kLease, stale_holds)) == 0);
  CHECK(ok(a->renew_claims(kT0 + 20'000 + kLease, fresh_holds)) == 2);

  // The fresh claim's results apply.
  std::vector<AttemptResult> current{retry(fresh[0], 1, kT0 + 99'000, 503, "HTTP 503"),
                                     dead(fresh[1], 1, 400, "HTTP 400")};
  ok(a->complete(current));
  stats = ok(a->stats());
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].inflight == 0);
  CHECK(stats[0].pending == 1);
  CHECK(stats[0].dead == 1);
  // Released rows carry no token.
  CHECK(std::stoll(pg->psql(database, "SELECT count(*) FROM deliveries WHERE claim IS NOT NULL")) ==
        0);
}

TEST_CASE("postgresql: a relay's listener hears the destinations of new events", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("listen");
  auto a = open_store(url, "node-a");
  Heard heard;
  auto listener = listen(url, "node-b", heard);

  std::vector<NewEvent> events{make_event("e1", kT0, {"oic", "audit"}),
                               make_event("e2", kT0, {"oic"})};
  REQUIRE(ok(a->insert_batch(events)).size() == 2);
  REQUIRE(heard.wait_for(2, 10s));
  CHECK(heard.call(1) == std::vector<std::string>{"audit", "oic"});

  // Duplicates queue nothing: no notification. A new event after them is
  // the next one heard.
  ok(a->insert_batch(events));
  std::vector<NewEvent> third{make_event("e3", kT0, {"crm"})};
  ok(a->insert_batch(third));
  REQUIRE(heard.wait_for(3, 10s));
  CHECK(heard.call(2) == std::vector<std::string>{"crm"});
  // An event no route took is only remembered for dedupe: no notification,
  // and it is a duplicate when sent again.
  std::vector<NewEvent> unrouted{make_event("e4", kT0, {})};
  CHECK(ok(a->insert_batch(unrouted)) == std::vector<InsertOutcome>{InsertOutcome::queued});
  CHECK(ok(a->insert_batch(unrouted)) == std::vector<InsertOutcome>{InsertOutcome::duplicate});
  std::vector<NewEvent> fifth{make_event("e5", kT0, {"erp"})};
  ok(a->insert_batch(fifth));
  REQUIRE(heard.wait_for(4, 10s));
  CHECK(heard.call(3) == std::vector<std::string>{"erp"});
  // A batch with a duplicate names only the destinations it stored
  // deliveries for, each once.
  std::vector<NewEvent> mixed{make_event("e1", kT0, {"oic"}),
                              make_event("e6", kT0, {"zeta", "erp"}),
                              make_event("e7", kT0, {"erp"})};
  CHECK(ok(a->insert_batch(mixed)) == std::vector<InsertOutcome>{InsertOutcome::duplicate,
                                                                 InsertOutcome::queued,
                                                                 InsertOutcome::queued});
  REQUIRE(heard.wait_for(5, 10s));
  CHECK(heard.call(4) == std::vector<std::string>{"erp", "zeta"});
  // Past the payload's limit (200 names of about 32 bytes, over 4000 in
  // all): an empty one, meaning every destination.
  std::vector<std::string> many;
  for (int i = 0; i < 200; ++i) many.push_back("destination-with-a-long-name-" + std::to_string(i));
  std::vector<NewEvent> wide{make_event("e8", kT0, many)};
  ok(a->insert_batch(wide));
  REQUIRE(heard.wait_for(6, 10s));
  CHECK(heard.call(5).empty());
  listener.reset();
  std::lock_guard lock(heard.mutex);
  CHECK(heard.calls.size() == 6);
}

TEST_CASE("postgresql: notifications are coalesced, and what a batch owes is named later",
          "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("coalesce");
  // Long enough that a loaded machine runs the inserts below within it.
  constexpr auto kInterval = 500ms;
  auto a = open_store(url, "node-a", kInterval);
  Heard heard;
  auto listener = listen(url, "node-b", heard);

  // The first batch notifies at once.
  const auto first_at = std::chrono::steady_clock::now();
  std::vector<NewEvent> e1{make_event("e1", kT0, {"oic"})};
  ok(a->insert_batch(e1));
  CHECK_FALSE(a->deferred_until());  // nothing owed
  // Within the interval: stored without a notification, owed.
  std::vector<NewEvent> e2{make_event("e2", kT0, {"crm"})};
  std::vector<NewEvent> e3{make_event("e3", kT0, {"erp", "crm"})};
  ok(a->insert_batch(e2));
  ok(a->insert_batch(e3));
  // Three inserts take milliseconds; the interval leaves room for a slow run.
  REQUIRE(std::chrono::steady_clock::now() < first_at + kInterval);
  REQUIRE(heard.wait_for(2, 10s));
  CHECK(heard.call(1) == std::vector<std::string>{"oic"});
  const auto owed_until = a->deferred_until();
  REQUIRE(owed_until);
  CHECK(*owed_until >= first_at + kInterval);
  a->run_deferred();  // not due yet: sends nothing, still owed
  CHECK(a->deferred_until() == owed_until);
  // Once due, one notification names every owed destination (what the
  // storage worker does when the store has waited that long).
  std::this_thread::sleep_until(*owed_until);
  a->run_deferred();
  REQUIRE(heard.wait_for(3, 10s));
  CHECK(heard.call(2) == std::vector<std::string>{"crm", "erp"});
  CHECK_FALSE(a->deferred_until());

  // What a batch owes is also named by the next batch's notification once
  // the interval has passed, with that batch's own destinations.
  std::this_thread::sleep_for(kInterval);
  const auto fourth_at = std::chrono::steady_clock::now();
  std::vector<NewEvent> e4{make_event("e4", kT0, {"oic"})};
  ok(a->insert_batch(e4));  // the interval passed: notifies at once
  std::vector<NewEvent> e5{make_event("e5", kT0, {"zeta"})};
  ok(a->insert_batch(e5));
  REQUIRE(std::chrono::steady_clock::now() < fourth_at + kInterval);
  REQUIRE(a->deferred_until());
  std::this_thread::sleep_for(kInterval);
  std::vector<NewEvent> e6{make_event("e6", kT0, {"audit"})};
  ok(a->insert_batch(e6));
  REQUIRE(heard.wait_for(5, 10s));
  CHECK(heard.call(3) == std::vector<std::string>{"oic"});
  CHECK(heard.call(4) == std::vector<std::string>{"audit", "zeta"});
  CHECK_FALSE(a->deferred_until());
  listener.reset();
}

TEST_CASE("postgresql: the storage worker sends what its store owes once it is due",
          "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("owed");
  Heard heard;
  auto listener = listen(url, "node-b", heard);
  constexpr auto kInterval = 500ms;
  StorageWorker worker(open_store(url, "node-a", kInterval), nullptr);
  // Two inserts, the second within the interval of the first's
  // notification (so it is owed, not sent).
  const auto first_at = std::chrono::steady_clock::now();
  insert_through(worker, make_event("w1", kT0, {"oic"}));
  insert_through(worker, make_event("w2", kT0, {"crm"}));
  REQUIRE(std::chrono::steady_clock::now() < first_at + kInterval);
  REQUIRE(heard.wait_for(2, 10s));
  CHECK(heard.call(1) == std::vector<std::string>{"oic"});
  // Nothing else is submitted: the worker itself names crm once the
  // interval is over.
  REQUIRE(heard.wait_for(3, 10s));
  CHECK(heard.call(2) == std::vector<std::string>{"crm"});
  CHECK(std::chrono::steady_clock::now() >= first_at + kInterval);
}

TEST_CASE("postgresql: a stopping storage worker sends what its store owes at once",
          "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("owed_stop");
  Heard heard;
  auto listener = listen(url, "node-b", heard);
  constexpr auto kInterval = 30s;  // never due within the test
  StorageWorker worker(open_store(url, "node-a", kInterval), nullptr);
  insert_through(worker, make_event("s1", kT0, {"oic"}));
  insert_through(worker, make_event("s2", kT0, {"crm"}));
  REQUIRE(heard.wait_for(2, 10s));
  CHECK(heard.call(1) == std::vector<std::string>{"oic"});
  worker.stop();  // crm is owed for 30 s more: sent now
  REQUIRE(heard.wait_for(3, 10s));
  CHECK(heard.call(2) == std::vector<std::string>{"crm"});
}

TEST_CASE("postgresql: a store and a listener find the database again after it was down",
          "[storage][pg]") {
  if (!PgCluster::available()) return;
  PgCluster own;  // restarted by this test: not the shared one
  const std::string url = own.create_database("outage");
  auto store = open_store(url, "node-a");
  Heard heard;
  auto listener = listen(url, "node-a", heard);
  CHECK_FALSE(store->unreachable());
  REQUIRE(ok(store->stats()).empty());

  own.stop_server();
  // The first call finds the connection lost, the next one cannot connect;
  // then calls fail at once without trying, saying when the next attempt is
  // (the backoff starts at 250 ms).
  CHECK_FALSE(store->stats().ok());
  REQUIRE(store->unreachable());
  auto refused = store->stats();
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("cannot connect"));
  CHECK_THAT(refused.error().message, !Catch::Contains("next connection attempt"));
  std::vector<NewEvent> events{make_event("e1", kT0)};
  auto fast = store->insert_batch(events);
  REQUIRE_FALSE(fast.ok());
  CHECK_THAT(fast.error().message, Catch::Contains("next connection attempt in"));
  CHECK(store->unreachable());

  own.start_server();
  // Within the backoff (at most 5 s), a call connects again.
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!store->stats().ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  CHECK_FALSE(store->unreachable());
  REQUIRE(ok(store->insert_batch(events)) == std::vector<InsertOutcome>{InsertOutcome::queued});
  // The listener connected again (an empty call: look at everything) and
  // hears new events.
  REQUIRE(heard.wait_for(2, 15s));
  CHECK(heard.call(1).empty());
  std::vector<NewEvent> more{make_event("e2", kT0)};
  ok(store->insert_batch(more));
  REQUIRE(heard.wait_for(3, 10s));
  CHECK(heard.call(2) == std::vector<std::string>{"oic"});
}
