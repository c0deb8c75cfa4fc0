// Several real ocirelayd processes on one PostgreSQL database (the test
// binary's throwaway cluster, tests/support/pg_cluster), delivering to fake
// OIC triggers: end to end on one relay, exactly-once delivery across three,
// cluster-wide dedupe, concurrent first starts, and start-up failures.
// Skipped (with a warning) when PostgreSQL 15 is not installed.
#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>

#include "support/daemon_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/pg_cluster.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_metrics.hpp"
#include "support/temp_dir.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

std::string relay_tail(const std::string& oic_url, const std::string& destination_extra = {}) {
  return "destinations:\n  - name: oic\n    url: " + oic_url +
         "\n    retry: { initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }\n" +
         destination_extra + "routes:\n  - { name: all, destinations: [oic] }\n";
}

// A relay named `node` on the database at `url`.
std::unique_ptr<RelayHarness> pg_relay(const std::string& url, const std::string& node,
                                       const std::string& tail,
                                       const std::string& postgresql_extra = {}) {
  return std::make_unique<RelayHarness>(tail, std::string{}, kManagementYaml,
                                        postgresql_storage_yaml(url, node, postgresql_extra));
}

// The eventID of a delivered body.
std::string event_id_of(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("eventID") ||
      !doc["eventID"].IsString()) {
    return {};
  }
  return doc["eventID"].GetString();
}

