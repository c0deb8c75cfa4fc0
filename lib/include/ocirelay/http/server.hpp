// An HTTP/1.1 server (keep-alive; TLS 1.2+ when given a context) built on
// Boost.Beast and C++20 coroutines, on TCP or on a Unix domain socket.
//
// Limits: header size, body size (413 before the body is read when
// Content-Length says so), connection count, and a timeout before every read
// and write: a connection's first request header must be complete within
// header_timeout of its start; on a keep-alive connection the next request's
// first byte must come within idle_timeout and its header within
// header_timeout of that; then reading the body (body_timeout) and writing
// the response (write_timeout).
//
// At max_connections (or when accept fails for lack of file descriptors) the
// oldest connection that is waiting for a request, with no byte of one read,
// is closed to make room; when every connection is in the middle of a
// request, the new one is closed at once (and on EMFILE accepts pause).
// max_connections is lowered, with a warning, to what RLIMIT_NOFILE allows
// after keeping min(256, limit / 4) descriptors for the rest of the process.
//
// Thread and lifetime contract: a Server and all its connections run on one
// executor, which must be single-threaded (an io_context run by one thread).
// Every member function must be called on that thread. The Handler and logger
// must outlive the Server. Coroutines of open connections refer to the
// Server: destroy it only once drain() has completed (it joins them).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/http/handler.hpp"
#include "ocirelay/http/tls_context.hpp"

namespace spdlog {
class logger;
}

namespace ocirelay::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;  // 0: any free port
  // Set: listen on this Unix domain socket instead of host and port (plain
  // HTTP only). Its missing parent directories are created (0750), a stale
  // socket file is replaced, the new one gets mode 0660 and is removed again
  // by stop() and the destructor.
  std::string unix_path;
  TlsContextPtr tls;  // null: plain HTTP
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 4096;
  Duration header_timeout = std::chrono::seconds(10);
  Duration body_timeout = std::chrono::seconds(30);
  Duration idle_timeout = std::chrono::seconds(60);
  Duration write_timeout = std::chrono::seconds(30);
  std::string server_name = "ocirelay";
};

class Server {
 public:
  // Binds and listens; fails with a reason (address in use, bad address,
  // permission) without leaving anything open.
  static Result<std::unique_ptr<Server>> create(boost::asio::any_io_executor executor,
                                                ServerOptions options, Handler& handler,
                                                std::shared_ptr<spdlog::logger> log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound address, e.g. "127.0.0.1:43817", "[::1]:8443" or
  // "unix:/run/ocirelay/admin.sock", and port (0 on a Unix socket).
  std::string local_address() const;
  std::uint16_t port() const;

  // Starts accepting.
  void start();

  // Stops accepting and closes idle connections; requests being read or
  // answered finish and their connections close after the response.
  void stop();

  // Stops, then completes when every connection has closed and the accept
  // loop has ended: at `deadline`, or when the awaiting coroutine is
  // cancelled, the remaining connections are closed forcibly first. False
  // only if some connection's coroutine did not end within a short grace
  // after that (a bug; logged).
  boost::asio::awaitable<bool> drain(std::chrono::steady_clock::time_point deadline);

  std::size_t connection_count() const;

  // New limits and timeouts (configuration reload); they apply to every read
  // and write that starts afterwards, on open connections too. The address,
  // TLS context and socket stay as they are.
  void set_limits(const ServerOptions& limits);

  // A new TLS context (a renewed certificate, on configuration reload): the
  // handshakes of connections accepted from now on use it; open connections
  // keep the one they were accepted with. Ignored by a plain HTTP server.
  // Called on the server's executor, like every other member.
  void set_tls_context(TlsContextPtr tls);

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocirelay::http
