// Hostile clients against the real daemon on 127.0.0.1: slowloris, a client
// that never reads, 10,000 idle connections against a small descriptor
// limit, malformed framing, invalid UTF-8, deep nesting, lying
// Content-Length, old TLS versions and weak ciphers, confirmation URLs that
// lead to internal addresses, and a private key open to other users.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "support/daemon_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string relay_to(const FakeHttpServer& oic) {
  return "destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
         "\nroutes:\n  - { name: all, destinations: [oic] }\n";
}

// A TCP connection to 127.0.0.1:port; blocking unless `nonblocking`.
// Returns -1 when connect fails at once.
int open_socket(std::uint16_t port, bool nonblocking = false, int receive_buffer = 0) {
  const int fd =
      ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the peer has closed (FIN or RST) the connection.
bool closed_by_peer(int fd, int wait_ms = 0) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, wait_ms) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) return true;
  char c;
  const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

std::size_t open_descriptors(pid_t pid) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

// The event fixture with one string value replaced by raw bytes.
std::string event_with_name(const std::string& raw_name) {
  std::string e = fixture("events/createobject.json");
  const std::string from = "\"invoices/2026/inv-0001.pdf\"";
  e.replace(e.find(from), from.size(), "\"" + raw_name + "\"");
  return e;
}

struct TlsProbe {
  bool ok = false;
  std::string error;
  std::string version;
  std::string cipher;
};

// A TLS handshake with OpenSSL as the client, offering only `version` and
// (for TLS 1.2 and older) only `ciphers`; the server certificate is not
// verified, since the protocol is what is being tested.
TlsProbe tls_probe(std::uint16_t port, int version, const std::string& ciphers = "ALL") {
  TlsProbe out;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(ctx, 0);  // let OpenSSL 3 offer TLS 1.0 and 1.1 at all
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  SSL_CTX_set_cipher_list(ctx, (ciphers + ":@SECLEVEL=0").c_str());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  const int fd = open_socket(port);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  ERR_clear_error();
  if (SSL_connect(ssl) == 1) {
    out.ok = true;
    out.version = SSL_get_version(ssl);
    out.cipher = SSL_get_cipher_name(ssl);
    SSL_shutdown(ssl);
  } else {
    char buf[256];
    const unsigned long e = ERR_get_error();
    ERR_error_string_n(e, buf, sizeof buf);
    out.error = e ? buf : "handshake failed without an OpenSSL error";
  }
  SSL_free(ssl);
  ::close(fd);
  SSL_CTX_free(ctx);
  return out;
}

// An SSL 3.0 ClientHello, written by hand: OpenSSL 3 cannot send one.
std::string sslv3_client_hello() {
  std::string body;
  body += std::string("\x03\x00", 2);  // client_version 3.0
  body += std::string(32, '\x42');     // random
  body += '\x00';                      // no session id
  const std::string suites("\x00\x2f\x00\x35\x00\x0a\xc0\x13", 8);
  body += '\x00';
  body += static_cast<char>(suites.size());
  body += suites;
  body += std::string("\x01\x00", 2);  // null compression only
  std::string handshake = "\x01";      // ClientHello
  handshake += '\x00';
  handshake += static_cast<char>(body.size() >> 8);
  handshake += static_cast<char>(body.size() & 0xff);
  handshake += body;
  std::string record("\x16\x03\x00", 3);  // handshake record, version 3.0
  record += static_cast<char>(handshake.size() >> 8);
  record += static_cast<char>(handshake.size() & 0xff);
  return record + handshake;
}

// The fixture's subscription confirmation request, pointed at `url`.
ClientReply post_confirmation(std::uint16_t port, const std::string& url) {
  return TestClient(port).request(
      "POST", "/v1/events", "{\"ConfirmationURL\":\"" + url + "\"}",
      {{"Content-Type", "application/json"},
       {"X-OCI-NS-MessageType", "SubscriptionConfirmation"},
       {"X-OCI-NS-SubscriptionId", "ocid1.onssubscription.oc1..hostile"},
       {"X-OCI-NS-ConfirmationURL", url}});
}

}  // namespace

