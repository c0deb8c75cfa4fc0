#include "ocirelay/oci/instance_principal.hpp"

#include <algorithm>
#include <exception>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "oci/oci_error.hpp"
#include "ocirelay/common/oci_certificate.hpp"
#include "ocirelay/common/oci_private_key.hpp"
#include "ocirelay/http/tls_context.hpp"
#include "ocirelay/http/url.hpp"
#include "ocirelay/oci/oci_endpoints.hpp"
#include "ocirelay/oci/security_token.hpp"

namespace ocirelay::oci {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// A token rejected this soon after it was fetched counts as a "fresh" one.
constexpr Duration kQuickRejection = 30s;
constexpr Duration kMaxRefreshMargin = 5min;
constexpr unsigned kSessionKeyBits = 2048;

std::string_view string_member(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

Result<Unit> check_base_url(const http::Url& url, std::string_view what) {
  if (url.target.find('?') != std::string::npos) {
    return fail(std::string(what) + " base URL takes no query");
  }
  return Unit{};
}

std::string path_prefix(const http::Url& url) {
  std::string prefix = url.target;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  return prefix;
}

bool is_token_text(std::string_view token) {
  return !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
    return c > 0x20 && c < 0x7f && c != '"' && c != '\\';  // it goes into keyId="..."
  });
}

}  // namespace

