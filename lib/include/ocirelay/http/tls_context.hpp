// Factories for OpenSSL contexts, server and client side. TLS 1.2 or newer,
// a modern cipher list, peer verification on for clients; private key files
// open to other users are refused. Errors name the file and OpenSSL's reason;
// no half-configured context is returned.
// A context is immutable once made and may be shared by many connections on
// one io_context.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

#include "ocirelay/common/result.hpp"

namespace ocirelay::http {

using TlsContextPtr = std::shared_ptr<boost::asio::ssl::context>;

Result<TlsContextPtr> make_server_tls_context(const std::string& cert_file,
                                              const std::string& key_file);

struct ClientTlsOptions {
  std::string ca_file;  // empty: the system trust store
  bool verify = true;   // false: no certificate or host-name check (logs warn)
  std::string cert_file;  // client certificate (mTLS); optional
  std::string key_file;
};

Result<TlsContextPtr> make_client_tls_context(const ClientTlsOptions& options);

// A private key file must not be accessible by other users: fails, naming
// the file and its mode, when any permission bit for "other" is set. Group
// access is allowed (root:ocirelay 0640 is the recommended setup). Both
// factories above check their key files with it before loading them.
Result<Unit> check_private_key_permissions(const std::string& key_file);

// OpenSSL's most recent error, as text, and the error queue cleared.
std::string last_openssl_error();

}  // namespace ocirelay::http
