// OAuth 2.0 client-credentials tokens for one destination (auth type
// oauth2), as OCI IAM identity domains issue them for Oracle Integration:
//
//   POST <token_url>
//   Authorization: Basic base64(client_id:client_secret)
//   Content-Type: application/x-www-form-urlencoded
//   grant_type=client_credentials&scope=<url-encoded scope>
//
// answered with JSON {access_token, token_type: Bearer, expires_in}.
//
// - The token is cached and handed out until expires_in minus a margin
//   (the smaller of max_margin and a tenth of its lifetime).
// - At most one token request is in flight: every caller that needs a token
//   while one is being fetched waits for that request's outcome.
// - A failed request (no answer, non-2xx, bad JSON, no access_token) backs
//   off exponentially with jitter (min_backoff doubling to max_backoff); in
//   that time token() fails at once with the last error, so token requests
//   never scale with the number of waiting deliveries. A token that is still
//   valid (inside its margin) is used meanwhile.
// - invalidate(t) drops t if it is still the current token (the destination
//   answered 401). When fresh tokens are rejected again and again, refetching
//   backs off the same way instead of costing one token request per attempt.
// - Neither the client secret nor any token is ever logged or put in an
//   error message.
//
// Thread and lifetime contract: used on one single-threaded executor; all
// members are called on it, and token() may be awaited by many coroutines at
// once. The provider must outlive every token() call in progress; cancel()
// (at shutdown) aborts a request in flight so that they complete promptly.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"
#include "ocirelay/http/client.hpp"

namespace spdlog {
class logger;
}

namespace ocirelay::delivery {

class TokenProvider {
 public:
  using Clock = std::chrono::steady_clock;
  // Sends one token request; the HttpClient for token_url in production.
  using Transport =
      std::function<boost::asio::awaitable<Result<http::ClientResponse, http::ClientError>>(
          http::ClientRequest)>;

  struct Options {
    std::string destination;  // for logs
    std::string endpoint;     // token URL as logged (no query, no credentials)
    std::string client_id;
    std::string client_secret;  // secret
    std::string scope;
    Duration min_backoff = std::chrono::seconds(1);
    Duration max_backoff = std::chrono::seconds(60);
    Duration max_margin = std::chrono::seconds(60);
    // Lifetime assumed when the answer has no expires_in.
    Duration default_lifetime = std::chrono::seconds(3600);
    std::function<Clock::time_point()> now;  // empty: Clock::now
  };

  // For a destination with auth type oauth2: an HttpClient for its token_url,
  // with TLS set up from the destination's tls settings. Fails when the URL
  // or the TLS files are unusable.
  static Result<std::unique_ptr<TokenProvider>> create(boost::asio::any_io_executor executor,
                                                       const config::Destination& destination,
                                                       std::shared_ptr<spdlog::logger> log);

  TokenProvider(Options options, Transport transport, std::shared_ptr<spdlog::logger> log,
                boost::asio::any_io_executor executor);
  ~TokenProvider();
  TokenProvider(const TokenProvider&) = delete;
  TokenProvider& operator=(const TokenProvider&) = delete;

  // A usable access token, or why there is none (short, free of secrets).
  boost::asio::awaitable<Result<std::string>> token();
  // The destination rejected `token`: forget it unless it is already replaced.
  void invalidate(const std::string& token);
  // Aborts a token request in flight (shutdown).
  void cancel();

  // Token requests sent so far.
  std::size_t requests_sent() const noexcept { return requests_sent_; }

 private:
  struct Cached {
    std::string value;  // secret
    Clock::time_point fetched_at;
    Clock::time_point refresh_at;  // hand out until here
    Clock::time_point expires_at;  // usable until here while a refresh fails
  };
  struct Flight;

  Clock::time_point now() const;
  boost::asio::awaitable<Result<std::string>> fetch();
  void back_off(std::string error, int exponent);

  Options options_;
  Transport transport_;
  std::shared_ptr<spdlog::logger> log_;
  boost::asio::any_io_executor executor_;
  std::unique_ptr<http::HttpClient> client_;  // set by create(); used by transport_
  std::string authorization_;                 // secret
  std::string form_body_;
  std::optional<Cached> cached_;
  std::shared_ptr<Flight> flight_;  // the token request in flight, if any
  int failures_ = 0;                // failed token requests in a row
  int quick_rejections_ = 0;        // fresh tokens rejected in a row
  Clock::time_point retry_at_{};    // no token request before this
  std::string last_error_;
  std::size_t requests_sent_ = 0;
  std::mt19937_64 rng_;
};

// application/x-www-form-urlencoded value encoding: letters, digits and
// -._~ as they are, every other byte %XX.
std::string form_url_encode(std::string_view value);

}  // namespace ocirelay::delivery
