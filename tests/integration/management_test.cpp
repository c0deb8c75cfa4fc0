// management.listen: /metrics, /ready and the detailed /health on a listener
// of their own; the ingress port keeps POST /v1/events and a minimal /health
// that names nothing. `management.listen: ""` serves everything on the
// ingress port; management.tls serves the management endpoint over HTTPS.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <string>
#include <thread>

#include "support/daemon_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/temp_dir.hpp"
#include "support/test_client.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

// Names that must never show on the ingress port.
constexpr const char* kDestination = "oic-payroll-secret";
constexpr const char* kRoute = "route-hr-private";

std::string relay_to(const FakeHttpServer& oic) {
  return std::string("destinations:\n  - name: ") + kDestination +
         "\n    url: " + oic.url("/flow") + "\nroutes:\n  - { name: " + kRoute +
         ", destinations: [" + kDestination + "] }\n";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The whole answer to a HEAD request; fails the test if it has a body.
std::string head_answer(std::uint16_t port, const std::string& path) {
  const std::string answer =
      raw_exchange(port, "HEAD " + path + " HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n");
  CHECK(answer.find("\r\n\r\n") + 4 == answer.size());
  return answer;
}

std::string management_tls_yaml(const std::string& cert, const std::string& key) {
  return "management:\n  listen: \"127.0.0.1:0\"\n  tls:\n    cert_file: " + cert +
         "\n    key_file: " + key + "\n";
}

}  // namespace

TEST_CASE("management: the ingress port serves events and a minimal /health only", "[management]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic));
  relay.start();
  TestClient ingress(relay.port());
  REQUIRE(ingress.post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(oic.wait_for_requests(1, 10s));

  for (const char* path : {"/metrics", "/ready", "/metrics?name=x"}) {
    INFO(path);
    auto r = ingress.request("GET", path);
    CHECK(r.status == 404);
    CHECK_FALSE(contains(r.body, kDestination));
    CHECK_FALSE(contains(r.body, "ocirelay_"));
  }
  auto health = ingress.request("GET", "/health");
  CHECK(health.status == 200);
  CHECK(health.body == R"({"status":"ok"})");
  CHECK(health.headers.get("Content-Type") == "application/json");
  CHECK(head_answer(relay.port(), "/health").rfind("HTTP/1.1 200 ", 0) == 0);
  auto wrong = ingress.request("POST", "/health", "{}");
  CHECK(wrong.status == 405);
  CHECK(wrong.headers.get("Allow") == "GET, HEAD");

  // Everything an operator reads is on the management port.
  TestClient management(relay.management_port());
  auto metrics = management.request("GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(contains(metrics.body, "ocirelay_events_received_total{result=\"queued\"} 1"));
  CHECK(contains(metrics.body, kDestination));
  CHECK(contains(metrics.body, kRoute));
  auto detailed = management.request("GET", "/health");
  CHECK(detailed.status == 200);
  CHECK(contains(detailed.body, std::string("\"") + kDestination + "\":{\"state\":\""));
  CHECK(contains(detailed.body, "\"uptime_seconds\":"));
  auto ready = management.request("GET", "/ready");
  CHECK(ready.status == 200);
  CHECK(ready.body == R"({"status":"ready"})");
  CHECK(contains(relay.log(), "management endpoint on 127.0.0.1:" +
                                  std::to_string(relay.management_port()) + " (http)"));
}

TEST_CASE("management: the management port refuses anything but GET and HEAD", "[management]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic));
  relay.start();
  TestClient management(relay.management_port());

  // An event posted to the management port is refused before its body is
  // read, and never queued.
  auto posted = management.post_event(fixture("events/createobject.json"));
  CHECK(posted.status == 405);
  CHECK(posted.headers.get("Allow") == "GET, HEAD");
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH"}) {
    INFO(method);
    auto r = management.request(method, "/metrics");
    CHECK(r.status == 405);
    CHECK(r.headers.get("Allow") == "GET, HEAD");
  }
  auto unknown = management.request("GET", "/v1/events");
  CHECK(unknown.status == 404);
  CHECK(management.request("GET", "/").status == 404);
  CHECK(head_answer(relay.management_port(), "/metrics").rfind("HTTP/1.1 200 ", 0) == 0);

  // A POST whose body never comes: 405 at once, the body not waited for.
  const std::string raw = raw_exchange(
      relay.management_port(),
      "POST /v1/events HTTP/1.1\r\nHost: relay\r\nContent-Length: 1000\r\n\r\n{", 5s);
  CHECK(raw.rfind("HTTP/1.1 405 ", 0) == 0);
  // A body above the management listener's 64 KiB: 413 from the header alone.
  const std::string large = raw_exchange(
      relay.management_port(),
      "POST /metrics HTTP/1.1\r\nHost: relay\r\nContent-Length: 100000\r\n\r\n{", 5s);
  CHECK(large.rfind("HTTP/1.1 413 ", 0) == 0);

  const std::string metrics = management.request("GET", "/metrics").body;
  CHECK_FALSE(contains(metrics, "ocirelay_events_received_total{result=\"queued\"} 1"));
  std::this_thread::sleep_for(200ms);
  CHECK(oic.request_count() == 0);
  CHECK(relay.daemon().running());
}

