// Where the system's CA bundle is. A relay linked statically against OpenSSL
// cannot rely on the trust directory compiled into that OpenSSL (Debian's
// /usr/lib/ssl), which Oracle Linux and other distributions do not have. The
// usual places are looked at in order instead:
//   1. the file named by SSL_CERT_FILE, when set;
//   2. /etc/ssl/certs/ca-certificates.crt (Debian, Ubuntu);
//   3. /etc/pki/tls/certs/ca-bundle.crt (Oracle Linux, RHEL, Fedora);
//   4. /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem (RHEL's source of 3).
// A free function over the file system; no state, callable from any thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ocirelay::http {

struct SystemTrust {
  std::string file;  // the bundle found
  std::string from;  // "SSL_CERT_FILE" or "default location"
};

// The places looked at, in order (SSL_CERT_FILE first when set).
std::vector<std::string> system_trust_candidates();

// The first candidate that is a readable regular file, or nothing.
std::optional<SystemTrust> find_system_trust();

}  // namespace ocirelay::http
