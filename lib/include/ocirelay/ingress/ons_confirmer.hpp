// Confirms OCI Notifications HTTPS subscriptions by fetching their
// confirmation URL, and refuses to fetch anything else.
//
// A URL is fetched only when auto_confirm is on, it is https, its host matches
// one of `confirm_url_hosts` (`*` wildcards, case-insensitive), and every
// address the host resolves to is public. Loopback, private, link-local,
// unspecified and multicast addresses are refused unless the URL's host is an
// IP literal written literally in `confirm_url_hosts` (as tests do). The
// addresses checked are the ones connected to: no second lookup.
//
// Thread and lifetime contract: lives on the io_context's single thread; must
// outlive its pending confirm() calls.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"
#include "ocirelay/http/tls_context.hpp"

namespace spdlog {
class logger;
}

namespace ocirelay::ingress {

struct Confirmation {
  enum class Outcome {
    confirmed,     // fetched, 2xx
    not_enabled,   // auto_confirm off: URL logged for an operator
    refused,       // not https, host or address not allowed
    failed,        // fetch failed or non-2xx
  };
  Outcome outcome = Outcome::failed;
  std::string detail;  // reason, for logs and the response
};

class OnsConfirmer {
 public:
  static Result<std::unique_ptr<OnsConfirmer>> create(boost::asio::any_io_executor executor,
                                                      const config::Ons& options,
                                                      std::shared_ptr<spdlog::logger> log);

  boost::asio::awaitable<Confirmation> confirm(std::string url, std::string request_id);

  // New settings (configuration reload); confirmations under way finish with
  // the old ones. Fails, changing nothing, when the CA file cannot be loaded.
  Result<Unit> reconfigure(const config::Ons& options);

  // The policy, exposed for tests.
  bool host_allowed(const std::string& host) const;

 private:
  OnsConfirmer(boost::asio::any_io_executor executor, const config::Ons& options,
               http::TlsContextPtr tls, std::shared_ptr<spdlog::logger> log);

  boost::asio::any_io_executor executor_;
  config::Ons options_;
  http::TlsContextPtr tls_;
  std::shared_ptr<spdlog::logger> log_;
};

// True for loopback, private (RFC 1918, fc00::/7, 100.64.0.0/10), link-local,
// unspecified, multicast and broadcast addresses, IPv4-mapped ones included.
bool is_internal_address(const boost::asio::ip::address& address);

}  // namespace ocirelay::ingress
