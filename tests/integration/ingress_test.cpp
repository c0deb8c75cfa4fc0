// POST /v1/events and the operational endpoints of the real daemon: every
// status code the ingress promises, auth, TLS, limits and timeouts.
#include <catch2/catch.hpp>

#include <openssl/ssl.h>
#include <unistd.h>

#include <csignal>
#include <thread>
#include <utility>

#include "support/daemon_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

std::string one_route(const FakeHttpServer& oic) {
  return "destinations:\n"
         "  - name: oic\n"
         "    url: " + oic.url("/ic/api/integration/v1/flows/rest/EVENTS/1.0/event") + "\n"
         "routes:\n"
         "  - name: finance\n"
         "    match: { data: { compartmentName: finance } }\n"
         "    destinations: [oic]\n";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("events are queued, filtered or recognised as duplicates", "[ingress]") {
  FakeHttpServer oic;
  RelayHarness relay(one_route(oic));
  relay.start();
  TestClient client(relay.port());

  auto queued = client.post_event(fixture("events/createobject.json"));
  CHECK(queued.status == 202);
  CHECK(queued.body == R"({"status":"queued","eventID":"3e47d127-19de-6eb8-eb67-0c1ab961fcbc"})");
  CHECK(queued.headers.get("Content-Type") == "application/json");

  auto duplicate = client.post_event(fixture("events/createobject.json"));
  CHECK(duplicate.status == 200);
  CHECK(duplicate.body ==
        R"({"status":"duplicate","eventID":"3e47d127-19de-6eb8-eb67-0c1ab961fcbc"})");

  auto filtered = client.post_event(fixture("events/deleteobject.json"));  // compartment hr
  CHECK(filtered.status == 200);
  CHECK(filtered.body == R"({"status":"filtered"})");

  // CloudEvents 1.0 structured events are accepted too.
  auto ce = client.request("POST", "/v1/events", fixture("events/cloudevents-1.0-structured.json"),
                           {{"Content-Type", "application/cloudevents+json; charset=utf-8"}});
  CHECK(ce.status == 202);

  REQUIRE(oic.wait_for_requests(2, 10s));
  std::this_thread::sleep_for(300ms);
  CHECK(oic.request_count() == 2);  // the duplicate and the filtered one never went out

  auto metrics = TestClient(relay.management_port()).request("GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(contains(metrics.body, "ocirelay_events_received_total{result=\"queued\"} 2"));
  CHECK(contains(metrics.body, "ocirelay_events_received_total{result=\"duplicate\"} 1"));
  CHECK(contains(metrics.body, "ocirelay_events_received_total{result=\"filtered\"} 1"));
  CHECK(contains(metrics.body, "ocirelay_route_matches_total{route=\"finance\"} 2"));
}

TEST_CASE("a duplicate is the same eventID with the same event time", "[ingress][dedupe]") {
  FakeHttpServer oic;
  RelayHarness relay(one_route(oic));
  relay.start();
  TestClient client(relay.port());
  auto with_time = [](std::string body, const std::string& from, const std::string& to) {
    const auto at = body.find(from);
    REQUIRE(at != std::string::npos);
    return body.replace(at, from.size(), to);
  };
  const std::string oci = fixture("events/createobject.json");
  const std::string later = with_time(oci, R"("eventTime": "2026-05-14T09:12:41.372Z")",
                                      R"("eventTime": "2026-05-14T09:12:45.000Z")");
  CHECK(client.post_event(oci).status == 202);
  CHECK(client.post_event(later).status == 202);  // the same ID at another time
  auto again = client.post_event(later);
  CHECK(again.status == 200);
  CHECK(again.body == R"({"status":"duplicate","eventID":"3e47d127-19de-6eb8-eb67-0c1ab961fcbc"})");

  // A CloudEvent's time is `time`; without one, its ID alone is the key.
  const std::string ce = fixture("events/cloudevents-1.0-structured.json");
  const std::string untimed = with_time(ce, R"("time": "2026-05-14T09:12:41.372Z",)", "");
  const std::pair<std::string, std::string> json{"Content-Type", "application/cloudevents+json"};
  CHECK(client.request("POST", "/v1/events", ce, {json}).status == 202);
  CHECK(client.request("POST", "/v1/events", ce, {json}).status == 200);
  CHECK(client.request("POST", "/v1/events", untimed, {json}).status == 202);
  CHECK(client.request("POST", "/v1/events", untimed, {json}).status == 200);

  REQUIRE(oic.wait_for_requests(4, 10s));
  std::this_thread::sleep_for(300ms);
  CHECK(oic.request_count() == 4);  // each event once, however often it was posted
  auto metrics = TestClient(relay.management_port()).request("GET", "/metrics");
  CHECK(contains(metrics.body, "ocirelay_events_received_total{result=\"queued\"} 4"));
  CHECK(contains(metrics.body, "ocirelay_events_received_total{result=\"duplicate\"} 3"));
}

TEST_CASE("bad requests get the right 4xx and a JSON reason", "[ingress]") {
  FakeHttpServer oic;
  RelayHarness relay(one_route(oic), "  max_body_bytes: 4096\n");
  relay.start();
  TestClient client(relay.port());

  auto not_json = client.post_event("{\"eventType\": ");
  CHECK(not_json.status == 400);
  CHECK(contains(not_json.body, "\"error\":"));

  auto not_event = client.post_event(R"({"hello":"world"})");
  CHECK(not_event.status == 400);
  CHECK(contains(not_event.body, "eventType"));

  auto no_data = client.post_event(R"({"eventType":"x","eventID":"1"})");
  CHECK(no_data.status == 400);

  auto unknown = client.request("GET", "/v2/nothing");
  CHECK(unknown.status == 404);
  CHECK(contains(unknown.body, "\"error\""));

  auto wrong_method = client.request("GET", "/v1/events");
  CHECK(wrong_method.status == 405);
  CHECK(wrong_method.headers.get("Allow") == "POST");
  CHECK(client.request("DELETE", "/health").status == 405);

  auto too_big = client.post_event(std::string(5000, ' ') + fixture("events/createobject.json"));
  CHECK(too_big.status == 413);
  CHECK(contains(too_big.body, "4096"));

  auto xml = client.request("POST", "/v1/events", "<event/>", {{"Content-Type", "text/xml"}});
  CHECK(xml.status == 415);

  // No Content-Type at all is accepted (curl -d sets one, fn invoke does not).
  auto bare = client.request("POST", "/v1/events", fixture("events/createobject.json"));
  CHECK(bare.status == 202);

  // Malformed HTTP gets a 400 and the connection is closed.
  auto raw = raw_exchange(relay.port(), "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n");
  CHECK(raw.rfind("HTTP/1.1 400", 0) == 0);
  auto bad_chunk = raw_exchange(relay.port(),
                                "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                "Content-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n");
  CHECK(bad_chunk.rfind("HTTP/1.1 400", 0) == 0);
  auto huge_header = raw_exchange(relay.port(), "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                                    std::string(20000, 'a') + "\r\n\r\n");
  CHECK(huge_header.rfind("HTTP/1.1 431", 0) == 0);

  // Nothing above crashed the daemon.
  CHECK(client.request("GET", "/health").status == 200);
  CHECK(relay.daemon().running());
}

TEST_CASE("ingress auth: Basic and bearer, 401 with a challenge otherwise", "[ingress][auth]") {
  FakeHttpServer oic;
  TempDir secrets;
  const std::string pw_file = secrets.write("ons-password", "change-me\n");
  RelayHarness relay(one_route(oic), "  auth:\n"
                                     "    basic:\n"
                                     "      - { username: ons, password: \"${file:" + pw_file + "}\" }\n"
                                     "    bearer_tokens: [\"${env:OCIRELAY_TEST_TOKEN}\"]\n");
  relay.options().extra_env.push_back("OCIRELAY_TEST_TOKEN=s3cret-token-value");
  relay.start();
  TestClient client(relay.port());
  const std::string event = fixture("events/createobject.json");

  auto none = client.post_event(event);
  CHECK(none.status == 401);
  CHECK(none.headers.get("WWW-Authenticate") == "Basic realm=\"ocirelay\"");
  CHECK(client.post_event(event, {{"Authorization", basic_auth("ons", "wrong")}}).status == 401);
  CHECK(client.post_event(event, {{"Authorization", "Bearer nope"}}).status == 401);

  // The ONS fixture's own Authorization header (ons / change-me).
  CHECK(client.post_event(event, {{"Authorization", "Basic b25zOmNoYW5nZS1tZQ=="}}).status == 202);
  CHECK(client.post_event(fixture("events/updateobject.json"),
                          {{"Authorization", "Bearer s3cret-token-value"}})
            .status == 202);
  // Health needs no auth.
  CHECK(client.request("GET", "/health").status == 200);

  const std::string log = relay.log();
  CHECK_FALSE(contains(log, "change-me"));
  CHECK_FALSE(contains(log, "s3cret-token-value"));
  CHECK_FALSE(
      contains(TestClient(relay.management_port()).request("GET", "/metrics").body, "s3cret"));
}

TEST_CASE("TLS ingress serves HTTPS with the configured certificate", "[ingress][tls]") {
  TempDir dir;
  auto pki = make_test_pki(dir);
  FakeHttpServer oic;
  RelayHarness relay(one_route(oic), server_tls_yaml(pki.server_cert, pki.server_key));
  relay.start();
  TestClient tls_client(relay.port(), pki.ca_cert);
  auto r = tls_client.post_event(fixture("events/createobject.json"));
  CHECK(r.status == 202);
  // A client that does not trust our CA fails the handshake.
  TestClient rogue(relay.port(), pki.rogue_ca_cert);
  auto refused = rogue.request("GET", "/health");
  CHECK(refused.status == 0);
  CHECK(contains(refused.error, "certificate"));
  // Plain HTTP on the TLS port gets nowhere.
  auto plain = raw_exchange(relay.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
  CHECK(plain.find("200 OK") == std::string::npos);
  REQUIRE(oic.wait_for_requests(1, 10s));
}

namespace {

// A TLS 1.2 connection without session tickets, as older clients make it:
// resumption can only be by session ID. GET /health, then the client just
// closes the socket (no close_notify), as most clients do. Returns whether
// the handshake resumed `session`, and the session to resume next.
std::pair<bool, SSL_SESSION*> tls12_get_health(std::uint16_t port, SSL_CTX* ctx,
                                               SSL_SESSION* session) {
  const int fd = connect_loopback(port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (session != nullptr) SSL_set_session(ssl, session);
  REQUIRE(SSL_connect(ssl) == 1);
  // Keep-alive: the relay would keep the connection; the client leaves.
  const std::string request = "GET /health HTTP/1.1\r\nHost: relay\r\n\r\n";
  REQUIRE(SSL_write(ssl, request.data(), static_cast<int>(request.size())) ==
          static_cast<int>(request.size()));
  char buf[4096];
  std::string in;
  for (;;) {
    const auto end = in.find("\r\n\r\n");
    const auto cl = in.find("Content-Length: ");
    if (end != std::string::npos && cl != std::string::npos &&
        in.size() >= end + 4 + std::stoul(in.substr(cl + 16))) {
      break;
    }
    const int n = SSL_read(ssl, buf, sizeof buf);
    REQUIRE(n > 0);
    in.append(buf, static_cast<std::size_t>(n));
  }
  CHECK(in.rfind("HTTP/1.1 200 ", 0) == 0);
  const bool reused = SSL_session_reused(ssl) == 1;
  SSL_SESSION* next = SSL_get1_session(ssl);
  // Closed without close_notify; marked shut down on this side only so that
  // OpenSSL keeps the client's copy of the session resumable.
  SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl);
  ::close(fd);
  // Let the relay see the close and end the connection before the next
  // handshake, so that the session's fate on an unannounced close counts.
  std::this_thread::sleep_for(200ms);
  return {reused, next};
}

}  // namespace

TEST_CASE("TLS 1.2 clients without tickets resume their session by ID", "[ingress][tls]") {
  TempDir dir;
  auto pki = make_test_pki(dir);
  FakeHttpServer oic;
  RelayHarness relay(one_route(oic), server_tls_yaml(pki.server_cert, pki.server_key));
  relay.start();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  REQUIRE(SSL_CTX_load_verify_locations(ctx, pki.ca_cert.c_str(), nullptr) == 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  auto [first_reused, session] = tls12_get_health(relay.port(), ctx, nullptr);
  CHECK_FALSE(first_reused);
  REQUIRE(session != nullptr);
  CHECK(SSL_SESSION_get_ticket_lifetime_hint(session) == 0);  // no ticket: an ID
  for (int i = 0; i < 3; ++i) {
    auto [reused, next] = tls12_get_health(relay.port(), ctx, session);
    CHECK(reused);
    SSL_SESSION_free(session);
    session = next;
  }
  SSL_SESSION_free(session);
  SSL_CTX_free(ctx);
}

TEST_CASE("health and readiness report the queue", "[ingress][health]") {
  FakeHttpServer oic;
  oic.always(503);
  RelayHarness relay(one_route(oic));
  relay.start();
  REQUIRE(TestClient(relay.port()).post_event(fixture("events/createobject.json")).status == 202);
  TestClient client(relay.management_port());
  auto health = client.request("GET", "/health");
  CHECK(health.status == 200);
  CHECK(contains(health.body, "\"status\":\"ok\""));
  CHECK(contains(health.body, "\"version\":\"0."));
  CHECK(contains(health.body, "\"uptime_seconds\":"));
  CHECK(contains(health.body, "\"oic\":{\"state\":\""));
  CHECK(contains(health.body, "\"queued\":1,"));
  CHECK(contains(health.body, "\"oldest_queued_age_seconds\":"));
  auto ready = client.request("GET", "/ready");
  CHECK(ready.status == 200);
}

TEST_CASE("a slow client cannot hold a connection", "[ingress][limits]") {
  FakeHttpServer oic;
  RelayHarness relay(one_route(oic), "  header_timeout: 500ms\n  idle_timeout: 1s\n");
  relay.start();
  // Half a request line, then silence: the daemon closes the connection.
  const auto started = std::chrono::steady_clock::now();
  auto reply = raw_exchange(relay.port(), "GET /hea", 10s);
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(reply.empty());
  CHECK(took < 8s);  // closed by the daemon, not by our own 10 s limit
  TestClient client(relay.port());
  CHECK(client.request("GET", "/health").status == 200);
}

TEST_CASE("storage that cannot commit answers 503 with Retry-After", "[ingress][storage]") {
  FakeHttpServer oic;
  oic.always(503);  // keep everything queued
  RelayHarness relay(one_route(oic));
  relay.options().file_size_limit = 400 * 1024;
  relay.start();
  TestClient client(relay.port());
  std::string body = fixture("events/createobject.json");
  int status = 0;
  ocirelay::http::Headers headers;
  for (int i = 0; i < 2000 && status != 503; ++i) {
    std::string e = body;
    e.replace(e.find("3e47d127"), 8, std::to_string(10000000 + i));
    auto r = client.post_event(e + std::string(2000, ' '));
    status = r.status;
    headers = r.headers;
    if (status != 202 && status != 503) FAIL("unexpected status " << status << ": " << r.body);
  }
  CHECK(status == 503);
  CHECK(headers.get("Retry-After").has_value());
  TestClient management(relay.management_port());
  CHECK(management.request("GET", "/ready").status == 503);
  CHECK(management.request("GET", "/health").status == 200);
  // The load balancer's check on the ingress port takes the relay out too.
  auto ingress_health = client.request("GET", "/health");
  CHECK(ingress_health.status == 503);
  CHECK(ingress_health.body == R"({"status":"unavailable"})");
  CHECK(relay.daemon().running());
}
