// Deliveries signed by the instance principal, from the real daemon: a fake
// instance metadata service and a fake federation endpoint
// (support/fake_oci_identity.hpp) give it a test-CA instance certificate and
// security tokens, and a fake OIC trigger verifies every request as OCI would
// (support/oci_verifier.hpp), with the session key the federation fake saw
// for the token in keyId="ST$<token>". A request that does not verify gets
// 401, as does one signed with a token the trigger was told to reject.
#include <catch2/catch.hpp>

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/fake_oci_identity.hpp"
#include "support/fixtures.hpp"
#include "support/oci_verifier.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_metrics.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;
using ocirelay::http::Response;

namespace {

constexpr const char* kTenancy = "ocid1.tenancy.oc1..aaaaaaaainstancetesttenancy";
constexpr const char* kFlow = "/ic/api/integration/v1/flows/rest/project/P/EVT/1.0/event?x=a%20b";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The instance, its OCI services and an OIC trigger that verifies signatures.
struct InstanceWorld {
  TempDir dir;
  TestPki pki = make_test_pki(dir);
  InstanceIdentity first = make_instance_identity(dir, pki, "instance-a", kTenancy);
  FakeOciIdentity oci{pki, kTenancy, first};
  FakeHttpServer oic{{pki.server_cert, pki.server_key}};
  std::mutex mutex;
  std::vector<std::string> oic_problems;
  std::vector<std::string> oic_key_ids;   // of the verified requests
  std::set<std::string> rejected_tokens;  // answered 401 although they verify

  InstanceWorld() {
    oic.set_script([this](const RecordedRequest& r, std::size_t) {
      const std::string problem = oci_verification_problem(
          r, [this](const std::string& key_id) { return oci.session_key(key_id); });
      const std::string key_id =
          signature_params(std::string(r.headers.get("Authorization").value_or("")))["keyId"];
      const std::lock_guard lock(mutex);
      if (!problem.empty()) {
        oic_problems.push_back(problem);
        return Reply{ocirelay::http::error_response(401, "NotAuthenticated"), {}};
      }
      if (rejected_tokens.count(key_id.substr(3)) != 0) {
        return Reply{ocirelay::http::error_response(401, "NotAuthenticated"), {}};
      }
      oic_key_ids.push_back(key_id);
      return Reply{Response{202, {}, {}, false}, {}};
    });
  }

  void reject_token(const std::string& token) {
    const std::lock_guard lock(mutex);
    rejected_tokens.insert(token);
  }
  std::vector<std::string> problems() {
    const std::lock_guard lock(mutex);
    return oic_problems;
  }
  std::vector<std::string> key_ids() {
    const std::lock_guard lock(mutex);
    return oic_key_ids;
  }

  // clang-format off
  std::string config() const {
    return "oci:\n"
           "  principal: instance\n"
           "  ca_file: " + pki.ca_cert + "\n"
           "  endpoints:\n"
           "    metadata: " + oci.metadata_url() + "\n"
           "    federation: " + oci.federation_url() + "\n"
           "destinations:\n"
           "  - name: oic\n"
           "    url: " + oic.url(kFlow) + "\n"
           "    retry: { initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }\n"
           "    tls: { ca_file: " + pki.ca_cert + " }\n"
           "    auth: { type: oci_signature }\n"
           "routes:\n  - { name: all, destinations: [oic] }\n";
  }
  // clang-format on
};

// A line of a PEM private key's base64 body, which must never be logged.
std::string key_body_line(const std::string& pem) {
  const auto start = pem.find('\n') + 1;
  return pem.substr(start, 40);
}

}  // namespace

TEST_CASE("instance principal: deliveries are signed with the session key and verify",
          "[oci_instance]") {
  InstanceWorld world;
  RelayHarness relay(world.config());
  relay.start();
  TestClient client(relay.port());
  for (long i = 0; i < 5; ++i) REQUIRE(client.post_event(event_with_id(i)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 5, 30s));
  REQUIRE(wait_until_settled(relay, "oic", 30s));

  INFO(::Catch::Detail::stringify(world.problems()));
  INFO(::Catch::Detail::stringify(world.oci.problems()));
  CHECK(world.problems().empty());
  CHECK(world.oci.problems().empty());
  // One security token for all of them: fetched once, shared by the waiters.
  const auto tokens = world.oci.tokens();
  REQUIRE(tokens.size() == 1);
  CHECK(world.oci.federated_fingerprints() ==
        std::vector<std::string>{world.first.sha1_fingerprint});
  const auto key_ids = world.key_ids();
  REQUIRE(key_ids.size() == 5);
  for (const auto& id : key_ids) CHECK(id == "ST$" + tokens[0]);
  for (const auto& r : world.oic.requests()) CHECK(r.target == kFlow);
  // The region and its realm came from the metadata service, with the
  // certificate and key.
  std::set<std::string> asked;
  for (const auto& r : world.oci.metadata.requests()) asked.insert(r.target);
  CHECK(asked == std::set<std::string>{"/opc/v2/instance/regionInfo/", "/opc/v2/identity/cert.pem",
                                       "/opc/v2/identity/intermediate.pem",
                                       "/opc/v2/identity/key.pem"});

  const std::string log = relay.log();
  CHECK(contains(log, "security token obtained"));
  CHECK(contains(log, "region eu-frankfurt-1, realm domain oraclecloud.com"));
  CHECK_FALSE(contains(log, tokens[0]));
  CHECK_FALSE(contains(log, tokens[0].substr(0, tokens[0].find('.'))));
  CHECK_FALSE(contains(log, key_body_line(world.first.key_pem)));
  CHECK_FALSE(contains(log, "PRIVATE KEY"));
}

