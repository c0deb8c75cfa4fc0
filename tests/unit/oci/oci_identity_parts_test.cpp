// The pure parts of the OCI identity: the security token's expiry, the
// endpoints' defaults, the region as the metadata service gives it, and the
// instance certificate's tenancy and fingerprint.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "ocirelay/common/oci_certificate.hpp"
#include "ocirelay/common/oci_private_key.hpp"
#include "ocirelay/oci/oci_endpoints.hpp"
#include "ocirelay/oci/security_token.hpp"
#include "support/fake_oci_identity.hpp"
#include "support/fixtures.hpp"
#include "support/oci_verifier.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay;
using namespace ocirelay::oci;

namespace {

std::string base64url(const std::string& text) {
  std::string out = test::base64_of(text);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

std::string jwt(const std::string& payload) {
  return base64url(R"({"alg":"RS256"})") + "." + base64url(payload) + ".c2ln";
}

}  // namespace

TEST_CASE("a security token's expiry is its JWT exp", "[oci]") {
  auto exp = jwt_expiry(jwt(R"({"sub":"x","exp":1767225600,"jti":"\u00e9?>"})"));
  REQUIRE(exp);
  CHECK(std::chrono::system_clock::to_time_t(*exp) == 1767225600);
  CHECK(jwt_expiry(jwt(R"({"exp":1767225600.9})")));

  CHECK_THAT(jwt_expiry("not-a-jwt").error(), Catch::Contains("not a JWT"));
  CHECK_THAT(jwt_expiry("a.!!!.c").error(), Catch::Contains("not base64url"));
  CHECK_THAT(jwt_expiry(jwt("[1]")).error(), Catch::Contains("not a JSON object"));
  CHECK_THAT(jwt_expiry(jwt(R"({"iat":1})")).error(), Catch::Contains("no expiry"));
  CHECK_THAT(jwt_expiry(jwt(R"({"exp":"1767225600"})")).error(), Catch::Contains("no expiry"));
  CHECK_THAT(jwt_expiry(jwt(R"({"exp":-5})")).error(), Catch::Contains("out of range"));
  CHECK_THAT(jwt_expiry(jwt(R"({"exp":1e300})")).error(), Catch::Contains("out of range"));
  // The token itself is never quoted.
  const std::string secret = jwt(R"({"nope":"s3cret"})");
  CHECK_THAT(jwt_expiry(secret).error(), !Catch::Contains("s3cret") && !Catch::Contains(secret));
}

TEST_CASE("OCI endpoints default from the region and its realm", "[oci]") {
  config::Oci oci;
  CHECK(federation_base(oci, "eu-frankfurt-1") == "https://auth.eu-frankfurt-1.oraclecloud.com");
  CHECK(secrets_base(oci, "eu-frankfurt-1") ==
        "https://secrets.vaults.eu-frankfurt-1.oci.oraclecloud.com");
  CHECK(federation_base(oci, "us-langley-1") == "https://auth.us-langley-1.oraclegovcloud.com");
  CHECK(federation_base(oci, "uk-gov-london-1") ==
        "https://auth.uk-gov-london-1.oraclegovcloud.uk");
  // A realm the region's name does not tell: its domain from regionInfo.
  CHECK(federation_base(oci, "eu-frankfurt-2", "oraclecloud.eu") ==
        "https://auth.eu-frankfurt-2.oraclecloud.eu");
  CHECK(secrets_base(oci, "eu-frankfurt-2", "oraclecloud.eu") ==
        "https://secrets.vaults.eu-frankfurt-2.oci.oraclecloud.eu");
  oci.endpoints.federation = "https://127.0.0.1:9443";
  oci.endpoints.secrets = "https://vault.example:8443/base";
  CHECK(federation_base(oci, "eu-frankfurt-1") == "https://127.0.0.1:9443");
  CHECK(secrets_base(oci, "") == "https://vault.example:8443/base");
}

TEST_CASE("the metadata service's region answer", "[oci]") {
  CHECK(region_from_metadata("eu-frankfurt-1\n").value() == "eu-frankfurt-1");
  CHECK(region_from_metadata("US-ASHBURN-1").value() == "us-ashburn-1");
  CHECK(region_from_metadata("fra").value() == "eu-frankfurt-1");
  CHECK(region_from_metadata("phx").value() == "us-phoenix-1");
  CHECK_FALSE(region_from_metadata(""));
  CHECK_FALSE(region_from_metadata("eu frankfurt"));
  CHECK_FALSE(region_from_metadata("<html>"));
}

TEST_CASE("the metadata service's regionInfo answer", "[oci]") {
  const auto info = region_info_from_metadata(
      R"({"realmKey":"oc19","realmDomainComponent":"oraclecloud.eu","regionKey":"FRA2",)"
      R"("regionIdentifier":"eu-frankfurt-2"})");
  REQUIRE(info);
  CHECK(info->region == "eu-frankfurt-2");
  CHECK(info->realm_domain == "oraclecloud.eu");
  const auto upper = region_info_from_metadata(
      R"({"realmDomainComponent":"OracleCloud.com","regionIdentifier":"fra"})");
  REQUIRE(upper);
  CHECK(upper->region == "eu-frankfurt-1");
  CHECK(upper->realm_domain == "oraclecloud.com");
  for (const char* bad :
       {"", "eu-frankfurt-1", "[]", R"({"regionIdentifier":"eu-frankfurt-1"})",
        R"({"realmDomainComponent":"oraclecloud.com"})",
        R"({"realmDomainComponent":"evil.com/x","regionIdentifier":"eu-frankfurt-1"})",
        R"({"realmDomainComponent":"com","regionIdentifier":"eu-frankfurt-1"})",
        R"({"realmDomainComponent":"a..b","regionIdentifier":"eu-frankfurt-1"})",
        R"({"realmDomainComponent":"oraclecloud.com","regionIdentifier":7})"}) {
    INFO(bad);
    CHECK_FALSE(region_info_from_metadata(bad));
  }
}

TEST_CASE("an instance certificate gives its tenancy, fingerprint and DER", "[oci]") {
  test::TempDir dir;
  const auto pki = test::make_test_pki(dir);
  const std::string tenancy = "ocid1.tenancy.oc1..aaaaaaaaunittenancy";
  const auto identity = test::make_instance_identity(dir, pki, "unit", tenancy);
  auto cert = OciCertificate::from_pem(identity.cert_pem);
  REQUIRE(cert);
  CHECK(cert->tenancy() == tenancy);
  CHECK(cert->sha1_fingerprint() == identity.sha1_fingerprint);
  CHECK(cert->der_base64() == test::pem_body(identity.cert_pem));

  // A certificate without the attribute has no tenancy.
  auto ca = OciCertificate::from_pem(test::read_file(pki.ca_cert));
  REQUIRE(ca);
  CHECK(ca->tenancy().empty());
  // Several certificates in one text.
  auto both = OciCertificate::all_from_pem(identity.cert_pem + test::read_file(pki.ca_cert));
  REQUIRE(both);
  CHECK(both->size() == 2);
  CHECK_FALSE(OciCertificate::from_pem("-----BEGIN CERTIFICATE-----\nnope\n"));

  // The instance key signs; a generated session key exports its public half.
  auto key = OciPrivateKey::from_pem(identity.key_pem, "");
  REQUIRE(key);
  CHECK(key->public_key_der_base64() == test::pem_body(identity.public_key_pem));
  auto session = OciPrivateKey::generate_rsa(2048);
  REQUIRE(session);
  const std::string public_der = session->public_key_der_base64();
  CHECK(public_der.size() > 300);
  CHECK(public_der.find('\n') == std::string::npos);
}
