// Faults outside the daemon, on the OIC side, scripted in fakes on 127.0.0.1:
// 5xx bursts, 429 storms with and without Retry-After, a refused port, a
// reset in the middle of a response, a response that never comes, a response
// that trickles in, certificates that must not be trusted, and a token
// endpoint that is down. In every case nothing is delivered while the fault
// lasts, every accepted event is delivered once it ends, nothing is lost, and
// /metrics (and, for the wording of errors, the log) say what went wrong.
// Tests wait on what the relay reports, not on sleeps: once a destination has
// nothing pending or in flight, what the fake saw is final. How long pauses
// and backoffs last is tested in simulated time in tests/unit/delivery.
#include <catch2/catch.hpp>

#include <openssl/ssl.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>

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

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// One destination "oic" at `url`, every event routed to it.
std::string relay_to(
    const std::string& url, const std::string& extra = {},
    const std::string& retry = "initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h") {
  return "destinations:\n  - name: oic\n    url: " + url + "\n    retry: { " + retry + " }\n" +
         extra + "routes:\n  - { name: all, destinations: [oic] }\n";
}

std::vector<std::string> post_ids(std::uint16_t port, long first, long count) {
  std::vector<std::string> ids;
  TestClient client(port);
  for (long i = first; i < first + count; ++i) {
    REQUIRE(client.post_event(event_with_id(i)).status == 202);
    ids.push_back(event_id_for(i));
  }
  return ids;
}

std::string idempotency_key(const RecordedRequest& r) {
  return std::string(r.headers.get("Idempotency-Key").value_or(""));
}

// Event IDs of requests[from..], with how often each came.
std::map<std::string, int> ids_from(const std::vector<RecordedRequest>& requests,
                                    std::size_t from) {
  std::map<std::string, int> ids;
  for (std::size_t i = from; i < requests.size(); ++i) ++ids[idempotency_key(requests[i])];
  return ids;
}

std::map<std::string, int> once_each(const std::vector<std::string>& ids) {
  std::map<std::string, int> out;
  for (const auto& id : ids) out[id] = 1;
  return out;
}

// ocirelay_delivery_attempts_total of the destination "oic".
std::string oic_attempts(const std::string& outcome, const std::string& status_class) {
  return attempts_series("oic", outcome, status_class);
}

Reply status(int code, std::vector<std::pair<std::string, std::string>> headers = {}) {
  Response r;
  r.status = code;
  for (auto& [n, v] : headers) r.headers.add(n, v);
  return Reply{r, {}};
}

}  // namespace

TEST_CASE("faults: a burst of 5xx answers, then every event once", "[faults]") {
  constexpr std::size_t kFaults = 12;
  FakeHttpServer oic;
  oic.set_script([](const RecordedRequest&, std::size_t i) {
    static constexpr int kCodes[] = {500, 502, 503, 504};
    return status(i < kFaults ? kCodes[i % 4] : 202);
  });
  RelayHarness relay(relay_to(oic.url("/flow"), "    concurrency: 4\n",
                              "initial_backoff: 50ms, max_backoff: 100ms, max_age: 1h"));
  relay.start();
  const auto ids = post_ids(relay.port(), 1, 10);

  REQUIRE(oic.wait_for_requests(kFaults + ids.size(), 60s));
  REQUIRE(wait_until_settled(relay, "oic", 30s));  // nothing more can come
  const auto requests = oic.requests();
  INFO(relay.log());
  // Every event came after the burst exactly once: none lost, none repeated.
  CHECK(requests.size() == kFaults + ids.size());
  CHECK(ids_from(requests, kFaults) == once_each(ids));
  for (const auto& r : requests)
    CHECK(r.body == event_with_id(std::stol(idempotency_key(r).substr(24))));

  CHECK(attempts(relay, "oic", "retry", "5xx") == double(kFaults));
  CHECK(attempts(relay, "oic", "delivered", "2xx") == 10.0);
  CHECK(metric(relay, "ocirelay_destination_state{destination=\"oic\",state=\"healthy\"}") == 1.0);
}

