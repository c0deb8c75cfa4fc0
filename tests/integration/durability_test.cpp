// What survives: events answered 2xx survive kill -9 and OIC outages, and a
// graceful stop leaves undelivered events queued for the next start.
#include <catch2/catch.hpp>

#include <csignal>
#include <set>

#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_metrics.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

std::string routes_to(const FakeHttpServer& oic) {
  return "destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
         "\n    retry: { initial_backoff: 100ms, max_backoff: 500ms, max_age: 1h }\n"
         "routes:\n  - { name: all, destinations: [oic] }\n";
}

std::set<std::string> delivered_ids(const FakeHttpServer& oic) {
  std::set<std::string> ids;
  for (const auto& r : oic.requests()) {
    if (auto k = r.headers.get("Idempotency-Key")) ids.emplace(*k);
  }
  return ids;
}

}  // namespace

TEST_CASE("events queued while OIC is down survive kill -9 and are delivered after restart",
          "[durability]") {
  FakeHttpServer down;
  down.always(503);
  FakeHttpServer up;
  RelayHarness relay(routes_to(down));
  relay.start();
  TestClient client(relay.port());
  constexpr int kEvents = 50;
  std::set<std::string> accepted;
  for (int i = 0; i < kEvents; ++i) {
    auto r = client.post_event(event_with_id(i));
    REQUIRE(r.status == 202);
    accepted.insert(event_id_for(i));
  }
  REQUIRE(down.wait_for_requests(1, 10s));
  relay.daemon().kill_hard();  // SIGKILL: no chance to clean up

  // Same storage, OIC back (at another address).
  relay.rewrite(routes_to(up));
  relay.start();
  REQUIRE(up.wait_for_requests(kEvents, 30s));
  REQUIRE(wait_until_settled(relay, "oic", 10s));  // nothing more can come
  CHECK(delivered_ids(up) == accepted);
  CHECK(up.request_count() == kEvents);  // each once after the restart
  auto health = TestClient(relay.management_port()).request("GET", "/health");
  CHECK(health.body.find("\"queued\":0,") != std::string::npos);
}

TEST_CASE("kill -9 while deliveries are in flight loses nothing", "[durability]") {
  FakeHttpServer slow;
  // Every request takes 2 s: deliveries are mid-flight when the daemon dies.
  slow.set_script([](const RecordedRequest&, std::size_t) {
    return Reply{ocirelay::http::Response{202, {}, {}, false}, 2s};
  });
  RelayHarness relay(routes_to(slow));
  relay.start();
  TestClient client(relay.port());
  for (int i = 0; i < 10; ++i) REQUIRE(client.post_event(event_with_id(i)).status == 202);
  REQUIRE(slow.wait_for_requests(1, 10s));
  relay.daemon().kill_hard();
  FakeHttpServer fast;
  relay.rewrite(routes_to(fast));
  relay.start();
  REQUIRE(fast.wait_for_requests(10, 30s));
  std::set<std::string> all = delivered_ids(fast);
  CHECK(all.size() == 10);
}

TEST_CASE("SIGTERM stops gracefully: exit 0, queue kept for the next start", "[durability]") {
  FakeHttpServer down;
  down.always(503);
  RelayHarness relay(routes_to(down));
  relay.start();
  TestClient client(relay.port());
  for (int i = 0; i < 5; ++i) REQUIRE(client.post_event(event_with_id(i)).status == 202);
  relay.daemon().signal(SIGTERM);
  auto code = relay.daemon().wait_exit(30s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(relay.log().find("SIGTERM received") != std::string::npos);
  CHECK(relay.log().find("stopped; 5 event deliveries queued") != std::string::npos);

  FakeHttpServer up;
  relay.rewrite(routes_to(up));
  relay.start();
  CHECK(relay.log().find("5 event deliveries queued") != std::string::npos);
  REQUIRE(up.wait_for_requests(5, 20s));
  relay.daemon().signal(SIGTERM);
  CHECK(relay.daemon().wait_exit(30s) == 0);
}

TEST_CASE("SIGTERM lets a delivery in flight finish", "[durability]") {
  FakeHttpServer slow;
  slow.set_script([](const RecordedRequest&, std::size_t) {
    return Reply{ocirelay::http::Response{202, {}, {}, false}, 1s};
  });
  RelayHarness relay(routes_to(slow));
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(event_with_id(1)).status == 202);
  REQUIRE(slow.wait_for_requests(1, 10s));
  relay.daemon().signal(SIGTERM);
  CHECK(relay.daemon().wait_exit(30s) == 0);
  CHECK(relay.log().find("delivered to oic (attempt 1, HTTP 202") != std::string::npos);
  CHECK(relay.log().find("stopped; 0 event deliveries queued") != std::string::npos);
}
