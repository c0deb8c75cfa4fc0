// The `oci:` section (principal, api_key) and destinations with
// `auth: { type: oci_signature }`: what loads, and every error with its key
// path; the passphrase and the key never appear in a message.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "ocirelay/config/loader.hpp"
#include "support/fixtures.hpp"
#include "support/temp_dir.hpp"
#include "unit/config/config_test_support.hpp"
#include "unit/config/fake_secrets.hpp"

using namespace ocirelay;
using namespace ocirelay::config;
using ocirelay::test::dump;
using ocirelay::test::fake_secrets;
using ocirelay::test::fixture_path;

namespace {

const std::string kTenancy =
    "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq";
const std::string kUser =
    "ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq";
// The sample key's real fingerprint (the documentation signs with another).
const std::string kFingerprint = "73:61:a2:21:67:e0:df:be:7e:4b:93:1e:15:98:a5:b7";
const std::string kPassphrase = "test passphrase";

const SecretSources& secrets() {
  static const SecretSources s =
      fake_secrets({{"KEY_PASSPHRASE", kPassphrase}, {"WRONG", "n0t-1t"}});
  return s;
}

Result<Config, ConfigErrors> parse(const std::string& text) {
  return parse_config(text, "test.yaml", secrets());
}

std::string api_key(const std::string& key_file = fixture_path("oci/doc_sample_key.pem"),
                    const std::string& extra = "", const std::string& fingerprint = kFingerprint) {
  return "  api_key:\n    tenancy: " + kTenancy + "\n    user: " + kUser + "\n    fingerprint: \"" +
         fingerprint + "\"\n    key_file: " + key_file + "\n" + extra;
}

std::string destination(const std::string& auth) {
  return "destinations:\n  - name: oic\n    url: https://oic.example.com:8443/ic/api/flow\n"
         "    auth: " +
         auth + "\n";
}

// The one error of `text`, at `path`, containing `message`.
ConfigError only_error(const std::string& text, const std::string& path,
                       const std::string& message) {
  auto result = parse(text);
  INFO(text);
  REQUIRE_FALSE(result.ok());
  INFO(dump(result.error()));
  REQUIRE(result.error().size() == 1);
  const ConfigError e = result.error()[0];
  CHECK(e.path == path);
  CHECK_THAT(e.message, Catch::Contains(message));
  CHECK(e.file == "test.yaml");
  return e;
}

}  // namespace

TEST_CASE("no oci section: principal none and no key", "[config][oci]") {
  const Config c = test::parse_ok("log: { level: info }\n", "test.yaml", secrets());
  CHECK(c.oci.principal == OciPrincipal::none);
  CHECK_FALSE(c.oci.api_key);
}

TEST_CASE("an api_key principal loads, and its destinations get the key", "[config][oci]") {
  const Config c = test::parse_ok(
      "oci:\n  principal: api_key\n" + api_key() + destination("{ type: oci_signature }"),
      "test.yaml", secrets());
  CHECK(c.oci.principal == OciPrincipal::api_key);
  REQUIRE(c.oci.api_key);
  CHECK(c.oci.api_key->tenancy == kTenancy);
  CHECK(c.oci.api_key->user == kUser);
  CHECK(c.oci.api_key->fingerprint == kFingerprint);
  CHECK(c.oci.api_key->key_pem == test::fixture("oci/doc_sample_key.pem"));
  REQUIRE(c.destinations.size() == 1);
  const DestinationAuth& auth = c.destinations[0].auth;
  CHECK(auth.type == DestinationAuth::Type::oci_signature);
  CHECK(auth.principal == OciPrincipal::api_key);
  CHECK(auth.api_key == *c.oci.api_key);
}

TEST_CASE("a passphrase-protected key loads with its passphrase from a secret reference",
          "[config][oci]") {
  const Config c = test::parse_ok(
      "oci:\n  principal: api_key\n" + api_key(fixture_path("oci/doc_sample_key_encrypted.pem"),
                                               "    passphrase: \"${env:KEY_PASSPHRASE}\"\n"),
      "test.yaml", secrets());
  REQUIRE(c.oci.api_key);
  CHECK(c.oci.api_key->passphrase == kPassphrase);
}

TEST_CASE("a destination may name the principal while oci.principal is none", "[config][oci]") {
  const Config c = test::parse_ok(
      "oci:\n" + api_key() + destination("{ type: oci_signature, principal: api_key }"),
      "test.yaml", secrets());
  CHECK(c.oci.principal == OciPrincipal::none);
  CHECK(c.destinations[0].auth.principal == OciPrincipal::api_key);
}

