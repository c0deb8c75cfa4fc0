// An RSA private key for OCI request signatures (an API signing key), loaded
// from PEM text: PKCS#1 ("BEGIN RSA PRIVATE KEY") or PKCS#8, optionally
// encrypted with a passphrase. It signs with RSA-SHA256 (PKCS #1 v1.5) and
// gives the fingerprint OCI shows for the key (MD5 of the DER public key,
// colon-separated lowercase hex).
//
// The key material and the passphrase never appear in an error message.
//
// Thread and lifetime contract: immutable once loaded; copies share the one
// key, and it may be used from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ocirelay/common/result.hpp"

namespace ocirelay {

class OciPrivateKey {
 public:
  // Fails with a short reason ("the key is encrypted and no passphrase is
  // given", "not an RSA key", ...) when the text holds no usable key. An
  // empty passphrase means none; OpenSSL never prompts for one.
  static Result<OciPrivateKey> from_pem(std::string_view pem, std::string_view passphrase);
  // A new RSA key of `bits` bits (the instance principal's session key).
  static Result<OciPrivateKey> generate_rsa(unsigned bits);

  // The public key as DER SubjectPublicKeyInfo, base64 without line breaks
  // (a "BEGIN PUBLIC KEY" PEM body).
  std::string public_key_der_base64() const;

  // "73:61:a2:...": what the OCI console shows for the uploaded public key.
  std::string fingerprint() const;
  // The base64 RSA-SHA256 signature of `data`.
  Result<std::string> sign_sha256(std::string_view data) const;

  struct Impl;

 private:
  explicit OciPrivateKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// The base64 SHA-256 of `data` (the `x-content-sha256` of a body).
std::string sha256_base64(std::string_view data);

}  // namespace ocirelay
