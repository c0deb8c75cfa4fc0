#include "ocirelay/http/server.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <list>
#include <tuple>
#include <type_traits>

#include <malloc.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include "ocirelay/common/exception_text.hpp"
#include "ocirelay/common/task_group.hpp"

#include "http/beast_convert.hpp"
#include "http/request_framing.hpp"
#include "http/tls_stream.hpp"
#include "http/unix_socket_file.hpp"

namespace ocirelay::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// Lingering close after an early error answer (answer_and_linger): nginx's
// defaults, lingering_time 30s and lingering_timeout 5s.
constexpr std::chrono::seconds kLingerTime{30};
constexpr std::chrono::seconds kLingerIdle{5};

// Freed memory goes back to the system (malloc_trim) kTrimDelay after
// kTrimAfterClosed connections have closed since the last time, at most once
// per kTrimDelay. glibc keeps what closed connections freed (about 40 KiB
// each with TLS) in its heap, where the buffers of the connections still
// open keep it from shrinking (docs/benchmarks.md, memory per connection).
constexpr std::chrono::seconds kTrimDelay{5};
constexpr std::size_t kTrimAfterClosed = 64;

bool is_resource_exhaustion(const boost::system::error_code& ec) {
  if (ec.category() != boost::system::system_category()) return false;
  const int v = ec.value();
  return v == EMFILE || v == ENFILE || v == ENOBUFS || v == ENOMEM;
}

bool is_quiet_close(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
         ec == beast::error::timeout || ec == asio::error::bad_descriptor ||
         ec == asio::ssl::error::stream_truncated;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  const auto addr = ep.address();
  return (addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string()) + ":" +
         std::to_string(ep.port());
}

// A Unix socket peer, for logs: "unix:uid=1000,pid=4242" from SO_PEERCRED.
std::string peer_text(local::socket& socket) {
  ucred cred{};
  socklen_t length = sizeof cred;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &length) != 0) {
    return "unix";
  }
  return "unix:uid=" + std::to_string(cred.uid) + ",pid=" + std::to_string(cred.pid);
}

}  // namespace

// What Server forwards to: BasicServer on TCP or on a Unix socket.
class Server::Impl {
 public:
  virtual ~Impl() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  virtual asio::awaitable<bool> drain(std::chrono::steady_clock::time_point deadline) = 0;
  virtual std::string local_address() const = 0;
  virtual std::uint16_t port() const = 0;
  virtual std::size_t connection_count() const = 0;
  virtual void set_limits(const ServerOptions& limits) = 0;
  virtual void set_tls_context(TlsContextPtr tls) = 0;
};

namespace {

// The server on one protocol: tcp, or local::stream_protocol (Unix socket).
// Same thread and lifetime contract as Server.
template <class Protocol>
class BasicServer final : public Server::Impl {
  static constexpr bool kUnix = std::is_same_v<Protocol, local>;

 public:
  BasicServer(asio::any_io_executor ex, ServerOptions options, Handler& handler,
              std::shared_ptr<spdlog::logger> log)
      : ex_(std::move(ex)),
        options_(std::move(options)),
        handler_(handler),
        log_(std::move(log)),
        acceptor_(ex_),
        trim_timer_(ex_),
        tasks_(ex_, [log = log_](std::exception_ptr e, const std::string& task) {
          log->error("{} ended by an exception: {}", task, exception_text(e));
        }) {}

  ~BasicServer() override {
    stopping_ = true;  // no memory release task is started from here on
    socket_file_.remove();
  }

  // Every connection holds a descriptor: max_connections is lowered to what
  // the open-file limit (RLIMIT_NOFILE) allows, keeping a quarter of it, at
  // most 256, for the rest of the process (storage, logs, deliveries).
  void fit_connection_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
    const auto files = static_cast<std::size_t>(rl.rlim_cur);
    const std::size_t fit = std::max<std::size_t>(1, files - std::min<std::size_t>(256, files / 4));
    if (options_.max_connections > fit) {
      log_->warn("max_connections {} lowered to {}: the process may open only {} files "
                 "(RLIMIT_NOFILE; raise LimitNOFILE=)",
                 options_.max_connections, fit, files);
      options_.max_connections = fit;
    }
  }

