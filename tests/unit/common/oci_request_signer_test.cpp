// OCI request signatures: Oracle's published test values byte for byte, and
// the signing string's edge cases.
#include <catch2/catch.hpp>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "ocirelay/common/oci_private_key.hpp"
#include "ocirelay/common/oci_request_signer.hpp"
#include "support/fixtures.hpp"

using ocirelay::HeaderField;
using ocirelay::OciPrivateKey;
using ocirelay::OciRequest;
using ocirelay::OciRequestSigner;

namespace {

// The "Test Values" of Oracle's "Request Signatures" page.
const std::string kDocKeyId =
    "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq/"
    "ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq/"
    "20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34";
const std::string kDocDate = "Thu, 05 Jan 2014 21:31:40 GMT";
const std::string kDocHost = "iaas.us-phoenix-1.oraclecloud.com";
const std::string kDocGetTarget =
    "/20160918/instances?availabilityDomain=Pjwf%3A%20PHX-AD-1"
    "&compartmentId=ocid1.compartment.oc1.."
    "aaaaaaaam3we6vgnherjq5q2idnccdflvjsnog7mlr6rtdb25gilchfeyjxa"
    "&displayName=TeamXInstances"
    "&volumeId=ocid1.volume.oc1.phx.abyhqljrgvttnlx73nmrwfaux7kcvzfs3s66izvxf2h4lgvyndsdsnoiwr5q";
const std::string kDocGetSigningString =
    "date: " + kDocDate + "\n(request-target): get " + kDocGetTarget + "\nhost: " + kDocHost;
const std::string kDocGetAuthorization =
    "Signature version=\"1\",headers=\"date (request-target) host\",keyId=\"" + kDocKeyId +
    "\",algorithm=\"rsa-sha256\",signature=\"GBas7grhyrhSKHP6AVIj/h5/Vp8bd/peM79H9Wv8kjoaCivujVXl"
    "pbKLjMPeDUhxkFIWtTtLBj3sUzaFj34XE6YZAHc9r2DmE4pMwOAy/kiITcZxa1oHPOeRheC0jP2dqbTll8fmTZVwKZOK"
    "HYPtrLJIJQHJjNvxFWeHQjMaR7M=\"";
const std::string kDocPostTarget = "/20160918/volumeAttachments";
const std::string kDocPostHash = "V9Z20UJTvkvpJ50flBzKE32+6m2zJjweHpDMX/U4Uy0=";
const std::string kDocPostSigningString = "date: " + kDocDate + "\n(request-target): post " +
                                          kDocPostTarget + "\nhost: " + kDocHost +
                                          "\ncontent-length: 316"
                                          "\ncontent-type: application/json"
                                          "\nx-content-sha256: " +
                                          kDocPostHash;
const std::string kDocPostAuthorization =
    "Signature version=\"1\",headers=\"date (request-target) host content-length content-type "
    "x-content-sha256\",keyId=\"" +
    kDocKeyId +
    "\",algorithm=\"rsa-sha256\",signature=\"Mje8vIDPlwIHmD/cTDwRxE7HaAvBg16JnVcsuqaNRim23fFPgQfLo"
    "OOxae6WqKb1uPjYEl0qIdazWaBy/Ml8DRhqlocMwoSXv0fbukP8J5N80LCmzT/FFBvIvTB91XuXI3hYfP9Zt1l7S6ieVad"
    "HUfqBedWH0itrtPJBgKmrWso=\"";

OciPrivateKey doc_key() {
  auto key = OciPrivateKey::from_pem(ocirelay::test::fixture("oci/doc_sample_key.pem"), "");
  REQUIRE(key);
  return key.value();
}

std::string value_of(const std::vector<HeaderField>& headers, const std::string& name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  FAIL("no header " << name);
  return {};
}

}  // namespace

TEST_CASE("the documented GET test vector is reproduced byte for byte", "[oci_signature]") {
  const OciRequestSigner signer(kDocKeyId, doc_key());
  const std::vector<HeaderField> headers{{"date", kDocDate}};
  const OciRequest request{"GET", kDocGetTarget, kDocHost, headers, ""};

  auto signing = OciRequestSigner::signing_string(request);
  REQUIRE(signing);
  CHECK(signing->text == kDocGetSigningString);
  CHECK(signing->headers == "date (request-target) host");

  auto added = signer.sign(request, std::chrono::system_clock::now());
  REQUIRE(added);
  // The request has its date: only the Authorization header is added.
  REQUIRE(added->size() == 1);
  CHECK(value_of(*added, "authorization") == kDocGetAuthorization);
}