TEST_CASE("oci_signature without a principal names both keys", "[config][oci]") {
  const auto e = only_error(destination("{ type: oci_signature }"), "destinations[0].auth.type",
                            "oci.principal is none");
  CHECK_THAT(e.message, Catch::Contains("auth.principal"));
  only_error("oci: { principal: none }\n" + destination("{ type: oci_signature }"),
             "destinations[0].auth.type", "oci.principal");
  only_error(destination("{ type: oci_signature, principal: api_key }"),
             "destinations[0].auth.principal", "needs the oci.api_key section");
}

TEST_CASE("an instance principal needs no key, and its destinations get the oci settings",
          "[config][oci]") {
  const Config c = test::parse_ok(
      "oci:\n  principal: instance\n  endpoints: { federation: \"https://127.0.0.1:9443\" }\n" +
          destination("{ type: oci_signature }"),
      "test.yaml", secrets());
  CHECK(c.oci.principal == OciPrincipal::instance);
  const DestinationAuth& auth = c.destinations[0].auth;
  CHECK(auth.principal == OciPrincipal::instance);
  CHECK(auth.oci == c.oci);
  // A destination may pick the instance principal while oci.principal is none.
  const Config d = test::parse_ok(destination("{ type: oci_signature, principal: instance }"),
                                  "test.yaml", secrets());
  CHECK(d.destinations[0].auth.principal == OciPrincipal::instance);
  only_error("oci: { principal: instance }\n" + destination("{ type: oci_signature }") +
                 "    headers: { x-content-sha256: x }\n",
             "destinations[0].headers.x-content-sha256", "set by the OCI signature");
}

TEST_CASE("principals are checked", "[config][oci]") {
  only_error("oci: { principal: root }", "oci.principal",
             "bad principal 'root'; expected instance, api_key or none");
  only_error("oci: { principal: api_key }", "oci.principal", "needs the oci.api_key section");
  only_error("oci:\n" + api_key() + destination("{ type: oci_signature, principal: none }"),
             "destinations[0].auth.principal", "expected instance or api_key");
  only_error("oci:\n  principal: api_key\n" + api_key() +
                 destination("{ type: basic, username: u, password: p, principal: api_key }"),
             "destinations[0].auth.principal", "only used with type: oci_signature");
  only_error("oci:\n  principal: api_key\n" + api_key() +
                 destination("{ type: oci_signature, username: u }"),
             "destinations[0].auth.username", "only used with type: basic");
}

TEST_CASE("api_key values are checked", "[config][oci]") {
  const std::string head = "oci:\n  principal: api_key\n";
  only_error(head + api_key(fixture_path("oci/doc_sample_key.pem"), "", "73:61:a2"),
             "oci.api_key.fingerprint", "expected 16 colon-separated hex bytes");
  const auto mismatch =
      only_error(head + api_key(fixture_path("oci/doc_sample_key.pem"), "",
                                "20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34"),
                 "oci.api_key.fingerprint", "is not the key's");
  CHECK_THAT(mismatch.message, Catch::Contains(kFingerprint));
  only_error(head + api_key("/nonexistent/key.pem"), "oci.api_key.key_file",
             "cannot read OCI API private key file '/nonexistent/key.pem'");
  only_error(head + api_key(fixture_path("oci/ec_key.pem")), "oci.api_key.key_file",
             "not an RSA key");
  only_error(head + api_key(fixture_path("oci/doc_post_body.json")), "oci.api_key.key_file",
             "not a PEM private key");
  only_error(head + api_key(fixture_path("oci/doc_sample_key_encrypted.pem")),
             "oci.api_key.key_file", "the key is encrypted and no passphrase is given");
  const auto wrong =
      only_error(head + api_key(fixture_path("oci/doc_sample_key_encrypted.pem"),
                                "    passphrase: \"${env:WRONG}\"\n"),
                 "oci.api_key.key_file", "cannot decrypt the key with the passphrase given");
  CHECK_THAT(wrong.message, !Catch::Contains("n0t-1t"));
  CHECK_THAT(wrong.message, !Catch::Contains("ENCRYPTED"));

  auto missing = parse("oci:\n  api_key: { key_file: x }\n");
  REQUIRE_FALSE(missing.ok());
  const std::string all = dump(missing.error());
  for (const std::string key : {"tenancy", "user", "fingerprint"}) {
    CHECK_THAT(all,
               Catch::Contains("oci.api_key." + key + ": required key '" + key + "' is missing"));
  }
  const std::string bad_ocid =
      "oci:\n  api_key:\n    tenancy: ocid1.user.oc1..aaa\n    user: " + kUser +
      "\n    fingerprint: \"" + kFingerprint +
      "\"\n    key_file: " + fixture_path("oci/doc_sample_key.pem") + "\n";
  only_error(bad_ocid, "oci.api_key.tenancy", "bad tenancy OCID 'ocid1.user.oc1..aaa'");
}

