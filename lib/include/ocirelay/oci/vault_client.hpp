// Reads OCI Vault secrets: GetSecretBundle
//
//   GET <secrets>/20190301/secretbundles/<secret OCID>
//
// (the current version), signed by the configured principal, answered with
// {"secretBundleContent": {"contentType": "BASE64", "content": "<base64>"}}.
// `<secrets>` is `oci.endpoints.secrets`, or the default for the region
// (`oci.region`, or the instance principal's region from the metadata
// service). The decoded content is returned; it is never logged, and errors
// name the OCID and the HTTP status (with OCI's error code), never content.
//
// Thread and lifetime contract: used on one single-threaded executor;
// secret() calls may overlap. The client must outlive them; cancel() aborts
// the requests in flight.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"
#include "ocirelay/http/client.hpp"
#include "ocirelay/oci/request_signer_source.hpp"

namespace ocirelay::oci {

class VaultClient {
 public:
  // Fails when the principal's settings or the CA file are unusable.
  static Result<std::unique_ptr<VaultClient>> create(boost::asio::any_io_executor executor,
                                                     const config::Oci& oci,
                                                     std::shared_ptr<spdlog::logger> log);
  ~VaultClient();
  VaultClient(const VaultClient&) = delete;
  VaultClient& operator=(const VaultClient&) = delete;

  // The secret's current content, or "HTTP 404 (NotAuthorizedOrNotFound: ...)",
  // "no OCI signer: ..." and the like.
  boost::asio::awaitable<Result<std::string>> secret(const std::string& ocid);
  void cancel();

 private:
  VaultClient() = default;
  // `domain`: the realm domain the principal learned (empty: from the region).
  Result<Unit> make_client(const std::string& region, const std::string& domain);

  config::Oci oci_;
  boost::asio::any_io_executor executor_;
  std::unique_ptr<RequestSignerSource> signers_;
  http::TlsContextPtr tls_;
  std::unique_ptr<http::HttpClient> client_;  // once the region is known
  std::string prefix_;                        // the base URL's path
};

}  // namespace ocirelay::oci
