// RFC 9112 framing at the ingress port, against the real daemon over real
// sockets: what a proxy in front could frame differently is refused with 400
// and the connection closed; HEAD answers carry no body; an HTTP/1.0 client
// never gets 100 Continue; and an early error answer (413 on a too large
// Content-Length) reaches a client that sends its whole body before reading,
// over plain HTTP and TLS, instead of being destroyed by a reset; on TLS the
// relay sends close_notify right after it, before the lingering close.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

std::string relay_to(const FakeHttpServer& oic) {
  return "destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
         "\nroutes:\n  - { name: all, destinations: [oic] }\n";
}

// The status lines in what a connection received: at its start, or right
// after the previous response's header or body (bodies here are JSON, a
// header ends with an empty line). Error texts may quote "HTTP/1.0".
std::size_t responses(const std::string& received) {
  static const std::regex status_line(R"((^|\n|\})HTTP/1\.[01] [1-5][0-9][0-9] )");
  return static_cast<std::size_t>(std::distance(
      std::sregex_iterator(received.begin(), received.end(), status_line), std::sregex_iterator()));
}

// Whether `in` holds a whole response (header and Content-Length body).
bool response_complete(const std::string& in) {
  const auto end = in.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  const auto cl = in.find("Content-Length: ");
  if (cl == std::string::npos || cl > end) return true;
  return in.size() >= end + 4 + std::stoul(in.substr(cl + 16));
}

// What a client that sends the whole request before it reads sees, the way
// Python's http.client or Java's HttpClient send a body without Expect: the
// response, or what went wrong ("send: ...", "recv: ...").
std::string send_all_then_read(std::uint16_t port, const std::string& request) {
  const int fd = connect_loopback(port);
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      return "send: " + err + " after " + std::to_string(sent) + " bytes";
    }
    sent += static_cast<std::size_t>(n);
  }
  std::string in;
  char buf[4096];
  while (!response_complete(in)) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      const std::string err = std::strerror(errno);
      ::close(fd);
      return "recv: " + err;
    }
    if (n == 0) break;
    in.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return in;
}

// The same over TLS (OpenSSL, blocking), trusting `ca_file`. With `ending`:
// how the connection went on after the response, "close_notify" when the
// next read met the relay's close_notify.
std::string tls_send_all_then_read(std::uint16_t port, const std::string& ca_file,
                                   const std::string& request, std::string* ending = nullptr) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  REQUIRE(ctx != nullptr);
  REQUIRE(SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) == 1);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  const int fd = connect_loopback(port);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  std::string out;
  if (SSL_connect(ssl) != 1) {
    out = "handshake failed";
  } else {
    std::size_t sent = 0;
    while (sent < request.size()) {
      const int n = SSL_write(ssl, request.data() + sent,
                              static_cast<int>(std::min<std::size_t>(request.size() - sent, 65536)));
      if (n <= 0) {
        out = "send: SSL error " + std::to_string(SSL_get_error(ssl, n)) + " (" +
              std::strerror(errno) + ") after " + std::to_string(sent) + " bytes";
        break;
      }
      sent += static_cast<std::size_t>(n);
    }
    if (out.empty()) {
      char buf[4096];
      while (!response_complete(out)) {
        const int n = SSL_read(ssl, buf, sizeof buf);
        if (n <= 0) {
          if (out.empty()) out = "recv: SSL error " + std::to_string(SSL_get_error(ssl, n));
          break;
        }
        out.append(buf, static_cast<std::size_t>(n));
      }
      if (ending != nullptr) {
        const int n = SSL_read(ssl, buf, sizeof buf);
        const int error = SSL_get_error(ssl, n);
        *ending = n == 0 && error == SSL_ERROR_ZERO_RETURN
                      ? "close_notify"
                      : "read " + std::to_string(n) + ", SSL error " + std::to_string(error);
      }
    }
  }
  ERR_clear_error();
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(ctx);
  return out;
}

std::string big_post(std::size_t bytes) {
  return "POST /v1/events HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(bytes) + "\r\n\r\n" + std::string(bytes, 'x');
}