TEST_CASE("hostile: slowloris connections are closed by header_timeout, others are served",
          "[hostile]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic), "  header_timeout: 2s\n");
  relay.start();
  const std::string header =
      "POST /v1/events HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
      "X-Padding: " +
      std::string(60, 'p') + "\r\n\r\n";

  constexpr int kSlow = 20;
  std::atomic<int> closed{0};
  std::vector<std::size_t> sent(kSlow, 0);
  std::vector<std::thread> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.emplace_back([&, i] {
      const int fd = open_socket(relay.port());
      if (fd < 0) return;
      // One byte, then wait half a second for the daemon to hang up, ...
      for (std::size_t n = 0; n < header.size(); ++n) {
        if (::send(fd, header.data() + n, 1, MSG_NOSIGNAL) != 1) break;
        sent[i] = n + 1;
        if (closed_by_peer(fd, 500)) {
          ++closed;
          break;
        }
      }
      ::close(fd);
    });
  }
  // Meanwhile the relay serves everyone else.
  std::this_thread::sleep_for(500ms);
  TestClient client(relay.port());
  for (long n = 0; n < 5; ++n) CHECK(client.post_event(event_with_id(n)).status == 202);
  CHECK(client.request("GET", "/health").status == 200);
  for (auto& t : slow) t.join();

  CHECK(closed == kSlow);
  for (std::size_t s : sent) CHECK(s < header.size());  // none got its header in
  CHECK(contains(relay.log(), "closed: no complete request header within 2s"));
  REQUIRE(oic.wait_for_requests(5, 10s));
  CHECK(relay.daemon().running());
}

TEST_CASE("hostile: a client that never reads its responses is closed after write_timeout",
          "[hostile]") {
  FakeHttpServer oic;
  // /metrics on the ingress port: a large answer to pipeline.
  RelayHarness relay(relay_to(oic), "  write_timeout: 1s\n  idle_timeout: 30s\n",
                     kNoManagementYaml);
  relay.start();
  // Pipelined requests from a client with a tiny receive buffer that reads
  // nothing: the daemon's writes block once the buffers are full.
  const int fd = open_socket(relay.port(), true, 4096);
  REQUIRE(fd >= 0);
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: relay\r\n\r\n";
  std::size_t requests_sent = 0;
  std::size_t offset = 0;
  bool stalled = false;
  bool closed = false;
  bool others_served = false;
  const auto deadline = Clock::now() + 60s;
  while (!closed && Clock::now() < deadline) {
    pollfd p{fd, POLLOUT | POLLRDHUP, 0};
    ::poll(&p, 1, 200);
    if (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) {
      closed = true;
      break;
    }
    if (p.revents & POLLOUT) {
      const ssize_t n = ::send(fd, request.data() + offset, request.size() - offset, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        closed = true;
        break;
      }
      if (n > 0) {
        offset += static_cast<std::size_t>(n);
        if (offset == request.size()) {
          offset = 0;
          ++requests_sent;
        }
      }
    } else if (!stalled && requests_sent > 0) {
      // Neither side can write: the daemon is stuck in a write to us. Other
      // clients do not wait for it.
      stalled = true;
      others_served = TestClient(relay.port()).request("GET", "/health").status == 200 &&
                      TestClient(relay.port()).post_event(event_with_id(1)).status == 202;
    }
  }
  ::close(fd);
  std::printf(
      "a client that never reads: %zu pipelined requests sent before the daemon closed it\n",
      requests_sent);
  INFO("pipelined requests sent: " << requests_sent);
  CHECK(stalled);
  CHECK(others_served);
  CHECK(closed);
  CHECK(relay.daemon().wait_for_log(
      "closed a connection: the client did not read a response within 1s", 5s));
  CHECK(TestClient(relay.port()).request("GET", "/health").status == 200);
}