TEST_CASE("a destination signed by OCI cannot set the headers the signature sets",
          "[config][oci]") {
  only_error("oci:\n  principal: api_key\n" + api_key() + destination("{ type: oci_signature }") +
                 "    headers: { Date: x }\n",
             "destinations[0].headers.Date", "set by the OCI signature");
}

TEST_CASE("oci endpoints, region and ca_file: defaults, and what is accepted", "[config][oci]") {
  const Config d = test::parse_ok("log: { level: info }\n", "test.yaml", secrets());
  CHECK(d.oci.endpoints.metadata == "http://169.254.169.254/opc/v2");
  CHECK(d.oci.endpoints.federation.empty());
  CHECK(d.oci.endpoints.secrets.empty());
  CHECK(d.oci.region.empty());
  CHECK(d.oci.ca_file.empty());

  const Config c = test::parse_ok(
      "oci:\n  region: eu-frankfurt-1\n  ca_file: " + fixture_path("oci/doc_sample_key.pem") +
          "\n  endpoints:\n    metadata: http://127.0.0.1:8080/opc/v2/\n"
          "    federation: https://127.0.0.1:9443\n    secrets: https://vault.example.com:8443/\n",
      "test.yaml", secrets());
  CHECK(c.oci.region == "eu-frankfurt-1");
  CHECK(c.oci.ca_file == fixture_path("oci/doc_sample_key.pem"));
  CHECK(c.oci.endpoints.metadata == "http://127.0.0.1:8080/opc/v2");
  CHECK(c.oci.endpoints.federation == "https://127.0.0.1:9443");
  CHECK(c.oci.endpoints.secrets == "https://vault.example.com:8443");

  // Written out, the default metadata address is fine; no other link-local one.
  test::parse_ok("oci: { endpoints: { metadata: \"http://169.254.169.254/opc/v2\" } }\n",
                 "test.yaml", secrets());
  only_error("oci: { endpoints: { metadata: \"http://169.254.169.253/opc/v2\" } }",
             "oci.endpoints.metadata", "is a link-local address");
  only_error("oci: { endpoints: { secrets: \"https://169.254.1.1\" } }", "oci.endpoints.secrets",
             "is a link-local address");
  // The metadata address is the metadata service's only: not another endpoint.
  only_error("oci: { endpoints: { federation: \"http://169.254.169.254/opc/v2\" } }",
             "oci.endpoints.federation", "is a link-local address");
  only_error("oci: { endpoints: { secrets: \"http://[fe80::1]:80\" } }", "oci.endpoints.secrets",
             "is a link-local address");
  only_error("oci: { endpoints: { federation: \"https://h/x?y=1\" } }", "oci.endpoints.federation",
             "takes no query");
  only_error("oci: { endpoints: { federation: \"ftp://h\" } }", "oci.endpoints.federation",
             "bad URL 'ftp://h'");
  only_error("oci: { region: Frankfurt }", "oci.region", "bad region 'Frankfurt'");
  only_error("oci: { ca_file: /nonexistent/ca.pem }", "oci.ca_file", "/nonexistent/ca.pem");
}

namespace {

const std::string kSecretOcid = "ocid1.vaultsecret.oc1.eu-frankfurt-1.amaaaaaatestsecret";

// A Vault with one secret, recording the principal and OCID of each lookup.
struct FakeVault {
  std::vector<std::pair<OciPrincipal, std::string>> calls;
  SecretSources sources() {
    SecretSources s = fake_secrets({{"KEY_PASSPHRASE", kPassphrase}});
    s.vault = [this](const Oci& oci, const std::string& ocid) -> Result<std::string, std::string> {
      calls.emplace_back(oci.principal, ocid);
      if (ocid == kSecretOcid) return std::string("vault-s3cret");
      if (ocid.ends_with("passphrase")) return kPassphrase;
      return fail(std::string("https://secrets.example: HTTP 404 (NotAuthorizedOrNotFound)"));
    };
    return s;
  }
};

std::string oauth_destination(const std::string& secret) {
  return "destinations:\n  - name: oic\n    url: https://oic.example.com/flow\n"
         "    auth: { type: oauth2, token_url: \"https://idcs.example.com/oauth2/v1/token\", "
         "client_id: relay, client_secret: \"" +
         secret + "\", scope: s }\n";
}

}  // namespace

