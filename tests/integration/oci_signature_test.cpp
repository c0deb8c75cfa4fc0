// Deliveries signed with OCI request signatures (Signature Version 1) by an
// api_key principal, from the real daemon to a fake OIC trigger on 127.0.0.1
// over TLS. The fake verifies every request as OCI would: it rebuilds the
// signing string itself from what arrived, checks that `headers=` names every
// required header, that x-content-sha256 and content-length match the body,
// that the date is within five minutes, and verifies the RSA-SHA256
// signature with the public key (made by the openssl command, like the key
// itself). A request that fails any check gets 401.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/daemon_process.hpp"
#include "support/fake_http_server.hpp"
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

constexpr const char* kFlow = "/ic/api/integration/v1/flows/rest/project/P/EVT/1.0/event?x=a%20b";
constexpr const char* kTenancy = "ocid1.tenancy.oc1..aaaaaaaarelaytesttenancy";
constexpr const char* kUser = "ocid1.user.oc1..aaaaaaaarelaytestuser";
constexpr const char* kPassphrase = "p4ss-phr4se-Qz7";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// An RSA API key made by the openssl command: the private key (plain and
// encrypted with kPassphrase), the public key and the fingerprint OCI shows.
struct ApiKey {
  std::string key_file;
  std::string encrypted_key_file;
  std::string public_key_pem;
  std::string fingerprint;
};

ApiKey make_api_key(const TempDir& dir, const std::string& name) {
  ApiKey k;
  k.key_file = dir.file(name + ".pem");
  k.encrypted_key_file = dir.file(name + "-encrypted.pem");
  const std::string pub = dir.file(name + "-public.pem");
  const std::string q = " 2>&1";
  run_command("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + k.key_file +
              q);
  run_command("openssl pkey -in " + k.key_file + " -aes-256-cbc -passout pass:" + kPassphrase +
              " -out " + k.encrypted_key_file + q);
  run_command("openssl pkey -in " + k.key_file + " -pubout -out " + pub + q);
  k.public_key_pem = read_file(pub);
  // "MD5(stdin)= 20:3b:..." (OpenSSL 3) or "(stdin)= ..." (older).
  const std::string md5 =
      run_command("openssl pkey -in " + k.key_file + " -pubout -outform DER | openssl md5 -c");
  const auto eq = md5.find("= ");
  if (eq == std::string::npos) throw std::runtime_error("openssl md5 failed: " + md5);
  k.fingerprint = md5.substr(eq + 2, 47);
  return k;
}

// A fake OIC trigger that answers 202 to verified requests and 401 to the
// others, remembering why.
struct VerifyingOic {
  TempDir dir;
  TestPki pki = make_test_pki(dir);
  FakeHttpServer server{{pki.server_cert, pki.server_key}};
  std::mutex mutex;
  std::vector<std::string> problems;

  void verify_with(const std::string& key_id, const std::string& public_pem) {
    server.set_script([this, key_id, public_pem](const RecordedRequest& r, std::size_t) {
      const std::string problem = oci_verification_problem(r, key_id, public_pem);
      if (problem.empty()) return Reply{Response{202, {}, {}, false}, {}};
      const std::lock_guard lock(mutex);
      problems.push_back(problem);
      return Reply{ocirelay::http::error_response(401, "NotAuthenticated"), {}};
    });
  }
  std::vector<std::string> seen_problems() {
    const std::lock_guard lock(mutex);
    return problems;
  }
};

// clang-format off
std::string signed_config(const VerifyingOic& oic, const ApiKey& key, const std::string& key_file,
                          const std::string& passphrase_line = {},
                          const std::string& destination_lines = {}) {
  return "oci:\n"
         "  principal: api_key\n"
         "  api_key:\n"
         "    tenancy: " + std::string(kTenancy) + "\n"
         "    user: " + std::string(kUser) + "\n"
         "    fingerprint: \"" + key.fingerprint + "\"\n"
         "    key_file: " + key_file + "\n" +
         passphrase_line +
         "destinations:\n"
         "  - name: oic\n"
         "    url: " + oic.server.url(kFlow) + "\n"
         "    retry: { initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }\n"
         "    tls: { ca_file: " + oic.pki.ca_cert + " }\n"
         "    auth: { type: oci_signature }\n" +
         destination_lines +
         "routes:\n  - { name: all, destinations: [oic] }\n";
}
// clang-format on

std::string key_id(const ApiKey& key) {
  return std::string(kTenancy) + "/" + kUser + "/" + key.fingerprint;
}

// A line of the private key's base64 body, which must never be logged.
std::string key_body_line(const std::string& key_file) {
  const std::string pem = read_file(key_file);
  const auto start = pem.find('\n') + 1;
  return pem.substr(start, 40);
}

}  // namespace

TEST_CASE("oci_signature: deliveries are signed by the api_key principal and verify",
          "[oci_signature]") {
  VerifyingOic oic;
  const ApiKey key = make_api_key(oic.dir, "api");
  oic.verify_with(key_id(key), key.public_key_pem);
  RelayHarness relay(signed_config(oic, key, key.key_file));
  relay.start();
  TestClient client(relay.port());
  for (long i = 0; i < 5; ++i) REQUIRE(client.post_event(event_with_id(i)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 5, 30s));
  REQUIRE(wait_until_settled(relay, "oic", 30s));

  INFO(::Catch::Detail::stringify(oic.seen_problems()));
  CHECK(oic.seen_problems().empty());
  const auto requests = oic.server.requests();
  REQUIRE(requests.size() == 5);
  for (const auto& r : requests) {
    CHECK(r.target == "/ic/api/integration/v1/flows/rest/project/P/EVT/1.0/event?x=a%20b");
    CHECK(r.headers.get("Idempotency-Key"));
  }
  const std::string log = relay.log();
  CHECK(contains(log, "auth oci_signature"));
  CHECK_FALSE(contains(log, key_body_line(key.key_file)));
  CHECK_FALSE(contains(log, "PRIVATE KEY"));
}