struct InstancePrincipal::Flight {
  explicit Flight(const asio::any_io_executor& ex)
      : done(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer done;  // cancelled once `outcome` is set
  std::optional<Result<SignerPtr>> outcome;
};

struct InstancePrincipal::Identity {
  OciCertificate certificate;
  std::vector<OciCertificate> intermediates;
  OciRequestSigner signer;  // the instance key, keyId <tenancy>/fed-x509/<fingerprint>
};

Result<std::unique_ptr<InstancePrincipal>> InstancePrincipal::create(
    asio::any_io_executor executor, Options options, std::shared_ptr<spdlog::logger> log) {
  const std::string& owner = options.owner;
  auto metadata = http::parse_url(options.oci.endpoints.metadata);
  if (!metadata) return fail(owner + ": oci.endpoints.metadata: " + metadata.error());
  if (auto ok = check_base_url(*metadata, "oci.endpoints.metadata: the"); !ok) {
    return fail(owner + ": " + ok.error());
  }
  std::unique_ptr<InstancePrincipal> p(
      new InstancePrincipal(std::move(options), std::move(log), executor));
  auto tls =
      http::make_client_tls_context(http::ClientTlsOptions{p->options_.oci.ca_file, true, "", ""});
  if (!tls) return fail(owner + ": oci.ca_file: " + tls.error());
  p->tls_ = std::move(tls).value();
  http::ClientOptions client_options;
  client_options.timeout = p->options_.timeout;
  client_options.max_idle_connections = 1;
  client_options.max_response_body_bytes = 256 * 1024;
  client_options.tls = p->tls_;
  // The one client that may reach a link-local address: the metadata
  // service's is 169.254.169.254 (the configuration allows no other).
  client_options.allow_link_local = true;
  p->metadata_prefix_ = path_prefix(*metadata);
  p->metadata_ =
      std::make_unique<http::HttpClient>(executor, std::move(metadata).value(), client_options);
  p->region_ = p->options_.oci.region;
  if (!p->region_.empty() || !p->options_.oci.endpoints.federation.empty()) {
    if (auto ok = p->make_federation_client(); !ok) return fail(owner + ": " + ok.error());
  }
  return p;
}

InstancePrincipal::InstancePrincipal(Options options, std::shared_ptr<spdlog::logger> log,
                                     asio::any_io_executor executor)
    : options_(std::move(options)),
      log_(std::move(log)),
      executor_(std::move(executor)),
      rng_(std::random_device{}()) {}

InstancePrincipal::~InstancePrincipal() = default;

Result<Unit> InstancePrincipal::make_federation_client() {
  const std::string base = federation_base(options_.oci, region_, realm_domain_);
  auto url = http::parse_url(base);
  if (!url) return fail("the federation endpoint " + base + ": " + url.error());
  if (auto ok = check_base_url(*url, "the federation endpoint's"); !ok) return ok;
  http::ClientOptions client_options;
  client_options.timeout = options_.timeout;
  client_options.max_idle_connections = 1;
  client_options.max_response_body_bytes = 256 * 1024;
  client_options.tls = tls_;
  federation_endpoint_ = url->origin() + path_prefix(*url) + "/v1/x509";
  federation_target_ = oci_request_target(path_prefix(*url) + "/v1/x509");
  federation_ =
      std::make_unique<http::HttpClient>(executor_, std::move(url).value(), client_options);
  return Unit{};
}

InstancePrincipal::Clock::time_point InstancePrincipal::now() const {
  return options_.now ? options_.now() : Clock::now();
}

asio::awaitable<Result<SignerPtr>> InstancePrincipal::signer() {
  const auto t = now();
  if (session_ && t < session_->refresh_at) {
    if (t - session_->fetched_at >= kQuickRejection) quick_rejections_ = 0;
    co_return session_->signer;
  }
  if (flight_) {
    // Someone is fetching already: wait for that fetch's outcome.
    const std::shared_ptr<Flight> flight = flight_;
    co_await flight->done.async_wait(nothrow);
    if (flight->outcome) co_return *flight->outcome;
    co_return fail(std::string("the security token request was abandoned"));
  }
  if (t < retry_at_) {
    if (session_ && t < session_->expires_at) co_return session_->signer;
    co_return fail(last_error_);
  }
  const auto flight = std::make_shared<Flight>(executor_);
  flight_ = flight;
  Result<SignerPtr> outcome = co_await fetch();
  flight->outcome = outcome;
  flight_.reset();
  flight->done.cancel();
  co_return outcome;
}

asio::awaitable<Result<std::string>> InstancePrincipal::read_metadata(std::string_view path,
                                                                      int* status) {
  http::ClientRequest request;
  request.method = "GET";
  request.target = metadata_prefix_ + std::string(path);
  request.headers.add("Authorization", "Bearer Oracle");
  auto response = co_await metadata_->send(std::move(request));
  const std::string where = "the metadata service (" + metadata_->url().origin() +
                            metadata_prefix_ + std::string(path) + ")";
  if (!response) co_return fail(where + ": " + response.error().message);
  if (status) *status = response->status;
  if (response->status != 200)
    co_return fail(where + ": " + oci_http_failure(response.value(), true));
  co_return std::move(response->body);
}

// The region and its realm's domain from /instance/regionInfo/; a metadata
// service without it (404), or with an answer that cannot be used, gives the
// region alone (/instance/region), and the domain follows from the region's
// name.
asio::awaitable<Result<RegionInfo>> InstancePrincipal::read_region() {
  int status = 0;
  auto info = co_await read_metadata("/instance/regionInfo/", &status);
  if (info) {
    auto parsed = region_info_from_metadata(*info);
    if (parsed) co_return parsed;
    log_->warn("{}: {}; reading instance/region instead", options_.owner, parsed.error());
  } else if (status != 404) {
    co_return fail(std::move(info).error());
  }
  auto answer = co_await read_metadata("/instance/region");
  if (!answer) co_return fail(std::move(answer).error());
  auto region = region_from_metadata(*answer);
  if (!region) co_return fail(std::move(region).error());
  co_return RegionInfo{std::move(region).value(), {}};
}

asio::awaitable<Result<InstancePrincipal::Identity>> InstancePrincipal::read_identity() {
  auto cert_pem = co_await read_metadata("/identity/cert.pem");
  if (!cert_pem) co_return fail(std::move(cert_pem).error());
  auto intermediate_pem = co_await read_metadata("/identity/intermediate.pem");
  if (!intermediate_pem) co_return fail(std::move(intermediate_pem).error());
  auto key_pem = co_await read_metadata("/identity/key.pem");
  if (!key_pem) co_return fail(std::move(key_pem).error());

  auto certificate = OciCertificate::from_pem(*cert_pem);
  if (!certificate) co_return fail("the instance certificate: " + certificate.error());
  auto intermediates = OciCertificate::all_from_pem(*intermediate_pem);
  if (!intermediates) co_return fail("the intermediate certificate: " + intermediates.error());
  auto key = OciPrivateKey::from_pem(*key_pem, "");
  if (!key) co_return fail("the instance key: " + key.error());
  const std::string tenancy = certificate->tenancy();
  if (tenancy.empty() || !is_token_text(tenancy) || tenancy.find('/') != std::string::npos) {
    co_return fail(std::string("the instance certificate's subject has no opc-tenant: attribute"));
  }
  const std::string fingerprint = certificate->sha1_fingerprint();
  if (fingerprint != certificate_fingerprint_) {
    if (!certificate_fingerprint_.empty()) {
      log_->info("{}: the instance certificate was renewed (SHA-1 {})", options_.owner,
                 fingerprint);
    }
    certificate_fingerprint_ = fingerprint;
  }
  OciRequestSigner signer(tenancy + "/fed-x509/" + fingerprint, std::move(key).value());
  co_return Identity{std::move(certificate).value(), std::move(intermediates).value(),
                     std::move(signer)};
}

asio::awaitable<Result<std::string>> InstancePrincipal::federate(
    const Identity& identity, const std::string& session_public_key) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> json(buffer);
  json.StartObject();
  json.Key("certificate");
  const std::string certificate = identity.certificate.der_base64();
  json.String(certificate.c_str(), static_cast<rapidjson::SizeType>(certificate.size()));
  json.Key("publicKey");
  json.String(session_public_key.c_str(),
              static_cast<rapidjson::SizeType>(session_public_key.size()));
  json.Key("intermediateCertificates");
  json.StartArray();
  for (const OciCertificate& c : identity.intermediates) {
    const std::string der = c.der_base64();
    json.String(der.c_str(), static_cast<rapidjson::SizeType>(der.size()));
  }
  json.EndArray();
  json.EndObject();

