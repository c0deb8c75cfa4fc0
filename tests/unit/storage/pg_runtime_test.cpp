// What a running relay needs of PgStore and PgListener on a real PostgreSQL
// server (tests/support/pg_cluster): lease renewal, notifications of new
// events, and losing and finding the database again.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ocirelay/storage/pg_listener.hpp"
#include "ocirelay/storage/store.hpp"
#include "support/pg_cluster.hpp"
#include "unit/storage/store_test_support.hpp"

using namespace std::chrono_literals;
using ocirelay::storage::InsertOutcome;
using ocirelay::storage::Millis;
using ocirelay::storage::NewEvent;
using ocirelay::storage::open_postgresql_store;
using ocirelay::storage::PgListener;
using ocirelay::storage::PostgresqlOptions;
using ocirelay::storage::Store;
using ocirelay::storage::test::delivered;
using ocirelay::storage::test::kT0;
using ocirelay::storage::test::make_event;
using ocirelay::storage::test::ok;
using ocirelay::test::PgCluster;

namespace {

constexpr Millis kLease = 30'000;

PostgresqlOptions options_for(const std::string& url, const std::string& node) {
  PostgresqlOptions options;
  options.url = url;
  options.node_id = node;
  options.lease = std::chrono::milliseconds(kLease);
  options.connect_timeout = 2s;
  return options;
}

std::unique_ptr<Store> open_store(const std::string& url, const std::string& node) {
  auto store = open_postgresql_store(options_for(url, node));
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
  CHECK(ok(a->renew_claims(kT0 + 20'000)) == 1);
  // Past the first lease, b takes only the other delivery, and waits for the
  // renewed end of a's claim.
  auto other = ok(b->fetch_due("oic", kT0 + 10 + kLease, 10));
  REQUIRE(other.due.size() == 1);
  CHECK(other.due[0].event_id == "e2");
  CHECK(other.next_due == kT0 + 20'000 + kLease);
  // b's renewal is of b's claim only.
  CHECK(ok(b->renew_claims(kT0 + 20'000 + kLease)) == 1);
  // A claim that is not renewed again is taken once its lease ran out.
  auto taken = ok(b->fetch_due("oic", kT0 + 20'000 + kLease, 10)).due;
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].event_id == "e1");
  // Completed claims are no longer renewed.
  std::vector<ocirelay::storage::AttemptResult> done{delivered(taken[0].id)};
  ok(b->complete(done));
  CHECK(ok(a->renew_claims(kT0 + 60'000)) == 0);
}

TEST_CASE("postgresql: a relay's listener hears the destinations of new events", "[storage][pg]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("listen");
  auto a = open_store(url, "node-a");
  Heard heard;
  auto listener = PgListener::start(
      options_for(url, "node-b"),
      [&heard](std::vector<std::string> destinations) { heard.add(std::move(destinations)); },
      nullptr);
  REQUIRE(listener != nullptr);
  // First: connected (anything may have been missed before).
  REQUIRE(heard.wait_for(1, 10s));
  CHECK(heard.call(0).empty());

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
  listener.reset();
  std::lock_guard lock(heard.mutex);
  CHECK(heard.calls.size() == 3);
}

TEST_CASE("postgresql: a store and a listener find the database again after it was down",
          "[storage][pg]") {
  if (!PgCluster::available()) return;
  PgCluster own;  // restarted by this test: not the shared one
  const std::string url = own.create_database("outage");
  auto store = open_store(url, "node-a");
  Heard heard;
  auto listener = PgListener::start(
      options_for(url, "node-a"),
      [&heard](std::vector<std::string> destinations) { heard.add(std::move(destinations)); },
      nullptr);
  REQUIRE(heard.wait_for(1, 10s));
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