std::string health_request() { return "GET /health HTTP/1.1\r\nHost: relay\r\n\r\n"; }

}  // namespace

TEST_CASE("a 413 reaches clients that send a whole 2 MB body before reading, plain and TLS",
          "[framing][linger]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  FakeHttpServer oic;
  RelayHarness plain(relay_to(oic));
  plain.start();
  RelayHarness tls(relay_to(oic), server_tls_yaml(pki.server_cert, pki.server_key));
  tls.start();
  const std::string request = big_post(2 * 1024 * 1024);
  for (int i = 0; i < 20; ++i) {
    INFO("request " << i);
    const std::string over_tcp = send_all_then_read(plain.port(), request);
    CHECK(over_tcp.rfind("HTTP/1.1 413 ", 0) == 0);
    CHECK(over_tcp.find(R"({"error":"body larger than)") != std::string::npos);
    std::string ending;
    const std::string over_tls = tls_send_all_then_read(tls.port(), pki.ca_cert, request, &ending);
    CHECK(over_tls.rfind("HTTP/1.1 413 ", 0) == 0);
    CHECK(over_tls.find(R"({"error":"body larger than)") != std::string::npos);
    CHECK(ending == "close_notify");  // sent before the lingering close
  }
  // The relay is still there and serves.
  CHECK(TestClient(plain.port()).post_event(event_with_id(1)).status == 202);
}

TEST_CASE("a TLS connection the relay closes after an early answer gets close_notify first",
          "[framing][linger][tls]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  FakeHttpServer oic;
  RelayHarness tls(relay_to(oic), server_tls_yaml(pki.server_cert, pki.server_key));
  tls.start();
  // Answered before any body is read, then a lingering close: 413 on the
  // Content-Length (the body is never sent), 404, and 400 for bad framing.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"POST /v1/events HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
       "Content-Length: 5000000\r\n\r\n",
       "HTTP/1.1 413 "},
      {"GET /nowhere HTTP/1.1\r\nHost: relay\r\n\r\n", "HTTP/1.1 404 "},
      {"POST /v1/events HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", "HTTP/1.1 400 "},
  };
  for (const auto& [request, status] : cases) {
    INFO(request);
    std::string ending;
    const std::string answer = tls_send_all_then_read(tls.port(), pki.ca_cert, request, &ending);
    CHECK(answer.rfind(status, 0) == 0);
    // Without it the client would see the TCP close only when the linger
    // ends, with no way to tell it from a truncation.
    CHECK(ending == "close_notify");
  }
  // The relay still serves TLS clients.
  CHECK(TestClient(tls.port(), pki.ca_cert).post_event(event_with_id(3)).status == 202);
}

TEST_CASE("an unknown or non-final Transfer-Encoding gets 400, and what follows is not served",
          "[framing]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic));
  relay.start();
  const std::string body = event_with_id(7);
  for (const char* te : {"xchunked", "gzip", "identity", "chunked, identity", "gzip, chunked",
                         "chunked, chunked", "chunked,"}) {
    for (bool with_length : {false, true}) {
      INFO("Transfer-Encoding: " << te << (with_length ? " with Content-Length" : ""));
      std::string request =
          std::string("POST /v1/events HTTP/1.1\r\nHost: relay\r\n"
                      "Content-Type: application/json\r\nTransfer-Encoding: ") +
          te + "\r\n";
      if (with_length) request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
      request += "\r\n" + body + health_request();
      const std::string answer = raw_exchange(relay.port(), request);
      CHECK(answer.rfind("HTTP/1.1 400 ", 0) == 0);
      CHECK(responses(answer) == 1);  // the pipelined GET is never answered
    }
  }
  // chunked together with Content-Length, and Transfer-Encoding in HTTP/1.0.
  const std::string chunked = "5\r\nhello\r\n0\r\n\r\n";
  for (const std::string& request :
       {std::string("POST /v1/events HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") +
            chunked + health_request(),
        std::string("POST /v1/events HTTP/1.0\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n") +
            chunked + health_request()}) {
    INFO(request);
    const std::string answer = raw_exchange(relay.port(), request);
    CHECK(answer.find(" 400 ") == 8);
    CHECK(responses(answer) == 1);
  }
  // Nothing was stored from any of them; a plain chunked request still works.
  std::string hex(16, '\0');
  hex.resize(static_cast<std::size_t>(std::snprintf(hex.data(), hex.size(), "%zx", body.size())));
  const std::string good = raw_exchange(
      relay.port(),
      "POST /v1/events HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
          hex + "\r\n" + body + "\r\n0\r\n\r\n");
  CHECK(good.rfind("HTTP/1.1 202 ", 0) == 0);
  REQUIRE(oic.wait_for_requests(1, 10s));
  CHECK(oic.request_count() == 1);
}

