// Outbound auth and payload shaping (issue #3) from the real daemon to fakes
// on 127.0.0.1 over TLS: an OAuth2 token endpoint (an OCI IAM identity domain)
// and OIC triggers. Token caching, single token requests for bursts, refresh
// on expiry and on 401, backoff while the token endpoint is down, mTLS,
// verify: false, payload fields and extra headers.
#include <catch2/catch.hpp>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_metrics.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;
using ocirelay::http::Response;

namespace {

constexpr const char* kClientId = "relay-client-0123";
constexpr const char* kClientSecret = "cl1ent-s3cret-Xy9";
constexpr const char* kScope = "https://oic.example.com:443urn:opc:resource:consumer::all";
constexpr const char* kScopeEncoded =
    "https%3A%2F%2Foic.example.com%3A443urn%3Aopc%3Aresource%3Aconsumer%3A%3Aall";
constexpr const char* kFlow = "/ic/api/integration/v1/flows/rest/INV/1.0/event";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The n-th token the fake identity domain hands out.
std::string token_n(std::size_t n) { return "eyJhbGciOiJSUzI1NiJ9.outbound-" + std::to_string(n); }

Reply token_reply(std::size_t n, int expires_in = 3600) {
  return Reply{ocirelay::http::json_response(200, R"({"access_token":")" + token_n(n) +
                                                      R"(","token_type":"Bearer","expires_in":)" +
                                                      std::to_string(expires_in) + "}"),
               {}};
}

Reply status(int code) { return Reply{Response{code, {}, {}, false}, {}}; }

// TLS peers for one test: the PKI, a fake identity domain and a fake OIC.
struct Peers {
  TempDir dir;
  TestPki pki = make_test_pki(dir);
  FakeHttpServer idp{{pki.server_cert, pki.server_key}};
  FakeHttpServer oic{{pki.server_cert, pki.server_key}};
};

// One oauth2 destination "oic" and a route to it.
// clang-format off
std::string oauth2_config(const Peers& p, const std::string& extra = {}) {
  return "destinations:\n"
         "  - name: oic\n"
         "    url: " + p.oic.url(kFlow) + "\n"
         "    retry: { initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }\n"
         "    tls: { ca_file: " + p.pki.ca_cert + " }\n"
         "    auth:\n"
         "      type: oauth2\n"
         "      token_url: " + p.idp.url("/oauth2/v1/token") + "\n"
         "      client_id: " + kClientId + "\n"
         "      client_secret: \"${env:OIC_CLIENT_SECRET}\"\n"
         "      scope: \"" + kScope + "\"\n" +
         extra +
         "routes:\n  - { name: all, destinations: [oic] }\n";
}
// clang-format on

void start(RelayHarness& relay) {
  relay.options().extra_env.push_back(std::string("OIC_CLIENT_SECRET=") + kClientSecret);
  relay.start();
}

std::vector<std::string> bodies(long first, long count) {
  std::vector<std::string> out;
  for (long i = first; i < first + count; ++i) out.push_back(event_with_id(i));
  return out;
}

std::set<std::string> ids_of(const std::vector<RecordedRequest>& requests) {
  std::set<std::string> ids;
  for (const auto& r : requests) {
    if (auto k = r.headers.get("Idempotency-Key")) ids.emplace(*k);
  }
  return ids;
}

std::string authorization(const RecordedRequest& r) {
  return std::string(r.headers.get("Authorization").value_or(""));
}

}  // namespace