  http::ClientRequest request;
  request.method = "POST";
  request.target = federation_target_;
  request.headers.add("Content-Type", "application/json");
  request.headers.add("Accept", "application/json");
  request.body.assign(buffer.GetString(), buffer.GetSize());
  // Kept alive while signing: OciRequest holds views.
  const std::string host = federation_->url().host_header();
  const OciRequest signed_part{request.method, request.target, host, request.headers.fields(),
                               request.body};
  // Signed with the real time whatever clock schedules the refreshes.
  auto added = identity.signer.sign(signed_part, Clock::now());
  if (!added) co_return fail("cannot sign the federation request: " + added.error());
  for (auto& [name, value] : added.value()) request.headers.add(std::move(name), std::move(value));

  ++federation_requests_;
  std::optional<Result<http::ClientResponse, http::ClientError>> response;
  try {
    response.emplace(co_await federation_->send(std::move(request)));
  } catch (const std::exception& e) {
    response.emplace(fail(http::ClientError{http::ClientError::Kind::io, e.what()}));
  }
  const std::string where = "the federation endpoint " + federation_endpoint_;
  if (!response->ok()) co_return fail(where + ": " + response->error().message);
  const http::ClientResponse& answer = response->value();
  if (answer.status < 200 || answer.status > 299) {
    co_return fail(where + ": " + oci_http_failure(answer, true));
  }
  rapidjson::Document doc;
  doc.Parse(answer.body.data(), answer.body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    co_return fail(where + ": HTTP " + std::to_string(answer.status) +
                   ", but the answer is not a JSON object");
  }
  const std::string_view token = string_member(doc, "token");
  if (!is_token_text(token)) {
    co_return fail(where + ": HTTP " + std::to_string(answer.status) +
                   ", but the answer has no usable token");
  }
  co_return std::string(token);
}

