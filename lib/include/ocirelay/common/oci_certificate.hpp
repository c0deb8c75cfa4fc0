// An X.509 certificate as the OCI instance principal uses it: the instance
// certificate and its intermediates from the metadata service, sent to the
// federation endpoint as base64 DER (the PEM body without its header lines),
// the tenancy OCID read from the subject (an attribute "opc-tenant:<OCID>",
// an OU in practice; "opc-identity:<OCID>" on older certificates), and the
// SHA-1 fingerprint the federation keyId names ("AB:CD:...", uppercase hex).
//
// Thread and lifetime contract: immutable once loaded; copies share the one
// certificate, which may be used from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ocirelay/common/result.hpp"

namespace ocirelay {

class OciCertificate {
 public:
  // The first certificate of a PEM text.
  static Result<OciCertificate> from_pem(std::string_view pem);
  // Every certificate of a PEM text (at least one).
  static Result<std::vector<OciCertificate>> all_from_pem(std::string_view pem);

  // The DER encoding, base64 without line breaks.
  std::string der_base64() const;
  // SHA-1 of the DER encoding: 20 colon-separated uppercase hex bytes.
  std::string sha1_fingerprint() const;
  // The OCID after "opc-tenant:" (or "opc-identity:") in a subject
  // attribute; empty when there is none.
  std::string tenancy() const;

  struct Impl;

 private:
  explicit OciCertificate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace ocirelay
