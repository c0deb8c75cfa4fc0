// Deliveries signed with OCI request signatures (Signature Version 1) by an
// api_key principal, from the real daemon to a fake OIC trigger on 127.0.0.1
// over TLS. The fake verifies every request as OCI would: it rebuilds the
// signing string itself from what arrived, checks that `headers=` names every
// required header, that x-content-sha256 and content-length match the body,
// that the date is within five minutes, and verifies the RSA-SHA256
// signature with the public key (made by the openssl command, like the key
// itself). A request that fails any check gets 401.
#include <catch2/catch.hpp>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

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

std::string run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  std::array<char, 256> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe.get()) != nullptr) out += buf.data();
  return out;
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
  run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out " + k.key_file + q);
  run("openssl pkey -in " + k.key_file + " -aes-256-cbc -passout pass:" + kPassphrase + " -out " +
      k.encrypted_key_file + q);
  run("openssl pkey -in " + k.key_file + " -pubout -out " + pub + q);
  k.public_key_pem = read_file(pub);
  // "MD5(stdin)= 20:3b:..." (OpenSSL 3) or "(stdin)= ..." (older).
  const std::string md5 =
      run("openssl pkey -in " + k.key_file + " -pubout -outform DER | openssl md5 -c");
  const auto eq = md5.find("= ");
  if (eq == std::string::npos) throw std::runtime_error("openssl md5 failed: " + md5);
  k.fingerprint = md5.substr(eq + 2, 47);
  return k;
}

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::string sha256_b64(const std::string& body) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  EVP_Digest(body.data(), body.size(), md.data(), &n, EVP_sha256(), nullptr);
  return base64(md.data(), n);
}

std::vector<unsigned char> unbase64(const std::string& text) {
  std::vector<unsigned char> out(text.size());
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return {};
  std::size_t len = static_cast<std::size_t>(n);
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() > 1 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

// The key="value" parameters of an `Authorization: Signature ...` header.
std::map<std::string, std::string> signature_params(const std::string& header) {
  std::map<std::string, std::string> out;
  if (header.rfind("Signature ", 0) != 0) return out;
  std::size_t at = 10;
  while (at < header.size()) {
    const auto eq = header.find("=\"", at);
    if (eq == std::string::npos) break;
    const auto end = header.find('"', eq + 2);
    if (end == std::string::npos) break;
    out[header.substr(at, eq - at)] = header.substr(eq + 2, end - eq - 2);
    at = end + 1;
    if (at < header.size() && header[at] == ',') ++at;
  }
  return out;
}

bool rsa_sha256_verifies(const std::string& public_pem, const std::string& text,
                         const std::vector<unsigned char>& signature) {
  std::unique_ptr<BIO, int (*)(BIO*)> bio(
      BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!key || !ctx) return false;
  return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(text.data()), text.size()) == 1;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Why OCI would refuse this request (empty: it verifies).
std::string oci_verification_problem(const RecordedRequest& r, const std::string& key_id,
                                     const std::string& public_pem) {
  const auto params = signature_params(std::string(r.headers.get("Authorization").value_or("")));
  if (params.empty()) return "no Signature authorization";
  if (params.count("version") == 0 || params.at("version") != "1") return "version is not 1";
  if (params.count("algorithm") == 0 || params.at("algorithm") != "rsa-sha256") return "algorithm";
  if (params.count("keyId") == 0 || params.at("keyId") != key_id) return "wrong keyId";
  if (params.count("headers") == 0 || params.count("signature") == 0) return "incomplete";
  const std::string& listed = params.at("headers");
  for (const char* required :
       {"date", "(request-target)", "host", "content-length", "content-type", "x-content-sha256"}) {
    if (!contains(" " + listed + " ", std::string(" ") + required + " ")) {
      return std::string("headers= lacks ") + required;
    }
  }
  if (r.headers.get("x-content-sha256").value_or("") != sha256_b64(r.body)) return "body hash";
  if (r.headers.get("Content-Length").value_or("") != std::to_string(r.body.size())) {
    return "content-length";
  }
  std::tm tm{};
  const std::string date(r.headers.get("date").value_or(""));
  const char* end = ::strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return "date is not RFC 7231: " + date;
  if (std::abs(std::difftime(::timegm(&tm), std::time(nullptr))) > 300) return "date skewed";

  // The signing string, rebuilt from the request as it arrived.
  std::string text;
  std::size_t at = 0;
  while (at <= listed.size()) {
    auto space = listed.find(' ', at);
    if (space == std::string::npos) space = listed.size();
    const std::string name = listed.substr(at, space - at);
    if (!text.empty()) text += '\n';
    if (name == "(request-target)") {
      text += "(request-target): " + lower(r.method) + " " + r.target;
    } else {
      const auto value = r.headers.get(name);
      if (!value) return "signed header " + name + " is absent";
      text += name + ": " + std::string(*value);
    }
    at = space + 1;
  }
  if (!rsa_sha256_verifies(public_pem, text, unbase64(params.at("signature")))) {
    return "signature does not verify";
  }
  return {};
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
                          const std::string& passphrase_line = {}) {
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
         "    auth: { type: oci_signature }\n"
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
