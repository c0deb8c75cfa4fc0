// Fakes of the OCI services behind the instance principal, on 127.0.0.1:
// the instance metadata service v2 (plain HTTP, as the real one) and the
// federation endpoint (HTTPS with the test CA's server certificate).
//
// - The metadata fake answers only GETs with `Authorization: Bearer Oracle`
//   (401 otherwise): /opc/v2/instance/region, /opc/v2/instance/regionInfo/
//   (unless set_region_info(false)), /opc/v2/identity/cert.pem,
//   /opc/v2/identity/intermediate.pem (the test CA) and /opc/v2/identity/key.pem,
//   from the identity it currently serves (serve() swaps it: a rotation).
// - The federation fake accepts `POST /v1/x509` only when it verifies as the
//   real one would: signed (oci_verifier.hpp) with keyId
//   `<tenancy>/fed-x509/<SHA-1 of the certificate>` by the key of an identity
//   it knows, with a body whose `certificate` is that identity's certificate
//   (base64 DER), `intermediateCertificates` the test CA and `publicKey` an
//   RSA public key. It answers {"token": <JWT>} whose exp is now + lifetime,
//   and remembers each token's session key, so a fake OIC or Vault can verify
//   keyId="ST$<token>" signatures. Anything else gets 401 with the reason
//   recorded. set_down(true) answers 503 to everything.
//
// Thread contract: the scripts run on the servers' threads; the state is
// read from the test thread under a mutex.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/test_pki.hpp"

namespace ocirelay::test {

class FakeOciIdentity {
 public:
  FakeOciIdentity(const TestPki& pki, std::string tenancy, InstanceIdentity first);

  FakeHttpServer metadata;
  FakeHttpServer federation;

  // The metadata service serves `identity` from now on (the old one stays
  // known to the federation fake, as a certificate still valid).
  void serve(InstanceIdentity identity);
  void set_token_lifetime(std::chrono::seconds lifetime);
  void set_down(bool down);
  // Whether /instance/regionInfo/ is served (404 otherwise, as by an older
  // metadata service); served by default.
  void set_region_info(bool served);
  // What /instance/regionInfo/ answers instead of the well-formed JSON.
  void set_region_info_answer(std::string body);

  // "http://127.0.0.1:PORT/opc/v2", "https://127.0.0.1:PORT"
  std::string metadata_url() const { return metadata.url("/opc/v2"); }
  std::string federation_url() const { return federation.url(""); }

  // The session public key (PEM) of keyId "ST$<token>" for a token issued here.
  std::optional<std::string> session_key(const std::string& key_id) const;
  std::vector<std::string> tokens() const;  // issued, in order
  // The certificate fingerprint of each successful federation, in order.
  std::vector<std::string> federated_fingerprints() const;
  std::vector<std::string> problems() const;  // why requests were refused

  const std::string region = "eu-frankfurt-1";
  const std::string realm_domain = "oraclecloud.com";

 private:
  Reply answer_metadata(const RecordedRequest& r);
  Reply answer_federation(const RecordedRequest& r);

  std::string tenancy_;
  std::string intermediate_pem_;
  mutable std::mutex mutex_;
  InstanceIdentity current_;
  std::vector<InstanceIdentity> known_;
  std::chrono::seconds lifetime_{3600};
  bool down_ = false;
  bool region_info_ = true;
  std::string region_info_answer_;                   // empty: the well-formed one
  std::map<std::string, std::string> session_keys_;  // token -> PEM public key
  std::vector<std::string> tokens_;
  std::vector<std::string> fingerprints_;
  std::vector<std::string> problems_;
};

// A PEM's base64 body without header lines and line breaks (DER base64).
std::string pem_body(const std::string& pem);

}  // namespace ocirelay::test
