#include "ocirelay/oci/vault_client.hpp"

#include <utility>

#include <rapidjson/document.h>

#include "oci/oci_error.hpp"
#include "ocirelay/common/base64.hpp"
#include "ocirelay/http/tls_context.hpp"
#include "ocirelay/http/url.hpp"
#include "ocirelay/oci/oci_endpoints.hpp"

namespace ocirelay::oci {

namespace asio = boost::asio;

namespace {

const rapidjson::Value* member(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return nullptr;
  const auto it = object.FindMember(name);
  return it == object.MemberEnd() ? nullptr : &it->value;
}

}  // namespace

Result<std::unique_ptr<VaultClient>> VaultClient::create(asio::any_io_executor executor,
                                                         const config::Oci& oci,
                                                         std::shared_ptr<spdlog::logger> log) {
  std::unique_ptr<VaultClient> client(new VaultClient());
  auto signers = make_signer_source(executor, oci, oci.principal, "OCI Vault", std::move(log));
  if (!signers) return fail(std::move(signers).error());
  auto tls = http::make_client_tls_context(http::ClientTlsOptions{oci.ca_file, true, "", ""});
  if (!tls) return fail("oci.ca_file: " + tls.error());
  client->oci_ = oci;
  client->executor_ = std::move(executor);
  client->signers_ = std::move(signers).value();
  client->tls_ = std::move(tls).value();
  return client;
}

VaultClient::~VaultClient() = default;

Result<Unit> VaultClient::make_client(const std::string& region, const std::string& domain) {
  const std::string base = secrets_base(oci_, region, domain);
  auto url = http::parse_url(base);
  if (!url) return fail("the secrets endpoint " + base + ": " + url.error());
  http::ClientOptions options;
  options.timeout = std::chrono::seconds(10);
  options.max_idle_connections = 1;
  options.max_response_body_bytes = 256 * 1024;
  options.tls = tls_;
  prefix_ = url->target;
  while (!prefix_.empty() && prefix_.back() == '/') prefix_.pop_back();
  client_ = std::make_unique<http::HttpClient>(executor_, std::move(url).value(), options);
  return Unit{};
}

asio::awaitable<Result<std::string>> VaultClient::secret(const std::string& ocid) {
  auto signer = co_await signers_->signer();
  if (!signer) co_return fail("no OCI signer: " + std::move(signer).error());
  if (!client_) {
    const bool learned = oci_.region.empty();
    const std::string region = learned ? signers_->region() : oci_.region;
    if (region.empty() && oci_.endpoints.secrets.empty()) {
      co_return fail(std::string(
          "no region for the secrets endpoint: set oci.region or oci.endpoints.secrets"));
    }
    if (auto ok = make_client(region, learned ? signers_->realm_domain() : std::string()); !ok) {
      co_return fail(std::move(ok).error());
    }
  }
  http::ClientRequest request;
  request.method = "GET";
  request.target = oci_request_target(prefix_ + "/20190301/secretbundles/" + ocid);
  request.headers.add("Accept", "application/json");
  // Kept alive while signing: OciRequest holds views.
  const std::string host = client_->url().host_header();
  const OciRequest signed_part{request.method, request.target, host, request.headers.fields(),
                               request.body};
  auto added = signer.value()->sign(signed_part, std::chrono::system_clock::now());
  if (!added) co_return fail("cannot sign the request: " + added.error());
  for (auto& [name, value] : added.value()) request.headers.add(std::move(name), std::move(value));

  auto response = co_await client_->send(std::move(request));
  const std::string where = client_->url().origin();
  if (!response) co_return fail(where + ": " + response.error().message);
  if (response->status == 401) signers_->rejected(signer.value());
  if (response->status < 200 || response->status > 299) {
    co_return fail(where + ": " + oci_http_failure(response.value(), false));
  }
  rapidjson::Document doc;
  doc.Parse(response->body.data(), response->body.size());
  const rapidjson::Value* content =
      doc.HasParseError() ? nullptr : member(doc, "secretBundleContent");
  const rapidjson::Value* type = content == nullptr ? nullptr : member(*content, "contentType");
  const rapidjson::Value* text = content == nullptr ? nullptr : member(*content, "content");
  if (text == nullptr || !text->IsString()) {
    co_return fail(where + ": HTTP " + std::to_string(response->status) +
                   ", but the answer has no secretBundleContent.content");
  }
  if (type != nullptr && !(type->IsString() && std::string_view(type->GetString()) == "BASE64")) {
    co_return fail(where + ": the secret's contentType is not BASE64");
  }
  auto decoded = base64_decode({text->GetString(), text->GetStringLength()});
  if (!decoded) co_return fail(where + ": the secret's content is not base64");
  co_return std::move(*decoded);  // never logged
}

void VaultClient::cancel() {
  if (client_) client_->cancel();
  signers_->cancel();
}

}  // namespace ocirelay::oci
