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

}  // namespace ocirelay::test