TEST_CASE("oci_signature: a batch request is signed over its whole body and verifies",
          "[oci_signature][batch]") {
  VerifyingOic oic;
  const ApiKey key = make_api_key(oic.dir, "api");
  oic.verify_with(key_id(key), key.public_key_pem);
  RelayHarness relay(
      signed_config(oic, key, key.key_file, {}, "    batch: { max_events: 4, max_wait: 300ms }\n"));
  relay.start();
  TestClient client(relay.port());
  for (long i = 0; i < 10; ++i) REQUIRE(client.post_event(event_with_id(i)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 10, 30s));
  REQUIRE(wait_until_settled(relay, "oic", 30s));

  INFO(::Catch::Detail::stringify(oic.seen_problems()));
  CHECK(oic.seen_problems().empty());
  const auto requests = oic.server.requests();
  REQUIRE(requests.size() >= 3);
  REQUIRE(requests.size() < 10);
  long events = 0;
  for (const auto& r : requests) {
    const auto count = r.headers.get("X-Event-Count");
    REQUIRE(count);
    events += std::stol(std::string(*count));
    // The signature covers the batch body: x-content-sha256 is checked
    // against it by the verifier, and the body is the envelope.
    CHECK(r.body.rfind("{\"events\":[", 0) == 0);
    const auto key_header = r.headers.get("Idempotency-Key");
    REQUIRE(key_header);
    CHECK(std::string(*key_header).rfind("batch-", 0) == 0);
  }
  CHECK(events == 10);
}

TEST_CASE("oci_signature: a passphrase-protected key signs with its passphrase",
          "[oci_signature]") {
  VerifyingOic oic;
  const ApiKey key = make_api_key(oic.dir, "api");
  oic.verify_with(key_id(key), key.public_key_pem);
  RelayHarness relay(signed_config(oic, key, key.encrypted_key_file,
                                   "    passphrase: \"${env:OCI_KEY_PASSPHRASE}\"\n"));
  relay.options().extra_env.push_back(std::string("OCI_KEY_PASSPHRASE=") + kPassphrase);
  relay.start();
  TestClient client(relay.port());
  for (long i = 0; i < 3; ++i) REQUIRE(client.post_event(event_with_id(i)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "delivered", "2xx"), 3, 30s));
  REQUIRE(wait_until_settled(relay, "oic", 30s));
  CHECK(oic.seen_problems().empty());
  CHECK(oic.server.request_count() == 3);
  const std::string log = relay.log();
  CHECK_FALSE(contains(log, kPassphrase));
  CHECK_FALSE(contains(log, key_body_line(key.encrypted_key_file)));
}

TEST_CASE("oci_signature: a signature the trigger cannot verify gets 401 and is retried",
          "[oci_signature]") {
  VerifyingOic oic;
  const ApiKey key = make_api_key(oic.dir, "api");
  const ApiKey other = make_api_key(oic.dir, "other");
  // The trigger knows another public key under this keyId: nothing verifies.
  oic.verify_with(key_id(key), other.public_key_pem);
  RelayHarness relay(signed_config(oic, key, key.key_file));
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(event_with_id(1)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "retry", "4xx"), 2, 30s));
  CHECK(attempts(relay, "oic", "delivered", "2xx") == 0);
  const auto problems = oic.seen_problems();
  REQUIRE_FALSE(problems.empty());
  CHECK(problems.front() == "signature does not verify");
}

TEST_CASE("oci_signature: check-config names both keys when no principal is configured",
          "[oci_signature][cli]") {
  TempDir dir;
  const std::string path = dir.write("oci.yaml",
                                     "destinations:\n"
                                     "  - name: oic\n"
                                     "    url: https://oic.example.com/flow\n"
                                     "    auth: { type: oci_signature }\n"
                                     "routes:\n  - { name: r, destinations: [oic] }\n");
  auto r = run_ocirelayd({"--check-config", "--config", path});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(contains(r.output, path));
  CHECK(contains(r.output, "destinations[0].auth.type"));
  CHECK(contains(r.output, "oci.principal"));

  const ApiKey key = make_api_key(dir, "api");
  const std::string good = dir.write(
      "good.yaml", "oci:\n  principal: api_key\n  api_key:\n    tenancy: " + std::string(kTenancy) +
                       "\n    user: " + kUser + "\n    fingerprint: \"" + key.fingerprint +
                       "\"\n    key_file: " + key.encrypted_key_file +
                       "\n    passphrase: \"${env:OCI_KEY_PASSPHRASE}\"\n"
                       "destinations:\n  - name: oic\n    url: https://oic.example.com/flow\n"
                       "    auth: { type: oci_signature }\n"
                       "routes:\n  - { name: r, destinations: [oic] }\n");
  auto ok = run_ocirelayd({"--check-config", "--config", good}, 30s,
                          {std::string("OCI_KEY_PASSPHRASE=") + kPassphrase});
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  auto wrong =
      run_ocirelayd({"--check-config", "--config", good}, 30s, {"OCI_KEY_PASSPHRASE=not-it"});
  INFO(wrong.output);
  CHECK(wrong.exit_code == 2);
  CHECK(contains(wrong.output, "oci.api_key.key_file"));
  CHECK_FALSE(contains(wrong.output, "not-it"));
}
