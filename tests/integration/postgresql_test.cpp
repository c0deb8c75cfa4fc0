// Several real ocirelayd processes on one PostgreSQL database (the test
// binary's throwaway cluster, tests/support/pg_cluster), delivering to fake
// OIC triggers: end to end on one relay, exactly-once delivery across three,
// cluster-wide dedupe, concurrent first starts, and start-up failures.
// Skipped (with a warning) when PostgreSQL 15 is not installed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>

#include <rapidjson/document.h>

#include "ocirelay/storage/store.hpp"
#include "support/daemon_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/load_client.hpp"
#include "support/pg_cluster.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_metrics.hpp"
#include "support/temp_dir.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kQuickRetry = "{ initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }";
// A failure pauses the destination for a minute.
constexpr const char* kLongPause = "{ initial_backoff: 60s, max_backoff: 60s, max_age: 1h }";

std::string relay_tail(const std::string& oic_url, const std::string& destination_extra = {},
                       const std::string& retry = kQuickRetry) {
  return "destinations:\n  - name: oic\n    url: " + oic_url + "\n    retry: " + retry + "\n" +
         destination_extra + "routes:\n  - { name: all, destinations: [oic] }\n";
}

// A relay named `node` on the database at `url`.
std::unique_ptr<RelayHarness> pg_relay(const std::string& url, const std::string& node,
                                       const std::string& tail,
                                       const std::string& postgresql_extra = {}) {
  return std::make_unique<RelayHarness>(tail, std::string{}, kManagementYaml,
                                        postgresql_storage_yaml(url, node, postgresql_extra));
}

const std::string kPaused = "ocirelay_destination_state{destination=\"oic\",state=\"paused\"}";
const std::string kDelivered = attempts_series("oic", "delivered", "2xx");

Reply status(int code) { return Reply{ocirelay::http::Response{code, {}, {}, false}, {}}; }

// Two relays on `url` delivering to `oic`, where relay-a's destination is
// paused for a minute (its one attempt got a 503) and relay-b's is healthy:
// what relay-a accepts, only relay-b can deliver. Neither polls the queue
// for a minute (poll_interval, retry times), so relay-b hears of relay-a's
// events by notification only.
struct PausedAndHealthy {
  std::unique_ptr<RelayHarness> a;
  std::unique_ptr<RelayHarness> b;
};