TEST_CASE("hostile: 10,000 idle connections against a 512-descriptor daemon", "[hostile]") {
  // The test holds every connection itself: raise its own limit as far as
  // the hard limit allows (below 10,500, fewer connections, still far more
  // than the daemon's 512).
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 10500) {
    rl.rlim_cur = std::min<rlim_t>(10500, rl.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  const std::size_t kIdle = std::min<std::size_t>(10000, rl.rlim_cur - 500);
  if (kIdle < 10000) WARN("RLIMIT_NOFILE " << rl.rlim_cur << ": only " << kIdle << " connections");
  REQUIRE(kIdle >= 2000);

  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic), "  header_timeout: 60s\n  idle_timeout: 60s\n");
  relay.options().open_files_limit = 512;
  relay.start();
  // 4096 connections do not fit into 512 descriptors: the daemon says so.
  REQUIRE(relay.daemon().wait_for_log("max_connections 4096 lowered to 384", 5s));

  std::vector<int> idle;
  idle.reserve(kIdle);
  for (std::size_t i = 0; i < kIdle; ++i) {
    const int fd = open_socket(relay.port(), true);
    if (fd >= 0) idle.push_back(fd);
  }
  // Wait until every connect has completed (or been answered by a close).
  std::size_t pending = idle.size();
  const auto deadline = Clock::now() + 60s;
  std::vector<bool> done(idle.size(), false);
  while (pending > 0 && Clock::now() < deadline) {
    std::vector<pollfd> fds;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < idle.size(); ++i) {
      if (!done[i]) {
        fds.push_back({idle[i], POLLOUT, 0});
        index.push_back(i);
      }
    }
    ::poll(fds.data(), fds.size(), 200);
    for (std::size_t k = 0; k < fds.size(); ++k) {
      if (fds[k].revents != 0) {
        done[index[k]] = true;
        --pending;
      }
    }
  }
  INFO("connections opened: " << idle.size() << ", still connecting: " << pending);
  CHECK(idle.size() == kIdle);

  // While they are open, other clients are served.
  TestClient client(relay.port());
  CHECK(client.request("GET", "/health").status == 200);
  CHECK(client.post_event(event_with_id(42)).status == 202);
  REQUIRE(oic.wait_for_requests(1, 10s));
  CHECK(open_descriptors(relay.daemon().pid()) <= 512);

  // The daemon closed the oldest idle ones to make room: at most its
  // limit are still open once it has worked through its accept backlog
  // (which takes much longer in a sanitizer build: wait for it, do not
  // assume how long it takes).
  std::size_t still_open = 0;
  const auto settled = Clock::now() + 60s;
  do {
    std::this_thread::sleep_for(200ms);
    still_open = 0;
    for (int fd : idle) still_open += closed_by_peer(fd) ? 0 : 1;
  } while (still_open > 384 && Clock::now() < settled);
  const std::size_t descriptors = open_descriptors(relay.daemon().pid());
  std::printf("%zu idle connections: the daemon kept %zu open, %zu descriptors in use\n", kIdle,
              still_open, descriptors);
  INFO("idle connections the daemon kept open: " << still_open);
  CHECK(still_open <= 384);
  CHECK(contains(relay.log(), "closed the oldest idle connection to make room"));

  // The idle ones go away: the daemon gives their descriptors back and serves on.
  for (int fd : idle) ::close(fd);
  const auto settle = Clock::now() + 20s;
  while (open_descriptors(relay.daemon().pid()) > 64 && Clock::now() < settle) {
    std::this_thread::sleep_for(100ms);
  }
  CHECK(open_descriptors(relay.daemon().pid()) <= 64);
  CHECK(client.request("GET", "/health").status == 200);
  CHECK(client.post_event(event_with_id(43)).status == 202);
  CHECK(relay.daemon().running());
  CHECK_FALSE(contains(relay.log(), "accept failed"));  // the limit kept it clear of EMFILE
}

