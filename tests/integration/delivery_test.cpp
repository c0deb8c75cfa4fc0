// Delivery from the real daemon to fake OIC triggers over real sockets:
// the request OIC sees, fan-out, retries, dead letters, isolation of
// destinations, HTTPS with certificate verification and Basic auth.
#include <catch2/catch.hpp>

#include <thread>

#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;
using ocirelay::http::Response;

namespace {

std::string destination(const std::string& name, const std::string& url,
                        const std::string& extra = {}) {
  return "  - name: " + name + "\n    url: " + url +
         "\n    retry: { initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }\n" + extra;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Reply status(int code) { return Reply{Response{code, {}, {}, false}, {}}; }

}  // namespace

TEST_CASE("OIC receives the event byte for byte with its headers", "[delivery]") {
  FakeHttpServer oic;
  RelayHarness relay("destinations:\n" + destination("oic", oic.url("/ic/api/integration/v1/flows/rest/INV/1.0/event"),
                                                     "    auth: { type: basic, username: relay, password: \"${env:OIC_PASSWORD}\" }\n") +
                     "routes:\n  - { name: all, destinations: [oic] }\n");
  relay.options().extra_env.push_back("OIC_PASSWORD=oic-pa55word");
  relay.start();
  TestClient client(relay.port());
  // Odd but valid JSON formatting must survive untouched.
  const std::string body = "  " + fixture("events/createobject.json") + "\n\n";
  REQUIRE(client.post_event(body).status == 202);
  REQUIRE(oic.wait_for_requests(1, 10s));
  auto r = oic.requests().at(0);
  CHECK(r.method == "POST");
  CHECK(r.target == "/ic/api/integration/v1/flows/rest/INV/1.0/event");
  CHECK(r.body == body);
  CHECK(r.headers.get("Content-Type") == "application/json");
  CHECK(r.headers.get("Idempotency-Key") == "3e47d127-19de-6eb8-eb67-0c1ab961fcbc");
  CHECK(r.headers.get("Authorization") == basic_auth("relay", "oic-pa55word"));
  REQUIRE(relay.daemon().wait_for_log("delivered to oic", 5s));
  const std::string log = relay.log();
  CHECK(contains(log, "event 3e47d127-19de-6eb8-eb67-0c1ab961fcbc delivered to oic (attempt 1, HTTP 202"));
  CHECK_FALSE(contains(log, "oic-pa55word"));
  // Delivered rows are removed.
  auto health = TestClient(relay.management_port()).request("GET", "/health");
  CHECK(contains(health.body, "\"oic\":{\"state\":\"healthy\",\"queued\":0,"));
}

TEST_CASE("an event matching several routes goes to every destination once", "[delivery]") {
  FakeHttpServer a, b, c;
  RelayHarness relay("destinations:\n" + destination("a", a.url("/a")) + destination("b", b.url("/b")) +
                     destination("c", c.url("/c")) +
                     "routes:\n"
                     "  - name: finance\n"
                     "    compartment: finance\n"
                     "    destinations: [a, b]\n"
                     "  - name: creates\n"
                     "    event_types: [com.oraclecloud.objectstorage.createobject]\n"
                     "    destinations: [b]\n"
                     "  - name: hr\n"
                     "    compartment: hr\n"
                     "    destinations: [c]\n");
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(a.wait_for_requests(1, 10s));
  REQUIRE(b.wait_for_requests(1, 10s));
  std::this_thread::sleep_for(500ms);
  CHECK(a.request_count() == 1);
  CHECK(b.request_count() == 1);
  CHECK(c.request_count() == 0);
}

TEST_CASE("a 503 is retried with backoff and the event delivered once", "[delivery]") {
  FakeHttpServer oic;
  oic.set_script([](const RecordedRequest&, std::size_t i) { return status(i < 2 ? 503 : 202); });
  RelayHarness relay("destinations:\n" + destination("oic", oic.url("/flow")) +
                     "routes:\n  - { name: all, destinations: [oic] }\n");
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(oic.wait_for_requests(3, 15s));
  std::this_thread::sleep_for(1s);  // longer than max_backoff: no further attempt may come
  auto reqs = oic.requests();
  REQUIRE(reqs.size() == 3);
  for (const auto& r : reqs) CHECK(r.body == fixture("events/createobject.json"));
  // Backoff: at least half of 100 ms, then of 200 ms between attempts.
  CHECK(reqs[1].at - reqs[0].at >= 50ms);
  CHECK(reqs[2].at - reqs[1].at >= 100ms);
  const std::string log = relay.log();
  CHECK(contains(log, "attempt 1 failed: HTTP 503; retrying in"));
  CHECK(contains(log, "delivered to oic (attempt 3, HTTP 202"));
}

TEST_CASE("a 400 is dead-lettered at once and never retried", "[delivery]") {
  FakeHttpServer oic;
  oic.always(400, R"({"title":"Bad payload"})");
  RelayHarness relay("destinations:\n" + destination("oic", oic.url("/flow")) +
                     "routes:\n  - { name: all, destinations: [oic] }\n");
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(oic.wait_for_requests(1, 10s));
  REQUIRE(relay.daemon().wait_for_log("dead-lettered", 5s));
  std::this_thread::sleep_for(1s);
  CHECK(oic.request_count() == 1);
  CHECK(contains(relay.log(), "HTTP 400: {\"title\":\"Bad payload\"} is not retryable"));
  auto health = TestClient(relay.management_port()).request("GET", "/health");
  CHECK(contains(health.body, "\"queued\":0,"));
  CHECK(contains(health.body, "\"dead_letters\":1"));
}

TEST_CASE("events past max_age are dead-lettered", "[delivery]") {
  FakeHttpServer oic;
  oic.always(500);
  RelayHarness relay("destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
                     "\n    retry: { initial_backoff: 100ms, max_backoff: 200ms, max_age: 1s }\n"
                     "routes:\n  - { name: all, destinations: [oic] }\n");
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(relay.daemon().wait_for_log("max_age 1s reached", 10s));
  const auto attempts = oic.request_count();
  CHECK(attempts >= 3);
  std::this_thread::sleep_for(700ms);
  CHECK(oic.request_count() == attempts);
}

TEST_CASE("one destination down never delays another", "[delivery]") {
  FakeHttpServer healthy;
  FakeHttpServer slow;
  // The slow one hangs on every request until the relay's timeout.
  slow.set_script([](const RecordedRequest&, std::size_t) {
    return Reply{Response{503, {}, {}, false}, 3s};
  });
  RelayHarness relay("destinations:\n" + destination("down", "http://127.0.0.1:1/nothing-listens") +
                     destination("slow", slow.url("/slow"), "    timeout: 1s\n") +
                     destination("up", healthy.url("/up")) +
                     "routes:\n  - { name: all, destinations: [down, slow, up] }\n");
  relay.start();
  TestClient client(relay.port());
  const char* fixtures[] = {"events/createobject.json", "events/updateobject.json",
                            "events/deleteobject.json", "events/createbucket.json"};
  for (const char* f : fixtures) REQUIRE(client.post_event(fixture(f)).status == 202);
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(healthy.wait_for_requests(4, 10s));
  CHECK(std::chrono::steady_clock::now() - started < 3s);
  CHECK(contains(relay.log(), "to down: attempt 1 failed: cannot connect to 127.0.0.1:1"));
  REQUIRE(relay.daemon().wait_for_log("to slow: attempt 1 failed: timed out", 10s));
}

TEST_CASE("HTTPS destinations are verified against the configured CA", "[delivery][tls]") {
  TempDir dir;
  auto pki = make_test_pki(dir);
  FakeHttpServer trusted({pki.server_cert, pki.server_key});
  FakeHttpServer rogue({pki.rogue_server_cert, pki.rogue_server_key});
  RelayHarness relay("destinations:\n" +
                     destination("trusted", trusted.url("/flow"), "    tls: { ca_file: " + pki.ca_cert + " }\n") +
                     destination("rogue", rogue.url("/flow"), "    tls: { ca_file: " + pki.ca_cert + " }\n") +
                     "routes:\n  - { name: all, destinations: [trusted, rogue] }\n");
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(fixture("events/createobject.json")).status == 202);
  INFO(relay.log());
  REQUIRE(trusted.wait_for_requests(1, 10s));
  CHECK(trusted.requests()[0].body == fixture("events/createobject.json"));
  REQUIRE(relay.daemon().wait_for_log("to rogue: attempt 1 failed: TLS handshake", 10s));
  CHECK(contains(relay.log(), "certificate verification failed"));
  CHECK(rogue.request_count() == 0);
}