PausedAndHealthy paused_and_healthy(const std::string& url, FakeHttpServer& oic) {
  oic.set_script(
      [](const RecordedRequest&, std::size_t index) { return status(index == 0 ? 503 : 202); });
  const std::string tail = relay_tail(oic.url("/flow"), {}, kLongPause);
  PausedAndHealthy relays;
  relays.a = pg_relay(url, "relay-a", tail, "    poll_interval: 60s\n");
  relays.b = pg_relay(url, "relay-b", tail, "    poll_interval: 60s\n");
  relays.a->start();
  REQUIRE(TestClient(relays.a->port()).post_event(event_with_id(0)).status == 202);
  REQUIRE(wait_for_metric(*relays.a, kPaused, 1, 10s));
  REQUIRE(oic.request_count() == 1);
  relays.b->start();
  return relays;
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
  // pool_size 1: one queue connection for everything; 4: deliveries get a
  // connection of their own (one destination: one), besides the listener's.
  const int pool_size = GENERATE(1, 4);
  INFO("pool_size " << pool_size);
  const std::string url = pg->create_database("relay_one_" + std::to_string(pool_size));
  FakeHttpServer oic;
  auto relay = pg_relay(url, "relay-a", relay_tail(oic.url("/flow")),
                        "    pool_size: " + std::to_string(pool_size) + "\n");
  relay->start();
  CHECK(contains(relay->log(), "storage postgresql (node relay-a)"));
  const std::string connections = pool_size == 1 ? "2" : "3";
  CHECK(contains(relay->log(), "postgresql: " + connections + " connection(s) to the database"));
  // The listener connects on its own thread: give it a moment.
  std::string seen;
  for (int i = 0; i < 100 && seen != connections + "\n"; ++i) {
    if (i > 0) std::this_thread::sleep_for(50ms);
    seen = pg->psql(url.substr(url.rfind('/') + 1),
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()");
  }
  CHECK(seen == connections + "\n");
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

TEST_CASE("postgresql: an event accepted by one relay wakes another relay that delivers it",
          "[pg][postgresql]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("relay_wake");
  FakeHttpServer oic;
  auto relays = paused_and_healthy(url, oic);
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(TestClient(relays.a->port()).post_event(event_with_id(i)).status == 202);
    // Far below the minute either relay would otherwise wait.
    REQUIRE(oic.wait_for_requests(static_cast<std::size_t>(i) + 1, 5s));
    CHECK(event_id_of(oic.requests().back().body) == event_id_for(i));
  }
  REQUIRE(wait_for_metric(*relays.b, kDelivered, 3, 5s));
  CHECK(metric(*relays.a, kDelivered).value_or(0) == 0);
  CHECK(metric(*relays.a, kPaused) == 1);
}

TEST_CASE("postgresql: an attempt longer than the lease keeps its claim", "[pg][postgresql]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("relay_renew");
  FakeHttpServer oic;
  // Each attempt takes three leases.
  oic.set_script([](const RecordedRequest&, std::size_t) {
    return Reply{ocirelay::http::Response{202, {}, {}, false}, 6s};
  });
  const std::string tail = relay_tail(oic.url("/flow"));
  auto a = pg_relay(url, "relay-a", tail, "    lease: 2s\n");
  auto b = pg_relay(url, "relay-b", tail, "    lease: 2s\n");
  a->start();
  b->start();
  for (int i = 0; i < 4; ++i) {
    REQUIRE(TestClient((i % 2 == 0 ? a : b)->port()).post_event(event_with_id(i)).status == 202);
  }
  REQUIRE(oic.wait_for_requests(4, 10s));
  double delivered = 0;
  for (auto* relay : {a.get(), b.get()}) {
    REQUIRE(wait_until_settled(*relay, "oic", 20s));
    delivered += metric(*relay, kDelivered).value_or(0);
  }
  // Renewed every lease / 3: no relay took another's claim and sent it again.
  CHECK(delivered == 4);
  CHECK(oic.request_count() == 4);
  for (const auto& [id, n] : received_ids(oic)) {
    INFO(id);
    CHECK(n == 1);
  }
}

TEST_CASE(
    "postgresql: a relay killed with deliveries in flight loses them to another after the "
    "lease",
    "[pg][postgresql]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("relay_kill");
  const std::string db = url.substr(url.rfind('/') + 1);
  FakeHttpServer oic;
  // The first attempts hang (relay-a's, cut by its death); later ones succeed.
  oic.set_script([](const RecordedRequest&, std::size_t index) {
    return Reply{ocirelay::http::Response{202, {}, {}, false}, index < 3 ? 60s : 0s};
  });
  const std::string tail = relay_tail(oic.url("/flow"));
  auto a = pg_relay(url, "relay-a", tail, "    lease: 2s\n");
  auto b = pg_relay(url, "relay-b", tail, "    lease: 2s\n");
  a->start();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(TestClient(a->port()).post_event(event_with_id(i)).status == 202);
  }
  REQUIRE(oic.wait_for_requests(3, 10s));
  CHECK(pg->psql(db, "SELECT claimed_by, count(*) FROM deliveries GROUP BY claimed_by") ==
        "relay-a|3\n");
  b->start();
  a->daemon().kill_hard();
  // relay-b takes the claims once their lease ran out, and delivers them.
  REQUIRE(wait_for_metric(*b, kDelivered, 3, 20s));
  REQUIRE(wait_until_settled(*b, "oic", 10s));
  const auto counts = received_ids(oic);
  REQUIRE(counts.size() == 3);
  for (const auto& [id, n] : counts) {
    INFO(id);
    CHECK(n == 2);  // relay-a's attempt that never ended, then relay-b's
  }
  CHECK(pg->psql(db, "SELECT count(*) FROM deliveries") == "0\n");
}