TEST_CASE("faults: a 429 storm with Retry-After is waited out, then delivered", "[faults]") {
  constexpr std::size_t kStorm = 2;
  FakeHttpServer oic;
  oic.set_script([](const RecordedRequest&, std::size_t i) {
    return i < kStorm ? status(429, {{"Retry-After", "1"}}) : status(202);
  });
  // One at a time, so the gaps between attempts are the relay's pauses.
  RelayHarness relay(relay_to(oic.url("/flow"), "    concurrency: 1\n",
                              "initial_backoff: 100ms, max_backoff: 5s, max_age: 1h"));
  relay.start();
  const auto ids = post_ids(relay.port(), 100, 5);
  REQUIRE(oic.wait_for_requests(kStorm + ids.size(), 60s));
  REQUIRE(wait_until_settled(relay, "oic", 10s));
  const auto requests = oic.requests();
  CHECK(requests.size() == kStorm + ids.size());
  // Each 429 asked for a second; the relay waited at least that long (a
  // lower bound: a slow machine cannot fail it). The pause lengths
  // themselves are tested in simulated time.
  for (std::size_t i = 0; i < kStorm; ++i) {
    CHECK(requests[i + 1].at - requests[i].at >= 950ms);
  }
  CHECK(ids_from(requests, kStorm) == once_each(ids));
  CHECK(attempts(relay, "oic", "retry", "4xx") == double(kStorm));
}

TEST_CASE("faults: a 429 storm costs one request per 429, not one per queued event",
          "[faults]") {
  constexpr std::size_t kStorm = 4;
  FakeHttpServer oic;
  oic.set_script(
      [](const RecordedRequest&, std::size_t i) { return status(i < kStorm ? 429 : 202); });
  RelayHarness relay(relay_to(oic.url("/flow"), "    concurrency: 1\n",
                              "initial_backoff: 50ms, max_backoff: 200ms, max_age: 1h"));
  relay.start();
  const auto ids = post_ids(relay.port(), 200, 20);
  REQUIRE(oic.wait_for_requests(kStorm + ids.size(), 60s));
  REQUIRE(wait_until_settled(relay, "oic", 20s));
  const auto requests = oic.requests();
  // Paused after each 429 and probed with one request: one extra request
  // per 429. (The exponential pauses are tested in simulated time.)
  CHECK(requests.size() == kStorm + ids.size());
  CHECK(ids_from(requests, kStorm) == once_each(ids));
  CHECK(attempts(relay, "oic", "retry", "4xx") == double(kStorm));
}

TEST_CASE("faults: a refused port, then a listener: delivered once it listens", "[faults]") {
  RawHttpPeer oic(RawHttpPeer::Start::refusing);
  RelayHarness relay(relay_to(oic.url("/flow")));
  relay.start();
  const auto ids = post_ids(relay.port(), 300, 5);
  const std::string refused =
      "to oic: attempt 1 failed: cannot connect to 127.0.0.1:" + std::to_string(oic.port()) +
      ": Connection refused";
  // A few refusals, and nothing reached the port.
  REQUIRE(wait_for_metric(relay, oic_attempts("retry", "error"), 3, 10s));
  CHECK(oic.connection_count() == 0);
  // The log says why, for people.
  CHECK(contains(relay.log(), refused));

  oic.listen();
  REQUIRE(oic.wait_for_requests(ids.size(), 20s));
  REQUIRE(wait_until_settled(relay, "oic", 10s));
  CHECK(ids_from(oic.requests(), 0) == once_each(ids));
  CHECK(attempts(relay, "oic", "delivered", "2xx") == 5.0);
  CHECK(metric(relay, "ocirelay_destination_state{destination=\"oic\",state=\"healthy\"}") == 1.0);
}

TEST_CASE("faults: a reset mid-response and a non-HTTP answer are retried", "[faults]") {
  RawHttpPeer oic;
  oic.set_script([](const RecordedRequest&, std::size_t i) {
    if (i == 0) {
      // Headers and half a body, then RST.
      return RawReply{"HTTP/1.1 202 Accepted\r\nContent-Length: 40\r\n\r\n{\"status\":\"rec",
                      {},
                      RawReply::Then::reset};
    }
    if (i == 1) return RawReply{"SSH-2.0-OpenSSH_9.2\r\n\r\n", {}, RawReply::Then::close};
    return raw_response(202);
  });
  RelayHarness relay(relay_to(oic.url("/flow")));
  relay.start();
  const auto ids = post_ids(relay.port(), 400, 1);
  REQUIRE(oic.wait_for_requests(3, 20s));
  REQUIRE(wait_until_settled(relay, "oic", 10s));
  CHECK(attempts(relay, "oic", "delivered", "2xx") == 1.0);
  const auto requests = oic.requests();
  // At least once: OIC saw the event three times, the same body and key.
  REQUIRE(requests.size() == 3);
  for (const auto& r : requests) {
    CHECK(idempotency_key(r) == ids[0]);
    CHECK(r.body == event_with_id(400));
  }
  CHECK(attempts(relay, "oic", "retry", "error") == 2.0);
  // The log says what was wrong with each answer, for people.
  const std::string log = relay.log();
  INFO(log);
  CHECK(contains(log, "to oic: attempt 1 failed: connection closed before a complete response"));
  CHECK(contains(log, "to oic: attempt 2 failed: bad response"));
}