TEST_CASE("management: listen \"\" serves every endpoint on the ingress port", "[management]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic), {}, kNoManagementYaml);
  relay.start();
  TestClient ingress(relay.port());
  REQUIRE(ingress.post_event(fixture("events/createobject.json")).status == 202);

  auto metrics = ingress.request("GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(contains(metrics.body, "ocirelay_events_received_total{result=\"queued\"} 1"));
  auto health = ingress.request("GET", "/health");
  CHECK(health.status == 200);
  CHECK(contains(health.body, std::string("\"") + kDestination + "\":{\"state\":\""));
  CHECK(ingress.request("GET", "/ready").status == 200);
  CHECK(ingress.request("DELETE", "/metrics").status == 405);

  const std::string log = relay.log();
  CHECK_FALSE(contains(log, "management endpoint on"));
  CHECK(contains(log, "served on the ingress port"));
  CHECK_THROWS(relay.management_port());
}

TEST_CASE("management.tls serves the management endpoint over HTTPS", "[management][tls]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic), {}, management_tls_yaml(pki.server_cert, pki.server_key));
  relay.start();
  CHECK(contains(relay.log(), "management endpoint on 127.0.0.1:" +
                                  std::to_string(relay.management_port()) + " (https)"));

  auto metrics = TestClient(relay.management_port(), pki.ca_cert).request("GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(contains(metrics.body, "ocirelay_build_info"));
  // Not trusted by a client of another CA; no plain HTTP answer.
  auto rogue = TestClient(relay.management_port(), pki.rogue_ca_cert).request("GET", "/metrics");
  CHECK(rogue.status == 0);
  CHECK(contains(rogue.error, "certificate"));
  const std::string plain =
      raw_exchange(relay.management_port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 3s);
  CHECK_FALSE(contains(plain, "200 OK"));
  // The ingress port stays plain HTTP, as server: says.
  CHECK(TestClient(relay.port()).post_event(fixture("events/createobject.json")).status == 202);
}

TEST_CASE("management: a renewed certificate after SIGHUP, a new listen address after a restart",
          "[management][reload]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  namespace fs = std::filesystem;
  const std::string cert = dir.file("management.crt");
  const std::string key = dir.file("management.key");
  auto install = [&](const std::string& from_cert, const std::string& from_key) {
    fs::copy_file(from_cert, cert, fs::copy_options::overwrite_existing);
    fs::copy_file(from_key, key, fs::copy_options::overwrite_existing);
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
  };
  install(pki.server_cert, pki.server_key);
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic), {}, management_tls_yaml(cert, key));
  relay.start();
  const std::uint16_t port = relay.management_port();
  CHECK(TestClient(port, pki.ca_cert).request("GET", "/ready").status == 200);

  install(pki.rogue_server_cert, pki.rogue_server_key);
  relay.daemon().signal(SIGHUP);
  REQUIRE(relay.daemon().wait_for_log("management certificate " + cert + " loaded", 15s));
  CHECK(TestClient(port, pki.rogue_ca_cert).request("GET", "/ready").status == 200);
  CHECK(TestClient(port, pki.ca_cert).request("GET", "/ready").status == 0);

  // A key that does not match: the reload is refused, the running one stays.
  fs::copy_file(pki.server_key, key, fs::copy_options::overwrite_existing);
  relay.daemon().signal(SIGHUP);
  REQUIRE(relay.daemon().wait_for_log("reload refused: management.tls", 15s));
  CHECK(TestClient(port, pki.rogue_ca_cert).request("GET", "/ready").status == 200);

  // Another address, and plain HTTP: both wait for a restart.
  install(pki.rogue_server_cert, pki.rogue_server_key);
  relay.rewrite(relay_to(oic), {}, "management:\n  listen: \"127.0.0.2:0\"\n");
  relay.daemon().signal(SIGHUP);
  REQUIRE(relay.daemon().wait_for_log(
      "reload: management.tls removed; it takes effect only after a restart", 15s));
  CHECK(contains(relay.log(),
                 "reload: management.listen changed; it takes effect only after a restart"));
  CHECK(TestClient(port, pki.rogue_ca_cert).request("GET", "/ready").status == 200);
}