TEST_CASE(
    "postgresql: a delivery whose claim ran out while its relay was sending it is not sent "
    "again by that relay",
    "[pg][postgresql]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("relay_reclaim");
  const std::string db = url.substr(url.rfind('/') + 1);
  FakeHttpServer oic;
  // The first attempt takes 6 s (three leases); later ones are answered at once.
  oic.set_script([](const RecordedRequest&, std::size_t index) {
    return Reply{ocirelay::http::Response{202, {}, {}, false}, index == 0 ? 6s : 0s};
  });
  auto a = pg_relay(url, "relay-a", relay_tail(oic.url("/flow")), "    lease: 2s\n");
  a->start();
  REQUIRE(TestClient(a->port()).post_event(event_with_id(0)).status == 202);
  REQUIRE(oic.wait_for_requests(1, 10s));
  const std::string first_row =
      "(SELECT d.id FROM deliveries AS d JOIN events AS e ON e.id = "
      "d.event WHERE e.event_id = '" +
      event_id_for(0) + "')";
  const std::string claim_sql = "SELECT claim FROM deliveries WHERE id = " + first_row;
  const std::string first_claim = pg->psql(db, claim_sql);
  REQUIRE(first_claim != "\n");

  // Its lease runs out while the attempt is under way, as when the relay's
  // renewals are lost; a new event makes the relay fetch, which claims the
  // row again under a new token. (A renewal that comes between the two
  // extends the lease again: then once more.)
  bool reclaimed = false;
  int posted = 1;
  while (!reclaimed && posted <= 10) {
    pg->psql(db, "UPDATE deliveries SET lease_until = 0 WHERE id = " + first_row);
    REQUIRE(TestClient(a->port()).post_event(event_with_id(posted)).status == 202);
    ++posted;
    REQUIRE(wait_for_metric(*a, kDelivered, posted - 1, 10s));
    reclaimed = pg->psql(db, claim_sql) != first_claim;
  }
  REQUIRE(reclaimed);

  // The relay keeps sending its one attempt; it does not send the event again.
  REQUIRE(wait_for_metric(*a, kDelivered, posted, 20s));
  REQUIRE(wait_until_settled(*a, "oic", 10s));
  const auto counts = received_ids(oic);
  CHECK(counts.size() == static_cast<std::size_t>(posted));
  for (const auto& [id, n] : counts) {
    INFO(id);
    CHECK(n == 1);
  }
  CHECK(oic.request_count() == static_cast<std::size_t>(posted));
  CHECK(pg->psql(db, "SELECT count(*) FROM deliveries") == "0\n");
}

TEST_CASE(
    "postgresql: a claim whose rows its relay never received is not renewed and another "
    "relay delivers them after the lease",
    "[pg][postgresql]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("relay_lost_claim");
  const std::string db = url.substr(url.rfind('/') + 1);
  FakeHttpServer oic;
  oic.set_script(
      [](const RecordedRequest&, std::size_t index) { return status(index == 0 ? 503 : 202); });
  const std::string tail = relay_tail(oic.url("/flow"), {}, kLongPause);
  auto a = pg_relay(url, "relay-a", tail, "    lease: 2s\n");
  auto b = pg_relay(url, "relay-b", tail, "    lease: 2s\n");
  a->start();
  // relay-a's destination pauses for a minute: it claims nothing meanwhile,
  // but it runs, renewing its claims every lease / 3.
  REQUIRE(TestClient(a->port()).post_event(event_with_id(100)).status == 202);
  REQUIRE(wait_for_metric(*a, kPaused, 1, 10s));

  // A fetch under relay-a's name whose rows relay-a never holds: as when its
  // connection drops during the COMMIT of fetch_due and the server committed.
  ocirelay::storage::PostgresqlOptions options;
  options.url = url;
  options.node_id = "relay-a";
  options.lease = 2s;
  auto opened = ocirelay::storage::open_postgresql_store(options);
  REQUIRE(opened);
  auto lost = std::move(opened).value();
  std::vector<ocirelay::storage::NewEvent> events;
  for (int i = 0; i < 3; ++i) {
    ocirelay::storage::NewEvent e;
    e.event_id = event_id_for(i);
    e.body = event_with_id(i);
    e.destinations = {"oic"};
    e.received_at = ocirelay::storage::now_millis();
    events.push_back(std::move(e));
  }
  REQUIRE(lost->insert_batch(events));
  auto claimed = lost->fetch_due("oic", ocirelay::storage::now_millis(), 10);
  REQUIRE(claimed);
  REQUIRE(claimed->due.size() == 3);
  lost.reset();
  CHECK(pg->psql(db, "SELECT count(*) FROM deliveries WHERE claimed_by = 'relay-a'") == "3\n");

  // relay-b starts: relay-a does not renew a claim it does not hold, so once
  // its lease ran out relay-b takes it and delivers the events, once each.
  b->start();
  // (Not settled: the first event waits for its retry, a minute away.)
  REQUIRE(wait_for_metric(*b, kDelivered, 3, 20s));
  const auto counts = received_ids(oic);
  for (int i = 0; i < 3; ++i) {
    INFO(event_id_for(i));
    CHECK(counts.count(event_id_for(i)) == 1);
    if (counts.count(event_id_for(i)) == 1) CHECK(counts.at(event_id_for(i)) == 1);
  }
  CHECK(metric(*a, kDelivered).value_or(0) == 0);
}

