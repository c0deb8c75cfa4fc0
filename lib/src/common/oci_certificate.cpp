#include "ocirelay/common/oci_certificate.hpp"

#include <array>
#include <limits>
#include <utility>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ocirelay/common/base64.hpp"

namespace ocirelay {

struct OciCertificate::Impl {
  explicit Impl(X509* c) : cert(c) {}
  ~Impl() { X509_free(cert); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  X509* cert;
};

namespace {

struct BioFree {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};

}  // namespace

Result<std::vector<OciCertificate>> OciCertificate::all_from_pem(std::string_view pem) {
  if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return fail("the certificate text is too large");
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail("out of memory");
  std::vector<OciCertificate> out;
  while (true) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    out.push_back(OciCertificate(std::make_shared<const Impl>(cert)));
  }
  ERR_clear_error();  // the end of the text, or garbage after the certificates
  if (out.empty()) return fail("no PEM certificate found");
  return out;
}

Result<OciCertificate> OciCertificate::from_pem(std::string_view pem) {
  auto all = all_from_pem(pem);
  if (!all) return fail(std::move(all).error());
  return all->front();
}

std::string OciCertificate::der_base64() const {
  unsigned char* der = nullptr;
  const int len = i2d_X509(impl_->cert, &der);
  if (len <= 0) {
    ERR_clear_error();
    return {};
  }
  std::string out = base64_encode(
      std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len)));
  OPENSSL_free(der);
  return out;
}

std::string OciCertificate::sha1_fingerprint() const {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (X509_digest(impl_->cert, EVP_sha1(), md.data(), &len) != 1) {
    ERR_clear_error();
    return {};
  }
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    if (i != 0) out += ':';
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0x0f];
  }
  return out;
}

std::string OciCertificate::tenancy() const {
  const X509_NAME* subject = X509_get_subject_name(impl_->cert);
  if (subject == nullptr) return {};
  const int count = X509_NAME_entry_count(subject);
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, i);
    const ASN1_STRING* data = X509_NAME_ENTRY_get_data(entry);
    if (data == nullptr) continue;
    const std::string_view value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                                 static_cast<std::size_t>(ASN1_STRING_length(data)));
    for (const std::string_view prefix : {"opc-tenant:", "opc-identity:"}) {
      if (value.starts_with(prefix) && value.size() > prefix.size()) {
        return std::string(value.substr(prefix.size()));
      }
    }
  }
  return {};
}

}  // namespace ocirelay