// How often the fake received each eventID.
std::map<std::string, int> received_ids(const FakeHttpServer& oic) {
  std::map<std::string, int> counts;
  for (const auto& r : oic.requests()) ++counts[event_id_of(r.body)];
  return counts;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("postgresql: one relay queues and delivers events end to end", "[pg][postgresql]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("relay_one");
  FakeHttpServer oic;
  auto relay = pg_relay(url, "relay-a", relay_tail(oic.url("/flow")));
  relay->start();
  CHECK(contains(relay->log(), "storage postgresql (node relay-a)"));
  TestClient client(relay->port());
  const std::string body = fixture("events/createobject.json");
  REQUIRE(client.post_event(body).status == 202);
  REQUIRE(client.post_event(body).status == 200);  // duplicate
  REQUIRE(oic.wait_for_requests(1, 10s));
  CHECK(oic.requests().at(0).body == body);
  CHECK(oic.requests().at(0).headers.get("Idempotency-Key") ==
        "3e47d127-19de-6eb8-eb67-0c1ab961fcbc");
  REQUIRE(wait_until_settled(*relay, "oic", 10s));
  CHECK(attempts(*relay, "oic", "delivered", "2xx") == 1);
  CHECK(oic.request_count() == 1);
  // Delivered: nothing left in the database but the dedupe entry.
  const std::string db = url.substr(url.rfind('/') + 1);
  CHECK(pg->psql(db, "SELECT count(*) FROM deliveries") == "0\n");
  CHECK(pg->psql(db, "SELECT count(*) FROM events") == "0\n");
  CHECK(pg->psql(db, "SELECT count(*) FROM seen") == "1\n");
  relay->daemon().signal(SIGTERM);
  CHECK(relay->daemon().wait_exit(20s) == 0);
}

TEST_CASE("postgresql: three relays deliver events posted round-robin exactly once",
          "[pg][postgresql]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("relay_three");
  FakeHttpServer oic;
  std::vector<std::unique_ptr<RelayHarness>> relays;
  for (const char* node : {"relay-a", "relay-b", "relay-c"}) {
    relays.push_back(pg_relay(url, node, relay_tail(oic.url("/flow"), "    concurrency: 4\n")));
    relays.back()->start();
  }
  constexpr int kEvents = 150;
  std::set<std::string> sent;
  for (int i = 0; i < kEvents; ++i) {
    TestClient client(relays[static_cast<std::size_t>(i) % relays.size()]->port());
    REQUIRE(client.post_event(event_with_id(i)).status == 202);
    sent.insert(event_id_for(i));
  }
  REQUIRE(oic.wait_for_requests(kEvents, 30s));
  double delivered = 0;
  for (auto& relay : relays) {
    REQUIRE(wait_until_settled(*relay, "oic", 30s));
    delivered += attempts(*relay, "oic", "delivered", "2xx");
  }
  const auto counts = received_ids(oic);
  std::set<std::string> got;
  int twice = 0;
  for (const auto& [id, n] : counts) {
    got.insert(id);
    if (n != 1) ++twice;
  }
  CHECK(got == sent);
  CHECK(twice == 0);
  CHECK(oic.request_count() == static_cast<std::size_t>(kEvents));
  CHECK(delivered == kEvents);
}

TEST_CASE("postgresql: the same eventID posted to two relays at once is queued once",
          "[pg][postgresql]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("relay_dedupe");
  FakeHttpServer oic;
  auto a = pg_relay(url, "relay-a", relay_tail(oic.url("/flow")));
  auto b = pg_relay(url, "relay-b", relay_tail(oic.url("/flow")));
  a->start();
  b->start();
  for (int round = 0; round < 20; ++round) {
    const std::string body = event_with_id(1000 + round);
    int status_a = 0;
    int status_b = 0;
    std::thread ta([&] { status_a = TestClient(a->port()).post_event(body).status; });
    std::thread tb([&] { status_b = TestClient(b->port()).post_event(body).status; });
    ta.join();
    tb.join();
    INFO("round " << round << ": " << status_a << " and " << status_b);
    CHECK(std::multiset<int>{status_a, status_b} == std::multiset<int>{200, 202});
  }
  REQUIRE(oic.wait_for_requests(20, 20s));
  REQUIRE(wait_until_settled(*a, "oic", 10s));
  REQUIRE(wait_until_settled(*b, "oic", 10s));
  CHECK(oic.request_count() == 20);
  for (const auto& [id, n] : received_ids(oic)) {
    INFO(id);
    CHECK(n == 1);
  }
}

TEST_CASE("postgresql: two relays starting at once on an empty database migrate it once",
          "[pg][postgresql]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("relay_first_start");
  const std::string db = url.substr(url.rfind('/') + 1);
  FakeHttpServer oic;
  auto a = pg_relay(url, "relay-a", relay_tail(oic.url("/flow")));
  auto b = pg_relay(url, "relay-b", relay_tail(oic.url("/flow")));
  std::thread start_a([&] { a->start(); });
  b->start();
  start_a.join();
  CHECK(pg->psql(db, "SELECT version, count(*) FROM ocirelay_schema GROUP BY version") == "1|1\n");
  REQUIRE(TestClient(a->port()).post_event(event_with_id(1)).status == 202);
  REQUIRE(TestClient(b->port()).post_event(event_with_id(2)).status == 202);
  REQUIRE(oic.wait_for_requests(2, 10s));
  REQUIRE(wait_until_settled(*a, "oic", 10s));
  CHECK(oic.request_count() == 2);
}

TEST_CASE("postgresql: an unreachable database at start exits 3 without the password",
          "[pg][postgresql]") {
  TempDir dir;
  // Nothing listens there: the cluster's port while no cluster uses it is
  // not known, so take a port, then free it.
  const int port = [] {
    FakeHttpServer placeholder;
    return placeholder.port();
  }();
  const std::string url =
      "postgresql://relay:Secr3tPassw0rd@127.0.0.1:" + std::to_string(port) + "/ocirelay";
  dir.write("ocirelay.yaml",
            base_yaml(dir, {}, kManagementYaml,
                      postgresql_storage_yaml(url, "relay-a", "    connect_timeout: 2s\n")) +
                relay_tail("http://127.0.0.1:9/flow"));
  auto result = run_ocirelayd({"--config", dir.file("ocirelay.yaml")});
  INFO(result.output);
  CHECK(result.exit_code == 3);
  CHECK(contains(result.output, "storage.postgresql.url: cannot connect"));
  CHECK_FALSE(contains(result.output, "Secr3tPassw0rd"));
}

TEST_CASE("postgresql: a database whose schema is newer than the relay exits 3",
          "[pg][postgresql]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("relay_newer");
  const std::string db = url.substr(url.rfind('/') + 1);
  pg->psql(db,
           "CREATE TABLE ocirelay_schema (version integer PRIMARY KEY, applied_at timestamptz "
           "NOT NULL DEFAULT now(), applied_by text NOT NULL);"
           "INSERT INTO ocirelay_schema (version, applied_by) VALUES (1, 'x'), (99, 'future')");
  TempDir dir;
  dir.write("ocirelay.yaml",
            base_yaml(dir, {}, kManagementYaml, postgresql_storage_yaml(url, "relay-a")) +
                relay_tail("http://127.0.0.1:9/flow"));
  auto result = run_ocirelayd({"--config", dir.file("ocirelay.yaml")});
  INFO(result.output);
  CHECK(result.exit_code == 3);
  CHECK(contains(result.output, "schema version 99 is newer than this ocirelay supports"));
}