  Result<Unit> listen() {
    if constexpr (kUnix) {
      return listen_unix();
    } else {
      return listen_tcp();
    }
  }

  Result<Unit> listen_unix() {
    const std::string& path = options_.unix_path;
    if (options_.tls) {
      return fail("cannot listen on unix:" + path + ": TLS is not supported on a Unix socket");
    }
    if (auto prepared = socket_file_.prepare(path); !prepared) {
      return fail("cannot listen on unix:" + path + ": " + prepared.error());
    }
    boost::system::error_code ec;
    acceptor_.open(local(), ec);
    if (!ec) acceptor_.bind(local::endpoint(path), ec);
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      return fail("cannot listen on unix:" + path + ": " + ec.message());
    }
    if (auto claimed = socket_file_.claim(); !claimed) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      ::unlink(path.c_str());
      return fail("cannot listen on unix:" + path + ": " + claimed.error());
    }
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      socket_file_.remove();
      return fail("cannot listen on unix:" + path + ": " + ec.message());
    }
    return Unit{};
  }

  Result<Unit> listen_tcp() {
    boost::system::error_code ec;
    tcp::endpoint ep;
    if (auto address = asio::ip::make_address(options_.host, ec); !ec) {
      ep = tcp::endpoint(address, options_.port);
    } else {
      // A host name: listen on its first address (start-up only, so blocking is fine).
      tcp::resolver resolver(ex_);
      auto results = resolver.resolve(options_.host, std::to_string(options_.port),
                                      tcp::resolver::passive, ec);
      if (ec || results.empty()) {
        return fail("cannot resolve listen host \"" + options_.host + "\": " +
                    (ec ? ec.message() : std::string("no address")));
      }
      ep = results.begin()->endpoint();
    }
    const std::string where = endpoint_text(ep);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      return fail("cannot listen on " + where + ": " + ec.message());
    }
    return Unit{};
  }

  void start() override { tasks_.spawn(accept_loop(), "accept loop"); }

  void stop() override {
    if (stopping_) return;
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    trim_timer_.cancel();
    socket_file_.remove();  // new clients fail at once
    for (auto& c : connections_) {
      if (!c.busy && c.close) c.close();
    }
  }

  // Joins the accept loop and every connection: at the deadline, or when the
  // awaiting coroutine is cancelled, the connections still open are closed
  // and their coroutines cancelled.
  asio::awaitable<bool> drain(std::chrono::steady_clock::time_point deadline) override {
    using namespace std::chrono_literals;
    stop();
    if (co_await tasks_.join_until(deadline)) co_return true;
    co_await asio::this_coro::reset_cancellation_state();
    if (!connections_.empty()) {
      log_->warn("closing {} connection(s) still open after the shutdown deadline",
                 connections_.size());
      for (auto& c : connections_) {
        if (c.close) c.close();
      }
    }
    tasks_.cancel(asio::cancellation_type::terminal);
    // What is left only waits for its handler's answer (storage) by now.
    const bool joined = co_await tasks_.join_until(std::chrono::steady_clock::now() + 2s);
    if (!joined) log_->error("{} connection task(s) did not end after being closed", tasks_.size());
    co_return joined;
  }

  std::string local_address() const override {
    if constexpr (kUnix) {
      return "unix:" + options_.unix_path;
    } else {
      boost::system::error_code ec;
      auto ep = acceptor_.local_endpoint(ec);
      return ec ? std::string("(closed)") : endpoint_text(ep);
    }
  }
  std::uint16_t port() const override {
    if constexpr (kUnix) {
      return 0;
    } else {
      boost::system::error_code ec;
      auto ep = acceptor_.local_endpoint(ec);
      return ec ? 0 : ep.port();
    }
  }
  std::size_t connection_count() const override { return connections_.size(); }

  void set_limits(const ServerOptions& limits) override {
    options_.max_body_bytes = limits.max_body_bytes;
    options_.max_header_bytes = limits.max_header_bytes;
    options_.max_connections = limits.max_connections;
    fit_connection_limit();
    options_.header_timeout = limits.header_timeout;
    options_.body_timeout = limits.body_timeout;
    options_.idle_timeout = limits.idle_timeout;
    options_.write_timeout = limits.write_timeout;
  }

  void set_tls_context(TlsContextPtr tls) override {
    if (options_.tls && tls) options_.tls = std::move(tls);
  }

 private:
  struct Connection {
    bool busy = false;             // a request is being read or answered
    bool evicted = false;          // closed to make room for a new connection
    std::function<void()> close;   // aborts the connection's pending I/O
  };

  // Closes the oldest connection that is waiting for a request (new, or idle
  // between keep-alive requests) to make room for a new one. False when every
  // connection is in the middle of a request.
  bool evict_oldest_idle() {
    for (auto& c : connections_) {
      if (!c.busy && !c.evicted && c.close) {
        c.evicted = true;
        c.close();
        ++evicted_;
        return true;
      }
    }
    return false;
  }

  // Called as a connection ends: see kTrimDelay.
  void connection_closed() {
    if (++closed_since_trim_ < kTrimAfterClosed || trim_pending_ || stopping_) return;
    trim_pending_ = true;
    tasks_.spawn(trim_later(), "memory release");
  }

  asio::awaitable<void> trim_later() {
    boost::system::error_code ec;
    if (!stopping_) {  // stop() cancels the wait, which may not have begun yet
      trim_timer_.expires_after(kTrimDelay);
      std::tie(ec) = co_await trim_timer_.async_wait(nothrow);
    }
    trim_pending_ = false;
    if (ec || stopping_) co_return;
    closed_since_trim_ = 0;
    ::malloc_trim(0);
  }

  void log_evictions() {
    if (evicted_ == 1 || evicted_ % 1000 == 0) {
      log_->warn("connection limit {} reached; closed the oldest idle connection to make room "
                 "({} so far)",
                 options_.max_connections, evicted_);
    }
  }

  // Evicted connections whose coroutine has not finished yet (their socket is
  // already closed, so they hold no descriptor).
  std::size_t evicted_open() const {
    std::size_t n = 0;
    for (const auto& c : connections_) n += c.evicted ? 1 : 0;
    return n;
  }

  asio::awaitable<void> accept_loop() {
    using namespace std::chrono_literals;
    asio::steady_timer backoff_timer(ex_);
    Duration backoff = 10ms;
    std::size_t refused_over_limit = 0;
    while (!stopping_) {
      auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) break;
        if (is_resource_exhaustion(ec)) {
          // Out of descriptors: an idle connection gives one back at once;
          // otherwise wait for connections to end.
          if (evict_oldest_idle()) {
            log_->warn("accept failed: {}; closed the oldest idle connection", ec.message());
            continue;
          }
          log_->warn("accept failed: {}; pausing accepts for {}ms", ec.message(), backoff.count());
          backoff_timer.expires_after(backoff);
          co_await backoff_timer.async_wait(nothrow);
          backoff = std::min<Duration>(backoff * 2, 1000ms);
        } else {
          log_->debug("accept failed: {}", ec.message());
        }
        continue;
      }
      backoff = 10ms;
      std::size_t open = connections_.size() - evicted_open();
      if (open >= options_.max_connections && evict_oldest_idle()) {
        log_evictions();
        --open;
      }
      if (open >= options_.max_connections) {
        if (refused_over_limit++ % 1000 == 0) {
          log_->warn("connection limit {} reached; refusing new connections ({} so far)",
                     options_.max_connections, refused_over_limit);
        }
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      if constexpr (!kUnix) {
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
      }
      tasks_.spawn(session(std::move(socket)), "connection");
    }
  }

  asio::awaitable<void> session(typename Protocol::socket socket) {
    auto entry = connections_.emplace(connections_.end());
    struct Erase {
      BasicServer* self;
      typename std::list<Connection>::iterator it;
      ~Erase() {
        self->connections_.erase(it);
        self->connection_closed();
      }
    } erase{this, entry};

    boost::system::error_code ec;
    std::string remote;
    if constexpr (kUnix) {
      remote = peer_text(socket);
    } else {
      auto remote_ep = socket.remote_endpoint(ec);
      remote = ec ? std::string("?") : endpoint_text(remote_ep);
    }
    const std::uint64_t conn_id = ++connection_counter_;

    beast::basic_stream<Protocol> tcp_stream(std::move(socket));
    if constexpr (!kUnix) {
      if (options_.tls) {
        co_await serve_tls(std::move(tcp_stream), *entry, remote, conn_id);
        co_return;
      }
    }
    entry->close = [&tcp_stream] { tcp_stream.close(); };
    const bool clean = co_await serve(tcp_stream, *entry, remote, conn_id);
    if (clean) {
      tcp_stream.socket().shutdown(asio::socket_base::shutdown_send, ec);
    }
  }

  // A TLS connection (TCP only): handshake, requests, and the shutdown.
  asio::awaitable<void> serve_tls(beast::basic_stream<Protocol> tcp_stream, Connection& conn,
                                  const std::string& remote, std::uint64_t conn_id) {
    // The connection holds its context: a reload may replace options_.tls.
    const TlsContextPtr tls = options_.tls;
    TlsStream<beast::basic_stream<Protocol>> stream(std::move(tcp_stream), *tls);
    conn.close = [&stream] { beast::get_lowest_layer(stream).close(); };
    struct Forget {  // the stream ends with this frame; close() must not outlive it
      Connection& conn;
      ~Forget() { conn.close = nullptr; }
    } forget{conn};
    conn.busy = true;
    beast::get_lowest_layer(stream).expires_after(options_.header_timeout);
    auto [hec, hn] = co_await stream.async_handshake(nothrow);
    if (hec) {
      log_->debug("c{} {}: TLS handshake failed: {}", conn_id, remote, hec.message());
      co_return;
    }
    const bool clean = co_await serve(stream, conn, remote, conn_id);
    if (clean) {
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
      co_await stream.async_shutdown(nothrow);
    }
    // Most clients end a connection by closing it, without close_notify
    // (and the relay closes idle ones). OpenSSL then drops the session
    // from the server's cache, so session-ID resumption (TLS 1.2 clients
    // without tickets) would never happen. TLS 1.1 and later allow
    // resuming such a session (RFC 5246 section 7.2.1), so the connection
    // is marked as shut down, which keeps its session cached.
    if (SSL* ssl = stream.native_handle()) {
      ::SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
  }

  Response body_too_large() const {
    return error_response(413, "body larger than " + std::to_string(options_.max_body_bytes) +
                                   " bytes");
  }

  template <class Stream>
  asio::awaitable<bool> write(Stream& stream, Response response, unsigned version, bool keep,
                              bool head_request = false) {
    const std::string wire =
        to_wire(response, version, keep, options_.server_name, head_request);
    beast::get_lowest_layer(stream).expires_after(options_.write_timeout);
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(wire), nothrow);
    if (ec == beast::error::timeout) {
      log_->info("closed a connection: the client did not read a response within {}",
                 format_duration(options_.write_timeout));
    }
    co_return !ec;
  }

  // An error answer sent before the request was read to its end, then a
  // lingering close, as nginx does (lingering_time, lingering_timeout): the
  // write side is shut down (FIN; on TLS, close_notify), and what the client
  // still sends is read and thrown away, for at most kLingerTime in all and
  // kLingerIdle between reads. Closing at once with unread input makes the
  // kernel answer with a reset, which destroys the answer in flight: a client
  // that sends a whole 2 MB body before reading would see ECONNRESET instead
  // of the 413. The connection counts as idle meanwhile, so a shutdown or
  // a full server closes it first.
  template <class Stream>
  asio::awaitable<void> answer_and_linger(Stream& stream, Connection& conn, Response response,
                                          unsigned version, bool head_request = false) {
    if (!co_await write(stream, std::move(response), version, false, head_request)) co_return;
    conn.busy = false;
    auto& tcp_stream = beast::get_lowest_layer(stream);
    const auto until = std::chrono::steady_clock::now() + kLingerTime;
    if constexpr (std::is_same_v<Stream, beast::basic_stream<Protocol>>) {
      boost::system::error_code ec;
      stream.socket().shutdown(asio::socket_base::shutdown_send, ec);
    } else {
      // TLS: close_notify, TLS's end of data (RFC 8446 section 6.1), the
      // counterpart of the plain connection's FIN. The stream's shutdown sends
      // it and then waits for the client's close_notify, reading: that wait
      // is the first part of the linger. It ends at the client's
      // close_notify, at EOF, on an error (OpenSSL's shutdown may refuse
      // application data the client still sends) or after kLingerIdle; the
      // linger then goes on below on the TCP stream, whose bytes need no
      // decrypting to be thrown away.
      tcp_stream.expires_after(kLingerIdle);
      co_await stream.async_shutdown(nothrow);
    }
    while (!stopping_ && tcp_stream.socket().is_open()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= until) break;
      tcp_stream.expires_after(
          std::min<std::chrono::steady_clock::duration>(kLingerIdle, until - now));
      auto [ec, n] = co_await tcp_stream.async_read_some(asio::buffer(discard_), nothrow);
      if (ec) break;
    }
  }

  // Serves requests on one connection until it closes. Returns true when the
  // connection is still sound and should be shut down cleanly.
  template <class Stream>
  asio::awaitable<bool> serve(Stream& stream, Connection& conn, const std::string& remote,
                              std::uint64_t conn_id) {
    beast::flat_buffer buffer;
    bool first = true;
    std::uint64_t request_no = 0;
    // The first request's header must be complete within header_timeout of
    // the connection's start (after the TLS handshake); a later one within
    // header_timeout of its first byte.
    const auto first_header_deadline = std::chrono::steady_clock::now() + options_.header_timeout;
    for (;;) {
      conn.busy = false;
      if (stopping_) co_return true;
      if (buffer.size() == 0) {
        // Wait for the first byte of the next request.
        if (first) {
          beast::get_lowest_layer(stream).expires_at(first_header_deadline);
        } else {
          beast::get_lowest_layer(stream).expires_after(options_.idle_timeout);
        }
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), nothrow);
        if (ec) {
          if (!is_quiet_close(ec)) log_->debug("c{} {}: read: {}", conn_id, remote, ec.message());
          co_return false;
        }
        buffer.commit(n);
      }
      conn.busy = true;

      bhttp::request_parser<bhttp::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
      parser.body_limit(options_.max_body_bytes);
      if (first) {
        beast::get_lowest_layer(stream).expires_at(first_header_deadline);
      } else {
        beast::get_lowest_layer(stream).expires_after(options_.header_timeout);
      }
      first = false;
      auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, nothrow);
      if (hec) {
        if (hec == bhttp::error::header_limit) {
          co_await answer_and_linger(stream, conn,
                                     error_response(431, "request header fields too large"), 11);
        } else if (hec == bhttp::error::body_limit) {
          co_await answer_and_linger(stream, conn, body_too_large(), 11);
        } else if (hec == beast::error::timeout) {
          log_->info("c{} {}: closed: no complete request header within {}", conn_id, remote,
                     format_duration(options_.header_timeout));
        } else if (!is_quiet_close(hec)) {
          co_await answer_and_linger(
              stream, conn, error_response(400, "malformed HTTP request: " + hec.message()), 11);
        }
        co_return false;
      }

      const auto& header = parser.get();
      const unsigned version = header.version();
      const bool head_request = header.method() == bhttp::verb::head;
      if (auto problem = request_framing_problem(header)) {
        log_->debug("c{} {}: {} {}", conn_id, remote, problem->status, problem->reason);
        co_await answer_and_linger(stream, conn, error_response(problem->status, problem->reason),
                                   version, head_request);
        co_return false;
      }
      Request request = from_beast_header(header);
      request.remote = remote;
      request.request_id = "c" + std::to_string(conn_id) + "." + std::to_string(++request_no);

      if (auto early = handler_.precheck(request)) {
        co_await answer_and_linger(stream, conn, std::move(*early), version, head_request);
        co_return false;
      }
      if (auto length = parser.content_length(); length && *length > options_.max_body_bytes) {
        co_await answer_and_linger(stream, conn, body_too_large(), version, head_request);
        co_return false;
      }
      // An HTTP/1.0 client gets no 100 Continue (RFC 9110 section 10.1.1: the
      // expectation is ignored); the body is simply read.
      if (auto expect = header[bhttp::field::expect]; !expect.empty() && version >= 11) {
        if (!iequals(expect, "100-continue")) {
          co_await answer_and_linger(stream, conn,
                                     error_response(417, "unsupported Expect header"), version,
                                     head_request);
          co_return false;
        }
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, version};
        beast::get_lowest_layer(stream).expires_after(options_.write_timeout);
        auto [cec, cn] = co_await bhttp::async_write(stream, cont, nothrow);
        if (cec) co_return false;
      }
      if (!parser.is_done()) {
        beast::get_lowest_layer(stream).expires_after(options_.body_timeout);
        auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, nothrow);
        if (bec) {
          if (bec == bhttp::error::body_limit) {
            co_await answer_and_linger(stream, conn, body_too_large(), version, head_request);
          } else if (bec == beast::error::timeout) {
            log_->info("{} {}: closed: body not received within {}", request.request_id, remote,
                       format_duration(options_.body_timeout));
          } else if (!is_quiet_close(bec)) {
            co_await answer_and_linger(
                stream, conn, error_response(400, "malformed HTTP body: " + bec.message()),
                version, head_request);
          }
          co_return false;
        }
      }
      const bool keep_alive = parser.get().keep_alive();
      request.body = std::move(parser.get().body());

      Response response = co_await handler_.handle(std::move(request));
      const bool keep = keep_alive && !response.close && !stopping_;
      if (!co_await write(stream, std::move(response), version, keep, head_request)) {
        co_return false;
      }
      if (!keep) co_return true;
    }
  }

  asio::any_io_executor ex_;
  ServerOptions options_;
  Handler& handler_;
  std::shared_ptr<spdlog::logger> log_;
  typename Protocol::acceptor acceptor_;
  asio::steady_timer trim_timer_;  // see kTrimDelay; before tasks_, which wait on it
  UnixSocketFile socket_file_;  // unused on TCP
  std::list<Connection> connections_;
  TaskGroup tasks_;  // the accept loop and one task per connection; drain() joins them
  bool stopping_ = false;
  std::uint64_t connection_counter_ = 0;
  std::uint64_t evicted_ = 0;
  std::size_t closed_since_trim_ = 0;
  bool trim_pending_ = false;
  // Where lingering connections' input goes (answer_and_linger); written by
  // any of them, never read, so one buffer serves the whole server.
  std::array<char, 16 * 1024> discard_{};
};

}  // namespace

