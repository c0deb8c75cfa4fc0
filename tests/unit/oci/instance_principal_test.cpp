// InstancePrincipal and VaultClient against the loopback fakes of the OCI
// services (support/fake_oci_identity.hpp, support/fake_vault.hpp), run on an
// io_context of the test, with the principal's clock injected: when a
// session is reused or renewed, single-flight, backoff after a failure and
// after fresh tokens are rejected, all without waiting in real time.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "ocirelay/oci/instance_principal.hpp"
#include "ocirelay/oci/vault_client.hpp"
#include "support/fake_oci_identity.hpp"
#include "support/fake_vault.hpp"
#include "support/fixtures.hpp"
#include "support/oci_verifier.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

constexpr const char* kTenancy = "ocid1.tenancy.oc1..aaaaaaaaprincipalunittest";

template <class T>
asio::awaitable<void> store(asio::awaitable<T> task, std::optional<T>& out) {
  out.emplace(co_await std::move(task));
}

// Runs `task` on `io` until it completes (at most 30 s).
template <class T>
T complete(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> out;
  asio::co_spawn(io, store(std::move(task), out), asio::detached);
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!out && std::chrono::steady_clock::now() < deadline) io.run_one_until(deadline);
  REQUIRE(out);
  return std::move(*out);
}

struct World {
  test::TempDir dir;
  test::TestPki pki = test::make_test_pki(dir);
  test::FakeOciIdentity oci{pki, kTenancy, test::make_instance_identity(dir, pki, "i", kTenancy)};
  asio::io_context io;
  oci::InstancePrincipal::Clock::time_point now = oci::InstancePrincipal::Clock::now();
  std::unique_ptr<oci::InstancePrincipal> principal;

  World() {
    oci::InstancePrincipal::Options options;
    options.owner = "test";
    options.oci.principal = config::OciPrincipal::instance;
    options.oci.endpoints.metadata = oci.metadata_url();
    options.oci.endpoints.federation = oci.federation_url();
    options.oci.ca_file = pki.ca_cert;
    options.min_backoff = 1s;
    options.max_backoff = 8s;
    options.now = [this] { return now; };
    auto created = oci::InstancePrincipal::create(io.get_executor(), std::move(options),
                                                  std::make_shared<spdlog::logger>("test"));
    REQUIRE(created);
    principal = std::move(created).value();
  }
  Result<oci::SignerPtr> signer() { return complete(io, principal->signer()); }
};

}  // namespace

TEST_CASE("instance principal: a session is reused until its refresh point, then renewed",
          "[oci][principal]") {
  World w;  // tokens for an hour: refreshed 5 minutes before exp
  auto first = w.signer();
  REQUIRE(first);
  CHECK(first.value()->key_id() == "ST$" + w.oci.tokens().at(0));
  CHECK(w.principal->region() == "eu-frankfurt-1");
  CHECK(w.principal->realm_domain() == "oraclecloud.com");  // from regionInfo
  w.now += 54min;
  auto same = w.signer();
  REQUIRE(same);
  CHECK(same.value() == first.value());
  CHECK(w.principal->federation_requests() == 1);
  w.now += 2min;  // past exp - 5 min
  auto renewed = w.signer();
  REQUIRE(renewed);
  CHECK(renewed.value() != first.value());
  CHECK(renewed.value()->key_id() == "ST$" + w.oci.tokens().at(1));
  CHECK(w.principal->federation_requests() == 2);
  CHECK(w.oci.problems().empty());
}

TEST_CASE("instance principal: a metadata service without regionInfo gives the region alone",
          "[oci][principal]") {
  World w;
  w.oci.set_region_info(false);
  auto signer = w.signer();
  REQUIRE(signer);
  CHECK(w.principal->region() == "eu-frankfurt-1");
  CHECK(w.principal->realm_domain().empty());  // then the region's name tells it
  CHECK(w.oci.problems().empty());
}

TEST_CASE("instance principal: a regionInfo answer that cannot be used gives the region alone",
          "[oci][principal]") {
  World w;
  w.oci.set_region_info_answer(R"({"realmDomainComponent":"bad/domain","regionIdentifier":"x"})");
  auto signer = w.signer();
  REQUIRE(signer);
  CHECK(w.principal->region() == "eu-frankfurt-1");  // from instance/region
  CHECK(w.principal->realm_domain().empty());
}

