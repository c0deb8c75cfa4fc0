#include "ocirelay/oci/api_key_signer_source.hpp"

#include <utility>

#include "ocirelay/common/oci_private_key.hpp"

namespace ocirelay::oci {

Result<std::unique_ptr<ApiKeySignerSource>> ApiKeySignerSource::create(
    const config::OciApiKey& api_key) {
  // The configuration checked the key at load; it is parsed again here from
  // the text read then, never from the file a second time.
  auto key = OciPrivateKey::from_pem(api_key.key_pem, api_key.passphrase);
  if (!key) return fail("the OCI API key: " + key.error());
  auto signer = std::make_shared<const OciRequestSigner>(
      api_key.tenancy + "/" + api_key.user + "/" + api_key.fingerprint, std::move(key).value());
  return std::unique_ptr<ApiKeySignerSource>(new ApiKeySignerSource(std::move(signer)));
}

boost::asio::awaitable<Result<SignerPtr>> ApiKeySignerSource::signer() { co_return signer_; }

bool ApiKeySignerSource::rejected(const SignerPtr& /*used*/) { return false; }

}  // namespace ocirelay::oci