Result<std::unique_ptr<Server>> Server::create(asio::any_io_executor executor,
                                               ServerOptions options, Handler& handler,
                                               std::shared_ptr<spdlog::logger> log) {
  std::unique_ptr<Impl> impl;
  if (options.unix_path.empty()) {
    auto server = std::make_unique<BasicServer<tcp>>(std::move(executor), std::move(options),
                                                     handler, std::move(log));
    if (auto bound = server->listen(); !bound) return fail(bound.error());
    server->fit_connection_limit();
    impl = std::move(server);
  } else {
    auto server = std::make_unique<BasicServer<local>>(std::move(executor), std::move(options),
                                                       handler, std::move(log));
    if (auto bound = server->listen(); !bound) return fail(bound.error());
    server->fit_connection_limit();
    impl = std::move(server);
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;
std::string Server::local_address() const { return impl_->local_address(); }
std::uint16_t Server::port() const { return impl_->port(); }
void Server::start() { impl_->start(); }
void Server::stop() { impl_->stop(); }
asio::awaitable<bool> Server::drain(std::chrono::steady_clock::time_point deadline) {
  return impl_->drain(deadline);
}
std::size_t Server::connection_count() const { return impl_->connection_count(); }
void Server::set_limits(const ServerOptions& limits) { impl_->set_limits(limits); }

void Server::set_tls_context(TlsContextPtr tls) { impl_->set_tls_context(std::move(tls)); }

}  // namespace ocirelay::http