TEST_CASE("${vault:} secrets are fetched once each with the oci section's principal",
          "[config][oci][vault]") {
  FakeVault vault;
  const SecretSources sources = vault.sources();
  // The oci section comes last in the file, and is still read first.
  const Config c = test::parse_ok(oauth_destination("${vault:" + kSecretOcid + "}") +
                                      "server:\n  auth:\n    basic:\n      - { username: u, "
                                      "password: \"x-${vault:" +
                                      kSecretOcid + "}\" }\noci:\n  principal: instance\n",
                                  "test.yaml", sources);
  CHECK(c.destinations[0].auth.client_secret == "vault-s3cret");
  REQUIRE(vault.calls.size() == 1);
  CHECK(vault.calls[0].first == OciPrincipal::instance);
  CHECK(vault.calls[0].second == kSecretOcid);
}

TEST_CASE("a ${vault:} secret loses its trailing newlines, as a ${file:} one does",
          "[config][oci][vault]") {
  SecretSources sources = fake_secrets({});
  sources.vault = [](const Oci&, const std::string&) -> Result<std::string, std::string> {
    return std::string("pass word\r\n\n");  // stored as `echo ... | base64`
  };
  const Config c = test::parse_ok(
      oauth_destination("${vault:" + kSecretOcid + "}") + "oci:\n  principal: instance\n",
      "test.yaml", sources);
  CHECK(c.destinations[0].auth.client_secret == "pass word");
}

TEST_CASE("a ${vault:} secret that cannot be read is an error naming the OCID and the status",
          "[config][oci][vault]") {
  FakeVault vault;
  const std::string missing = "ocid1.vaultsecret.oc1..missing";
  auto r =
      parse_config("oci: { principal: instance }\n" + oauth_destination("${vault:" + missing + "}"),
                   "test.yaml", vault.sources());
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.error().size() == 1);
  CHECK(r.error()[0].path == "destinations[0].auth.client_secret");
  CHECK_THAT(r.error()[0].message, Catch::Contains(missing) && Catch::Contains("HTTP 404"));

  // No principal to fetch it with.
  auto none =
      parse_config(oauth_destination("${vault:" + kSecretOcid + "}"), "test.yaml", vault.sources());
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.error()[0].message, Catch::Contains("needs an OCI principal"));
  // Not in the settings that say how to reach the Vault.
  auto inside =
      parse_config("oci: { principal: instance, region: \"${vault:" + kSecretOcid + "}\" }\n",
                   "test.yaml", vault.sources());
  REQUIRE_FALSE(inside.ok());
  CHECK(inside.error()[0].path == "oci.region");
  CHECK_THAT(inside.error()[0].message, Catch::Contains("cannot be used in the oci section"));
  CHECK(vault.calls.size() == 1);  // only the first case got as far as the Vault
}

TEST_CASE("an api_key passphrase may come from the Vault through the instance principal",
          "[config][oci][vault]") {
  FakeVault vault;
  const std::string passphrase = "    passphrase: \"${vault:ocid1.vaultsecret.oc1..passphrase}\"\n";
  const Config c =
      test::parse_ok("oci:\n  principal: instance\n" +
                         api_key(fixture_path("oci/doc_sample_key_encrypted.pem"), passphrase),
                     "test.yaml", vault.sources());
  REQUIRE(c.oci.api_key);
  CHECK(c.oci.api_key->passphrase == kPassphrase);
  // With the api_key principal, the key would be needed to reach the Vault.
  auto r = parse_config("oci:\n  principal: api_key\n" +
                            api_key(fixture_path("oci/doc_sample_key_encrypted.pem"), passphrase),
                        "test.yaml", vault.sources());
  REQUIRE_FALSE(r.ok());
  CHECK(r.error()[0].path == "oci.api_key.passphrase");
  CHECK_THAT(r.error()[0].message, Catch::Contains("cannot come from the Vault itself"));
}
