#include "ocirelay/delivery/token_provider.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <utility>

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ocirelay/common/base64.hpp"
#include "ocirelay/common/printable_text.hpp"
#include "ocirelay/http/message.hpp"
#include "ocirelay/http/tls_context.hpp"
#include "ocirelay/http/url.hpp"

namespace ocirelay::delivery {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// A token rejected this soon after it was fetched counts as a "fresh" one.
constexpr Duration kQuickRejection = 30s;
constexpr Duration kMaxLifetime = 365 * 24h;

std::string_view string_member(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

struct Granted {
  std::string token;  // secret
  Duration lifetime;
};

// The answer of the token endpoint. Reasons never contain the token: the
// body of a 2xx answer is never quoted.
Result<Granted> parse_token_response(const http::ClientResponse& response,
                                     Duration default_lifetime) {
  const std::string status = "HTTP " + std::to_string(response.status);
  rapidjson::Document doc;
  doc.Parse(response.body.data(), response.body.size());
  const bool object = !doc.HasParseError() && doc.IsObject();
  if (response.status < 200 || response.status > 299) {
    std::string reason = status;
    // RFC 6749 5.2: {"error": "invalid_client", "error_description": "..."}
    if (object && !string_member(doc, "error").empty()) {
      reason += " (" + printable_text(string_member(doc, "error"), 64);
      const auto description = string_member(doc, "error_description");
      if (!description.empty()) reason += ": " + printable_text(description, 200);
      reason += ")";
    }
    return fail(std::move(reason));
  }
  if (!object) return fail(status + ", but the answer is not a JSON object");
  const std::string_view token = string_member(doc, "access_token");
  const bool usable = !token.empty() && std::all_of(token.begin(), token.end(), [](char c) {
    return c > 0x20 && c < 0x7f;  // it goes into a header field
  });
  if (!usable) return fail(status + ", but the answer has no usable access_token");
  if (doc.HasMember("token_type")) {
    const std::string_view type = string_member(doc, "token_type");
    if (!http::iequals(type, "Bearer")) {
      return fail(status + ", but the token_type is not Bearer");
    }
  }
  Duration lifetime = default_lifetime;
  const auto expires = doc.FindMember("expires_in");
  if (expires != doc.MemberEnd() && !expires->value.IsNull()) {
    double seconds = -1;
    if (expires->value.IsNumber()) {
      seconds = expires->value.GetDouble();
    } else if (expires->value.IsString()) {
      const char* begin = expires->value.GetString();
      const char* end = begin + expires->value.GetStringLength();
      const auto [ptr, ec] = std::from_chars(begin, end, seconds);
      if (ec != std::errc{} || ptr != end) seconds = -1;
    }
    if (!(seconds > 0)) return fail(status + ", but the answer has a bad expires_in");
    const double capped = std::min(seconds, static_cast<double>(kMaxLifetime.count()) / 1000.0);
    lifetime = Duration(static_cast<Duration::rep>(capped * 1000.0));
  }
  return Granted{std::string(token), lifetime};
}

}  // namespace

std::string form_url_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (keep) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

struct TokenProvider::Flight {
  explicit Flight(const asio::any_io_executor& ex) : done(ex, Clock::time_point::max()) {}
  asio::steady_timer done;  // cancelled once `outcome` is set
  std::optional<Result<std::string>> outcome;
};

Result<std::unique_ptr<TokenProvider>> TokenProvider::create(asio::any_io_executor executor,
                                                             const config::Destination& destination,
                                                             std::shared_ptr<spdlog::logger> log) {
  const config::DestinationAuth& auth = destination.auth;
  auto url = http::parse_url(auth.token_url);
  if (!url) return fail("destination " + destination.name + ": auth.token_url: " + url.error());
  http::ClientOptions client_options;
  client_options.timeout = destination.timeout;
  client_options.max_idle_connections = 1;
  client_options.max_response_body_bytes = 64 * 1024;
  if (url->tls) {
    // The destination's tls settings apply to its token endpoint as well.
    auto tls = http::make_client_tls_context(
        http::ClientTlsOptions{destination.tls.ca_file, destination.tls.verify,
                               destination.tls.cert_file, destination.tls.key_file});
    if (!tls) return fail("destination " + destination.name + ": token endpoint: " + tls.error());
    client_options.tls = std::move(tls).value();
  } else {
    log->warn(
        "destination {}: auth.token_url {} is plain http: the client secret is sent "
        "unencrypted",
        destination.name, url->redacted());
  }
  Options options;
  options.destination = destination.name;
  options.endpoint = url->redacted();
  options.client_id = auth.client_id;
  options.client_secret = auth.client_secret;
  options.scope = auth.scope;
  auto client = std::make_unique<http::HttpClient>(executor, *url, std::move(client_options));
  http::HttpClient* raw = client.get();
  auto provider = std::make_unique<TokenProvider>(
      std::move(options), [raw](http::ClientRequest r) { return raw->send(std::move(r)); },
      std::move(log), std::move(executor));
  provider->client_ = std::move(client);
  return provider;
}

TokenProvider::TokenProvider(Options options, Transport transport,
                             std::shared_ptr<spdlog::logger> log, asio::any_io_executor executor)
    : options_(std::move(options)),
      transport_(std::move(transport)),
      log_(std::move(log)),
      executor_(std::move(executor)),
      rng_(std::random_device{}()) {
  authorization_ = "Basic " + base64_encode(options_.client_id + ":" + options_.client_secret);
  form_body_ = "grant_type=client_credentials&scope=" + form_url_encode(options_.scope);
}

TokenProvider::~TokenProvider() = default;

TokenProvider::Clock::time_point TokenProvider::now() const {
  return options_.now ? options_.now() : Clock::now();
}

asio::awaitable<Result<std::string>> TokenProvider::token() {
  const auto t = now();
  if (cached_ && t < cached_->refresh_at) {
    // In use for a while: the destination accepts this client's tokens.
    if (t - cached_->fetched_at >= kQuickRejection) quick_rejections_ = 0;
    co_return cached_->value;
  }
  if (flight_) {
    // Someone is fetching already: wait for that request's outcome.
    const std::shared_ptr<Flight> flight = flight_;
    co_await flight->done.async_wait(nothrow);
    if (flight->outcome) co_return *flight->outcome;
    co_return fail(std::string("the token request was abandoned"));
  }
  if (t < retry_at_) {
    if (cached_ && t < cached_->expires_at) co_return cached_->value;
    co_return fail(last_error_);
  }
  const auto flight = std::make_shared<Flight>(executor_);
  flight_ = flight;
  Result<std::string> outcome = co_await fetch();
  flight->outcome = outcome;
  flight_.reset();
  flight->done.cancel();
  co_return outcome;
}

asio::awaitable<Result<std::string>> TokenProvider::fetch() {
  http::ClientRequest request;
  request.method = "POST";
  request.headers.add("Authorization", authorization_);
  request.headers.add("Content-Type", "application/x-www-form-urlencoded");
  request.headers.add("Accept", "application/json");
  request.body = form_body_;
  ++requests_sent_;
  const auto started = now();
  std::optional<Result<http::ClientResponse, http::ClientError>> response;
  try {
    auto answer = co_await transport_(std::move(request));
    response.emplace(std::move(answer));
  } catch (const std::exception& e) {
    response.emplace(fail(http::ClientError{http::ClientError::Kind::io, e.what()}));
  }
  Result<Granted> granted = response->ok()
                                ? parse_token_response(response->value(), options_.default_lifetime)
                                : Result<Granted>(fail(response->error().message));
  if (!granted) {
    back_off("token endpoint " + options_.endpoint + ": " + granted.error(), ++failures_);
    if (cached_ && now() < cached_->expires_at) co_return cached_->value;
    co_return fail(last_error_);
  }
  failures_ = 0;
  retry_at_ = {};
  last_error_.clear();
  const Duration lifetime = granted->lifetime;
  const Duration margin = std::min(options_.max_margin, lifetime / 10);
  cached_ =
      Cached{std::move(granted->token), started, started + lifetime - margin, started + lifetime};
  log_->info("destination {}: OAuth2 token obtained from {} (expires in {})", options_.destination,
             options_.endpoint, format_duration(lifetime));
  co_return cached_->value;
}

void TokenProvider::back_off(std::string error, int exponent) {
  Duration delay = options_.min_backoff;
  for (int i = 1; i < exponent && delay < options_.max_backoff; ++i) delay *= 2;
  delay = std::min(delay, options_.max_backoff);
  // Equal jitter: a uniform draw in [delay/2, delay].
  const double unit = std::uniform_real_distribution<double>(0, 1)(rng_);
  delay = Duration(delay.count() / 2 +
                   static_cast<Duration::rep>(unit * static_cast<double>(delay.count() / 2)));
  retry_at_ = now() + delay;
  last_error_ = std::move(error);
  log_->warn("destination {}: no OAuth2 token: {}; next token request in {} at the earliest",
             options_.destination, last_error_, format_duration(delay));
}

void TokenProvider::invalidate(const std::string& token) {
  if (!cached_ || cached_->value != token) return;  // already replaced
  const bool quick = now() - cached_->fetched_at < kQuickRejection;
  cached_.reset();
  if (!quick) {
    quick_rejections_ = 0;
    return;
  }
  if (++quick_rejections_ >= 2) {
    // Fresh tokens keep being rejected (bad role, wrong scope): fetching one
    // per attempt would only hammer the identity domain.
    back_off("the destination rejected " + std::to_string(quick_rejections_) +
                 " fresh tokens in a row (HTTP 401)",
             quick_rejections_ - 1);
  }
}

void TokenProvider::cancel() {
  if (client_) client_->cancel();
}

}  // namespace ocirelay::delivery
