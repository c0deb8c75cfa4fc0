// The command line of the real binary: --version, --help, --check-config.
#include <catch2/catch.hpp>

#include "support/daemon_process.hpp"
#include "support/fixtures.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay::test;

TEST_CASE("version and help print and exit 0", "[cli]") {
  auto v = run_ocirelayd({"--version"});
  CHECK(v.exit_code == 0);
  CHECK(v.output.find("ocirelayd 0.") == 0);
  auto h = run_ocirelayd({"--help"});
  CHECK(h.exit_code == 0);
  CHECK(h.output.find("--check-config") != std::string::npos);
  auto bad = run_ocirelayd({"--frobnicate"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.output.find("unknown argument \"--frobnicate\"") != std::string::npos);
}

TEST_CASE("check-config accepts the repository's example configurations", "[cli]") {
  auto dev = run_ocirelayd({"--check-config", "--config", std::string(OCIRELAY_SOURCE_DIR) + "/config/dev.yaml"});
  INFO(dev.output);
  CHECK(dev.exit_code == 0);
  auto embedded = run_ocirelayd({"--check-config"});
  INFO(embedded.output);
  CHECK(embedded.exit_code == 0);
}

TEST_CASE("check-config exits 2 naming the file, the key path and the problem", "[cli]") {
  TempDir dir;
  const std::string path = dir.write("bad.yaml", R"(server:
  listen: "127.0.0.1:8080"
  max_body_bytes: lots
storage:
  path: /tmp/x.db
  dedupe_window: 24 hours
destinations:
  - name: oic
    url: https://oic.example.com/flow
    auth: { type: basic, username: relay, password: "${env:OCIRELAY_TEST_SURELY_UNSET}" }
routes:
  - name: r
    destinations: [oic, nowhere]
    colour: blue
)");
  auto r = run_ocirelayd({"--check-config", "--config", path});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find(path) != std::string::npos);
  CHECK(r.output.find("server.max_body_bytes") != std::string::npos);
  CHECK(r.output.find("storage.dedupe_window") != std::string::npos);
  CHECK(r.output.find("destinations[0].auth.password") != std::string::npos);
  CHECK(r.output.find("OCIRELAY_TEST_SURELY_UNSET") != std::string::npos);
  CHECK(r.output.find("routes[0].destinations[1]") != std::string::npos);
  CHECK(r.output.find("nowhere") != std::string::npos);
  CHECK(r.output.find("routes[0].colour") != std::string::npos);
}

TEST_CASE("check-config shows each destination's batching, and names a bad batch key",
          "[cli][batch]") {
  TempDir dir;
  const std::string good = dir.write("good.yaml", R"(server:
  listen: "127.0.0.1:8080"
storage:
  path: /tmp/x.db
destinations:
  - name: oic-bulk
    url: https://oic.example.com/ic/api/integration/v1/flows/rest/EVENTS_BULK/1.0/events
    batch: { max_events: 100, max_bytes: 50KiB, max_wait: 1s, envelope: events }
  - name: oic-single
    url: https://oic.example.com/ic/api/integration/v1/flows/rest/EVENT/1.0/event
routes:
  - { name: r, destinations: [oic-bulk, oic-single] }
)");
  auto ok = run_ocirelayd({"--check-config", "--config", good});
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK(ok.output.find("destination oic-bulk: batches of up to 100 events and 50KiB, sent within "
                       "1s, as {\"events\": [...]}") != std::string::npos);
  CHECK(ok.output.find("oic-single") == std::string::npos);

  const std::string bad = dir.write("bad.yaml", R"(storage:
  path: /tmp/x.db
destinations:
  - name: oic-bulk
    url: https://oic.example.com/flow
    batch: { max_events: 100, max_bytes: 100, envelope: "my events" }
routes:
  - { name: r, destinations: [oic-bulk] }
)");
  auto r = run_ocirelayd({"--check-config", "--config", bad});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find(bad) != std::string::npos);
  CHECK(r.output.find("destinations[0].batch.max_bytes") != std::string::npos);
  CHECK(r.output.find("destinations[0].batch.envelope") != std::string::npos);
}