TEST_CASE("the documented POST test vector is reproduced byte for byte", "[oci_signature]") {
  const OciRequestSigner signer(kDocKeyId, doc_key());
  const std::string body = ocirelay::test::fixture("oci/doc_post_body.json");
  REQUIRE(body.size() == 316);
  const std::vector<HeaderField> headers{{"Date", kDocDate}, {"Content-Type", "application/json"}};
  const OciRequest request{"POST", kDocPostTarget, kDocHost, headers, body};

  auto signing = OciRequestSigner::signing_string(request);
  REQUIRE(signing);
  CHECK(signing->text == kDocPostSigningString);

  auto added = signer.sign(request, std::chrono::system_clock::now());
  REQUIRE(added);
  REQUIRE(added->size() == 2);
  CHECK(value_of(*added, "x-content-sha256") == kDocPostHash);
  CHECK(value_of(*added, "authorization") == kDocPostAuthorization);
}

TEST_CASE("the sample key has the fingerprint OCI would show for it", "[oci_signature]") {
  // Computed independently: openssl pkey -pubout -outform DER | openssl md5 -c
  CHECK(doc_key().fingerprint() == "73:61:a2:21:67:e0:df:be:7e:4b:93:1e:15:98:a5:b7");
}

TEST_CASE("the signing string keeps the target as sent and lowercases only the method",
          "[oci_signature]") {
  const std::vector<HeaderField> headers{{"DATE", kDocDate}, {"content-TYPE", "text/plain"}};
  SECTION("a query string with percent-encoding, '+', an empty value and a repeated key") {
    const OciRequest request{"DeLeTe", "/a%2Fb/c%20d?x=%41+b&y=&x=2", "h", headers, ""};
    auto signing = OciRequestSigner::signing_string(request);
    REQUIRE(signing);
    CHECK(signing->text ==
          "date: " + kDocDate + "\n(request-target): delete /a%2Fb/c%20d?x=%41+b&y=&x=2\nhost: h");
  }
  SECTION("a host with a port, and a lowercase post") {
    const OciRequest request{"post", "/ic/api/flow?x=1", "oic.example.com:8443", headers, "{}"};
    auto signing = OciRequestSigner::signing_string(request);
    REQUIRE(signing);
    CHECK(signing->text == "date: " + kDocDate +
                               "\n(request-target): post /ic/api/flow?x=1"
                               "\nhost: oic.example.com:8443"
                               "\ncontent-length: 2\ncontent-type: text/plain"
                               "\nx-content-sha256: RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=");
    CHECK(signing->headers ==
          "date (request-target) host content-length content-type x-content-sha256");
  }
  SECTION("an IPv6 host with its brackets, and PUT with an empty body") {
    const OciRequest request{"PUT", "/", "[::1]:8080", headers, ""};
    auto signing = OciRequestSigner::signing_string(request);
    REQUIRE(signing);
    CHECK(signing->text == "date: " + kDocDate +
                               "\n(request-target): put /\nhost: [::1]:8080"
                               "\ncontent-length: 0\ncontent-type: text/plain"
                               "\nx-content-sha256: 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  }
}

TEST_CASE("a request without what must be signed is refused", "[oci_signature]") {
  const std::vector<HeaderField> no_type{{"date", kDocDate}};
  const OciRequest post{"POST", "/", "h", no_type, "{}"};
  auto signing = OciRequestSigner::signing_string(post);
  REQUIRE_FALSE(signing);
  CHECK(signing.error().find("content-type") != std::string::npos);

  const std::vector<HeaderField> none;
  const OciRequest get{"GET", "/", "h", none, ""};
  REQUIRE_FALSE(OciRequestSigner::signing_string(get));
}

TEST_CASE("sign() adds an RFC 7231 date from the clock when the request has none",
          "[oci_signature]") {
  const OciRequestSigner signer(kDocKeyId, doc_key());
  const std::vector<HeaderField> headers{{"content-type", "application/json"}};
  const OciRequest request{"POST", "/x", "h", headers, "{}"};
  // 2014-01-05 21:31:40 UTC (a Sunday, whatever the documentation's date says).
  const auto at = std::chrono::system_clock::from_time_t(1388957500);
  auto added = signer.sign(request, at);
  REQUIRE(added);
  CHECK(value_of(*added, "date") == "Sun, 05 Jan 2014 21:31:40 GMT");
  CHECK(value_of(*added, "authorization")
            .find("headers=\"date (request-target) host content-length") != std::string::npos);
}

TEST_CASE("private keys: encrypted PEM, wrong passphrase and non-RSA keys", "[oci_signature]") {
  const std::string pem = ocirelay::test::fixture("oci/doc_sample_key.pem");
  CHECK_FALSE(OciPrivateKey::from_pem("not a key", ""));
  auto garbage = OciPrivateKey::from_pem(
      "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "");
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().find("AAAA") == std::string::npos);

  const std::string encrypted = ocirelay::test::fixture("oci/doc_sample_key_encrypted.pem");
  auto without = OciPrivateKey::from_pem(encrypted, "");
  REQUIRE_FALSE(without);
  CHECK(without.error() == "the key is encrypted and no passphrase is given");
  auto wrong = OciPrivateKey::from_pem(encrypted, "not the passphrase");
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().find("not the passphrase") == std::string::npos);
  auto right = OciPrivateKey::from_pem(encrypted, "test passphrase");
  REQUIRE(right);
  CHECK(right->fingerprint() == doc_key().fingerprint());

  auto ec = OciPrivateKey::from_pem(ocirelay::test::fixture("oci/ec_key.pem"), "");
  REQUIRE_FALSE(ec);
  CHECK(ec.error().find("not an RSA key") != std::string::npos);
}

TEST_CASE("request targets are percent-encoded as OCI expects, and stay so", "[oci_signature]") {
  using ocirelay::oci_request_target;
  // What RFC 3986 allows in a path and a query is kept as written.
  CHECK(oci_request_target(kDocGetTarget) == kDocGetTarget);
  CHECK(oci_request_target("/a-b._~!$&'()*+,;=:@/c?x=1&y=/z?") ==
        "/a-b._~!$&'()*+,;=:@/c?x=1&y=/z?");
  // Escapes already there keep their case; a stray '%' is escaped itself.
  CHECK(oci_request_target("/a%2fb%2F?q=%41") == "/a%2fb%2F?q=%41");
  CHECK(oci_request_target("/50%?off=100%") == "/50%25?off=100%25");
  CHECK(oci_request_target("/x%4") == "/x%254");
  CHECK(oci_request_target("/x%G1") == "/x%25G1");
  // Non-ASCII (UTF-8 bytes) and the characters a URI may not carry raw.
  CHECK(oci_request_target("/flows/caf\xc3\xa9") == "/flows/caf%C3%A9");
  CHECK(oci_request_target("/{id}/a|b^c`d\\e\"f<g>?h=[1]#2") ==
        "/%7Bid%7D/a%7Cb%5Ec%60d%5Ce%22f%3Cg%3E?h=%5B1%5D%232");
  CHECK(oci_request_target("/a b\t") == "/a%20b%09");

  // Properties over many generated targets: only allowed characters come
  // out, every '%' starts an escape, and encoding again changes nothing.
  std::uint64_t state = 0x9e3779b97f4a7c15ull;
  const auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  const std::string alphabet =
      std::string("/?%&=+#aZ09-._~!$'()*,;:@ \"<>\\^`{|}[]\x7f\x80\xc3\xa9\xff") +
      std::string(1, '\0');
  for (int n = 0; n < 2000; ++n) {
    std::string target = "/";
    const std::size_t length = next() % 24;
    for (std::size_t i = 0; i < length; ++i) target += alphabet[next() % alphabet.size()];
    const std::string once = oci_request_target(target);
    INFO(once);
    CHECK(oci_request_target(once) == once);
    for (std::size_t i = 0; i < once.size(); ++i) {
      const auto u = static_cast<unsigned char>(once[i]);
      REQUIRE(u > 0x20);
      REQUIRE(u < 0x7f);
      REQUIRE(std::string("\"<>\\^`{|}[]# ").find(once[i]) == std::string::npos);
      if (once[i] == '%') {
        REQUIRE(i + 2 < once.size());
        REQUIRE(std::isxdigit(static_cast<unsigned char>(once[i + 1])));
        REQUIRE(std::isxdigit(static_cast<unsigned char>(once[i + 2])));
      }
    }
    // The signing string carries the target exactly as it will be sent.
    const std::vector<HeaderField> headers{{"date", kDocDate}};
    auto signing = OciRequestSigner::signing_string(OciRequest{"GET", once, "h", headers, ""});
    REQUIRE(signing);
    CHECK(signing->text.find("\n(request-target): get " + once + "\n") != std::string::npos);
  }
}
