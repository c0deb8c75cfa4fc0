// `${vault:<secret OCID>}` in the configuration of the real daemon: the
// secret is read at start (and at SIGHUP) from a fake OCI Vault
// (support/fake_vault.hpp) that verifies each GetSecretBundle request's OCI
// signature with the session key of the instance principal (fake metadata
// service and federation endpoint, support/fake_oci_identity.hpp), then used as
// an OAuth2 client_secret against a fake identity domain that accepts only
// that secret.
#include <catch2/catch.hpp>

#include <csignal>
#include <string>
#include <thread>

#include "support/daemon_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/fake_oci_identity.hpp"
#include "support/fake_vault.hpp"
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

constexpr const char* kTenancy = "ocid1.tenancy.oc1..aaaaaaaavaulttesttenancy";
constexpr const char* kSecretOcid = "ocid1.vaultsecret.oc1.eu-frankfurt-1.amaaaaaaclientsecret";
constexpr const char* kClientId = "relay-client-0123";
constexpr const char* kSecret = "v4ult-cl1ent-s3cret-Qw8";
constexpr const char* kNewSecret = "r0tated-cl1ent-s3cret-Zk2";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

struct VaultWorld {
  TempDir dir;
  TestPki pki = make_test_pki(dir);
  FakeOciIdentity oci{pki, kTenancy, make_instance_identity(dir, pki, "instance", kTenancy)};
  FakeVault vault{pki, [this](const std::string& key_id) { return oci.session_key(key_id); }};
  FakeHttpServer idp{{pki.server_cert, pki.server_key}};
  FakeHttpServer oic{{pki.server_cert, pki.server_key}};

  // The identity domain grants a token only for the secret `accepted`.
  void accept_secret(const std::string& accepted) {
    idp.set_script([accepted](const RecordedRequest& r, std::size_t i) {
      if (r.headers.get("Authorization").value_or("") != basic_auth(kClientId, accepted)) {
        return Reply{ocirelay::http::json_response(401, R"({"error":"invalid_client"})"), {}};
      }
      return Reply{
          ocirelay::http::json_response(200, R"({"access_token":"tok-)" + std::to_string(i) +
                                                 R"(","token_type":"Bearer","expires_in":3600})"),
          {}};
    });
  }

  // clang-format off
  std::string config(const std::string& ocid = kSecretOcid) const {
    return "oci:\n"
           "  principal: instance\n"
           "  ca_file: " + pki.ca_cert + "\n"
           "  endpoints:\n"
           "    metadata: " + oci.metadata_url() + "\n"
           "    federation: " + oci.federation_url() + "\n"
           "    secrets: " + vault.url() + "\n"
           "destinations:\n"
           "  - name: oic\n"
           "    url: " + oic.url("/ic/api/integration/v1/flows/rest/INV/1.0/event") + "\n"
           "    retry: { initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }\n"
           "    tls: { ca_file: " + pki.ca_cert + " }\n"
           "    auth:\n"
           "      type: oauth2\n"
           "      token_url: " + idp.url("/oauth2/v1/token") + "\n"
           "      client_id: " + kClientId + "\n"
           "      client_secret: \"${vault:" + ocid + "}\"\n"
           "      scope: \"https://oic.example.com:443urn:opc:resource:consumer::all\"\n"
           "routes:\n  - { name: all, destinations: [oic] }\n";
  }
  // clang-format on
};

}  // namespace

