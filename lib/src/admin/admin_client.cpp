#include "admin/admin_client.hpp"

#include <exception>
#include <optional>

#include <sys/un.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "ocirelay_version.hpp"

namespace ocirelay::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using local = asio::local::stream_protocol;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// A dead-letter list of 100,000 entries stays well below this.
constexpr std::uint64_t kMaxBody = 512ull * 1024 * 1024;

using Outcome = Result<AdminReply, AdminClientError>;

AdminClientError failure(std::string message, bool connect = false) {
  return AdminClientError{std::move(message), connect};
}

std::string describe(const boost::system::error_code& ec) {
  return ec == beast::error::timeout ? std::string("timed out") : ec.message();
}

asio::awaitable<void> exchange(std::string path, std::string method, std::string target,
                               Duration timeout, std::optional<Outcome>& out) {
  beast::basic_stream<local> stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  auto [cec] = co_await stream.async_connect(local::endpoint(path), nothrow);
  if (cec) {
    std::string message = describe(cec);
    if (cec == asio::error::access_denied) {
      message += " (run as root, or as the daemon's user or a member of its group)";
    } else if (cec == asio::error::connection_refused ||
               cec == boost::system::errc::no_such_file_or_directory) {
      message += " (is ocirelayd running, with admin.socket set to this path?)";
    }
    out.emplace(fail(failure(std::move(message), true)));
    co_return;
  }
  bhttp::request<bhttp::empty_body> request{bhttp::string_to_verb(method), target, 11};
  request.set(bhttp::field::host, "localhost");
  request.set(bhttp::field::user_agent, std::string("ocirelayctl/") + kVersion);
  request.keep_alive(false);
  request.prepare_payload();
  stream.expires_after(timeout);
  auto [wec, wn] = co_await bhttp::async_write(stream, request, nothrow);
  if (wec) {
    out.emplace(fail(failure("sending the request: " + describe(wec))));
    co_return;
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kMaxBody);
  stream.expires_after(timeout);
  auto [rec, rn] = co_await bhttp::async_read(stream, buffer, parser, nothrow);
  if (rec) {
    out.emplace(fail(failure("reading the answer: " + describe(rec))));
    co_return;
  }
  AdminReply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  reply.body = std::move(parser.get().body());
  boost::system::error_code ignored;
  stream.socket().shutdown(local::socket::shutdown_both, ignored);
  out.emplace(std::move(reply));
}

}  // namespace

AdminClient::AdminClient(std::string socket_path, Duration timeout)
    : socket_path_(std::move(socket_path)), timeout_(timeout) {}

Result<AdminReply, AdminClientError> AdminClient::request(std::string_view method,
                                                          std::string_view target) {
  if (socket_path_.empty() || socket_path_.size() >= sizeof(sockaddr_un::sun_path)) {
    return fail(failure("not a usable socket path (empty or longer than " +
                            std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes)",
                        true));
  }
  asio::io_context io(1);
  std::optional<Outcome> out;
  std::string internal_error;
  asio::co_spawn(io,
                 exchange(socket_path_, std::string(method), std::string(target), timeout_, out),
                 [&internal_error](std::exception_ptr e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     internal_error = ex.what();
                   } catch (...) {
                     internal_error = "unknown error";
                   }
                 });
  io.run();
  if (!out) {
    return fail(failure("internal error: " + internal_error));
  }
  return std::move(*out);
}

}  // namespace ocirelay::admin
