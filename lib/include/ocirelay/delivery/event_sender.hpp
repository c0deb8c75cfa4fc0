// Sends to one destination, as that destination is configured: a body shaped
// by its `payload:` (raw or fields; shape()), alone or in a batch body, with
// the fixed headers (`Content-Type: application/json`, `Idempotency-Key`:
// the eventID, or the batch's key, and `X-Event-Count` for a batch), its auth
// (Basic, or an OAuth2 bearer token from its TokenProvider) and then its extra
// `headers:`, over its own HTTP client (keep-alive pool, TLS with the
// destination's CA, client certificate and verify settings). With
// oci_signature the finished request is signed last (OCI Signature Version 1:
// `date`, `x-content-sha256` and `Authorization` added), at each attempt, by
// the signer of the destination's principal (oci/request_signer_source.hpp:
// the api_key's, or the instance principal's current session). Its URL's
// path and query are sent percent-encoded as OCI expects (oci_request_target()).
//
// With oauth2, a 401 answer drops the token, fetches a new one and sends once
// more; only that second answer is returned; likewise with the instance
// principal's security token. When no token can be had, send() fails without
// sending anything (a failed attempt with no status, retried later).
//
// Retries, backoff and recording the outcome are the Dispatcher's business.
// Tokens, passwords and header values are never logged.
//
// Thread and lifetime contract: used on one single-threaded executor; several
// send() calls may be in flight at once. The sender must outlive them;
// cancel() (at shutdown) makes them complete promptly.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "ocirelay/common/oci_request_signer.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"
#include "ocirelay/delivery/payload.hpp"
#include "ocirelay/delivery/sender.hpp"
#include "ocirelay/delivery/token_provider.hpp"
#include "ocirelay/http/client.hpp"
#include "ocirelay/oci/request_signer_source.hpp"

namespace spdlog {
class logger;
}

namespace ocirelay::delivery {

class EventSender final : public Sender {
 public:
  // Fails when the URL, the TLS files or the payload setting are unusable.
  // Logs a warning when the destination has tls.verify off.
  static Result<std::unique_ptr<EventSender>> create(boost::asio::any_io_executor executor,
                                                     const config::Destination& destination,
                                                     std::shared_ptr<spdlog::logger> log);
  ~EventSender() override;
  EventSender(const EventSender&) = delete;
  EventSender& operator=(const EventSender&) = delete;

  std::string shape(std::string_view event) const override { return payload_.shape(event); }
  boost::asio::awaitable<Result<http::ClientResponse, http::ClientError>> send(
      const std::string& key, std::string_view body, std::optional<std::size_t> events) override;

  // Aborts requests in flight, token requests included.
  void cancel() override;

 private:
  EventSender() = default;
  http::ClientRequest make_request(const std::string& key, std::string_view body,
                                   std::optional<std::size_t> events,
                                   const std::string& bearer) const;
  // oci_signature: signs, sends, and after a 401 that dropped the security
  // token, signs with a new one and sends once more.
  boost::asio::awaitable<Result<http::ClientResponse, http::ClientError>> send_signed(
      const std::string& key, std::string_view body, std::optional<std::size_t> events);
  // Adds the OCI signature headers of `signer` to a finished request.
  Result<Unit> sign(http::ClientRequest& request, const OciRequestSigner& signer) const;

  std::string name_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<http::HttpClient> client_;
  std::unique_ptr<TokenProvider> tokens_;  // oauth2 only
  Payload payload_;
  std::string basic_authorization_;         // secret; basic only
  std::unique_ptr<oci::RequestSignerSource> signers_;  // oci_signature only
  std::string host_header_;                            // oci_signature only: the Host header signed
  std::string signed_target_;  // oci_signature only: the URL's target, as OCI expects it
  std::vector<config::DestinationHeader> headers_;
};

}  // namespace ocirelay::delivery