TEST_CASE("management: a management port already in use stops start-up naming the key",
          "[management]") {
  FakeHttpServer occupant;
  FakeHttpServer oic;
  RelayHarness relay(
      relay_to(oic), {},
      "management:\n  listen: \"127.0.0.1:" + std::to_string(occupant.port()) + "\"\n");
  CHECK_THROWS_WITH(relay.start(),
                    Catch::Contains("management.listen: cannot listen on 127.0.0.1:" +
                                    std::to_string(occupant.port())));
}

TEST_CASE("check-config validates the management section and its TLS files", "[management][cli]") {
  TempDir dir;
  const auto pki = make_test_pki(dir);
  const std::string head =
      "server:\n  listen: \"0.0.0.0:8443\"\nstorage: { path: " + dir.file("q.db") + " }\n";
  auto check = [&](const std::string& name, const std::string& management) {
    return run_ocirelayd({"--check-config", "--config", dir.write(name, head + management)});
  };

  auto bad = check("bad.yaml", "management:\n  listen: \"localhost\"\n  tsl: {}\n");
  INFO(bad.output);
  CHECK(bad.exit_code == 2);
  CHECK(contains(bad.output, dir.file("bad.yaml")));
  CHECK(contains(bad.output,
                 "management.listen: bad listen address 'localhost': expected "
                 "host:port"));
  CHECK(contains(bad.output, "management.tsl: unknown key 'tsl'; allowed keys: listen, tls"));

  auto clash = check("clash.yaml", "management:\n  listen: \"127.0.0.1:8443\"\n");
  INFO(clash.output);
  CHECK(clash.exit_code == 2);
  CHECK(contains(clash.output,
                 "management.listen: listen address '127.0.0.1:8443' is taken by "
                 "server.listen (0.0.0.0:8443)"));

  // The key file is checked as server.tls's is: readable by others, refused.
  const std::string open_key = dir.file("open.key");
  std::filesystem::copy_file(pki.server_key, open_key);
  std::filesystem::permissions(open_key, std::filesystem::perms::owner_read |
                                             std::filesystem::perms::owner_write |
                                             std::filesystem::perms::others_read);
  auto readable = check("readable.yaml", "management:\n  tls: { cert_file: " + pki.server_cert +
                                             ", key_file: " + open_key + " }\n");
  INFO(readable.output);
  CHECK(readable.exit_code == 2);
  CHECK(contains(readable.output, "management.tls: private key " + open_key +
                                      " is accessible by other users (mode 0604)"));

  auto mismatch = check("mismatch.yaml", "management:\n  tls: { cert_file: " + pki.server_cert +
                                             ", key_file: " + pki.client_key + " }\n");
  INFO(mismatch.output);
  CHECK(mismatch.exit_code == 2);
  CHECK(contains(mismatch.output, "management.tls: cannot load private key " + pki.client_key));

  auto missing =
      check("missing.yaml", "management:\n  tls: { cert_file: " + pki.server_cert + " }\n");
  INFO(missing.output);
  CHECK(missing.exit_code == 2);
  CHECK(contains(missing.output, "management.tls.key_file"));

  auto good = check("good.yaml", "management:\n  listen: \"[::1]:9464\"\n  tls: { cert_file: " +
                                     pki.server_cert + ", key_file: " + pki.server_key + " }\n");
  INFO(good.output);
  CHECK(good.exit_code == 0);
  auto all_on_ingress = check("none.yaml", "management: { listen: \"\" }\n");
  INFO(all_on_ingress.output);
  CHECK(all_on_ingress.exit_code == 0);
}