TEST_CASE("outbound: one token request serves a burst of 500 events", "[outbound][oauth2]") {
  Peers p;
  p.idp.set_script([](const RecordedRequest&, std::size_t i) { return token_reply(i); });
  RelayHarness relay(oauth2_config(p));
  start(relay);
  for (int s : post_events(relay.port(), bodies(0, 500))) REQUIRE(s == 202);
  REQUIRE(p.oic.wait_for_requests(500, 120s));
  REQUIRE(wait_until_settled(relay, "oic", 30s));

  // Exactly one token request, exactly as PROTOCOLS.md describes it.
  const auto token_requests = p.idp.requests();
  REQUIRE(token_requests.size() == 1);
  const RecordedRequest& t = token_requests[0];
  CHECK(t.method == "POST");
  CHECK(t.target == "/oauth2/v1/token");
  CHECK(authorization(t) == basic_auth(kClientId, kClientSecret));
  CHECK(t.headers.get("Content-Type") == "application/x-www-form-urlencoded");
  CHECK(t.body == std::string("grant_type=client_credentials&scope=") + kScopeEncoded);

  // Every event once, each with that token.
  const auto delivered = p.oic.requests();
  CHECK(delivered.size() == 500);
  std::size_t with_token = 0;
  for (const auto& r : delivered) {
    if (authorization(r) == "Bearer " + token_n(0)) ++with_token;
  }
  CHECK(with_token == delivered.size());
  CHECK(ids_of(delivered).size() == 500);

  const std::string log = relay.log();
  CHECK(contains(log, "OAuth2 token obtained from"));
  CHECK_FALSE(contains(log, kClientSecret));
  CHECK_FALSE(contains(log, token_n(0)));
}

TEST_CASE("outbound: an expired token is replaced", "[outbound][oauth2]") {
  Peers p;
  // Two seconds: with a margin of a tenth, refreshed after 1.8 s.
  p.idp.set_script([](const RecordedRequest&, std::size_t i) { return token_reply(i, 2); });
  RelayHarness relay(oauth2_config(p));
  start(relay);
  TestClient client(relay.port());
  REQUIRE(client.post_event(event_with_id(1)).status == 202);
  REQUIRE(p.oic.wait_for_requests(1, 10s));
  CHECK(authorization(p.oic.requests()[0]) == "Bearer " + token_n(0));
  // A second event within the token's life uses it again.
  REQUIRE(client.post_event(event_with_id(2)).status == 202);
  REQUIRE(p.oic.wait_for_requests(2, 10s));
  CHECK(authorization(p.oic.requests()[1]) == "Bearer " + token_n(0));
  CHECK(p.idp.request_count() == 1);

  std::this_thread::sleep_for(2500ms);
  REQUIRE(client.post_event(event_with_id(3)).status == 202);
  REQUIRE(p.oic.wait_for_requests(3, 10s));
  CHECK(p.idp.request_count() == 2);
  CHECK(authorization(p.oic.requests()[2]) == "Bearer " + token_n(1));
  REQUIRE(wait_until_settled(relay, "oic", 10s));
  CHECK(p.oic.request_count() == 3);
}

