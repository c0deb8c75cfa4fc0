// Store::stats() across the relays of one database: the counts are the
// whole cluster's, and in-flight deliveries are also given per relay (SQLite
// has one, kLocalNode).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "ocirelay/storage/store.hpp"
#include "support/pg_cluster.hpp"
#include "unit/storage/store_backend.hpp"
#include "unit/storage/store_test_support.hpp"

using ocirelay::storage::DestinationStats;
using ocirelay::storage::kLocalNode;
using ocirelay::storage::NodeInflight;
using ocirelay::storage::Store;
using ocirelay::storage::test::backends;
using ocirelay::storage::test::delivered;
using ocirelay::storage::test::kT0;
using ocirelay::storage::test::make_event;
using ocirelay::storage::test::numbered_id;
using ocirelay::storage::test::ok;
using ocirelay::storage::test::StoreBackend;

namespace {

const DestinationStats& stats_of(const std::vector<DestinationStats>& stats,
                                 const std::string& destination) {
  for (const auto& s : stats) {
    if (s.destination == destination) return s;
  }
  FAIL("no stats for " << destination);
  static const DestinationStats none;  // not reached: FAIL ends the test
  return none;
}

void insert_numbered(Store& store, int count, std::vector<std::string> destinations) {
  std::vector<ocirelay::storage::NewEvent> batch;
  for (int i = 0; i < count; ++i)
    batch.push_back(make_event(numbered_id(i), kT0 + i, destinations));
  ok(store.insert_batch(batch));
}

}  // namespace

TEST_CASE("both backends: stats give in-flight deliveries per relay", "[storage][pg]") {
  const StoreBackend backend(GENERATE(from_range(backends())));
  INFO(backend.name);
  auto store = backend.open("relay-a");
  insert_numbered(*store, 4, {"oic", "audit"});
  auto claimed = ok(store->fetch_due("oic", kT0 + 100, 3)).due;
  REQUIRE(claimed.size() == 3);
  const std::string node = backend.postgresql() ? "relay-a" : kLocalNode;

  auto stats = ok(store->stats());
  CHECK(stats_of(stats, "oic").inflight == 3);
  CHECK(stats_of(stats, "oic").pending == 1);
  CHECK(stats_of(stats, "oic").inflight_by_node == std::vector{NodeInflight{node, 3}});
  CHECK(stats_of(stats, "audit").inflight_by_node.empty());  // nothing in flight

  ok(store->complete(std::vector{delivered(claimed[0].id)}));
  CHECK(stats_of(ok(store->stats()), "oic").inflight_by_node == std::vector{NodeInflight{node, 2}});
  ok(store->release_inflight());
  CHECK(stats_of(ok(store->stats()), "oic").inflight_by_node.empty());
}

TEST_CASE("postgresql: stats are the cluster's, with each relay's claims", "[storage][pg]") {
  if (ocirelay::test::PgCluster::shared() == nullptr) return;
  const StoreBackend backend("postgresql");
  auto a = backend.open("relay-a");
  auto b = backend.open("relay-b");
  auto c = backend.open("relay-c");
  insert_numbered(*a, 10, {"oic"});
  ok(b->insert_batch(std::vector{make_event("old", kT0 - 5000, {"audit"})}));
  REQUIRE(ok(a->fetch_due("oic", kT0 + 100, 2)).due.size() == 2);
  REQUIRE(ok(b->fetch_due("oic", kT0 + 100, 3)).due.size() == 3);
  REQUIRE(ok(c->fetch_due("audit", kT0 + 100, 10)).due.size() == 1);

  // Every relay gives the same answer: the cluster's.
  for (Store* store : {a.get(), b.get(), c.get()}) {
    auto stats = ok(store->stats());
    REQUIRE(stats.size() == 2);
    CHECK(stats[0].destination == "audit");
    CHECK(stats[0].inflight == 1);
    CHECK(stats[0].oldest_received_at == kT0 - 5000);
    CHECK(stats[0].inflight_by_node == std::vector{NodeInflight{"relay-c", 1}});
    CHECK(stats[1].destination == "oic");
    CHECK(stats[1].pending == 5);
    CHECK(stats[1].inflight == 5);
    CHECK(stats[1].dead == 0);
    CHECK(stats[1].oldest_received_at == kT0);
    CHECK(stats[1].inflight_by_node ==
          std::vector{NodeInflight{"relay-a", 2}, NodeInflight{"relay-b", 3}});
  }

  // Relay b lets its claims go: only a's are left.
  CHECK(ok(b->release_inflight()) == 3);
  auto stats = ok(c->stats());
  CHECK(stats[1].pending == 8);
  CHECK(stats[1].inflight_by_node == std::vector{NodeInflight{"relay-a", 2}});
}