TEST_CASE("vault: a ${vault:} secret is used as the OAuth2 client_secret", "[oci_vault]") {
  VaultWorld world;
  world.vault.put(kSecretOcid, kSecret);
  world.accept_secret(kSecret);
  RelayHarness relay(world.config());
  relay.start();
  TestClient client(relay.port());
  for (long i = 0; i < 3; ++i) REQUIRE(client.post_event(event_with_id(i)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 3, 30s));

  INFO(::Catch::Detail::stringify(world.vault.problems()));
  CHECK(world.vault.problems().empty());
  CHECK(world.oci.problems().empty());
  const auto reads = world.vault.server.requests();
  REQUIRE(reads.size() == 1);
  CHECK(reads[0].method == "GET");
  CHECK(reads[0].target == std::string("/20190301/secretbundles/") + kSecretOcid);
  CHECK(world.idp.request_count() == 1);
  for (const auto& r : world.oic.requests()) {
    CHECK(r.headers.get("Authorization").value_or("") == "Bearer tok-0");
  }

  // The secret is nowhere the operator can see it.
  const std::string log = relay.log();
  CHECK_FALSE(contains(log, kSecret));
  CHECK_FALSE(contains(log, base64_of(kSecret)));
  const auto metrics = TestClient(relay.management_port()).request("GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK_FALSE(contains(metrics.body, kSecret));

  // --check-config reads it the same way.
  auto check = run_ocirelayd({"--check-config", "--config", relay.config_path()});
  INFO(check.output);
  CHECK(check.exit_code == 0);
  CHECK_FALSE(contains(check.output, kSecret));
}

TEST_CASE("vault: a secret that cannot be read at start is exit 2, naming the OCID and status",
          "[oci_vault][cli]") {
  VaultWorld world;
  const std::string missing = "ocid1.vaultsecret.oc1.eu-frankfurt-1.amaaaaaamissing";
  const std::string forbidden = "ocid1.vaultsecret.oc1.eu-frankfurt-1.amaaaaaaforbidden";
  world.vault.refuse(forbidden, 403);
  const std::string path404 = world.dir.write("404.yaml", world.config(missing));
  auto check = run_ocirelayd({"--check-config", "--config", path404});
  INFO(check.output);
  CHECK(check.exit_code == 2);
  CHECK(contains(check.output, path404));
  CHECK(contains(check.output, "destinations[0].auth.client_secret"));
  CHECK(contains(check.output, missing));
  CHECK(contains(check.output, "HTTP 404 (NotAuthorizedOrNotFound)"));

  // Starting for real fails the same way, before anything listens.
  const std::string path403 = world.dir.write("403.yaml", world.config(forbidden));
  auto start = run_ocirelayd({"--config", path403});
  INFO(start.output);
  CHECK(start.exit_code == 2);
  CHECK(contains(start.output, forbidden));
  CHECK(contains(start.output, "HTTP 403"));
  CHECK(world.vault.problems().empty());  // the requests were properly signed
}

TEST_CASE("vault: SIGHUP reads the secrets again, and a failure keeps the running configuration",
          "[oci_vault][reload]") {
  VaultWorld world;
  world.vault.put(kSecretOcid, kSecret);
  world.accept_secret(kSecret);
  RelayHarness relay(world.config());
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(event_with_id(1)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 1, 30s));

  // The Vault refuses: the reload is refused, the old secret stays in use.
  world.vault.refuse(kSecretOcid, 404);
  const std::size_t reads = world.vault.server.request_count();
  relay.daemon().signal(SIGHUP);
  REQUIRE(relay.daemon().wait_for_log("reload refused", 30s));
  REQUIRE(world.vault.server.request_count() == reads + 1);
  // The running configuration goes on delivering.
  REQUIRE(client.post_event(event_with_id(2)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 2, 30s));
  REQUIRE(world.idp.requests().size() == 1);  // with the token it had
  // The secret was rotated: the next reload picks the new one up, and the
  // changed destination gets a token with it.
  world.vault.put(kSecretOcid, kNewSecret);
  world.accept_secret(kNewSecret);
  relay.daemon().signal(SIGHUP);
  REQUIRE(relay.daemon().wait_for_log("1 new or changed", 30s));
  CHECK(world.vault.server.request_count() == reads + 2);
  REQUIRE(client.post_event(event_with_id(3)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 3, 30s));
  const auto token_requests = world.idp.requests();
  REQUIRE(token_requests.size() == 2);
  CHECK(token_requests[1].headers.get("Authorization").value_or("") ==
        basic_auth(kClientId, kNewSecret));
  const std::string log = relay.log();
  CHECK(contains(log, "reload refused"));
  CHECK(contains(log, kSecretOcid));
  CHECK_FALSE(contains(log, kSecret));
  CHECK_FALSE(contains(log, kNewSecret));
}
