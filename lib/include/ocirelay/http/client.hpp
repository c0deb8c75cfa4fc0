// An HTTP/1.1 client for one origin (scheme, host, port), with a small pool
// of keep-alive connections, built on Boost.Beast and C++20 coroutines.
// HTTPS verifies the peer's certificate chain and host name (or IP address)
// unless the TLS context was made with verify off.
//
// Every request has one deadline covering resolve, connect, TLS handshake,
// write and read. A request that fails on a reused keep-alive connection
// before any response byte arrived is retried once on a fresh connection.
//
// Thread and lifetime contract: one HttpClient is used on one single-threaded
// executor; several send() calls may be in flight at once, each on its own
// connection. The client must outlive its pending send() calls.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/http/message.hpp"
#include "ocirelay/http/tls_context.hpp"
#include "ocirelay/http/url.hpp"

namespace ocirelay::http {

struct ClientOptions {
  TlsContextPtr tls;  // required for https URLs
  Duration timeout = std::chrono::seconds(30);
  std::size_t max_idle_connections = 4;
  std::size_t max_response_body_bytes = 1024 * 1024;
  std::string user_agent = "ocirelay";
  // A host that resolves to link-local addresses (169.254.0.0/16, fe80::/10)
  // is refused (ClientError::Kind::refused_address), and only its other
  // addresses are tried, unless this is set: the instance metadata service's
  // client alone sets it.
  bool allow_link_local = false;
  // Called with the resolved addresses before connecting; a returned string
  // refuses the request with that reason. Only the addresses it approved are
  // connected to (no second lookup).
  std::function<std::optional<std::string>(const std::vector<boost::asio::ip::address>&)>
      address_policy;
};

struct ClientRequest {
  std::string method = "POST";
  std::string target;  // empty: the URL's own path and query
  Headers headers;
  std::string body;
};

struct ClientResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

struct ClientError {
  enum class Kind { resolve, refused_address, connect, tls, timeout, io, protocol };
  Kind kind = Kind::io;
  std::string message;  // short and free of credentials
};

// 169.254.0.0/16 or fe80::/10, also as an IPv4-mapped IPv6 address, and the
// instance metadata service's other addresses (fd00:c1::a9fe:a9fe, and
// 64:ff9b::a9fe:a9fe through NAT64): what ClientOptions::allow_link_local is
// about.
bool is_link_local(const boost::asio::ip::address& address);

class HttpClient {
 public:
  HttpClient(boost::asio::any_io_executor executor, Url url, ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  boost::asio::awaitable<Result<ClientResponse, ClientError>> send(ClientRequest request);

  const Url& url() const noexcept;
  // Closes pooled idle connections.
  void close_idle();
  // Aborts every request in flight, whatever step it is at (resolving,
  // connecting, TLS handshake, writing, reading): they fail at once. Closes
  // every connection. Later requests are not affected.
  void cancel();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocirelay::http