TEST_CASE("outbound: a 401 drops the token and the event goes with a new one",
          "[outbound][oauth2]") {
  Peers p;
  p.idp.set_script([](const RecordedRequest&, std::size_t i) { return token_reply(i); });
  // The first token has been revoked.
  p.oic.set_script([](const RecordedRequest& r, std::size_t) {
    return status(authorization(r) == "Bearer " + token_n(0) ? 401 : 202);
  });
  RelayHarness relay(oauth2_config(p));
  start(relay);
  TestClient client(relay.port());
  REQUIRE(client.post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(p.oic.wait_for_requests(2, 10s));
  REQUIRE(wait_until_settled(relay, "oic", 10s));

  const auto r = p.oic.requests();
  REQUIRE(r.size() == 2);
  CHECK(authorization(r[0]) == "Bearer " + token_n(0));
  CHECK(authorization(r[1]) == "Bearer " + token_n(1));
  CHECK(r[1].body == fixture("events/createobject.json"));
  CHECK(r[1].headers.get("Idempotency-Key") == "3e47d127-19de-6eb8-eb67-0c1ab961fcbc");
  CHECK(p.idp.request_count() == 2);
  const std::string log = relay.log();
  // The refresh is part of the first attempt, which succeeded.
  CHECK(contains(
      log, "event 3e47d127-19de-6eb8-eb67-0c1ab961fcbc delivered to oic (attempt 1, HTTP 202"));
  CHECK(contains(log, "HTTP 401 with the OAuth2 token; sending once more with a new one"));
  CHECK_FALSE(contains(log, token_n(0)));
  CHECK_FALSE(contains(log, token_n(1)));
}

TEST_CASE("outbound: token endpoint down, then up: few token requests, nothing lost",
          "[outbound][oauth2]") {
  Peers p;
  std::atomic<bool> up{false};
  p.idp.set_script(
      [&up](const RecordedRequest&, std::size_t i) { return up ? token_reply(i) : status(503); });
  RelayHarness relay(oauth2_config(p));
  start(relay);
  const auto outage_started = std::chrono::steady_clock::now();
  for (int s : post_events(relay.port(), bodies(1000, 200))) REQUIRE(s == 202);
  std::this_thread::sleep_until(outage_started + 3s);
  const std::size_t during_outage = p.idp.request_count();
  up = true;
  INFO("token requests during the outage: " << during_outage);
  CHECK(during_outage >= 1);
  CHECK(during_outage < 10);  // bounded by the backoff, not by 200 queued events
  CHECK(p.oic.request_count() == 0);

  REQUIRE(p.oic.wait_for_requests(200, 60s));
  REQUIRE(wait_until_settled(relay, "oic", 30s));
  const auto delivered = p.oic.requests();
  std::set<std::string> expected;
  for (long i = 1000; i < 1200; ++i) expected.insert(event_id_for(i));
  CHECK(ids_of(delivered) == expected);
  // All with the one token granted once the endpoint was back.
  std::set<std::string> used;
  for (const auto& r : delivered) used.insert(authorization(r));
  REQUIRE(used.size() == 1);
  CHECK_THAT(*used.begin(), Catch::StartsWith("Bearer " + token_n(0).substr(0, 30)));
  CHECK(p.idp.request_count() <= during_outage + 2);
  const std::string log = relay.log();
  CHECK(contains(
      log, "no OAuth2 token: token endpoint " + p.idp.url("/oauth2/v1/token") + ": HTTP 503"));
  CHECK_FALSE(contains(log, kClientSecret));
}

TEST_CASE("outbound: mTLS to an OIC that requires a client certificate", "[outbound][tls]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  FakeHttpServer oic({pki.server_cert, pki.server_key, pki.ca_cert});
  // clang-format off
  RelayHarness relay(
      "destinations:\n"
      "  - name: with-cert\n"
      "    url: " + oic.url("/with") + "\n"
      "    retry: { initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }\n"
      "    tls:\n"
      "      ca_file: " + pki.ca_cert + "\n"
      "      cert_file: " + pki.client_cert + "\n"
      "      key_file: " + pki.client_key + "\n"
      "  - name: without-cert\n"
      "    url: " + oic.url("/without") + "\n"
      "    retry: { initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }\n"
      "    tls: { ca_file: " + pki.ca_cert + " }\n"
      "routes:\n  - { name: all, destinations: [with-cert, without-cert] }\n");
  // clang-format on
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(oic.wait_for_requests(1, 10s));
  REQUIRE(relay.daemon().wait_for_log(
      "event 3e47d127-19de-6eb8-eb67-0c1ab961fcbc to without-cert: attempt 1 failed", 10s));
  REQUIRE(wait_until_settled(relay, "with-cert", 10s));
  const auto r = oic.requests();
  INFO(relay.log());
  for (const auto& req : r) CHECK(req.target == "/with");
  CHECK(r.at(0).body == fixture("events/createobject.json"));
  const std::string log = relay.log();
  // The server's refusal reaches the client as a TLS alert.
  CHECK((contains(log, "certificate required") || contains(log, "handshake failure") ||
         contains(log, "TLS handshake")));
  CHECK_FALSE(contains(log, "delivered to without-cert"));
}

TEST_CASE("outbound: verify false reaches a server no CA vouches for, with a warning",
          "[outbound][tls]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  FakeHttpServer rogue({pki.rogue_server_cert, pki.rogue_server_key});
  // clang-format off
  RelayHarness relay("destinations:\n"
                     "  - name: lab\n"
                     "    url: " + rogue.url("/flow") + "\n"
                     "    tls: { verify: false }\n"
                     "routes:\n  - { name: all, destinations: [lab] }\n");
  // clang-format on
  relay.start();
  REQUIRE(relay.daemon().wait_for_log("destination lab: tls.verify is false", 5s));
  TestClient client(relay.port());
  REQUIRE(client.post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(rogue.wait_for_requests(1, 10s));
  CHECK(rogue.requests()[0].body == fixture("events/createobject.json"));
  REQUIRE(relay.daemon().wait_for_log("delivered to lab", 5s));
  const std::string log = relay.log();
  // Said once, at start.
  const auto first = log.find("tls.verify is false");
  CHECK(log.find("tls.verify is false", first + 1) == std::string::npos);
  CHECK(first < log.find("listening on"));
}

TEST_CASE("outbound: payload fields and extra headers", "[outbound][payload]") {
  FakeHttpServer shaped;
  FakeHttpServer raw;
  // clang-format off
  RelayHarness relay("destinations:\n"
                     "  - name: shaped\n"
                     "    url: " + shaped.url("/flow") + "\n"
                     "    auth: { type: basic, username: relay, password: pw }\n"
                     "    headers:\n"
                     "      X-Source: ocirelay\n"
                     "      X-Api-Key: \"${env:OIC_API_KEY}\"\n"
                     "    payload:\n"
                     "      fields:\n"
                     "        bucket: /data/additionalDetails/bucketName\n"
                     "        object: /data/resourceName\n"
                     "        namespace: /data/additionalDetails/namespace\n"
                     "        size: /data/additionalDetails/sizeInBytes\n"
                     "        details: /extensions\n"
                     "  - name: raw\n"
                     "    url: " + raw.url("/flow") + "\n"
                     "    payload: raw\n"
                     "routes:\n  - { name: all, destinations: [shaped, raw] }\n");
  // clang-format on
  relay.options().extra_env.push_back("OIC_API_KEY=k3y-from-env-77");
  relay.start();
  TestClient client(relay.port());
  const std::string event = fixture("events/createobject.json");
  REQUIRE(client.post_event(event).status == 202);
  REQUIRE(shaped.wait_for_requests(1, 10s));
  REQUIRE(raw.wait_for_requests(1, 10s));

  const auto r = shaped.requests().at(0);
  CHECK(
      r.body ==
      R"({"bucket":"invoices-inbound","object":"invoices/2026/inv-0001.pdf",)"
      R"("namespace":"acmetenancy","size":null,)"
      R"("details":{"compartmentId":"ocid1.compartment.oc1..aaaaaaaafinance00000000000000000000000000000000000000000001"}})");
  CHECK(r.headers.get("Content-Type") == "application/json");
  CHECK(r.headers.get("Idempotency-Key") == "3e47d127-19de-6eb8-eb67-0c1ab961fcbc");
  CHECK(r.headers.get("Authorization") == basic_auth("relay", "pw"));
  CHECK(r.headers.get("X-Source") == "ocirelay");
  CHECK(r.headers.get("X-Api-Key") == "k3y-from-env-77");
  // The extra headers come after the relay's own.
  const auto& fields = r.headers.fields();
  std::size_t key_at = 0, source_at = 0, api_at = 0;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].first == "Idempotency-Key") key_at = i;
    if (fields[i].first == "X-Source") source_at = i;
    if (fields[i].first == "X-Api-Key") api_at = i;
  }
  CHECK(key_at < source_at);
  CHECK(source_at < api_at);

  CHECK(raw.requests().at(0).body == event);
  CHECK_FALSE(raw.requests().at(0).headers.get("X-Source").has_value());
  REQUIRE(relay.daemon().wait_for_log("delivered to shaped", 5s));
  CHECK_FALSE(contains(relay.log(), "k3y-from-env-77"));
}
