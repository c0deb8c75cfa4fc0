// SIGHUP: the configuration file is read again and applied without a
// restart: routes, destinations, log level; a bad file changes nothing; open
// connections and queued events survive.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <set>
#include <thread>

#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

std::string destination(const std::string& name, const FakeHttpServer& s) {
  return "  - name: " + name + "\n    url: " + s.url("/" + name) +
         "\n    retry: { initial_backoff: 100ms, max_backoff: 300ms }\n";
}

// One keep-alive HTTP/1.1 connection, for checking it survives a reload.
class KeepAlive {
 public:
  explicit KeepAlive(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~KeepAlive() { ::close(fd_); }

  // Sends a request and reads one whole response (Content-Length framed).
  std::string exchange(const std::string& request) {
    REQUIRE(::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(request.size()));
    std::string in;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    for (;;) {
      const auto end = in.find("\r\n\r\n");
      if (end != std::string::npos) {
        const auto cl = in.find("Content-Length: ");
        REQUIRE(cl != std::string::npos);
        const std::size_t length = std::stoul(in.substr(cl + 16));
        if (in.size() >= end + 4 + length) return in;
      }
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      pollfd p{fd_, POLLIN, 0};
      REQUIRE(::poll(&p, 1, 10000) == 1);
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      REQUIRE(n > 0);  // the daemon did not close the connection
      in.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
};

std::string post(const std::string& body) {
  return "POST /v1/events HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\n"
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

void reload(RelayHarness& relay, const std::string& expect_in_log) {
  relay.daemon().signal(SIGHUP);
  REQUIRE(relay.daemon().wait_for_log(expect_in_log, 15s));
}

}  // namespace

TEST_CASE("SIGHUP applies new routes and destinations on an open connection", "[reload]") {
  FakeHttpServer a, b;
  RelayHarness relay("destinations:\n" + destination("a", a) +
                     "routes:\n  - { name: finance, compartment: finance, destinations: [a] }\n");
  relay.start();
  KeepAlive conn(relay.port());
  CHECK(conn.exchange(post(fixture("events/deleteobject.json"))).find("\"filtered\"") !=
        std::string::npos);

  relay.rewrite("destinations:\n" + destination("a", a) + destination("b", b) +
                "routes:\n  - { name: finance, compartment: finance, destinations: [a] }\n"
                "  - { name: hr, compartment: hr, destinations: [b] }\n");
  reload(relay, "configuration reloaded: 2 route(s), 2 destination(s) (1 new or changed, 0 removed)");

  // The same connection, now routed by the new configuration.
  CHECK(conn.exchange(post(fixture("events/deleteobject.json"))).rfind("HTTP/1.1 202", 0) == 0);
  REQUIRE(b.wait_for_requests(1, 10s));
  CHECK(conn.exchange(post(fixture("events/createobject.json"))).rfind("HTTP/1.1 202", 0) == 0);
  REQUIRE(a.wait_for_requests(1, 10s));
}

TEST_CASE("an invalid file is refused and the running configuration kept", "[reload]") {
  FakeHttpServer a;
  RelayHarness relay("destinations:\n" + destination("a", a) +
                     "routes:\n  - { name: all, destinations: [a] }\n");
  relay.start();
  relay.rewrite("destinations:\n" + destination("a", a) +
                "routes:\n  - { name: all, destinations: [a, nowhere] }\n");
  reload(relay, "reload refused (1 error(s)); keeping the running configuration");
  CHECK(relay.log().find("routes[0].destinations[1]") != std::string::npos);
  REQUIRE(TestClient(relay.port()).post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(a.wait_for_requests(1, 10s));
  CHECK(relay.daemon().running());
}

TEST_CASE("a removed destination keeps its queued events until it is added back", "[reload]") {
  FakeHttpServer a, b;
  std::atomic<bool> a_up{false};
  a.set_script([&a_up](const RecordedRequest&, std::size_t) {
    return Reply{ocirelay::http::Response{a_up ? 202 : 503, {}, {}, false}, {}};
  });
  const std::string both = "destinations:\n" + destination("a", a) + destination("b", b) +
                           "routes:\n  - { name: all, destinations: [a, b] }\n";
  RelayHarness relay(both);
  relay.start();
  std::vector<std::string> bodies;
  for (int i = 0; i < 5; ++i) bodies.push_back(event_with_id(i));
  for (int s : post_events(relay.port(), bodies, 2)) REQUIRE(s == 202);
  REQUIRE(b.wait_for_requests(5, 10s));
  REQUIRE(a.wait_for_requests(1, 10s));

  relay.rewrite("destinations:\n" + destination("b", b) +
                "routes:\n  - { name: all, destinations: [b] }\n");
  reload(relay, "of its deliveries stay in storage");
  CHECK(relay.log().find("destination a was removed from the configuration; 5 of its deliveries "
                         "stay in storage") != std::string::npos);
  const std::size_t a_before = a.request_count();
  std::this_thread::sleep_for(500ms);
  CHECK(a.request_count() == a_before);  // nothing goes to a removed destination

  const std::size_t before_readd = a.request_count();
  a_up = true;
  relay.rewrite(both);
  reload(relay, "(1 new or changed, 0 removed)");
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  std::set<std::string> delivered;
  while (delivered.size() < 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    delivered.clear();
    const auto reqs = a.requests();  // answered 202 from here on
    for (std::size_t i = before_readd; i < reqs.size(); ++i) {
      delivered.insert(std::string(*reqs[i].headers.get("Idempotency-Key")));
    }
  }
  CHECK(delivered.size() == 5);
}

TEST_CASE("a changed destination delivers its queue with the new settings", "[reload]") {
  FakeHttpServer old_oic, new_oic;
  old_oic.always(503);
  RelayHarness relay("destinations:\n  - name: oic\n    url: " + old_oic.url("/flow") +
                     "\n    retry: { initial_backoff: 100ms, max_backoff: 300ms }\n"
                     "routes:\n  - { name: all, destinations: [oic] }\n");
  relay.start();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(TestClient(relay.port()).post_event(event_with_id(i)).status == 202);
  }
  REQUIRE(old_oic.wait_for_requests(1, 10s));
  relay.rewrite("destinations:\n  - name: oic\n    url: " + new_oic.url("/flow") +
                "\n    retry: { initial_backoff: 100ms, max_backoff: 300ms }\n"
                "routes:\n  - { name: all, destinations: [oic] }\n");
  reload(relay, "(1 new or changed, 0 removed)");
  REQUIRE(new_oic.wait_for_requests(3, 15s));
  std::set<std::string> ids;
  for (const auto& r : new_oic.requests()) ids.insert(std::string(*r.headers.get("Idempotency-Key")));
  CHECK(ids == std::set<std::string>{event_id_for(0), event_id_for(1), event_id_for(2)});
}

TEST_CASE("the log level changes on reload, start-time settings wait for a restart", "[reload]") {
  FakeHttpServer a;
  const std::string tail = "destinations:\n" + destination("a", a) +
                           "routes:\n  - { name: all, destinations: [a] }\n";
  RelayHarness relay(tail);
  relay.start();
  // The harness writes log.level debug; the same file with warn:
  std::string yaml = base_yaml(relay.dir()) + tail;
  yaml.replace(yaml.find("level: debug"), 12, "level: warn");
  yaml.replace(yaml.find("127.0.0.1:0"), 11, "127.0.0.1:1");
  relay.dir().write("ocirelay.yaml", yaml);
  reload(relay, "configuration reloaded");
  CHECK(relay.log().find("reload: server.listen changed; it takes effect only after a restart") !=
        std::string::npos);
  REQUIRE(TestClient(relay.port()).post_event(event_with_id(42)).status == 202);  // same port
  REQUIRE(a.wait_for_requests(1, 10s));
  std::this_thread::sleep_for(300ms);
  CHECK(relay.log().find(event_id_for(42) + " type") == std::string::npos);  // info: not logged
}

TEST_CASE("ingress auth changes on reload", "[reload][auth]") {
  FakeHttpServer a;
  const std::string tail = "destinations:\n" + destination("a", a) +
                           "routes:\n  - { name: all, destinations: [a] }\n";
  RelayHarness relay(tail);
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(event_with_id(1)).status == 202);
  relay.rewrite(tail, "  auth:\n    basic:\n      - { username: ons, password: new-secret }\n");
  reload(relay, "configuration reloaded");
  CHECK(client.post_event(event_with_id(2)).status == 401);
  CHECK(client.post_event(event_with_id(3), {{"Authorization", basic_auth("ons", "new-secret")}})
            .status == 202);
  CHECK(relay.log().find("new-secret") == std::string::npos);
}

TEST_CASE("a renewed server certificate is served to new connections after SIGHUP",
          "[reload][tls]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  // The relay's certificate files, where a renewal hook would copy new ones.
  const std::string cert = (dir.path() / "relay.crt").string();
  const std::string key = (dir.path() / "relay.key").string();
  namespace fs = std::filesystem;
  fs::copy_file(pki.server_cert, cert);
  fs::copy_file(pki.server_key, key);
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
  FakeHttpServer a;
  RelayHarness relay("destinations:\n" + destination("a", a) +
                         "routes:\n  - { name: all, destinations: [a] }\n",
                     server_tls_yaml(cert, key));
  relay.start();
  CHECK(TestClient(relay.port(), pki.ca_cert).post_event(event_with_id(1)).status == 202);
  CHECK(TestClient(relay.port(), pki.rogue_ca_cert).post_event(event_with_id(2)).status == 0);

  // "Renewal": a certificate from another CA at the same paths.
  fs::copy_file(pki.rogue_server_cert, cert, fs::copy_options::overwrite_existing);
  fs::copy_file(pki.rogue_server_key, key, fs::copy_options::overwrite_existing);
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
  reload(relay, "server certificate " + cert + " loaded for new connections");
  CHECK(TestClient(relay.port(), pki.rogue_ca_cert).post_event(event_with_id(3)).status == 202);
  CHECK(TestClient(relay.port(), pki.ca_cert).post_event(event_with_id(4)).status == 0);

  // A key that does not match the certificate: the reload is refused, the
  // running certificate stays.
  fs::copy_file(pki.server_key, key, fs::copy_options::overwrite_existing);
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
  reload(relay, "reload refused: server.tls");
  CHECK(TestClient(relay.port(), pki.rogue_ca_cert).post_event(event_with_id(5)).status == 202);
  REQUIRE(a.wait_for_requests(3, 10s));
}
