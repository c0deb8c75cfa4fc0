#include "support/test_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "ocirelay/common/base64.hpp"
#include "ocirelay/http/client.hpp"
#include "ocirelay/http/url.hpp"
#include "support/fixtures.hpp"

namespace ocirelay::test {

namespace asio = boost::asio;

TestClient::TestClient(std::uint16_t port, std::string ca_file)
    : port_(port), ca_file_(std::move(ca_file)) {}

ClientReply TestClient::request(const std::string& method, const std::string& target,
                                const std::string& body,
                                std::vector<std::pair<std::string, std::string>> headers,
                                Duration timeout) const {
  const bool tls = !ca_file_.empty();
  auto url = http::parse_url(std::string(tls ? "https" : "http") + "://127.0.0.1:" +
                             std::to_string(port_) + target);
  if (!url) throw std::runtime_error("bad test URL: " + url.error());
  http::ClientOptions options;
  options.timeout = timeout;
  if (tls) {
    auto ctx = http::make_client_tls_context(http::ClientTlsOptions{ca_file_, true, {}, {}});
    if (!ctx) throw std::runtime_error(ctx.error());
    options.tls = std::move(ctx).value();
  }
  asio::io_context io;
  http::HttpClient client(io.get_executor(), *url, options);
  http::ClientRequest req;
  req.method = method;
  req.body = body;
  for (auto& [n, v] : headers) req.headers.add(n, v);
  ClientReply reply;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto res = co_await client.send(std::move(req));
        if (res) {
          reply.status = res->status;
          reply.headers = res->headers;
          reply.body = res->body;
        } else {
          reply.error = res.error().message;
        }
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  return reply;
}

ClientReply TestClient::post_event(const std::string& body,
                                   std::vector<std::pair<std::string, std::string>> headers) const {
  headers.emplace_back("Content-Type", "application/json");
  return request("POST", "/v1/events", body, std::move(headers));
}

std::vector<int> post_events(std::uint16_t port, const std::vector<std::string>& bodies,
                             std::size_t connections) {
  std::vector<int> statuses(bodies.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < connections; ++t) {
    threads.emplace_back([&, t] {
      TestClient client(port);
      for (std::size_t i = t; i < bodies.size(); i += connections) {
        statuses[i] = client.post_event(bodies[i]).status;
      }
    });
  }
  for (auto& th : threads) th.join();
  return statuses;
}

std::string event_id_for(long n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012ld", n);
  return buf;
}

std::string event_with_id(long n) {
  static const std::string base = fixture("events/createobject.json");
  std::string e = base;
  e.replace(e.find("3e47d127-19de-6eb8-eb67-0c1ab961fcbc"), 36, event_id_for(n));
  return e;
}

int connect_loopback(std::uint16_t port, Duration io_timeout) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
  }
  const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(io_timeout).count();
  const timeval tv{static_cast<time_t>(usec / 1000000), static_cast<suseconds_t>(usec % 1000000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes, Duration timeout) {
  const int fd = connect_loopback(port, timeout);
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::string basic_auth(const std::string& user, const std::string& password) {
  return "Basic " + base64_encode(user + ":" + password);
}

}  // namespace ocirelay::test
