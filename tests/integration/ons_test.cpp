// OCI Notifications subscription confirmation against the real daemon: the
// relay fetches allowed confirmation URLs over HTTPS and nothing else.
#include <catch2/catch.hpp>

#include <thread>

#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The fixture's confirmation request, pointed at `confirmation_url`.
std::vector<std::pair<std::string, std::string>> confirmation_headers(const std::string& url) {
  return {{"Content-Type", "application/json"},
          {"X-OCI-NS-MessageType", "SubscriptionConfirmation"},
          {"X-OCI-NS-MessageId", "5f0c7a2e-8d7b-4e0e-9a51-3c2d1b0a9f88"},
          {"X-OCI-NS-TopicName", "objectstorage-events"},
          {"X-OCI-NS-SubscriptionId", "ocid1.onssubscription.oc1.eu-frankfurt-1.test"},
          {"X-OCI-NS-ConfirmationURL", url}};
}

std::string confirmation_body(const std::string& url) {
  return "{\"ConfirmationURL\":\"" + url + "\"}";
}

struct OnsSetup {
  TempDir dir;
  TestPki pki = make_test_pki(dir);
  FakeHttpServer ons{{pki.server_cert, pki.server_key}};
  FakeHttpServer oic;
  std::string routes() const {
    return "destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
           "\nroutes:\n  - { name: all, destinations: [oic] }\n";
  }
  std::string server(const std::string& hosts, const std::string& extra = {}) const {
    return "  ons:\n    auto_confirm: true\n    confirm_url_hosts: " + hosts +
           "\n    ca_file: " + pki.ca_cert + "\n" + extra;
  }
  std::string confirm_url() const {
    return ons.url("/20181201/subscriptions/ocid1.onssubscription.oc1..test/confirmation?token=abc&protocol=CUSTOM_HTTPS");
  }
};

}  // namespace

TEST_CASE("a subscription confirmation is fetched over HTTPS and answered 200", "[ons]") {
  OnsSetup s;
  RelayHarness relay(s.routes(), s.server("[\"127.0.0.1\"]"));
  relay.start();
  TestClient client(relay.port());
  const std::string url = s.confirm_url();
  auto r = client.request("POST", "/v1/events", confirmation_body(url), confirmation_headers(url));
  CHECK(r.status == 200);
  CHECK(r.body == R"({"status":"confirmed"})");
  REQUIRE(s.ons.request_count() == 1);
  auto get = s.ons.requests()[0];
  CHECK(get.method == "GET");
  CHECK(get.target == "/20181201/subscriptions/ocid1.onssubscription.oc1..test/confirmation?token=abc&protocol=CUSTOM_HTTPS");
  CHECK(contains(relay.log(), "confirmed ONS subscription ocid1.onssubscription.oc1.eu-frankfurt-1.test"));
  // Nothing was queued for delivery.
  std::this_thread::sleep_for(200ms);
  CHECK(s.oic.request_count() == 0);
}

TEST_CASE("the body's ConfirmationURL is used when the header is missing", "[ons]") {
  OnsSetup s;
  RelayHarness relay(s.routes(), s.server("[\"127.0.0.1\"]"));
  relay.start();
  TestClient client(relay.port());
  auto headers = confirmation_headers("");
  headers.pop_back();
  auto r = client.request("POST", "/v1/events", confirmation_body(s.confirm_url()), headers);
  CHECK(r.status == 200);
  CHECK(s.ons.request_count() == 1);
}

TEST_CASE("confirmation URLs outside confirm_url_hosts are never fetched", "[ons]") {
  OnsSetup s;
  RelayHarness relay(s.routes(), s.server("[\"*.oraclecloud.com\"]"));
  relay.start();
  TestClient client(relay.port());
  const std::string url = s.confirm_url();
  auto r = client.request("POST", "/v1/events", confirmation_body(url), confirmation_headers(url));
  CHECK(r.status == 403);
  CHECK(contains(r.body, "not in confirm_url_hosts"));
  CHECK(contains(relay.log(), "refused to confirm ONS subscription"));
  // Plain http is refused even for an allowed host.
  const std::string http_url = "http://127.0.0.1:" + std::to_string(s.oic.port()) + "/confirm";
  auto plain = client.request("POST", "/v1/events", confirmation_body(http_url),
                              confirmation_headers(http_url));
  CHECK(plain.status == 403);
  std::this_thread::sleep_for(200ms);
  CHECK(s.ons.request_count() == 0);
  CHECK(s.oic.request_count() == 0);
}

