#include "ocirelay/ingress/ons_confirmer.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "ocirelay/filter/condition.hpp"
#include "ocirelay/http/client.hpp"
#include "ocirelay/http/url.hpp"

namespace ocirelay::ingress {

namespace asio = boost::asio;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return s;
}

bool internal_v4(const asio::ip::address_v4& a) {
  const auto b = a.to_bytes();
  return a.is_loopback() || a.is_unspecified() || a.is_multicast() || b[0] == 10 ||
         (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
         (b[0] == 169 && b[1] == 254) || (b[0] == 100 && (b[1] & 0xc0) == 64) || b[0] == 0 ||
         a == asio::ip::address_v4::broadcast();
}

}  // namespace

bool is_internal_address(const asio::ip::address& address) {
  if (address.is_v4()) return internal_v4(address.to_v4());
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) {
    return internal_v4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
  }
  const auto b = v6.to_bytes();
  return v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || v6.is_link_local() ||
         v6.is_site_local() || (b[0] & 0xfe) == 0xfc;
}

Result<std::unique_ptr<OnsConfirmer>> OnsConfirmer::create(asio::any_io_executor executor,
                                                           const config::Ons& options,
                                                           std::shared_ptr<spdlog::logger> log) {
  http::TlsContextPtr tls;
  if (options.auto_confirm) {
    auto made = http::make_client_tls_context(http::ClientTlsOptions{options.ca_file, true, {}, {}});
    if (!made) return fail("server.ons: " + made.error());
    tls = std::move(made).value();
  }
  return std::unique_ptr<OnsConfirmer>(
      new OnsConfirmer(std::move(executor), options, std::move(tls), std::move(log)));
}

OnsConfirmer::OnsConfirmer(asio::any_io_executor executor, const config::Ons& options,
                           http::TlsContextPtr tls, std::shared_ptr<spdlog::logger> log)
    : executor_(std::move(executor)), options_(options), tls_(std::move(tls)), log_(std::move(log)) {}

Result<Unit> OnsConfirmer::reconfigure(const config::Ons& options) {
  http::TlsContextPtr tls;
  if (options.auto_confirm) {
    auto made = http::make_client_tls_context(http::ClientTlsOptions{options.ca_file, true, {}, {}});
    if (!made) return fail("server.ons: " + made.error());
    tls = std::move(made).value();
  }
  options_ = options;
  tls_ = std::move(tls);
  return Unit{};
}

bool OnsConfirmer::host_allowed(const std::string& host) const {
  const std::string h = lower(host);
  return std::any_of(options_.confirm_url_hosts.begin(), options_.confirm_url_hosts.end(),
                     [&](const std::string& p) { return filter::Pattern(lower(p)).matches(h); });
}

asio::awaitable<Confirmation> OnsConfirmer::confirm(std::string url_text, std::string request_id) {
  using Outcome = Confirmation::Outcome;
  auto parsed = http::parse_url(url_text);
  if (!parsed) {
    co_return Confirmation{Outcome::refused, "confirmation URL is invalid: " + parsed.error()};
  }
  const http::Url url = std::move(parsed).value();
  if (!options_.auto_confirm) {
    log_->warn("{}: subscription confirmation received; auto_confirm is off, confirm it by "
               "opening this URL: {}",
               request_id, url_text);
    co_return Confirmation{Outcome::not_enabled, "auto_confirm is off; the URL was logged"};
  }
  if (!url.tls) {
    co_return Confirmation{Outcome::refused, "confirmation URL is not https"};
  }
  if (!host_allowed(url.host)) {
    co_return Confirmation{Outcome::refused,
                           "confirmation URL host " + url.host + " is not in confirm_url_hosts"};
  }
  const bool literal_listed =
      http::is_ip_literal(url.host) &&
      std::find(options_.confirm_url_hosts.begin(), options_.confirm_url_hosts.end(), url.host) !=
          options_.confirm_url_hosts.end();

  http::ClientOptions client_options;
  client_options.tls = tls_;
  client_options.timeout = options_.confirm_timeout;
  client_options.max_idle_connections = 0;
  client_options.max_response_body_bytes = 64 * 1024;
  client_options.address_policy =
      [literal_listed, host = url.host](const std::vector<asio::ip::address>& addresses)
      -> std::optional<std::string> {
    if (literal_listed) return std::nullopt;
    for (const auto& a : addresses) {
      if (is_internal_address(a)) {
        return "confirmation URL host " + host + " resolves to the internal address " +
               a.to_string();
      }
    }
    return std::nullopt;
  };
  http::HttpClient client(executor_, url, std::move(client_options));
  http::ClientRequest request;
  request.method = "GET";
  auto result = co_await client.send(std::move(request));
  if (!result) {
    const auto& err = result.error();
    co_return Confirmation{
        err.kind == http::ClientError::Kind::refused_address ? Outcome::refused : Outcome::failed,
        err.message};
  }
  if (result->status < 200 || result->status > 299) {
    co_return Confirmation{Outcome::failed, "confirmation URL answered HTTP " +
                                                std::to_string(result->status)};
  }
  co_return Confirmation{Outcome::confirmed, "confirmed via " + url.origin()};
}

}  // namespace ocirelay::ingress