TEST_CASE("instance principal: the security token is refreshed before it expires",
          "[oci_instance]") {
  InstanceWorld world;
  world.oci.set_token_lifetime(3s);
  RelayHarness relay(world.config());
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(event_with_id(1)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 1, 30s));
  // What is checked is an age on the relay's own clock: the token's exp.
  std::this_thread::sleep_for(3500ms);
  REQUIRE(client.post_event(event_with_id(2)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 2, 30s));

  INFO(::Catch::Detail::stringify(world.problems()));
  CHECK(world.problems().empty());
  const auto tokens = world.oci.tokens();
  REQUIRE(tokens.size() == 2);
  const auto key_ids = world.key_ids();
  REQUIRE(key_ids.size() == 2);
  CHECK(key_ids[0] == "ST$" + tokens[0]);
  CHECK(key_ids[1] == "ST$" + tokens[1]);
  // No request was ever sent with an expired token.
  CHECK(attempts(relay, "oic", "retry", "4xx") == 0);
}

TEST_CASE("instance principal: after a 401 a new token is fetched and the event sent once more",
          "[oci_instance]") {
  InstanceWorld world;
  RelayHarness relay(world.config());
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(event_with_id(1)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 1, 30s));
  REQUIRE(world.oci.tokens().size() == 1);

  // The trigger stops accepting the first token (revoked, expired early).
  world.reject_token(world.oci.tokens()[0]);
  REQUIRE(client.post_event(event_with_id(2)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 2, 30s));
  const auto tokens = world.oci.tokens();
  REQUIRE(tokens.size() == 2);
  const auto key_ids = world.key_ids();
  REQUIRE(key_ids.size() == 2);
  CHECK(key_ids[1] == "ST$" + tokens[1]);
  // The 401 and the second send were one attempt.
  CHECK(attempts(relay, "oic", "retry", "4xx") == 0);
  CHECK(world.oic.request_count() == 3);
  CHECK(contains(relay.log(), "sending once more with a new one"));
}

TEST_CASE("instance principal: while the federation endpoint is down deliveries wait, then flow",
          "[oci_instance]") {
  InstanceWorld world;
  world.oci.set_down(true);
  RelayHarness relay(world.config());
  relay.start();
  TestClient client(relay.port());
  for (long i = 0; i < 3; ++i) REQUIRE(client.post_event(event_with_id(i)).status == 202);
  // The relay keeps asking (with backoff); nothing reaches the trigger.
  REQUIRE(world.oci.federation.wait_for_requests(2, 30s));
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "retry", "error"), 1, 30s));
  CHECK(world.oic.request_count() == 0);
  CHECK(attempts(relay, "oic", "dead", "error") == 0);
  CHECK(contains(relay.log(), "no OCI security token"));
  CHECK(contains(relay.log(), "HTTP 503"));

  world.oci.set_down(false);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 3, 60s));
  REQUIRE(wait_until_settled(relay, "oic", 30s));
  CHECK(world.problems().empty());
  CHECK(world.oci.tokens().size() == 1);
  CHECK(attempts(relay, "oic", "dead", "error") == 0);
  CHECK(attempts(relay, "oic", "dead", "4xx") == 0);
}

TEST_CASE("instance principal: a rotated instance certificate is used at the next refresh",
          "[oci_instance]") {
  InstanceWorld world;
  RelayHarness relay(world.config());
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(event_with_id(1)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 1, 30s));

  const InstanceIdentity second =
      make_instance_identity(world.dir, world.pki, "instance-b", kTenancy);
  REQUIRE(second.sha1_fingerprint != world.first.sha1_fingerprint);
  world.oci.serve(second);
  world.reject_token(world.oci.tokens()[0]);  // forces a refresh
  REQUIRE(client.post_event(event_with_id(2)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 2, 30s));

  INFO(::Catch::Detail::stringify(world.oci.problems()));
  CHECK(world.oci.problems().empty());
  CHECK(world.oci.federated_fingerprints() ==
        std::vector<std::string>{world.first.sha1_fingerprint, second.sha1_fingerprint});
  CHECK(contains(relay.log(), "the instance certificate was renewed"));
  CHECK_FALSE(contains(relay.log(), key_body_line(second.key_pem)));
}