TEST_CASE("HTTP/1.1 without exactly one Host gets 400, HTTP/1.0 needs none", "[framing]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic));
  relay.start();
  const std::string missing = raw_exchange(relay.port(), "GET /health HTTP/1.1\r\n\r\n" +
                                                             health_request());
  CHECK(missing.rfind("HTTP/1.1 400 ", 0) == 0);
  CHECK(missing.find("Host") != std::string::npos);
  CHECK(responses(missing) == 1);
  const std::string twice =
      raw_exchange(relay.port(), "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  CHECK(twice.rfind("HTTP/1.1 400 ", 0) == 0);
  const std::string old = raw_exchange(relay.port(), "GET /health HTTP/1.0\r\n\r\n");
  CHECK(old.rfind("HTTP/1.0 200 ", 0) == 0);
}

TEST_CASE("Expect: 100-continue gets 100 Continue from HTTP/1.1 only", "[framing]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic));
  relay.start();
  auto post = [&](const char* version, long id) {
    const std::string body = event_with_id(id);
    return std::string("POST /v1/events ") + version +
           "\r\nHost: relay\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
           "Connection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  };
  const std::string v10 = raw_exchange(relay.port(), post("HTTP/1.0", 1));
  CHECK(v10.find("100 Continue") == std::string::npos);
  CHECK(v10.rfind("HTTP/1.0 202 ", 0) == 0);
  const std::string v11 = raw_exchange(relay.port(), post("HTTP/1.1", 2));
  CHECK(v11.rfind("HTTP/1.1 100 Continue\r\n", 0) == 0);
  CHECK(v11.find("HTTP/1.1 202 ") != std::string::npos);
}

TEST_CASE("HEAD answers carry the GET's Content-Length and no body, on a keep-alive connection",
          "[framing]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic));
  relay.start();
  const std::uint16_t management = relay.management_port();
  for (const auto& [port, path] :
       std::vector<std::pair<std::uint16_t, std::string>>{{relay.port(), "/health"},
                                                          {management, "/health"},
                                                          {management, "/ready"},
                                                          {management, "/metrics"}}) {
    INFO(port << path);
    const std::string answer =
        raw_exchange(port, "HEAD " + path + " HTTP/1.1\r\nHost: relay\r\n\r\n" + "GET " + path +
                               " HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n");
    const auto end = answer.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    // The GET's response starts right after the HEAD's header.
    REQUIRE(answer.compare(end + 4, 9, "HTTP/1.1 ") == 0);
    const std::string head = answer.substr(0, end + 4);
    const std::string get = answer.substr(end + 4);
    CHECK(head.rfind("HTTP/1.1 200 ", 0) == 0);
    CHECK(get.rfind("HTTP/1.1 200 ", 0) == 0);
    const auto head_cl = head.find("Content-Length: ");
    const auto get_cl = get.find("Content-Length: ");
    REQUIRE(head_cl != std::string::npos);
    REQUIRE(get_cl != std::string::npos);
    const std::size_t head_length = std::stoul(head.substr(head_cl + 16));
    const std::size_t get_length = std::stoul(get.substr(get_cl + 16));
    CHECK(head_length > 0);
    CHECK(get.size() == get.find("\r\n\r\n") + 4 + get_length);  // the GET's body is all there
    // The detailed /health has an uptime and /metrics counts this very
    // request: only /ready's and the ingress /health's bodies are the same
    // from one request to the next.
    if (path == "/ready" || port != management) CHECK(head_length == get_length);
  }
}
