#include "ocirelay/common/oci_private_key.hpp"

#include <array>
#include <cstring>
#include <limits>
#include <utility>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "ocirelay/common/base64.hpp"

namespace ocirelay {

struct OciPrivateKey::Impl {
  explicit Impl(EVP_PKEY* k) : key(k) {}
  ~Impl() { EVP_PKEY_free(key); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  EVP_PKEY* key;
};

namespace {

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

struct Passphrase {
  std::string_view text;
  bool asked = false;
};

// OpenSSL's passphrase callback: the configured passphrase, or a refusal
// (never the terminal prompt OpenSSL would fall back to).
int passphrase_callback(char* buf, int size, int /*rwflag*/, void* user) {
  auto* pass = static_cast<Passphrase*>(user);
  pass->asked = true;
  if (pass->text.empty() || size <= 0 || pass->text.size() > static_cast<std::size_t>(size)) {
    return -1;
  }
  std::memcpy(buf, pass->text.data(), pass->text.size());
  return static_cast<int>(pass->text.size());
}

// The reason of OpenSSL's last error, and an empty queue afterwards.
std::string openssl_reason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "no key found";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

std::string digest_base64(const EVP_MD* md, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1) {
    ERR_clear_error();
    return {};
  }
  return base64_encode(std::string_view(reinterpret_cast<const char*>(out.data()), len));
}

}  // namespace

Result<OciPrivateKey> OciPrivateKey::from_pem(std::string_view pem, std::string_view passphrase) {
  if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return fail("the key file is too large");
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail("out of memory");
  Passphrase pass{passphrase};
  ERR_clear_error();
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_callback, &pass);
  if (key == nullptr) {
    const std::string reason = openssl_reason();
    if (pass.asked && passphrase.empty()) {
      return fail("the key is encrypted and no passphrase is given");
    }
    if (pass.asked) {
      return fail("cannot decrypt the key with the passphrase given (" + reason + ")");
    }
    return fail("not a PEM private key (" + reason + ")");
  }
  auto impl = std::make_shared<const Impl>(key);
  if (EVP_PKEY_is_a(key, "RSA") != 1) {
    return fail("not an RSA key (OCI request signatures use RSA)");
  }
  return OciPrivateKey(std::move(impl));
}

Result<OciPrivateKey> OciPrivateKey::generate_rsa(unsigned bits) {
  ERR_clear_error();
  EVP_PKEY* key = EVP_RSA_gen(bits);
  if (key == nullptr) return fail("cannot generate an RSA key: " + openssl_reason());
  return OciPrivateKey(std::make_shared<const Impl>(key));
}

std::string OciPrivateKey::public_key_der_base64() const {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(impl_->key, &der);
  if (len <= 0) {
    ERR_clear_error();
    return {};
  }
  std::string out = base64_encode(
      std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len)));
  OPENSSL_free(der);
  return out;
}

std::string OciPrivateKey::fingerprint() const {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(impl_->key, &der);
  if (len <= 0) {
    ERR_clear_error();
    return {};
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  const int ok =
      EVP_Digest(der, static_cast<std::size_t>(len), md.data(), &md_len, EVP_md5(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) {
    ERR_clear_error();
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < md_len; ++i) {
    if (i != 0) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0x0f];
  }
  return out;
}

Result<std::string> OciPrivateKey::sign_sha256(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, impl_->key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return fail("cannot sign: " + openssl_reason());
  }
  std::string signature(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return fail("cannot sign: " + openssl_reason());
  }
  signature.resize(len);
  return base64_encode(signature);
}

std::string sha256_base64(std::string_view data) { return digest_base64(EVP_sha256(), data); }

}  // namespace ocirelay
