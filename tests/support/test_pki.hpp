// A throw-away certificate authority made by the tests with the openssl
// command: a CA, a server certificate for 127.0.0.1 and localhost, a client
// certificate, a server certificate for another host name, and a second,
// untrusted CA with its own server certificate.
#pragma once

#include <string>

#include "support/temp_dir.hpp"

namespace ocirelay::test {

struct TestPki {
  std::string ca_cert;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;
  std::string client_key;
  std::string rogue_ca_cert;      // not trusted by anyone
  std::string rogue_server_cert;  // 127.0.0.1, signed by the rogue CA
  std::string rogue_server_key;
  // Signed by the trusted CA, but for the name wrong-host.example only (no
  // 127.0.0.1, no localhost): a host-name mismatch for every test URL.
  std::string wrong_host_server_cert;
  std::string wrong_host_server_key;
};

// Makes the files under dir/pki. Throws when openssl fails.
TestPki make_test_pki(const TempDir& dir);

// An OCI instance's identity as the metadata service serves it: a
// certificate issued by the test CA whose subject carries the OCI attributes
// (OU=opc-instance:..., OU=opc-tenant:<tenancy>), and its RSA 2048 key.
struct InstanceIdentity {
  std::string cert_pem;
  std::string key_pem;
  std::string public_key_pem;
  std::string sha1_fingerprint;  // "AB:CD:...", as `openssl x509 -fingerprint -sha1` shows it
};

// Makes one under dir/pki/<name>.*; throws when openssl fails.
InstanceIdentity make_instance_identity(const TempDir& dir, const TestPki& pki,
                                        const std::string& name, const std::string& tenancy);

}  // namespace ocirelay::test
