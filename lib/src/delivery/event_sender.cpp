#include "ocirelay/delivery/event_sender.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include <spdlog/spdlog.h>

#include "ocirelay/common/base64.hpp"
#include "ocirelay/http/tls_context.hpp"
#include "ocirelay/http/url.hpp"

namespace ocirelay::delivery {

namespace asio = boost::asio;

Result<std::unique_ptr<EventSender>> EventSender::create(asio::any_io_executor executor,
                                                         const config::Destination& destination,
                                                         std::shared_ptr<spdlog::logger> log) {
  const std::string& name = destination.name;
  auto url = http::parse_url(destination.url);
  if (!url) return fail("destination " + name + ": " + url.error());
  auto payload = Payload::compile(destination.payload);
  if (!payload) return fail("destination " + name + ": " + payload.error());

  const bool oauth2 = destination.auth.type == config::DestinationAuth::Type::oauth2;
  const bool token_over_tls = oauth2 && destination.auth.token_url.starts_with("https://");
  if (!destination.tls.verify && (url->tls || token_over_tls)) {
    log->warn(
        "destination {}: tls.verify is false: the certificate and host name of {}{} are "
        "NOT checked; anyone on the network path can read and change what is sent",
        name, url->origin(), oauth2 ? " and of its token endpoint" : "");
  }

  http::ClientOptions options;
  options.timeout = destination.timeout;
  options.max_idle_connections = std::max(1u, destination.concurrency);
  if (url->tls) {
    auto tls = http::make_client_tls_context(
        http::ClientTlsOptions{destination.tls.ca_file, destination.tls.verify,
                               destination.tls.cert_file, destination.tls.key_file});
    if (!tls) return fail("destination " + name + ": " + tls.error());
    options.tls = std::move(tls).value();
  }

  std::unique_ptr<EventSender> sender(new EventSender());
  if (oauth2) {
    auto tokens = TokenProvider::create(executor, destination, log);
    if (!tokens) return fail(std::move(tokens).error());
    sender->tokens_ = std::move(tokens).value();
  } else if (destination.auth.type == config::DestinationAuth::Type::basic) {
    sender->basic_authorization_ =
        "Basic " + base64_encode(destination.auth.username + ":" + destination.auth.password);
  } else if (destination.auth.type == config::DestinationAuth::Type::oci_signature) {
    config::Oci oci = destination.auth.oci;
    if (destination.auth.principal == config::OciPrincipal::api_key) {
      oci.api_key = destination.auth.api_key;
    }
    auto signers = oci::make_signer_source(executor, oci, destination.auth.principal,
                                           "destination " + name, log);
    if (!signers) return fail(std::move(signers).error());
    sender->signers_ = std::move(signers).value();
    sender->host_header_ = url->host_header();
    sender->signed_target_ = oci_request_target(url->target);
  }
  sender->name_ = name;
  sender->log_ = std::move(log);
  sender->client_ = std::make_unique<http::HttpClient>(std::move(executor), std::move(url).value(),
                                                       std::move(options));
  sender->payload_ = std::move(payload).value();
  sender->headers_ = destination.headers;
  return sender;
}

EventSender::~EventSender() = default;

http::ClientRequest EventSender::make_request(const std::string& key, std::string_view body,
                                              std::optional<std::size_t> events,
                                              const std::string& bearer) const {
  http::ClientRequest request;
  request.method = "POST";
  request.headers.add("Content-Type", "application/json");
  request.headers.add("Idempotency-Key", key);
  if (events) request.headers.add("X-Event-Count", std::to_string(*events));
  if (!bearer.empty()) {
    request.headers.add("Authorization", "Bearer " + bearer);
  } else if (!basic_authorization_.empty()) {
    request.headers.add("Authorization", basic_authorization_);
  }
  for (const auto& header : headers_) request.headers.add(header.name, header.value);
  request.body = std::string(body);
  return request;
}

Result<Unit> EventSender::sign(http::ClientRequest& request, const OciRequestSigner& signer) const {
  const OciRequest signed_part{request.method, request.target, host_header_,
                               request.headers.fields(), request.body};
  auto added = signer.sign(signed_part, std::chrono::system_clock::now());
  if (!added) return fail(std::move(added).error());
  for (auto& [name, value] : added.value()) request.headers.add(std::move(name), std::move(value));
  return Unit{};
}

asio::awaitable<Result<http::ClientResponse, http::ClientError>> EventSender::send(
    const std::string& key, std::string_view body, std::optional<std::size_t> events) {
  // In the log lines below, `key` is the event ID of a single event, or the
  // batch's key.
  std::string bearer;
  if (tokens_) {
    auto token = co_await tokens_->token();
    if (!token) {
      co_return fail(http::ClientError{http::ClientError::Kind::io,
                                       "no OAuth2 token: " + std::move(token).error()});
    }
    bearer = std::move(token).value();
  }
  if (signers_) co_return co_await send_signed(key, body, events);
  http::ClientRequest request = make_request(key, body, events, bearer);
  auto response = co_await client_->send(std::move(request));
  if (!tokens_ || !response || response->status != 401) co_return response;

  // The token may have been revoked or expired early: one new token, one
  // more try; whatever that answers is the attempt's result.
  tokens_->invalidate(bearer);
  auto fresh = co_await tokens_->token();
  if (!fresh) {
    log_->warn("{} to {}: HTTP 401 with the OAuth2 token, and no new one: {}", key, name_,
               fresh.error());
    co_return response;
  }
  if (fresh.value() == bearer) co_return response;
  log_->info("{} to {}: HTTP 401 with the OAuth2 token; sending once more with a new one", key,
             name_);
  auto second = co_await client_->send(make_request(key, body, events, fresh.value()));
  co_return second;
}

asio::awaitable<Result<http::ClientResponse, http::ClientError>> EventSender::send_signed(
    const std::string& key, std::string_view body, std::optional<std::size_t> events) {
  oci::SignerPtr used;
  Result<http::ClientResponse, http::ClientError> response =
      fail(http::ClientError{http::ClientError::Kind::io, "not sent"});
  for (int round = 0; round < 2; ++round) {
    auto signer = co_await signers_->signer();
    if (!signer) {
      if (round == 1) {
        log_->warn("{} to {}: HTTP 401 with the OCI signature, and no new signer: {}", key,
                   name_, signer.error());
        co_return response;
      }
      co_return fail(http::ClientError{http::ClientError::Kind::io,
                                       "no OCI signer: " + std::move(signer).error()});
    }
    if (round == 1) {
      if (signer.value() == used) co_return response;
      log_->info(
          "{} to {}: HTTP 401 with the OCI security token; sending once more with a new one",
          key, name_);
    }
    used = std::move(signer).value();
    http::ClientRequest request = make_request(key, body, events, std::string());
    request.target = signed_target_;
    // Signed afresh for every attempt: the signature covers the date.
    if (auto signed_ok = sign(request, *used); !signed_ok) {
      co_return fail(http::ClientError{http::ClientError::Kind::io,
                                       "cannot sign the request: " + signed_ok.error()});
    }
    response = co_await client_->send(std::move(request));
    if (!response || response->status != 401 || !signers_->rejected(used)) co_return response;
  }
  co_return response;
}

void EventSender::cancel() {
  client_->cancel();
  if (tokens_) tokens_->cancel();
  if (signers_) signers_->cancel();
}

}  // namespace ocirelay::delivery
