#include "ocirelay/http/tls_context.hpp"

#include <sys/stat.h>

#include <cstdio>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ocirelay/http/system_trust.hpp"

namespace ocirelay::http {

namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2 suites with forward secrecy and AEAD; TLS 1.3 suites are OpenSSL's
// defaults, all of which are modern.
constexpr const char* kCipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

Result<TlsContextPtr> base_context(ssl::context::method method) {
  auto ctx = std::make_shared<ssl::context>(method);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kCipherList) != 1) {
    return fail("cannot configure TLS: " + last_openssl_error());
  }
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
  return ctx;
}

}  // namespace

Result<Unit> check_private_key_permissions(const std::string& key_file) {
  struct stat st {};
  if (::stat(key_file.c_str(), &st) != 0) return Unit{};  // loading it reports why
  const unsigned mode = st.st_mode & 07777;
  if ((mode & S_IRWXO) != 0) {
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", mode);
    return fail("private key " + key_file + " is accessible by other users (mode " + octal +
                "); allow the owner and the service's group only, e.g. chmod 0640 " + key_file);
  }
  return Unit{};
}

std::string last_openssl_error() {
  unsigned long code = ERR_get_error();
  std::string out;
  if (code == 0) {
    out = "unknown error";
  } else {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    out = buf;
  }
  ERR_clear_error();
  return out;
}

Result<TlsContextPtr> make_server_tls_context(const std::string& cert_file,
                                              const std::string& key_file) {
  auto made = base_context(ssl::context::tls_server);
  if (!made) return made;
  auto ctx = std::move(made).value();
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1) {
    return fail("cannot load certificate chain " + cert_file + ": " + last_openssl_error());
  }
  if (auto private_key = check_private_key_permissions(key_file); !private_key) {
    return fail(private_key.error());
  }
  if (SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail("cannot load private key " + key_file + ": " + last_openssl_error());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail("private key " + key_file + " does not match certificate " + cert_file);
  }
  SSL_CTX_set_session_cache_mode(native, SSL_SESS_CACHE_SERVER);
  // A client that closes without close_notify, as most do, is an orderly
  // end here, not a fatal error: OpenSSL 3 would otherwise send an alert
  // and drop the session from the cache, so no TLS 1.2 client could resume
  // by session ID. Requests are framed by HTTP, so truncation is detected
  // there. (The server also marks connections shut down: server.cpp.)
  SSL_CTX_set_options(native, SSL_OP_IGNORE_UNEXPECTED_EOF);
  return ctx;
}

Result<TlsContextPtr> make_client_tls_context(const ClientTlsOptions& options) {
  auto made = base_context(ssl::context::tls_client);
  if (!made) return made;
  auto ctx = std::move(made).value();
  SSL_CTX* native = ctx->native_handle();
  if (options.verify) {
    if (!options.ca_file.empty()) {
      if (SSL_CTX_load_verify_locations(native, options.ca_file.c_str(), nullptr) != 1) {
        return fail("cannot load CA file " + options.ca_file + ": " + last_openssl_error());
      }
    } else {
      // Not OpenSSL's compiled-in default paths: a static OpenSSL's are
      // Debian's, which other distributions do not have (system_trust.hpp).
      const auto trust = find_system_trust();
      if (!trust) {
        std::string tried;
        for (const auto& candidate : system_trust_candidates()) {
          tried += (tried.empty() ? "" : ", ") + candidate;
        }
        return fail("no system CA bundle found (looked for " + tried +
                    "); install the distribution's CA certificates, set SSL_CERT_FILE, or "
                    "name a tls.ca_file");
      }
      if (SSL_CTX_load_verify_locations(native, trust->file.c_str(), nullptr) != 1) {
        return fail("cannot load the system CA bundle " + trust->file + ": " +
                    last_openssl_error());
      }
    }
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  if (!options.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(native, options.cert_file.c_str()) != 1) {
      return fail("cannot load client certificate " + options.cert_file + ": " +
                  last_openssl_error());
    }
    const std::string& key = options.key_file.empty() ? options.cert_file : options.key_file;
    if (auto private_key = check_private_key_permissions(key); !private_key) {
      return fail(private_key.error());
    }
    if (SSL_CTX_use_PrivateKey_file(native, key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return fail("cannot load client key " + key + ": " + last_openssl_error());
    }
    if (SSL_CTX_check_private_key(native) != 1) {
      return fail("client key " + key + " does not match certificate " + options.cert_file);
    }
  }
  return ctx;
}

}  // namespace ocirelay::http