namespace {

// Polls GET `path` on `port` until it answers `status`; false at the timeout.
bool wait_for_status(std::uint16_t port, const std::string& path, int status,
                     ocirelay::Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (TestClient(port).request("GET", path).status == status) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace

TEST_CASE("postgresql: a database outage under load costs 503s, never an acked event",
          "[pg][postgresql]") {
  if (!PgCluster::available()) return;
  PgCluster own;  // stopped and restarted here: not the shared one
  const std::string url = own.create_database("relay_outage");
  FakeHttpServer oic;
  const std::string tail = relay_tail(oic.url("/flow"));
  auto a = pg_relay(url, "relay-a", tail);
  auto b = pg_relay(url, "relay-b", tail);
  a->start();
  b->start();
  const pid_t pid_a = a->daemon().pid();
  const pid_t pid_b = b->daemon().pid();
  std::atomic<std::uint16_t> port_a{a->port()};
  std::atomic<std::uint16_t> port_b{b->port()};
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<LoadClient>> clients;
  clients.push_back(std::make_unique<LoadClient>(0, port_a, stop));
  clients.push_back(std::make_unique<LoadClient>(1, port_b, stop));
  REQUIRE(oic.wait_for_requests(50, 20s));

  // pg_ctl restart -m fast under load.
  own.restart();
  const std::size_t after_restart = oic.request_count();
  REQUIRE(oic.wait_for_requests(after_restart + 50, 20s));

  // A longer outage: both relays say why and refuse events until it ends.
  own.stop_server();
  for (auto* relay : {a.get(), b.get()}) {
    REQUIRE(wait_for_status(relay->management_port(), "/ready", 503, 10s));
    const auto ready = TestClient(relay->management_port()).request("GET", "/ready");
    CHECK(contains(ready.body, "storage unreachable"));
    const auto health = TestClient(relay->management_port()).request("GET", "/health");
    CHECK(health.status == 200);
    CHECK(contains(health.body, "\"status\":\"degraded\""));
    CHECK(contains(health.body, "\"not_ready\":\"storage unreachable\""));
    CHECK(TestClient(relay->port()).request("GET", "/health").status == 503);
    const auto refused = TestClient(relay->port()).post_event(event_with_id(99'000'000));
    CHECK(refused.status == 503);
    CHECK(refused.headers.get("Retry-After") == "30");
  }
  own.start_server();
  for (auto* relay : {a.get(), b.get()}) {
    REQUIRE(wait_for_status(relay->management_port(), "/ready", 200, 20s));
  }
  const std::size_t after_outage = oic.request_count();
  REQUIRE(oic.wait_for_requests(after_outage + 50, 20s));
  stop = true;
  std::set<std::string> acked;
  std::size_t refused = 0;
  for (auto& client : clients) {
    client->join();
    REQUIRE(client->error().empty());
    acked.insert(client->acked().begin(), client->acked().end());
    refused += client->refused_posts();
  }
  for (auto* relay : {a.get(), b.get()}) REQUIRE(wait_until_settled(*relay, "oic", 30s));
  const auto counts = received_ids(oic);
  std::size_t lost = 0;
  std::size_t duplicates = 0;
  for (const auto& id : acked) {
    const auto it = counts.find(id);
    if (it == counts.end()) ++lost;
  }
  for (const auto& [id, n] : counts) duplicates += static_cast<std::size_t>(n - 1);
  std::printf(
      "postgresql outage: %zu events acked, %zu posts refused (503) while the database "
      "was down, %zu lost, %zu delivered twice\n",
      acked.size(), refused, lost, duplicates);
  CHECK(refused > 0);
  CHECK(lost == 0);
  // Neither relay was restarted.
  CHECK(a->daemon().pid() == pid_a);
  CHECK(b->daemon().pid() == pid_b);
  CHECK(::kill(pid_a, 0) == 0);
  CHECK(::kill(pid_b, 0) == 0);
  CHECK(contains(a->log(), "storage: the database can be reached again"));
}

TEST_CASE("postgresql: added latency to the destination, same relay and another relay",
          "[.][bench][postgresql]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const std::string url = pg->create_database("relay_latency");
  FakeHttpServer oic;
  auto relays = paused_and_healthy(url, oic);
  constexpr int kEvents = 200;
  std::size_t seen = oic.request_count();
  auto p50 = [&](RelayHarness& to, long first) {
    std::vector<double> ms;
    for (long i = first; i < first + kEvents; ++i) {
      const auto sent = std::chrono::steady_clock::now();
      REQUIRE(TestClient(to.port()).post_event(event_with_id(i)).status == 202);
      REQUIRE(oic.wait_for_requests(++seen, 5s));
      ms.push_back(
          std::chrono::duration<double, std::milli>(oic.requests().back().at - sent).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  };
  const double same = p50(*relays.b, 100'000);   // relay-b accepts and delivers
  const double other = p50(*relays.a, 200'000);  // relay-a accepts, relay-b delivers
  std::printf(
      "postgresql: POST to delivery p50 over %d events: same relay %.2f ms, other "
      "relay (LISTEN/NOTIFY) %.2f ms, added %.2f ms\n",
      kEvents, same, other, other - same);
  CHECK(other > 0);
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
  // Each migration applied once (three of them: schema version 3).
  CHECK(
      pg->psql(db,
               "SELECT version, count(*) FROM ocirelay_schema GROUP BY version ORDER BY version") ==
      "1|1\n2|1\n3|1\n");
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

TEST_CASE("postgresql: 20 random kill -9s across three relays under load lose no acked event",
          "[pg][postgresql][crash]") {
  PgCluster* pg = PgCluster::shared();
  if (pg == nullptr) return;
  const char* seed_text = std::getenv("OCIRELAY_CRASH_SEED");
  const std::uint64_t seed =
      seed_text != nullptr && *seed_text != '\0' ? std::stoull(seed_text) : std::random_device{}();
  constexpr int kKills = 20;
  std::printf("postgresql crash test: seed %llu (replay with OCIRELAY_CRASH_SEED), %d kills\n",
              static_cast<unsigned long long>(seed), kKills);
  std::fflush(stdout);
  std::mt19937_64 rng(seed);
  const std::string url = pg->create_database("relay_crash");
  FakeHttpServer oic;
  // 202 after 0-20 ms, so that deliveries are in flight when a relay dies.
  oic.set_script([](const RecordedRequest&, std::size_t index) {
    return Reply{ocirelay::http::Response{202, {}, {}, false},
                 std::chrono::milliseconds((index * 7919) % 21)};
  });
  const std::string tail = relay_tail(oic.url("/flow"), "    concurrency: 8\n");
  std::vector<std::unique_ptr<RelayHarness>> relays;
  std::vector<std::unique_ptr<std::atomic<std::uint16_t>>> ports;
  for (int i = 0; i < 3; ++i) {
    relays.push_back(pg_relay(url, "relay-" + std::to_string(i), tail, "    lease: 2s\n"));
    relays.back()->start();
    ports.push_back(std::make_unique<std::atomic<std::uint16_t>>(relays.back()->port()));
  }
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<LoadClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<LoadClient>(i, *ports[static_cast<std::size_t>(i)], stop));
  }
  std::uniform_int_distribution<int> alive_ms(150, 900);
  std::uniform_int_distribution<std::size_t> which(0, 2);
  for (int k = 0; k < kKills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(alive_ms(rng)));
    const std::size_t i = which(rng);
    *ports[i] = 0;
    relays[i]->daemon().kill_hard();
    relays[i]->start();  // same node_id, new port: its claims are released at start
    *ports[i] = relays[i]->port();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(alive_ms(rng)));
  stop = true;
  std::set<std::string> acked;
  for (auto& client : clients) {
    client->join();
    CHECK(client->error().empty());
    acked.insert(client->acked().begin(), client->acked().end());
  }
  REQUIRE(!acked.empty());
  for (auto& relay : relays) REQUIRE(wait_until_settled(*relay, "oic", 60s));
  const auto counts = received_ids(oic);
  std::size_t lost = 0;
  std::size_t duplicates = 0;
  for (const auto& id : acked) {
    const auto it = counts.find(id);
    if (it == counts.end()) {
      ++lost;
    } else {
      duplicates += static_cast<std::size_t>(it->second - 1);
    }
  }
  std::printf(
      "postgresql crash test: %d kills, %zu acked, %zu lost, %zu delivered more than "
      "once\n",
      kKills, acked.size(), lost, duplicates);
  std::fflush(stdout);
  INFO("seed " << seed);
  CHECK(lost == 0);
}