TEST_CASE("faults: a response that never comes times out, the event goes again", "[faults]") {
  RawHttpPeer oic;
  oic.set_script([](const RecordedRequest&, std::size_t i) {
    return i == 0 ? RawReply{{}, {}, RawReply::Then::hold} : raw_response(202);
  });
  RelayHarness relay(relay_to(oic.url("/flow"), "    timeout: 1s\n"));
  relay.start();
  const auto ids = post_ids(relay.port(), 500, 1);
  REQUIRE(wait_for_metric(relay, oic_attempts("delivered", "2xx"), 1, 20s));
  REQUIRE(wait_until_settled(relay, "oic", 5s));
  CHECK(contains(relay.log(), "to oic: attempt 1 failed: timed out waiting for the response"));
  const auto requests = oic.requests();
  REQUIRE(requests.size() == 2);
  // The unanswered request had arrived whole: this is a duplicate for OIC,
  // recognisable by its Idempotency-Key.
  CHECK(requests[0].body == requests[1].body);
  CHECK(idempotency_key(requests[0]) == ids[0]);
  CHECK(idempotency_key(requests[1]) == ids[0]);
  CHECK(attempts(relay, "oic", "retry", "error") == 1.0);
}

TEST_CASE("faults: a trickling response is cut off at the timeout, a slow one is fine",
          "[faults]") {
  RawHttpPeer oic;
  oic.set_script([](const RecordedRequest&, std::size_t i) {
    RawReply r = raw_response(202, R"({"status":"ok"})");
    // First: a byte every 300 ms (some 25 s in all); then a byte every 2 ms.
    r.trickle = i == 0 ? 300ms : 2ms;
    return r;
  });
  RelayHarness relay(relay_to(oic.url("/flow"), "    timeout: 3s\n"));
  relay.start();
  const auto ids = post_ids(relay.port(), 600, 1);
  REQUIRE(wait_for_metric(relay, oic_attempts("delivered", "2xx"), 1, 30s));
  REQUIRE(wait_until_settled(relay, "oic", 5s));
  CHECK(attempts(relay, "oic", "retry", "error") == 1.0);
  CHECK(contains(relay.log(), "to oic: attempt 1 failed: timed out waiting for the response"));
  CHECK(oic.request_count() == 2);
  CHECK(ids_from(oic.requests(), 1) == once_each(ids));
}

TEST_CASE("faults: certificates from an unknown CA or for another host are refused",
          "[faults][tls]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  FakeHttpServer wrong_ca({pki.rogue_server_cert, pki.rogue_server_key});
  FakeHttpServer wrong_ip({pki.wrong_host_server_cert, pki.wrong_host_server_key});
  FakeHttpServer wrong_name({pki.wrong_host_server_cert, pki.wrong_host_server_key});
  const std::string tls = "    tls: { ca_file: " + pki.ca_cert + " }\n";
  const std::string retry =
      "    retry: { initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }\n";
  // clang-format off
  RelayHarness relay(
      "destinations:\n"
      "  - name: wrong-ca\n    url: " + wrong_ca.url("/flow") + "\n" + tls + retry +
      "  - name: wrong-ip\n    url: " + wrong_ip.url("/flow") + "\n" + tls + retry +
      "  - name: wrong-name\n    url: https://localhost:" + std::to_string(wrong_name.port()) +
      "/flow\n" + tls + retry +
      "routes:\n  - { name: all, destinations: [wrong-ca, wrong-ip, wrong-name] }\n");
  // clang-format on
  relay.start();
  const auto ids = post_ids(relay.port(), 700, 2);
  for (const char* d : {"wrong-ca", "wrong-ip", "wrong-name"}) {
    REQUIRE(wait_for_metric(relay, attempts_series(d, "retry", "error"), 1, 10s));
  }
  // The log says why, for people.
  auto& daemon = relay.daemon();
  REQUIRE(daemon.wait_for_log("to wrong-ca: attempt 1 failed: TLS handshake with 127.0.0.1:" +
                                  std::to_string(wrong_ca.port()) +
                                  " failed: certificate verification failed: unable to get "
                                  "local issuer certificate",
                              10s));
  REQUIRE(daemon.wait_for_log("to wrong-ip: attempt 1 failed: TLS handshake with 127.0.0.1:" +
                                  std::to_string(wrong_ip.port()) +
                                  " failed: certificate verification failed: IP address mismatch",
                              10s));
  REQUIRE(daemon.wait_for_log("to wrong-name: attempt 1 failed: TLS handshake with localhost:" +
                                  std::to_string(wrong_name.port()) +
                                  " failed: certificate verification failed: hostname mismatch",
                              10s));
  // Nothing was sent to a server the relay could not verify.
  CHECK(wrong_ca.request_count() == 0);
  CHECK(wrong_ip.request_count() == 0);
  CHECK(wrong_name.request_count() == 0);

  // The certificates are fixed: every event goes to each destination once.
  for (auto* server : {&wrong_ca, &wrong_ip, &wrong_name}) {
    server->use_certificate(pki.server_cert, pki.server_key);
  }
  for (const char* d : {"wrong-ca", "wrong-ip", "wrong-name"}) {
    REQUIRE(wait_until_settled(relay, d, 20s));
  }
  for (auto* server : {&wrong_ca, &wrong_ip, &wrong_name}) {
    CHECK(ids_from(server->requests(), 0) == once_each(ids));
  }
}

