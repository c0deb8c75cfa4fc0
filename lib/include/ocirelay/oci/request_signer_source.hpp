// Where the OCI request signer of a principal comes from (delivery with
// `auth: {type: oci_signature}`, the Vault client): the api_key principal
// has one fixed signer; the instance principal's signer changes with each
// security token (instance_principal.hpp).
//
// Thread and lifetime contract: an implementation is used on one
// single-threaded executor; signer() may be awaited by many coroutines at
// once. The source must outlive every signer() call in progress; cancel()
// (at shutdown) makes them complete promptly.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "ocirelay/common/oci_request_signer.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"

namespace spdlog {
class logger;
}

namespace ocirelay::oci {

using SignerPtr = std::shared_ptr<const OciRequestSigner>;

class RequestSignerSource {
 public:
  virtual ~RequestSignerSource() = default;

  // A signer to sign one request with, or why there is none (short, free of
  // keys and tokens; the caller treats it as a failure to retry).
  virtual boost::asio::awaitable<Result<SignerPtr>> signer() = 0;
  // A request signed by `used` got 401: a signer that can change (a session
  // token) is dropped unless already replaced. True when the next signer()
  // may differ, i.e. when sending once more is worth it.
  virtual bool rejected(const SignerPtr& used) = 0;
  // Aborts requests of the source in flight (shutdown).
  virtual void cancel() = 0;
  // The region the principal found out itself (the instance principal's,
  // from the metadata service, once signer() has succeeded); empty if none.
  virtual std::string region() const { return {}; }
  // The domain of that region's realm when the principal was told it
  // ("oraclecloud.com"); empty if not.
  virtual std::string realm_domain() const { return {}; }
};

// The signer source of `principal` (api_key or instance) as configured in
// `oci`; `owner` names its user in logs ("destination oic"). Fails when the
// principal's settings are unusable (the api_key's key, a URL, the CA file).
Result<std::unique_ptr<RequestSignerSource>> make_signer_source(
    boost::asio::any_io_executor executor, const config::Oci& oci, config::OciPrincipal principal,
    const std::string& owner, std::shared_ptr<spdlog::logger> log);

}  // namespace ocirelay::oci