TEST_CASE("hostile: out of descriptors (EMFILE), idle connections make room", "[hostile]") {
  // 200 deliveries held open by a slow OIC take 200 of the daemon's 512
  // descriptors, so accept fails with EMFILE before max_connections (384)
  // is reached: the daemon closes its oldest idle connection and accepts.
  FakeHttpServer oic;
  oic.set_script([](const RecordedRequest&, std::size_t) {
    return Reply{ocirelay::http::Response{202, {}, {}, false}, 120s};
  });
  RelayHarness relay("destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
                         "\n    concurrency: 200\n    timeout: 10m\n"
                         "routes:\n  - { name: all, destinations: [oic] }\n",
                     "  header_timeout: 60s\n  idle_timeout: 60s\n");
  relay.options().open_files_limit = 512;
  relay.start();
  std::vector<std::string> bodies;
  for (long i = 0; i < 200; ++i) bodies.push_back(event_with_id(1000 + i));
  for (int status : post_events(relay.port(), bodies, 8)) REQUIRE(status == 202);
  REQUIRE(oic.wait_for_requests(200, 30s));

  std::vector<int> idle;
  for (int i = 0; i < 1000; ++i) {
    const int fd = open_socket(relay.port());
    REQUIRE(fd >= 0);
    idle.push_back(fd);
  }
  TestClient client(relay.port());
  CHECK(client.request("GET", "/health").status == 200);
  CHECK(relay.daemon().wait_for_log(
      "accept failed: Too many open files; closed the oldest idle connection", 10s));
  CHECK(open_descriptors(relay.daemon().pid()) <= 512);
  std::this_thread::sleep_for(300ms);
  std::size_t still_open = 0;
  for (int fd : idle) still_open += closed_by_peer(fd) ? 0 : 1;
  std::printf("EMFILE: with 200 deliveries in flight the daemon kept %zu idle connections open\n",
              still_open);
  CHECK(still_open < 384);  // fewer than max_connections: the descriptors ran out first
  for (int fd : idle) ::close(fd);
  CHECK(client.post_event(event_with_id(2000)).status == 202);
  CHECK(relay.daemon().running());
}

TEST_CASE("hostile: server.max_connections holds with idle connections queued", "[hostile]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic), "  max_connections: 50\n  header_timeout: 60s\n");
  relay.start();
  std::vector<int> idle;
  for (int i = 0; i < 500; ++i) {
    const int fd = open_socket(relay.port());
    REQUIRE(fd >= 0);
    idle.push_back(fd);
  }
  TestClient client(relay.port());
  CHECK(client.request("GET", "/health").status == 200);
  std::this_thread::sleep_for(300ms);
  std::size_t still_open = 0;
  for (int fd : idle) still_open += closed_by_peer(fd) ? 0 : 1;
  INFO("idle connections the daemon kept open: " << still_open);
  CHECK(still_open <= 50);
  CHECK(still_open >= 40);  // the newest ones: eviction takes the oldest first
  for (int fd : idle) ::close(fd);
}