TEST_CASE("faults: a destination that speaks only TLS 1.0 or 1.1 is refused", "[faults][tls]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  FakeServerOptions outdated{pki.server_cert, pki.server_key};
  outdated.max_tls_version = TLS1_1_VERSION;
  FakeHttpServer oic(outdated);
  RelayHarness relay(relay_to(oic.url("/flow"), "    tls: { ca_file: " + pki.ca_cert + " }\n"));
  relay.start();
  const auto ids = post_ids(relay.port(), 800, 2);
  REQUIRE(wait_for_metric(relay, oic_attempts("retry", "error"), 1, 10s));
  INFO(relay.log());
  CHECK(contains(relay.log(), "to oic: attempt 1 failed: TLS handshake with 127.0.0.1:" +
                                  std::to_string(oic.port()) + " failed: "));
  // The server has no version in common with TLS 1.2+ and says so.
  CHECK(contains(relay.log(), "protocol version"));
  CHECK(oic.request_count() == 0);  // nothing sent over TLS 1.1

  // Upgraded to TLS 1.2+: every event arrives, once.
  oic.use_default_tls_versions();
  REQUIRE(oic.wait_for_requests(2, 20s));
  REQUIRE(wait_until_settled(relay, "oic", 20s));
  CHECK(ids_from(oic.requests(), 0) == once_each(ids));
}

TEST_CASE("faults: the token endpoint refuses connections, then comes back", "[faults][oauth2]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  FakeHttpServer oic({pki.server_cert, pki.server_key});
  auto down = std::make_unique<RawHttpPeer>(RawHttpPeer::Start::refusing);
  const std::uint16_t idp_port = down->port();
  const std::string token_url =
      "https://127.0.0.1:" + std::to_string(idp_port) + "/oauth2/v1/token";
  // clang-format off
  RelayHarness relay(relay_to(oic.url("/flow"),
      "    tls: { ca_file: " + pki.ca_cert + " }\n"
      "    auth:\n"
      "      type: oauth2\n"
      "      token_url: " + token_url + "\n"
      "      client_id: relay\n"
      "      client_secret: \"${env:OIC_CLIENT_SECRET}\"\n"
      "      scope: urn:opc:resource:consumer::all\n"));
  // clang-format on
  relay.options().extra_env.push_back("OIC_CLIENT_SECRET=t0ken-endpoint-s3cret");
  relay.start();
  const auto ids = post_ids(relay.port(), 800, 3);
  // With no token the attempts fail without a request; the log says why.
  REQUIRE(wait_for_metric(relay, oic_attempts("retry", "error"), 1, 10s));
  CHECK(contains(relay.log(), "no OAuth2 token: token endpoint " + token_url +
                                  ": cannot connect to 127.0.0.1:" + std::to_string(idp_port) +
                                  ": Connection refused"));
  CHECK(oic.request_count() == 0);

  // The identity domain is back on the same port.
  down.reset();
  FakeHttpServer idp({pki.server_cert, pki.server_key}, idp_port);
  idp.set_script([](const RecordedRequest&, std::size_t) {
    return Reply{
        ocirelay::http::json_response(
            200, R"({"access_token":"tok-after-outage","token_type":"Bearer","expires_in":3600})"),
        {}};
  });
  REQUIRE(oic.wait_for_requests(3, 30s));
  REQUIRE(wait_until_settled(relay, "oic", 20s));
  const auto requests = oic.requests();
  CHECK(ids_from(requests, 0) == once_each(ids));
  for (const auto& r : requests) CHECK(r.headers.get("Authorization") == "Bearer tok-after-outage");
  CHECK(idp.request_count() == 1);
  const std::string log = relay.log();
  CHECK_FALSE(contains(log, "t0ken-endpoint-s3cret"));
  CHECK_FALSE(contains(log, "tok-after-outage"));
}
