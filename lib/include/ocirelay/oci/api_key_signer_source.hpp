// The api_key principal's signer source: one fixed signer, keyId
// "<tenancy>/<user>/<fingerprint>", for the life of the source.
//
// Thread and lifetime contract: immutable after construction; signer() never
// suspends.
#pragma once

#include "ocirelay/config/config.hpp"
#include "ocirelay/oci/request_signer_source.hpp"

namespace ocirelay::oci {

class ApiKeySignerSource final : public RequestSignerSource {
 public:
  // Fails when the key (checked at load) cannot be parsed again.
  static Result<std::unique_ptr<ApiKeySignerSource>> create(const config::OciApiKey& key);

  boost::asio::awaitable<Result<SignerPtr>> signer() override;
  bool rejected(const SignerPtr& used) override;
  void cancel() override {}

 private:
  explicit ApiKeySignerSource(SignerPtr signer) : signer_(std::move(signer)) {}
  SignerPtr signer_;
};

}  // namespace ocirelay::oci
