#include "ocirelay/http/client.hpp"

#include <optional>
#include <set>
#include <tuple>
#include <variant>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "http/beast_convert.hpp"

namespace ocirelay::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

ClientError error(ClientError::Kind kind, std::string message) {
  return ClientError{kind, std::move(message)};
}

bool is_stale_connection_error(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == bhttp::error::end_of_stream ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

bool is_link_local(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return is_link_local(asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()));
  }
  if (a.is_v6()) {
    // The metadata service's IPv6 address, and 169.254.169.254 through NAT64.
    static const auto kMetadataV6 = asio::ip::make_address_v6("fd00:c1::a9fe:a9fe");
    static const auto kNat64Metadata = asio::ip::make_address_v6("64:ff9b::a9fe:a9fe");
    const auto v6 = a.to_v6();
    return v6.is_link_local() || v6 == kMetadataV6 || v6 == kNat64Metadata;
  }
  const auto b = a.to_v4().to_bytes();
  return b[0] == 169 && b[1] == 254;
}

struct Connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
};

struct Exchange {
  std::optional<ClientResponse> response;
  ClientError error;
  bool keep_alive = false;
  bool retry_on_fresh = false;  // failed before any response byte arrived
};

class HttpClient::Impl {
 public:
  Impl(asio::any_io_executor ex, Url url, ClientOptions options)
      : ex_(std::move(ex)), url_(std::move(url)), options_(std::move(options)) {
    host_header_ = url_.host_header();
  }

  const Url& url() const { return url_; }

  void close_idle() {
    for (auto& c : idle_) {
      c->lowest().close();
    }
    idle_.clear();
  }

  // Whatever step a request is at (resolving, connecting, in the TLS
  // handshake, writing, reading), it fails at once; so does a request whose
  // step completed but which has not resumed yet.
  void cancel() {
    ++generation_;
    close_idle();
    for (tcp::resolver* r : resolving_) r->cancel();
    for (Connection* c : active_) {
      c->lowest().close();
    }
  }

