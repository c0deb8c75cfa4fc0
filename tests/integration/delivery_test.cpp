// Delivery from the real daemon to fake OIC triggers over real sockets:
// the request OIC sees, fan-out, retries, dead letters, isolation of
// destinations, HTTPS with certificate verification and Basic auth. Tests
// wait on what the relay reports (/metrics, ocirelayctl) rather than on
// sleeps; backoff timing is tested in simulated time in tests/unit/delivery.
#include <catch2/catch.hpp>

#include <rapidjson/document.h>

#include "support/ctl_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/raw_http_peer.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_metrics.hpp"
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
  REQUIRE(wait_until_settled(relay, "oic", 5s));
  CHECK(attempts(relay, "oic", "delivered", "2xx") == 1);
  CHECK_FALSE(contains(relay.log(), "oic-pa55word"));
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
  // Nothing left to send anywhere: the counts are final.
  for (const char* d : {"a", "b", "c"}) REQUIRE(wait_until_settled(relay, d, 10s));
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
  REQUIRE(wait_until_settled(relay, "oic", 15s));
  auto reqs = oic.requests();
  REQUIRE(reqs.size() == 3);
  for (const auto& r : reqs) CHECK(r.body == fixture("events/createobject.json"));
  CHECK(attempts(relay, "oic", "retry", "5xx") == 2);
  CHECK(attempts(relay, "oic", "delivered", "2xx") == 1);
  CHECK(metric(relay, "ocirelay_delivery_attempts_count{destination=\"oic\"}") == 1.0);
  CHECK(metric(relay, "ocirelay_delivery_attempts_sum{destination=\"oic\"}") == 3.0);
}

TEST_CASE("a 400 is dead-lettered at once and never retried", "[delivery]") {
  FakeHttpServer oic;
  oic.always(400, R"({"title":"Bad payload"})");
  RelayHarness relay("");
  const std::string socket = relay.dir().file("run/admin.sock");
  relay.rewrite("destinations:\n" + destination("oic", oic.url("/flow")) +
                "routes:\n  - { name: all, destinations: [oic] }\nadmin:\n  socket: " + socket +
                "\n");
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(wait_until_settled(relay, "oic", 10s));
  CHECK(oic.request_count() == 1);
  CHECK(attempts(relay, "oic", "dead", "4xx") == 1);
  // The dead letter keeps the answer: status and the start of the body.
  const CtlResult list = run_ocirelayctl({"--socket", socket, "dlq", "list", "--json"});
  REQUIRE(list.exit_code == 0);
  rapidjson::Document doc;
  doc.Parse(list.out.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  REQUIRE(doc["dead_letters"].Size() == 1);
  CHECK(doc["dead_letters"][0]["last_status"].GetInt() == 400);
  CHECK(std::string(doc["dead_letters"][0]["last_error"].GetString()) ==
        "HTTP 400: {\"title\":\"Bad payload\"}");
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
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "dead", "5xx"), 1, 10s));
  REQUIRE(wait_until_settled(relay, "oic", 5s));
  // Every request was a recorded attempt; the last one gave up.
  CHECK(oic.request_count() == attempts(relay, "oic", "retry", "5xx") + 1);
  CHECK(metric(relay, "ocirelay_dead_letters{destination=\"oic\"}") == 1.0);
}

TEST_CASE("one destination down never delays another", "[delivery]") {
  FakeHttpServer healthy;
  RawHttpPeer slow;
  // The slow one never answers: its requests stay in flight until the
  // relay's timeout, far beyond this test.
  slow.set_script(
      [](const RecordedRequest&, std::size_t) { return RawReply{{}, {}, RawReply::Then::hold}; });
  RelayHarness relay("destinations:\n" + destination("down", "http://127.0.0.1:1/nothing-listens") +
                     destination("slow", slow.url("/slow"), "    timeout: 10m\n") +
                     destination("up", healthy.url("/up")) +
                     "routes:\n  - { name: all, destinations: [down, slow, up] }\n");
  relay.start();
  TestClient client(relay.port());
  const char* fixtures[] = {"events/createobject.json", "events/updateobject.json",
                            "events/deleteobject.json", "events/createbucket.json"};
  for (const char* f : fixtures) REQUIRE(client.post_event(fixture(f)).status == 202);
  // Everything reaches the healthy one while the slow one holds every
  // request it got and the down one fails.
  REQUIRE(wait_until_settled(relay, "up", 10s));
  CHECK(healthy.request_count() == 4);
  CHECK(attempts(relay, "up", "delivered", "2xx") == 4);
  REQUIRE(slow.wait_for_requests(1, 10s));
  CHECK(metric(relay, "ocirelay_deliveries_in_flight{destination=\"slow\"}") == 4.0);
  CHECK(attempts(relay, "slow", "retry", "error") == 0);
  CHECK(wait_for_metric(relay, attempts_series("down", "retry", "error"), 1, 10s));
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
