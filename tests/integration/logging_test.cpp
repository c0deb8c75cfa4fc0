// The log file: rotation by size, reopening on SIGUSR1 (logrotate), JSON
// lines, and no secret in any of it.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <thread>

#include <rapidjson/document.h>

#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string relay_yaml(const RelayHarness& relay, const FakeHttpServer& oic,
                       const std::string& log_extra) {
  return "destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
         "\n    auth: { type: basic, username: relay, password: \"${env:OIC_SECRET}\" }\n"
         "routes:\n  - { name: all, destinations: [oic] }\n" +
         "log:\n  level: debug\n  file: " + relay.dir().file("logs/ocirelay.log") + "\n" +
         log_extra;
}

// RelayHarness writes its own log: section; this one replaces it.
void write_config(RelayHarness& relay, const std::string& tail) {
  std::string base = base_yaml(relay.dir());
  base = base.substr(0, base.find("log:\n"));
  relay.dir().write("ocirelay.yaml", base + tail);
}

}  // namespace

TEST_CASE("the log file rotates by size and keeps max_files", "[logging]") {
  FakeHttpServer oic;
  RelayHarness relay("");
  write_config(relay,
               relay_yaml(relay, oic, "  max_size: 4KiB\n  max_files: 2\n  flush_interval: 0s\n"));
  relay.options().extra_env.push_back("OIC_SECRET=rotating-secret-42");
  relay.start();
  std::vector<std::string> bodies;
  for (int i = 0; i < 60; ++i) bodies.push_back(event_with_id(i));
  for (int s : post_events(relay.port(), bodies, 4)) REQUIRE(s == 202);
  REQUIRE(oic.wait_for_requests(60, 20s));
  const std::string log = relay.dir().file("logs/ocirelay.log");
  CHECK(fs::exists(log));
  CHECK(fs::exists(log + ".1"));
  CHECK(fs::exists(log + ".2"));
  CHECK_FALSE(fs::exists(log + ".3"));
  for (const auto& f : {log, log + ".1", log + ".2"}) {
    CHECK(fs::file_size(f) <= 4096 + 512);
    CHECK(read_file(f).find("rotating-secret-42") == std::string::npos);
  }
}

TEST_CASE("SIGUSR1 reopens the log file after logrotate moved it", "[logging]") {
  FakeHttpServer oic;
  RelayHarness relay("");
  write_config(relay, relay_yaml(relay, oic, ""));
  relay.options().extra_env.push_back("OIC_SECRET=x");
  relay.start();
  const std::string log = relay.dir().file("logs/ocirelay.log");
  REQUIRE(TestClient(relay.port()).post_event(event_with_id(1)).status == 202);
  REQUIRE(relay.daemon().wait_for_log(event_id_for(1) + " delivered to oic", 10s));
  fs::rename(log, log + ".old");
  relay.daemon().signal(SIGUSR1);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!fs::exists(log) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(fs::exists(log));
  REQUIRE(TestClient(relay.port()).post_event(event_with_id(2)).status == 202);
  REQUIRE(relay.daemon().wait_for_log(event_id_for(2) + " delivered to oic", 10s));
  CHECK(read_file(log).find(event_id_for(2) + " delivered to oic") != std::string::npos);
  CHECK(read_file(log + ".old").find(event_id_for(1) + " delivered to oic") != std::string::npos);
  CHECK(read_file(log + ".old").find(event_id_for(2)) == std::string::npos);
}