TEST_CASE("instance principal: callers waiting at once share one fetch", "[oci][principal]") {
  World w;
  std::vector<std::optional<Result<oci::SignerPtr>>> results(5);
  for (auto& r : results) asio::co_spawn(w.io, store(w.principal->signer(), r), asio::detached);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  const auto all_done = [&] {
    for (const auto& r : results) {
      if (!r) return false;
    }
    return true;
  };
  while (!all_done() && std::chrono::steady_clock::now() < deadline) {
    w.io.run_one_until(deadline);
  }
  REQUIRE(all_done());
  for (const auto& r : results) {
    REQUIRE(r->ok());
    CHECK(r->value() == results[0]->value());
  }
  CHECK(w.principal->federation_requests() == 1);
  CHECK(w.oci.federation.request_count() == 1);
}

TEST_CASE("instance principal: a failed fetch backs off, then succeeds", "[oci][principal]") {
  World w;
  w.oci.set_down(true);
  auto down = w.signer();
  REQUIRE_FALSE(down);
  CHECK_THAT(down.error(), Catch::Contains("federation endpoint") && Catch::Contains("HTTP 503"));
  // Within the backoff: the last error at once, no request.
  auto again = w.signer();
  REQUIRE_FALSE(again);
  CHECK(again.error() == down.error());
  CHECK(w.oci.federation.request_count() == 1);

  w.oci.set_down(false);
  w.now += 1100ms;  // past the first backoff (at most 1 s)
  auto up = w.signer();
  REQUIRE(up);
  CHECK(w.oci.federation.request_count() == 2);
}

TEST_CASE("instance principal: a 401 drops the session, fresh tokens rejected twice back off",
          "[oci][principal]") {
  World w;
  auto first = w.signer();
  REQUIRE(first);
  w.now += 10min;  // in use for a while: not a fresh token
  CHECK(w.principal->rejected(first.value()));
  auto second = w.signer();
  REQUIRE(second);
  CHECK(second.value() != first.value());
  // A rejection of the old one again changes nothing: already replaced.
  CHECK(w.principal->rejected(first.value()));
  CHECK(w.signer().value() == second.value());

  // Fresh tokens rejected at once, twice: the principal stops asking for a while.
  CHECK(w.principal->rejected(second.value()));
  auto third = w.signer();
  REQUIRE(third);
  CHECK(w.principal->rejected(third.value()));
  auto refused = w.signer();
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error(), Catch::Contains("rejected 2 fresh security tokens"));
  CHECK(w.oci.federation.request_count() == 3);
  for (const auto& token : w.oci.tokens()) CHECK_THAT(refused.error(), !Catch::Contains(token));
}

TEST_CASE("vault client: reads a secret with the api_key principal", "[oci][vault]") {
  test::TempDir dir;
  const auto pki = test::make_test_pki(dir);
  const std::string key_file = test::fixture_path("oci/doc_sample_key.pem");
  const std::string public_pem = test::run_command("openssl pkey -pubout -in " + key_file);
  config::OciApiKey key;
  key.tenancy = "ocid1.tenancy.oc1..aaaaaaaaba3pv6wkcr4jqae5f15p2b2m2yt2j6rx32uzr4h25vqstifsfdsq";
  key.user = "ocid1.user.oc1..aaaaaaaat5nvwcna5j6aqzjcaty5eqbb6qt2jvpkanghtgdaqedqw3rynjq";
  key.fingerprint = "73:61:a2:21:67:e0:df:be:7e:4b:93:1e:15:98:a5:b7";
  key.key_pem = test::fixture("oci/doc_sample_key.pem");
  const std::string key_id = key.tenancy + "/" + key.user + "/" + key.fingerprint;
  test::FakeVault vault(pki, [&](const std::string& id) -> std::optional<std::string> {
    if (id != key_id) return std::nullopt;
    return public_pem;
  });
  const std::string ocid = "ocid1.vaultsecret.oc1.eu-frankfurt-1.amaaaaaaunit";
  vault.put(ocid, "multi\nline secret \xc3\xa9");

  config::Oci oci;
  oci.principal = config::OciPrincipal::api_key;
  oci.api_key = key;
  oci.endpoints.secrets = vault.url() + "/";
  oci.ca_file = pki.ca_cert;
  asio::io_context io;
  auto client =
      oci::VaultClient::create(io.get_executor(), oci, std::make_shared<spdlog::logger>("test"));
  REQUIRE(client);
  auto value = complete(io, client.value()->secret(ocid));
  REQUIRE(value);
  CHECK(value.value() == "multi\nline secret \xc3\xa9");
  auto missing = complete(io, client.value()->secret("ocid1.vaultsecret.oc1..nope"));
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error(), Catch::Contains("HTTP 404 (NotAuthorizedOrNotFound)"));
  CHECK(vault.problems().empty());
  const auto requests = vault.server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].target == "/20190301/secretbundles/" + ocid);
}