  asio::awaitable<Result<ClientResponse, ClientError>> send(ClientRequest request) {
    const auto deadline = Clock::now() + options_.timeout;
    const std::uint64_t generation = generation_;
    const std::string wire_request = make_request(request);
    for (int round = 0; round < 2; ++round) {
      if (generation != generation_) co_return fail(cancelled());
      std::unique_ptr<Connection> conn;
      if (!idle_.empty()) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      }
      const bool reused = conn != nullptr;
      if (!conn) {
        auto made = co_await connect(deadline, generation);
        if (!made) co_return fail(std::move(made).error());
        conn = std::move(made).value();
      }
      if (generation != generation_) co_return fail(cancelled());
      active_.insert(conn.get());
      // Not a conditional expression: GCC 12 miscompiles co_await inside ?:.
      Exchange ex;
      if (conn->secure) {
        ex = co_await exchange(*conn->secure, *conn, wire_request, deadline);
      } else {
        ex = co_await exchange(*conn->plain, *conn, wire_request, deadline);
      }
      active_.erase(conn.get());
      if (ex.response) {
        if (ex.keep_alive && idle_.size() < options_.max_idle_connections) {
          conn->lowest().expires_never();
          idle_.push_back(std::move(conn));
        }
        co_return std::move(*ex.response);
      }
      if (!(reused && ex.retry_on_fresh)) co_return fail(std::move(ex.error));
    }
    co_return fail(error(ClientError::Kind::io, "connection closed by peer"));
  }

 private:
  // The request as bytes on the wire, one buffer (see to_wire in
  // beast_convert.hpp: Beast's serializer cost more than the rest of a
  // delivery's event-loop work).
  std::string make_request(const ClientRequest& request) const {
    return request_to_wire(request, request.target.empty() ? url_.target : request.target,
                           host_header_, options_.user_agent);
  }

  static ClientError cancelled() {
    return error(ClientError::Kind::io, "request cancelled (shutting down)");
  }

  // Registers an object with a pending operation that cancel() must reach.
  template <class T>
  struct Pending {
    std::set<T*>& set;
    T* item;
    Pending(std::set<T*>& s, T* i) : set(s), item(i) { set.insert(item); }
    ~Pending() { set.erase(item); }
    Pending(const Pending&) = delete;
    Pending& operator=(const Pending&) = delete;
  };

  asio::awaitable<Result<std::unique_ptr<Connection>, ClientError>> connect(
      Clock::time_point deadline, std::uint64_t generation) {
    using namespace asio::experimental::awaitable_operators;
    const std::string where = host_header_;
    tcp::resolver resolver(ex_);
    asio::steady_timer timer(ex_);
    timer.expires_at(deadline);
    std::variant<std::tuple<boost::system::error_code, tcp::resolver::results_type>,
                 std::tuple<boost::system::error_code>>
        resolved;
    {
      Pending<tcp::resolver> pending(resolving_, &resolver);
      resolved = co_await (resolver.async_resolve(url_.host, std::to_string(url_.port), nothrow) ||
                           timer.async_wait(nothrow));
    }
    if (generation != generation_) co_return fail(cancelled());
    if (resolved.index() == 1) {
      co_return fail(error(ClientError::Kind::timeout, "timed out resolving " + url_.host));
    }
    auto [rec, results] = std::get<0>(std::move(resolved));
    if (rec) {
      co_return fail(
          error(ClientError::Kind::resolve, "cannot resolve " + url_.host + ": " + rec.message()));
    }
    std::vector<tcp::endpoint> endpoints;
    std::vector<asio::ip::address> addresses;
    for (const auto& entry : results) addresses.push_back(entry.endpoint().address());
    if (options_.address_policy) {
      if (auto why = options_.address_policy(addresses)) {
        co_return fail(error(ClientError::Kind::refused_address, *why));
      }
    }
    for (const auto& entry : results) {
      if (!options_.allow_link_local && is_link_local(entry.endpoint().address())) continue;
      endpoints.push_back(entry.endpoint());
    }
    if (endpoints.empty()) {
      co_return fail(error(ClientError::Kind::refused_address,
                           url_.host + " resolves only to link-local addresses: the only one "
                                       "the relay contacts is the instance metadata service's"));
    }

    auto conn = std::make_unique<Connection>();
    if (url_.tls) {
      if (!options_.tls) {
        co_return fail(error(ClientError::Kind::tls, "no TLS context for an https URL"));
      }
      conn->secure.emplace(ex_, *options_.tls);
    } else {
      conn->plain.emplace(ex_);
    }
    // From here on cancel() closes the socket, whatever step it is at.
    Pending<Connection> pending(active_, conn.get());
    conn->lowest().expires_at(deadline);
    auto [cec, ep] = co_await conn->lowest().async_connect(endpoints, nothrow);
    if (generation != generation_) co_return fail(cancelled());
    if (cec) {
      if (cec == beast::error::timeout) {
        co_return fail(error(ClientError::Kind::timeout, "timed out connecting to " + where));
      }
      co_return fail(
          error(ClientError::Kind::connect, "cannot connect to " + where + ": " + cec.message()));
    }
    boost::system::error_code ignored;
    conn->lowest().socket().set_option(tcp::no_delay(true), ignored);
    if (conn->secure) {
      SSL* ssl = conn->secure->native_handle();
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      if (is_ip_literal(url_.host)) {
        X509_VERIFY_PARAM_set1_ip_asc(param, url_.host.c_str());
      } else {
        // SSL_set_tlsext_host_name, without the macro's C-style cast.
        SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(url_.host.c_str()));
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        X509_VERIFY_PARAM_set1_host(param, url_.host.c_str(), 0);
      }
      auto [hec] = co_await conn->secure->async_handshake(asio::ssl::stream_base::client, nothrow);
      if (generation != generation_) co_return fail(cancelled());
      if (hec) {
        if (hec == beast::error::timeout) {
          co_return fail(
              error(ClientError::Kind::timeout, "timed out in TLS handshake with " + where));
        }
        std::string reason = hec.message();
        const long verify = SSL_get_verify_result(ssl);
        if (verify != X509_V_OK) {
          reason = std::string("certificate verification failed: ") +
                   X509_verify_cert_error_string(verify);
        }
        co_return fail(
            error(ClientError::Kind::tls, "TLS handshake with " + where + " failed: " + reason));
      }
    }
    co_return conn;
  }

  template <class Stream>
  asio::awaitable<Exchange> exchange(Stream& stream, Connection& conn, const std::string& request,
                                     Clock::time_point deadline) {
    Exchange out;
    conn.lowest().expires_at(deadline);
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(request), nothrow);
    if (wec) {
      out.retry_on_fresh = is_stale_connection_error(wec);
      out.error =
          wec == beast::error::timeout
              ? error(ClientError::Kind::timeout, "timed out sending the request")
              : error(ClientError::Kind::io, "sending the request failed: " + wec.message());
      co_return out;
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options_.max_response_body_bytes);
    parser.header_limit(64 * 1024);
    auto [rec, rn] = co_await bhttp::async_read(stream, conn.buffer, parser, nothrow);
    if (rec) {
      out.retry_on_fresh = !parser.got_some() && is_stale_connection_error(rec);
      if (rec == beast::error::timeout) {
        out.error = error(ClientError::Kind::timeout, "timed out waiting for the response");
      } else if (rec == bhttp::error::body_limit && parser.is_header_done()) {
        // The status is what matters: answer with it and drop the rest of
        // the body (and the connection, which is mid-body).
        ClientResponse response;
        response.status = static_cast<int>(parser.get().result_int());
        for (const auto& field : parser.get()) {
          response.headers.add(std::string(field.name_string()), std::string(field.value()));
        }
        out.response = std::move(response);
        out.keep_alive = false;
      } else if (is_stale_connection_error(rec)) {
        out.error = error(ClientError::Kind::io, "connection closed before a complete response");
      } else {
        out.error = error(ClientError::Kind::protocol, "bad response: " + rec.message());
      }
      co_return out;
    }
    auto& res = parser.get();
    ClientResponse response;
    response.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      response.headers.add(std::string(field.name_string()), std::string(field.value()));
    }
    response.body = std::move(res.body());
    out.keep_alive = res.keep_alive();
    out.response = std::move(response);
    co_return out;
  }

  asio::any_io_executor ex_;
  Url url_;
  ClientOptions options_;
  std::string host_header_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::set<Connection*> active_;  // connections connecting or with a request in flight
  std::set<tcp::resolver*> resolving_;
  std::uint64_t generation_ = 0;  // grows with every cancel()
};

HttpClient::HttpClient(asio::any_io_executor executor, Url url, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(url), std::move(options))) {}
HttpClient::~HttpClient() = default;

asio::awaitable<Result<ClientResponse, ClientError>> HttpClient::send(ClientRequest request) {
  return impl_->send(std::move(request));
}
const Url& HttpClient::url() const noexcept { return impl_->url(); }
void HttpClient::close_idle() { impl_->close_idle(); }
void HttpClient::cancel() { impl_->cancel(); }

}  // namespace ocirelay::http
