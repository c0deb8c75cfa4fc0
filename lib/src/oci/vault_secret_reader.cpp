#include "ocirelay/oci/vault_secret_reader.hpp"

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "ocirelay/oci/vault_client.hpp"

namespace ocirelay::oci {

namespace asio = boost::asio;

namespace {

asio::awaitable<void> read_into(VaultClient& client, std::string ocid,
                                std::optional<Result<std::string>>& out) {
  out.emplace(co_await client.secret(ocid));
}

}  // namespace

VaultSecretReader::VaultSecretReader(Duration budget)
    : budget_(budget), deadline_(std::chrono::steady_clock::now() + budget) {}

VaultSecretReader::~VaultSecretReader() = default;

Result<std::string, std::string> VaultSecretReader::read(const config::Oci& oci,
                                                         const std::string& ocid) {
  try {
    if (!client_ || !oci_ || !(*oci_ == oci)) {
      client_.reset();
      // Warnings of the principal go into the error returned; the log is not
      // set up yet while the configuration loads.
      auto quiet = std::make_shared<spdlog::logger>("oci-vault");
      auto client = VaultClient::create(io_.get_executor(), oci, std::move(quiet));
      if (!client) return fail(std::move(client).error());
      client_ = std::move(client).value();
      oci_ = oci;
    }
    std::optional<Result<std::string>> outcome;
    asio::co_spawn(io_, read_into(*client_, ocid, outcome), asio::detached);
    io_.restart();
    while (!outcome && std::chrono::steady_clock::now() < deadline_) {
      io_.run_one_until(deadline_);
      if (io_.stopped()) break;
    }
    if (!outcome) {
      // Out of time: abort what is in flight and let it finish.
      client_->cancel();
      io_.restart();
      io_.run();
      client_.reset();
      return fail("no answer within " + format_duration(budget_) +
                  " (the time allowed for all the secrets of the configuration)");
    }
    if (!*outcome) return fail(std::move(*outcome).error());
    return std::move(outcome->value());
  } catch (const std::exception& e) {
    client_.reset();
    return fail(std::string("cannot read the secret: ") + e.what());
  }
}

config::SecretSources secret_sources_with_vault(Duration budget) {
  config::SecretSources sources = config::default_secret_sources();
  auto reader = std::make_shared<VaultSecretReader>(budget);
  sources.vault = [reader](const config::Oci& oci, const std::string& ocid) {
    return reader->read(oci, ocid);
  };
  return sources;
}

}  // namespace ocirelay::oci
