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
  write_config(relay, relay_yaml(relay, oic, "  max_size: 4KiB\n  max_files: 2\n"));
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
  std::this_thread::sleep_for(200ms);
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
