// OCI request signatures, version 1 (Oracle's "Request Signatures": the
// draft-cavage-http-signatures-08 scheme with RSA-SHA256 in an
// `Authorization: Signature ...` header). Pure: no I/O, no clock of its own.
//
// The signing string has one line per signed header, in this order:
//   date: <date>
//   (request-target): <lowercase method> <path and query exactly as sent>
//   host: <Host header exactly as sent, with the port when it is not the default>
// and, for POST and PUT, also
//   content-length: <bytes of the body>
//   content-type: <Content-Type>
//   x-content-sha256: <base64 SHA-256 of the body>
//
// sign() returns the headers the caller adds to the request: `date` (unless
// the request has one), `x-content-sha256` (POST and PUT, unless present) and
// `authorization`. The request's own Content-Length must be the body's size
// (the relay's HTTP client always sends that).
//
// Thread and lifetime contract: immutable; may be used from several threads.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ocirelay/common/oci_private_key.hpp"
#include "ocirelay/common/result.hpp"

namespace ocirelay {

using HeaderField = std::pair<std::string, std::string>;

// The parts of a request that are signed.
struct OciRequest {
  std::string_view method;               // any case ("POST")
  std::string_view target;               // path and query, as on the request line
  std::string_view host;                 // the Host header's value
  std::span<const HeaderField> headers;  // the request's other headers (names in any case)
  std::string_view body;
};

// The signing string of a request, and the `headers=` list naming its lines.
struct OciSigningString {
  std::string headers;  // "date (request-target) host ..."
  std::string text;
};

class OciRequestSigner {
 public:
  // `key_id`: "<tenancy OCID>/<user OCID>/<key fingerprint>" for an API key.
  OciRequestSigner(std::string key_id, OciPrivateKey key);

  // The signing string of `request`, whose headers must include `date` (and
  // for POST/PUT `content-type`; `content-length` and `x-content-sha256`
  // default to the body's). Fails naming a missing header.
  static Result<OciSigningString> signing_string(const OciRequest& request);

  // The headers to add to `request` (see the file comment); `now` gives the
  // `date` when the request has none.
  Result<std::vector<HeaderField>> sign(const OciRequest& request,
                                        std::chrono::system_clock::time_point now) const;

  const std::string& key_id() const noexcept { return key_id_; }

 private:
  std::string key_id_;
  OciPrivateKey key_;
};

// A request target (path and query) as OCI services expect it on the wire and
// therefore in the signing string: every byte outside RFC 3986's unreserved
// and sub-delims characters, ':', '@', '/' and '?' is percent-encoded
// (uppercase hex: non-ASCII UTF-8, '"', '<', '>', '\', '^', '`', '{', '|', '}',
// a second '#'...), and a '%' that does not start a "%XX" escape becomes
// "%25". Escapes already present are kept as written, so the result is
// stable: applying it again changes nothing.
std::string oci_request_target(std::string_view target);

// An RFC 7231 IMF-fixdate ("Thu, 05 Jan 2014 21:31:40 GMT"), in English
// whatever the locale.
std::string http_date(std::chrono::system_clock::time_point t);

}  // namespace ocirelay