TEST_CASE("a host name resolving to loopback is refused unless listed literally", "[ons]") {
  OnsSetup s;
  // "localhost" matches the pattern "*" but resolves to 127.0.0.1.
  RelayHarness relay(s.routes(), s.server("[\"*\"]"));
  relay.start();
  TestClient client(relay.port());
  const std::string url = "https://localhost:" + std::to_string(s.ons.port()) + "/confirmation";
  auto r = client.request("POST", "/v1/events", confirmation_body(url), confirmation_headers(url));
  CHECK(r.status == 403);
  CHECK(contains(r.body, "internal address"));
  const std::string ip_url = s.confirm_url();  // 127.0.0.1 matches "*" but is not listed literally
  auto r2 = client.request("POST", "/v1/events", confirmation_body(ip_url), confirmation_headers(ip_url));
  CHECK(r2.status == 403);
  CHECK(s.ons.request_count() == 0);
}

TEST_CASE("with auto_confirm off the URL is logged for an operator", "[ons]") {
  OnsSetup s;
  RelayHarness relay(s.routes(), "  ons: { auto_confirm: false }\n");
  relay.start();
  TestClient client(relay.port());
  const std::string url = s.confirm_url();
  auto r = client.request("POST", "/v1/events", confirmation_body(url), confirmation_headers(url));
  CHECK(r.status == 200);
  CHECK(r.body == R"({"status":"confirmation_logged"})");
  CHECK(contains(relay.log(), url));
  CHECK(s.ons.request_count() == 0);
}

TEST_CASE("confirmations need ingress auth like every POST", "[ons][auth]") {
  OnsSetup s;
  RelayHarness relay(s.routes(), s.server("[\"127.0.0.1\"]",
                                          "  auth:\n    basic:\n      - { username: ons, password: change-me }\n"));
  relay.start();
  TestClient client(relay.port());
  const std::string url = s.confirm_url();
  auto challenge = client.request("POST", "/v1/events", confirmation_body(url), confirmation_headers(url));
  CHECK(challenge.status == 401);
  CHECK(challenge.headers.get("WWW-Authenticate") == "Basic realm=\"ocirelay\"");
  CHECK(s.ons.request_count() == 0);
  auto headers = confirmation_headers(url);
  headers.emplace_back("Authorization", basic_auth("ons", "change-me"));
  auto ok = client.request("POST", "/v1/events", confirmation_body(url), headers);
  CHECK(ok.status == 200);
  CHECK(s.ons.request_count() == 1);
}

TEST_CASE("a confirmation endpoint that fails gives 502", "[ons]") {
  OnsSetup s;
  s.ons.always(404);
  RelayHarness relay(s.routes(), s.server("[\"127.0.0.1\"]"));
  relay.start();
  TestClient client(relay.port());
  const std::string url = s.confirm_url();
  auto r = client.request("POST", "/v1/events", confirmation_body(url), confirmation_headers(url));
  CHECK(r.status == 502);
  CHECK(contains(r.body, "HTTP 404"));
}

TEST_CASE("an ONS notification delivers its raw event", "[ons]") {
  OnsSetup s;
  RelayHarness relay(s.routes(), s.server("[\"127.0.0.1\"]"));
  relay.start();
  TestClient client(relay.port());
  auto r = client.post_event(fixture("events/createobject.json"),
                             {{"X-OCI-NS-MessageType", "Notification"},
                              {"X-OCI-NS-MessageId", "0a6f1c3e-7b2d-4e9f-8c1a-2b3c4d5e6f70"},
                              {"X-OCI-NS-TopicName", "objectstorage-events"}});
  CHECK(r.status == 202);
  REQUIRE(s.oic.wait_for_requests(1, 10s));
  CHECK(s.oic.requests()[0].body == fixture("events/createobject.json"));
}
