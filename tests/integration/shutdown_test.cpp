// Structured shutdown: SIGTERM joins everything within server.shutdown_timeout,
// whatever step a delivery is stuck at (no response, no TLS handshake, no TCP
// connect), exits 0 with the aborted deliveries still queued, and a restart
// delivers them all. A second SIGTERM forces the shutdown; a reload followed
// at once by a SIGTERM stops cleanly too.
#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "support/black_hole.hpp"
#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

constexpr int kEvents = 3;

std::string destination(const std::string& name, const std::string& url,
                        const std::string& extra = {}) {
  // A request timeout far beyond the test: only the shutdown ends them.
  return "  - name: " + name + "\n    url: " + url + "\n    timeout: 120s\n" + extra;
}

std::string routes(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return "routes:\n  - { name: all, destinations: [" + list + "] }\n";
}

// Deliveries of one destination that the relay has taken from the queue
// (marked in flight in storage), from /metrics on the management port.
double in_flight(std::uint16_t port, const std::string& dest) {
  auto reply = TestClient(port).request("GET", "/metrics");
  const std::string key = "ocirelay_deliveries_in_flight{destination=\"" + dest + "\"} ";
  const auto at = reply.body.find(key);
  return at == std::string::npos ? -1 : std::stod(reply.body.substr(at + key.size()));
}

std::map<std::string, std::set<std::string>> ids_by_path(const FakeHttpServer& sink) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& r : sink.requests()) {
    if (auto k = r.headers.get("Idempotency-Key")) out[r.target].insert(std::string(*k));
  }
  return out;
}

std::set<std::string> all_ids() {
  std::set<std::string> ids;
  for (int i = 0; i < kEvents; ++i) ids.insert(event_id_for(i));
  return ids;
}

}  // namespace

TEST_CASE("SIGTERM with deliveries stuck in a response, a TLS handshake and a TCP connect "
          "exits 0 within shutdown_timeout and a restart delivers every event",
          "[shutdown]") {
  BlackHoleListener silent;     // accepts, never answers
  BlackHoleListener handshake;  // accepts, never answers the ClientHello
  FullBacklogListener no_connect;
  RelayHarness relay({});
  auto pki = make_test_pki(relay.dir());
  const std::string shutdown = "  shutdown_timeout: 2s\n";
  relay.rewrite(
      "destinations:\n" +
          destination("silent", "http://127.0.0.1:" + std::to_string(silent.port()) + "/flow") +
          destination("handshake",
                      "https://127.0.0.1:" + std::to_string(handshake.port()) + "/flow",
                      "    tls: { ca_file: " + pki.ca_cert + " }\n") +
          destination("noconnect",
                      "http://127.0.0.1:" + std::to_string(no_connect.port()) + "/flow") +
          routes({"silent", "handshake", "noconnect"}),
      shutdown);
  relay.start();
  TestClient client(relay.port());
  for (int i = 0; i < kEvents; ++i) REQUIRE(client.post_event(event_with_id(i)).status == 202);

  // Every destination has its deliveries under way.
  const auto until = std::chrono::steady_clock::now() + 10s;
  while ((silent.accepted() == 0 || handshake.accepted() == 0 ||
          in_flight(relay.management_port(), "noconnect") < 1) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(silent.accepted() > 0);
  REQUIRE(handshake.accepted() > 0);
  REQUIRE(in_flight(relay.management_port(), "noconnect") >= 1);

  relay.daemon().signal(SIGTERM);
  // shutdown_timeout + 1 s: what systemd's TimeoutStopSec must leave room for.
  const auto code = relay.daemon().wait_exit(3s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  const std::string log = relay.log();
  CHECK(log.find("aborted, they stay queued") != std::string::npos);
  CHECK(log.find("stopped; 9 event deliveries queued") != std::string::npos);
  CHECK(log.find("exception") == std::string::npos);

  // The same storage, every destination now a working sink.
  FakeHttpServer sink;
  relay.rewrite("destinations:\n" + destination("silent", sink.url("/silent")) +
                    destination("handshake", sink.url("/handshake")) +
                    destination("noconnect", sink.url("/noconnect")) +
                    routes({"silent", "handshake", "noconnect"}),
                shutdown);
  relay.start();
  REQUIRE(sink.wait_for_requests(3 * kEvents, 20s));
  const auto got = ids_by_path(sink);
  CHECK(got.at("/silent") == all_ids());
  CHECK(got.at("/handshake") == all_ids());
  CHECK(got.at("/noconnect") == all_ids());
  relay.daemon().signal(SIGTERM);
  CHECK(relay.daemon().wait_exit(3s) == 0);
}

TEST_CASE("a second SIGTERM forces the shutdown at once and nothing is lost", "[shutdown]") {
  BlackHoleListener silent;
  RelayHarness relay("destinations:\n" +
                         destination("silent",
                                     "http://127.0.0.1:" + std::to_string(silent.port()) + "/f") +
                         routes({"silent"}),
                     "  shutdown_timeout: 60s\n");
  relay.start();
  TestClient client(relay.port());
  for (int i = 0; i < kEvents; ++i) REQUIRE(client.post_event(event_with_id(i)).status == 202);
  REQUIRE(silent.wait_accepted(1, 10s));
  relay.daemon().signal(SIGTERM);
  REQUIRE(relay.daemon().wait_for_log("SIGTERM received: shutting down", 5s));
  CHECK_FALSE(relay.daemon().wait_exit(300ms).has_value());  // waiting for the deliveries
  relay.daemon().signal(SIGTERM);
  const auto code = relay.daemon().wait_exit(5s);  // far below the 60 s deadline
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(relay.log().find("forcing the shutdown") != std::string::npos);
  CHECK(relay.log().find("stopped; 3 event deliveries queued") != std::string::npos);

  FakeHttpServer sink;
  relay.rewrite("destinations:\n" + destination("silent", sink.url("/f")) + routes({"silent"}),
                "  shutdown_timeout: 60s\n");
  relay.start();
  REQUIRE(sink.wait_for_requests(kEvents, 20s));
  CHECK(ids_by_path(sink).at("/f") == all_ids());
}

TEST_CASE("a reload then a SIGTERM in quick succession stop cleanly", "[shutdown][reload]") {
  BlackHoleListener silent;
  const std::string server = "  shutdown_timeout: 2s\n";
  auto config = [&](const std::string& timeout) {
    return "destinations:\n  - name: silent\n    url: http://127.0.0.1:" +
           std::to_string(silent.port()) + "/f\n    timeout: " + timeout + "\n" +
           routes({"silent"});
  };
  RelayHarness relay(config("120s"), server);
  relay.start();
  TestClient client(relay.port());
  for (int i = 0; i < kEvents; ++i) REQUIRE(client.post_event(event_with_id(i)).status == 202);
  REQUIRE(silent.wait_accepted(1, 10s));
  // A changed destination: the reload retires its dispatcher and drains it
  // (the deliveries stuck in it never end) while the shutdown drains it too.
  relay.rewrite(config("110s"), server);
  relay.daemon().signal(SIGHUP);
  relay.daemon().signal(SIGTERM);
  const auto code = relay.daemon().wait_exit(3s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(relay.log().find("exception") == std::string::npos);
  CHECK(relay.log().find("stopped; 3 event deliveries queued") != std::string::npos);

  FakeHttpServer sink;
  relay.rewrite("destinations:\n  - name: silent\n    url: " + sink.url("/f") + "\n" +
                    routes({"silent"}),
                server);
  relay.start();
  REQUIRE(sink.wait_for_requests(kEvents, 20s));
  CHECK(ids_by_path(sink).at("/f") == all_ids());
}