TEST_CASE("hostile: malformed framing gets 400 or 413, never a crash", "[hostile]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic), "  max_body_bytes: 4096\n");
  relay.start();
  const std::string head =
      "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";

  // Both framings at once (request smuggling): refused, nothing smuggled.
  auto both =
      raw_exchange(relay.port(), head +
                                     "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(both.rfind("HTTP/1.1 400", 0) == 0);
  CHECK_FALSE(contains(both, "HTTP/1.1 200"));
  // A chunk size that overflows.
  auto overflow = raw_exchange(relay.port(), head +
                                                 "Transfer-Encoding: chunked\r\n\r\n"
                                                 "ffffffffffffffffffffffff\r\n{}\r\n0\r\n\r\n");
  CHECK(overflow.rfind("HTTP/1.1 400", 0) == 0);
  // Chunks adding up to more than max_body_bytes.
  const std::string chunk = std::string("bb8\r\n") + std::string(3000, ' ') + "\r\n";
  auto big = raw_exchange(
      relay.port(), head + "Transfer-Encoding: chunked\r\n\r\n" + chunk + chunk + "0\r\n\r\n");
  CHECK(big.rfind("HTTP/1.1 413", 0) == 0);
  // A chunk cut short by the client going away.
  auto cut = raw_exchange(relay.port(), head + "Transfer-Encoding: chunked\r\n\r\n10\r\n{\"ev", 2s);
  CHECK_FALSE(contains(cut, "HTTP/1.1 2"));
  // Two Content-Length headers that disagree.
  auto two = raw_exchange(relay.port(), head + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}");
  CHECK(two.rfind("HTTP/1.1 400", 0) == 0);

  CHECK(TestClient(relay.port()).request("GET", "/health").status == 200);
  std::this_thread::sleep_for(200ms);
  CHECK(oic.request_count() == 0);
}

TEST_CASE("hostile: invalid UTF-8 in the JSON body gets 400 with the reason", "[hostile]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic));
  relay.start();
  TestClient client(relay.port());
  // Invalid byte, overlong '/', a UTF-8-encoded surrogate, an escaped lone surrogate.
  for (const std::string& bad :
       {std::string("inv\xff.pdf"), std::string("inv\xc0\xaf.pdf"),
        std::string("inv\xed\xa0\x80.pdf"), std::string("inv\\ud800.pdf")}) {
    auto r = client.post_event(event_with_name(bad));
    CHECK(r.status == 400);
    CHECK((contains(r.body, "encoding") || contains(r.body, "surrogate")));
  }
  // Valid UTF-8 beyond ASCII is stored and delivered byte for byte.
  const std::string fine = event_with_name("r\xc3\xa9sum\xc3\xa9-\xf0\x9f\x93\x84.pdf");
  CHECK(client.post_event(fine).status == 202);
  REQUIRE(oic.wait_for_requests(1, 10s));
  CHECK(oic.requests()[0].body == fine);
  std::this_thread::sleep_for(200ms);
  CHECK(oic.request_count() == 1);
}

TEST_CASE("hostile: 100,000 levels of nesting get 400, no stack overflow", "[hostile]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic));
  relay.start();
  TestClient client(relay.port());
  // A body starting with '[' is a batch: its first member is not an event.
  auto arrays = client.post_event(std::string(100000, '['));
  CHECK(arrays.status == 400);
  CHECK(contains(arrays.body, "events[0]: not a JSON object"));
  auto in_batch = client.post_event("[{\"a\":" + std::string(100000, '['));
  CHECK(in_batch.status == 400);
  CHECK(contains(in_batch.body, "events[0]: nests JSON deeper than 64 levels"));
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  auto nested = client.post_event(objects);
  CHECK(nested.status == 400);
  CHECK(contains(nested.body, "deeper than 64 levels"));
  // Deep nesting inside an otherwise valid event.
  std::string event = fixture("events/createobject.json");
  event.insert(event.rfind('}'), ",\"deep\":" + std::string(1000, '[') + std::string(1000, ']'));
  CHECK(client.post_event(event).status == 400);
  CHECK(client.request("GET", "/health").status == 200);
  CHECK(relay.daemon().running());
  CHECK(oic.request_count() == 0);
}

TEST_CASE("hostile: a member name twice gets 400 naming it, nothing is queued", "[hostile]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic));
  relay.start();
  TestClient client(relay.port());
  // The bucket named twice: a route could read one and OIC the other.
  std::string twice = fixture("events/createobject.json");
  const auto bucket = twice.find("\"bucketName\"");
  REQUIRE(bucket != std::string::npos);
  twice.insert(bucket, "\"bucketName\": \"elsewhere\", ");
  auto r = client.post_event(twice);
  CHECK(r.status == 400);
  CHECK(contains(r.body,
                 "has the member name \\\"bucketName\\\" twice in the object at "
                 "\\\"/data/additionalDetails\\\""));
  // In a batch, the member is named.
  auto batch = client.post_event("[" + fixture("events/createobject.json") + "," + twice + "]");
  CHECK(batch.status == 400);
  CHECK(contains(batch.body, "events[1]: has the member name"));
  // The same event without the repeat is taken and delivered once.
  CHECK(client.post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(oic.wait_for_requests(1, 10s));
  std::this_thread::sleep_for(200ms);
  CHECK(oic.request_count() == 1);
  CHECK(relay.daemon().running());
}

TEST_CASE("hostile: a Content-Length that lies", "[hostile]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic), "  body_timeout: 1s\n");
  relay.start();
  const std::string event = fixture("events/createobject.json");
  const std::string head =
      "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
  // Shorter than the body: the first 10 bytes are not an event (400), and
  // the rest is not a request (400); nothing is queued.
  auto shorter = raw_exchange(relay.port(), head + "Content-Length: 10\r\n\r\n" + event, 5s);
  CHECK(shorter.rfind("HTTP/1.1 400", 0) == 0);
  CHECK_FALSE(contains(shorter, "HTTP/1.1 202"));
  // Longer than the body: the daemon waits body_timeout for the rest, then
  // closes without an answer.
  auto longer = raw_exchange(
      relay.port(),
      head + "Content-Length: " + std::to_string(event.size() + 500) + "\r\n\r\n" + event, 20s);
  CHECK(longer.empty());
  CHECK(relay.daemon().wait_for_log("closed: body not received within 1s", 5s));
  std::this_thread::sleep_for(200ms);
  CHECK(oic.request_count() == 0);
  CHECK(TestClient(relay.port()).request("GET", "/health").status == 200);
}

TEST_CASE(
    "hostile: TLS 1.2 with ECDHE and AEAD and TLS 1.3 accepted, older versions and weak suites "
    "refused",
    "[hostile][tls]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic), "  tls:\n    cert_file: " + pki.server_cert +
                                        "\n    key_file: " + pki.server_key + "\n");
  relay.start();
  const std::uint16_t port = relay.port();

  auto tls13 = tls_probe(port, TLS1_3_VERSION);
  CHECK(tls13.ok);
  CHECK(tls13.version == "TLSv1.3");
  auto tls12 = tls_probe(port, TLS1_2_VERSION);
  CHECK(tls12.ok);
  CHECK(tls12.version == "TLSv1.2");
  CHECK(tls12.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256");  // the server's first preference
  auto chacha = tls_probe(port, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305");
  CHECK(chacha.ok);
  CHECK(chacha.cipher == "ECDHE-ECDSA-CHACHA20-POLY1305");

  for (int old : {TLS1_VERSION, TLS1_1_VERSION}) {
    auto r = tls_probe(port, old);
    INFO("version " << std::hex << old << ": " << r.error);
    CHECK_FALSE(r.ok);
    CHECK(contains(r.error, "alert protocol version"));  // the server's refusal
  }
  // CBC, RSA key exchange, finite-field DHE: no shared suite.
  for (const char* weak :
       {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "AES128-GCM-SHA256",
        "DHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-NULL-SHA"}) {
    auto r = tls_probe(port, TLS1_2_VERSION, weak);
    INFO(weak << ": " << r.error);
    CHECK_FALSE(r.ok);
  }
  // SSL 3.0: answered with an alert record, never a ServerHello.
  auto sslv3 = raw_exchange(port, sslv3_client_hello(), 5s);
  CHECK((sslv3.empty() || sslv3[0] == '\x15'));

  CHECK(TestClient(port, pki.ca_cert).post_event(fixture("events/createobject.json")).status ==
        202);
}

TEST_CASE("hostile: a private key open to other users is refused at check-config and start",
          "[hostile][tls]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic), "  tls:\n    cert_file: " + pki.server_cert +
                                        "\n    key_file: " + pki.server_key + "\n");
  ::chmod(pki.server_key.c_str(), 0644);
  auto check = run_ocirelayd({"--check-config", "--config", relay.config_path()});
  CHECK(check.exit_code != 0);
  CHECK(contains(check.output,
                 "private key " + pki.server_key + " is accessible by other users (mode 0644)"));
  CHECK_FALSE(contains(check.output, "BEGIN"));  // nothing of the key itself
  CHECK_THROWS_WITH(relay.start(), Catch::Contains("is accessible by other users (mode 0644)"));

  // Group-readable (root:ocirelay 0640) is the recommended setup.
  ::chmod(pki.server_key.c_str(), 0640);
  auto fine = run_ocirelayd({"--check-config", "--config", relay.config_path()});
  INFO(fine.output);
  CHECK(fine.exit_code == 0);

  // The same for a client key (mTLS towards a destination).
  ::chmod(pki.client_key.c_str(), 0604);
  RelayHarness mtls(
      "destinations:\n  - name: oic\n    url: https://127.0.0.1:1/flow\n"
      "    tls: { ca_file: " +
      pki.ca_cert + ", cert_file: " + pki.client_cert + ", key_file: " + pki.client_key +
      " }\n"
      "routes:\n  - { name: all, destinations: [oic] }\n");
  auto client_key = run_ocirelayd({"--check-config", "--config", mtls.config_path()});
  CHECK(client_key.exit_code != 0);
  CHECK(contains(client_key.output,
                 "private key " + pki.client_key + " is accessible by other users (mode 0604)"));
}

TEST_CASE("hostile: confirmation URLs whose host names resolve internally are never fetched",
          "[hostile][ons]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  FakeHttpServer ons({pki.server_cert, pki.server_key});
  FakeHttpServer oic;
  // Every host name matches, and 127.0.0.1 is listed literally: only a URL
  // written with exactly that literal may reach an internal address.
  RelayHarness relay(relay_to(oic),
                     "  ons:\n    auto_confirm: true\n"
                     "    confirm_url_hosts: [\"*\", \"127.0.0.1\"]\n"
                     "    ca_file: " +
                         pki.ca_cert + "\n");
  relay.start();
  const std::string port = std::to_string(ons.port());
  struct Case {
    std::string host;
    std::string address;
  };
  // Names that are not IP literals but that getaddrinfo turns into internal
  // addresses without any DNS server or /etc/hosts entry.
  const Case cases[] = {
      {"2130706433", "127.0.0.1"},        // 127.0.0.1 as one decimal number
      {"0x7f000001", "127.0.0.1"},        // ... in hex
      {"127.1", "127.0.0.1"},             // ... in short form
      {"167772161", "10.0.0.1"},          // RFC 1918
      {"0xa9fea9fe", "169.254.169.254"},  // link-local: the instance metadata service
      {"3232235777", "192.168.1.1"},      // RFC 1918
      {"1681915905", "100.64.0.1"},       // carrier-grade NAT
      {"localhost", "127.0.0.1"},
  };
  for (const auto& c : cases) {
    const std::string url = "https://" + c.host + ":" + port + "/confirm?token=x";
    auto r = post_confirmation(relay.port(), url);
    INFO(c.host << ": " << r.status << " " << r.body);
    CHECK(r.status == 403);
    CHECK(contains(r.body, "resolves to the internal address " + c.address));
  }
  // IPv6 literals for internal networks, not listed literally.
  for (const char* host : {"[::1]", "[fe80::1]", "[fd00::1]", "[::ffff:169.254.169.254]"}) {
    auto r = post_confirmation(relay.port(), std::string("https://") + host + ":" + port + "/c");
    INFO(host << ": " << r.status << " " << r.body);
    CHECK(r.status == 403);
  }
  CHECK(ons.request_count() == 0);
  CHECK(contains(relay.log(), "refused to confirm ONS subscription"));

  // The literal itself is allowed; a redirect from it is not followed.
  FakeHttpServer elsewhere({pki.server_cert, pki.server_key});
  ons.set_script([&](const RecordedRequest&, std::size_t) {
    ocirelay::http::Response r;
    r.status = 302;
    r.headers.set("Location", elsewhere.url("/internal"));
    return Reply{r, {}};
  });
  auto redirected = post_confirmation(relay.port(), ons.url("/confirm?token=y"));
  CHECK(redirected.status == 502);
  CHECK(contains(redirected.body, "HTTP 302"));
  CHECK(ons.request_count() == 1);
  CHECK(elsewhere.request_count() == 0);
}