TEST_CASE("log.format json writes one JSON object per line", "[logging]") {
  FakeHttpServer oic;
  RelayHarness relay("");
  write_config(relay, relay_yaml(relay, oic, "  format: json\n"));
  relay.options().extra_env.push_back("OIC_SECRET=json-secret-77");
  relay.start();
  REQUIRE(TestClient(relay.port()).post_event(event_with_id(7)).status == 202);
  REQUIRE(oic.wait_for_requests(1, 10s));
  // Info lines reach both sinks together, within log.flush_interval.
  REQUIRE(relay.daemon().wait_for_log(event_id_for(7) + " delivered to oic", 10s));
  const std::string text = read_file(relay.dir().file("logs/ocirelay.log"));
  CHECK(text.find("json-secret-77") == std::string::npos);
  bool saw_delivery = false;
  std::size_t start = 0;
  std::size_t lines = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    REQUIRE(end != std::string::npos);
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    ++lines;
    rapidjson::Document d;
    d.Parse(line.c_str());
    INFO(line);
    REQUIRE_FALSE(d.HasParseError());
    REQUIRE(d.IsObject());
    CHECK(d.HasMember("time"));
    CHECK(d.HasMember("level"));
    CHECK(d.HasMember("component"));
    CHECK(d.HasMember("message"));
    if (std::string(d["message"].GetString()).find("delivered to oic") != std::string::npos) {
      saw_delivery = true;
      REQUIRE(d.HasMember("eventID"));
      CHECK(std::string(d["eventID"].GetString()) == event_id_for(7));
      CHECK(std::string(d["component"].GetString()) == "delivery");
    }
  }
  CHECK(lines > 5);
  CHECK(saw_delivery);
}

TEST_CASE("info lines wait for log.flush_interval, a warning writes them out at once",
          "[logging]") {
  FakeHttpServer oic;
  RelayHarness relay("");
  // An interval no test outlives: nothing but a warning or the exit flushes.
  write_config(relay, relay_yaml(relay, oic, "  flush_interval: 1h\n"));
  relay.options().extra_env.push_back("OIC_SECRET=x");
  relay.start();  // the start-up lines are flushed at once: start() waits for them
  const std::string log = relay.dir().file("logs/ocirelay.log");
  REQUIRE(read_file(log).find("listening on") != std::string::npos);

  REQUIRE(TestClient(relay.port()).post_event(event_with_id(1)).status == 202);
  REQUIRE(oic.wait_for_requests(1, 10s));
  std::this_thread::sleep_for(300ms);
  CHECK(read_file(log).find(event_id_for(1)) == std::string::npos);  // still buffered

  // A failed attempt logs a warning, which writes out the info lines before it.
  oic.always(500);
  REQUIRE(TestClient(relay.port()).post_event(event_with_id(2)).status == 202);
  REQUIRE(relay.daemon().wait_for_log(event_id_for(2) + " to oic: attempt 1 failed", 10s));
  const std::string text = read_file(log);
  CHECK(text.find(event_id_for(1) + " delivered to oic") != std::string::npos);
  CHECK(text.find(event_id_for(2) + " to oic: attempt 1 failed") != std::string::npos);

  // The rest is written at exit.
  oic.always(202);
  REQUIRE(oic.wait_for_requests(3, 10s));
  relay.daemon().signal(SIGTERM);
  REQUIRE(relay.daemon().wait_exit(20s) == 0);
  CHECK(read_file(log).find(event_id_for(2) + " delivered to oic") != std::string::npos);
  CHECK(read_file(log).find("ocirelay stopped") != std::string::npos);
}

TEST_CASE("log.flush_interval 0 writes every line before the answer goes out", "[logging]") {
  FakeHttpServer oic;
  oic.always(500);  // deliveries fail: the daemon keeps retrying in the background
  RelayHarness relay("");
  write_config(relay, relay_yaml(relay, oic, "  flush_interval: 0s\n"));
  relay.options().extra_env.push_back("OIC_SECRET=x");
  relay.start();
  const std::string log = relay.dir().file("logs/ocirelay.log");
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(TestClient(relay.port()).post_event(event_with_id(i)).status == 202);
    // Logged, then answered: the line is in the file once the 202 is here.
    CHECK(read_file(log).find("event " + event_id_for(i) + " type") != std::string::npos);
  }
}