TEST_CASE("a missing configuration file is a clear error", "[cli]") {
  auto r = run_ocirelayd({"--check-config", "--config", "/nonexistent/ocirelay.yaml"});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("/nonexistent/ocirelay.yaml") != std::string::npos);
}

TEST_CASE("a storage path that cannot be opened stops start-up with exit 3", "[cli]") {
  TempDir dir;
  dir.write("not-a-dir", "x");
  const std::string path = dir.write("c.yaml", "server: { listen: \"127.0.0.1:0\" }\nstorage: { path: " +
                                                    dir.file("not-a-dir/queue.db") + " }\n");
  auto r = run_ocirelayd({"--config", path});
  INFO(r.output);
  CHECK(r.exit_code == 3);  // storage, distinct from other runtime failures (1)
  CHECK(r.output.find("storage") != std::string::npos);
  CHECK(r.output.find(dir.file("not-a-dir")) != std::string::npos);
}

TEST_CASE("check-config loads the TLS files as start-up would", "[cli][tls]") {
  TempDir dir;
  auto pki = make_test_pki(dir);
  const std::string not_pem = dir.write("not-a-cert.pem", "hello\n");
  const std::string path = dir.write(
      "tls.yaml", "server:\n  listen: \"127.0.0.1:0\"\n  tls:\n    cert_file: " + pki.server_cert +
                      "\n    key_file: " + pki.client_key +  // the wrong key
                      "\nstorage: { path: " + dir.file("q.db") +
                      " }\n"
                      "destinations:\n  - name: oic\n    url: https://127.0.0.1:9/flow\n"
                      "    tls: { ca_file: " + not_pem + " }\n"
                      "routes:\n  - { name: all, destinations: [oic] }\n");
  auto r = run_ocirelayd({"--check-config", "--config", path});
  INFO(r.output);
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("server.tls: cannot load private key " + pki.client_key) !=
        std::string::npos);
  CHECK(r.output.find("key values mismatch") != std::string::npos);
  CHECK(r.output.find("destinations[0].tls: cannot load CA file " + not_pem) != std::string::npos);

  const std::string good = dir.write(
      "good.yaml", "server:\n  listen: \"127.0.0.1:0\"\n  tls:\n    cert_file: " + pki.server_cert +
                       "\n    key_file: " + pki.server_key + "\nstorage: { path: " + dir.file("q.db") +
                       " }\n");
  auto ok = run_ocirelayd({"--check-config", "--config", good});
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
}

TEST_CASE("check-config accepts config/production.yaml once its files and secrets exist",
          "[cli][production]") {
  TempDir dir;
  auto pki = make_test_pki(dir);
  std::string yaml = read_file(std::string(OCIRELAY_SOURCE_DIR) + "/config/production.yaml");
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (std::size_t at = 0; (at = yaml.find(from, at)) != std::string::npos; at += to.size()) {
      yaml.replace(at, from.size(), to);
    }
  };
  replace_all("/etc/ocirelay/tls/server.crt", pki.server_cert);
  replace_all("/etc/ocirelay/tls/server.key", pki.server_key);
  replace_all("/etc/ocirelay/tls/oci-ca.pem", pki.ca_cert);
  replace_all("/etc/ocirelay/tls/oic-ca.pem", pki.ca_cert);
  replace_all("/etc/ocirelay/secrets/ons-password", dir.write("ons-password", "change-me\n"));
  replace_all("/var/lib/ocirelay/", dir.file("state/"));
  replace_all("/var/log/ocirelay/", dir.file("logs/"));
  replace_all("/run/ocirelay/", dir.file("run/"));
  const std::string path = dir.write("production.yaml", yaml);
  std::vector<std::string> env{"OCIRELAY_INGRESS_TOKEN=t1", "OCIRELAY_INGRESS_TOKEN_OLD=t0",
                               "OIC_INVOICES_PASSWORD=p1", "OIC_PHOTOS_PASSWORD=p2"};
  auto r = run_ocirelayd({"--check-config", "--config", path}, std::chrono::seconds(30), env);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("configuration OK") != std::string::npos);
  CHECK(r.output.find("change-me") == std::string::npos);
}