asio::awaitable<Result<SignerPtr>> InstancePrincipal::fetch() {
  const auto started = now();
  Result<SignerPtr> outcome = fail(std::string("no security token"));
  do {
    if (region_.empty()) {
      auto learned = co_await read_region();
      if (!learned) {
        outcome = fail(std::move(learned).error());
        break;
      }
      region_ = std::move(learned->region);
      realm_domain_ = std::move(learned->realm_domain);
      if (auto ok = make_federation_client(); !ok) {
        region_.clear();
        realm_domain_.clear();
        outcome = fail(std::move(ok).error());
        break;
      }
      log_->info("{}: region {}, realm domain {} (from the metadata service)", options_.owner,
                 region_, realm_domain_.empty() ? oci::realm_domain(region_) : realm_domain_);
    }
    auto identity = co_await read_identity();
    if (!identity) {
      outcome = fail(std::move(identity).error());
      break;
    }
    auto session_key = OciPrivateKey::generate_rsa(kSessionKeyBits);
    if (!session_key) {
      outcome = fail(std::move(session_key).error());
      break;
    }
    auto token = co_await federate(identity.value(), session_key->public_key_der_base64());
    if (!token) {
      outcome = fail(std::move(token).error());
      break;
    }
    auto expiry = jwt_expiry(*token);
    if (!expiry) {
      outcome = fail("the federation endpoint " + federation_endpoint_ + ": " + expiry.error());
      break;
    }
    const Duration lifetime = std::chrono::duration_cast<Duration>(*expiry - started);
    if (lifetime <= Duration::zero()) {
      outcome = fail("the federation endpoint " + federation_endpoint_ +
                     ": the token has expired already (is the clock right?)");
      break;
    }
    const Duration margin = std::min(kMaxRefreshMargin, lifetime / 5);
    auto signer = std::make_shared<const OciRequestSigner>("ST$" + std::move(token).value(),
                                                           std::move(session_key).value());
    session_ = Session{signer, started, started + (lifetime - margin), *expiry};
    failures_ = 0;
    retry_at_ = {};
    last_error_.clear();
    log_->info("{}: security token obtained from {} (expires in {})", options_.owner,
               federation_endpoint_, format_duration(lifetime));
    co_return SignerPtr(std::move(signer));
  } while (false);

  back_off(std::move(outcome).error(), ++failures_);
  if (session_ && now() < session_->expires_at) co_return session_->signer;
  co_return fail(last_error_);
}

void InstancePrincipal::back_off(std::string error, int exponent) {
  Duration delay = options_.min_backoff;
  for (int i = 1; i < exponent && delay < options_.max_backoff; ++i) delay *= 2;
  delay = std::min(delay, options_.max_backoff);
  // Equal jitter: a uniform draw in [delay/2, delay].
  const double unit = std::uniform_real_distribution<double>(0, 1)(rng_);
  delay = Duration(delay.count() / 2 +
                   static_cast<Duration::rep>(unit * static_cast<double>(delay.count() / 2)));
  retry_at_ = now() + delay;
  last_error_ = std::move(error);
  log_->warn("{}: no OCI security token: {}; next try in {} at the earliest", options_.owner,
             last_error_, format_duration(delay));
}

bool InstancePrincipal::rejected(const SignerPtr& used) {
  if (!session_ || session_->signer != used) return true;  // already replaced
  const bool quick = now() - session_->fetched_at < kQuickRejection;
  session_.reset();
  if (!quick) {
    quick_rejections_ = 0;
    return true;
  }
  if (++quick_rejections_ >= 2) {
    // Fresh tokens keep being rejected (a missing policy): fetching one per
    // attempt would only hammer the federation endpoint.
    back_off("the destination rejected " + std::to_string(quick_rejections_) +
                 " fresh security tokens in a row (HTTP 401)",
             quick_rejections_ - 1);
  }
  return true;
}

void InstancePrincipal::cancel() {
  metadata_->cancel();
  if (federation_) federation_->cancel();
}

}  // namespace ocirelay::oci
