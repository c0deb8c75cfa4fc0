// The instance principal (`oci.principal: instance`): the identity of the OCI
// instance the relay runs on, as the instance metadata service v2 gives it.
//
// To get a signer it
// 1. reads from the metadata service (`Authorization: Bearer Oracle`) the
//    region (`/instance/region`, unless `oci.region` is set), the instance
//    certificate, its intermediates and its key (`/identity/cert.pem`,
//    `/identity/intermediate.pem`, `/identity/key.pem`); the tenancy OCID is
//    the certificate subject's `opc-tenant:` attribute;
// 2. makes a fresh RSA 2048 session key pair;
// 3. POSTs `{certificate, publicKey, intermediateCertificates}` (base64 DER)
//    to `<federation>/v1/x509`, signed with the instance key and
//    keyId `<tenancy>/fed-x509/<certificate SHA-1 fingerprint>`;
// 4. signs with the session key and keyId `ST$<token>`, the token of the
//    answer `{"token": "<JWT>"}`.
//
// - The session is used until a fifth of the token's lifetime (at most
//   5 minutes) before its `exp`; then the next signer() fetches a new one,
//   re-reading the certificate and key, so a rotated certificate is picked
//   up at the next refresh.
// - At most one fetch is in flight: every caller that needs a signer while
//   one is being fetched waits for its outcome.
// - A failed fetch backs off (min_backoff doubling to max_backoff, with
//   jitter); meanwhile signer() fails at once with the last error (or hands
//   out the old session while its token is still valid).
// - rejected() after a 401 drops the session unless already replaced; fresh
//   tokens rejected twice in a row back off like a failed fetch.
// - Neither key nor token is ever logged or put in an error message.
//
// Thread and lifetime contract: used on one single-threaded executor;
// signer() may be awaited by many coroutines at once. The principal must
// outlive every signer() call in progress; cancel() (at shutdown) aborts the
// requests in flight so that they complete promptly.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/config/config.hpp"
#include "ocirelay/http/client.hpp"
#include "ocirelay/oci/oci_endpoints.hpp"
#include "ocirelay/oci/request_signer_source.hpp"

namespace ocirelay::oci {

class InstancePrincipal final : public RequestSignerSource {
 public:
  using Clock = std::chrono::system_clock;  // a token's exp is wall-clock time

  struct Options {
    std::string owner;  // for logs: "destination oic"
    config::Oci oci;    // endpoints, region, ca_file
    Duration timeout = std::chrono::seconds(10);
    Duration min_backoff = std::chrono::seconds(1);
    Duration max_backoff = std::chrono::seconds(60);
    // The clock of the refresh schedule and backoff (requests are signed
    // with the real time); empty: Clock::now.
    std::function<Clock::time_point()> now;
  };

  // Fails when a configured URL or the CA file is unusable.
  static Result<std::unique_ptr<InstancePrincipal>> create(boost::asio::any_io_executor executor,
                                                           Options options,
                                                           std::shared_ptr<spdlog::logger> log);
  ~InstancePrincipal() override;
  InstancePrincipal(const InstancePrincipal&) = delete;
  InstancePrincipal& operator=(const InstancePrincipal&) = delete;

  boost::asio::awaitable<Result<SignerPtr>> signer() override;
  bool rejected(const SignerPtr& used) override;
  void cancel() override;

  // The region in use (configured, or read from the metadata service once a
  // fetch has done so); empty before.
  std::string region() const override { return region_; }
  // The domain of its realm, when the metadata service gave it (regionInfo);
  // empty otherwise.
  std::string realm_domain() const override { return realm_domain_; }
  // Federation requests sent so far.
  std::size_t federation_requests() const noexcept { return federation_requests_; }

 private:
  struct Session {
    SignerPtr signer;
    Clock::time_point fetched_at;
    Clock::time_point refresh_at;  // hand out until here
    Clock::time_point expires_at;  // usable until here while a refresh fails
  };
  struct Flight;
  struct Identity;

  InstancePrincipal(Options options, std::shared_ptr<spdlog::logger> log,
                    boost::asio::any_io_executor executor);
  Clock::time_point now() const;
  boost::asio::awaitable<Result<SignerPtr>> fetch();
  // `status`, when given, gets the HTTP status of an answer that came.
  boost::asio::awaitable<Result<std::string>> read_metadata(std::string_view path,
                                                            int* status = nullptr);
  boost::asio::awaitable<Result<RegionInfo>> read_region();
  boost::asio::awaitable<Result<Identity>> read_identity();
  boost::asio::awaitable<Result<std::string>> federate(const Identity& identity,
                                                       const std::string& session_public_key);
  Result<Unit> make_federation_client();
  void back_off(std::string error, int exponent);

  Options options_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::any_io_executor executor_;
  http::TlsContextPtr tls_;  // for https endpoints: oci.ca_file or the system store
  std::unique_ptr<http::HttpClient> metadata_;
  std::string metadata_prefix_;  // the metadata base URL's path
  std::unique_ptr<http::HttpClient> federation_;
  std::string federation_endpoint_;  // for logs
  std::string federation_target_;    // <path>/v1/x509
  std::string region_;
  std::string realm_domain_;             // from regionInfo; empty: from the region's name
  std::string certificate_fingerprint_;  // the last one used, to log rotations
  std::optional<Session> session_;
  std::shared_ptr<Flight> flight_;
  int failures_ = 0;
  int quick_rejections_ = 0;
  Clock::time_point retry_at_{};
  std::string last_error_;
  std::size_t federation_requests_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace ocirelay::oci
