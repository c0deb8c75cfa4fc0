#include "ocirelay/oci/request_signer_source.hpp"

#include <utility>

#include "ocirelay/oci/api_key_signer_source.hpp"
#include "ocirelay/oci/instance_principal.hpp"

namespace ocirelay::oci {

Result<std::unique_ptr<RequestSignerSource>> make_signer_source(
    boost::asio::any_io_executor executor, const config::Oci& oci, config::OciPrincipal principal,
    const std::string& owner, std::shared_ptr<spdlog::logger> log) {
  switch (principal) {
    case config::OciPrincipal::api_key: {
      if (!oci.api_key) return fail(owner + ": the api_key principal needs oci.api_key");
      auto source = ApiKeySignerSource::create(*oci.api_key);
      if (!source) return fail(owner + ": " + source.error());
      return std::unique_ptr<RequestSignerSource>(std::move(source).value());
    }
    case config::OciPrincipal::instance: {
      InstancePrincipal::Options options;
      options.owner = owner;
      options.oci = oci;
      auto source =
          InstancePrincipal::create(std::move(executor), std::move(options), std::move(log));
      if (!source) return fail(std::move(source).error());
      return std::unique_ptr<RequestSignerSource>(std::move(source).value());
    }
    case config::OciPrincipal::none:
      break;
  }
  return fail(owner + ": no OCI principal (oci.principal is none)");
}

}  // namespace ocirelay::oci
