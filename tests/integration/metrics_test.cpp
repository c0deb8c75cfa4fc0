// GET /metrics: valid Prometheus text exposition (checked by a strict parser
// written for the test, as promtool would), with the series operators need.
#include <catch2/catch.hpp>

#include <map>
#include <regex>
#include <thread>

#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family -> counter/gauge/histogram
  std::vector<Sample> samples;
};

// Parses the text format 0.0.4 strictly; FAILs the test on any violation.
Exposition parse(const std::string& text) {
  static const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex label_name_re("[a-zA-Z_][a-zA-Z0-9_]*");
  Exposition out;
  std::map<std::string, bool> help_seen;
  std::size_t pos = 0;
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    INFO("line: " << line);
    REQUIRE_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      const auto rest = line.substr(7);
      const auto name = rest.substr(0, rest.find(' '));
      REQUIRE(std::regex_match(name, name_re));
      REQUIRE_FALSE(help_seen[name]);
      help_seen[name] = true;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      const auto rest = line.substr(7);
      const auto space = rest.find(' ');
      const auto name = rest.substr(0, space);
      const auto type = rest.substr(space + 1);
      REQUIRE(std::regex_match(name, name_re));
      REQUIRE((type == "counter" || type == "gauge" || type == "histogram"));
      REQUIRE(out.types.count(name) == 0);
      out.types[name] = type;
      continue;
    }
    REQUIRE(line[0] != '#');
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    REQUIRE(std::regex_match(s.name, name_re));
    if (line[i] == '{') {
      ++i;
      while (line.at(i) != '}') {
        const auto eq = line.find('=', i);
        const auto lname = line.substr(i, eq - i);
        REQUIRE(std::regex_match(lname, label_name_re));
        REQUIRE(line.at(eq + 1) == '"');
        std::string value;
        std::size_t j = eq + 2;
        for (; line.at(j) != '"'; ++j) {
          if (line[j] == '\\') {
            const char e = line.at(++j);
            REQUIRE((e == '\\' || e == '"' || e == 'n'));
            value += e == 'n' ? '\n' : e;
          } else {
            value += line[j];
          }
        }
        REQUIRE(s.labels.count(lname) == 0);
        s.labels[lname] = value;
        i = j + 1;
        if (line.at(i) == ',') ++i;
      }
      ++i;
    }
    REQUIRE(line.at(i) == ' ');
    const std::string value = line.substr(i + 1);
    if (value == "+Inf") s.value = std::numeric_limits<double>::infinity();
    else if (value == "-Inf") s.value = -std::numeric_limits<double>::infinity();
    else if (value == "NaN") s.value = std::numeric_limits<double>::quiet_NaN();
    else {
      std::size_t used = 0;
      s.value = std::stod(value, &used);
      REQUIRE(used == value.size());
    }
    // Every sample belongs to a declared family, declared before it.
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx(suffix);
      if (out.types.count(family) == 0 && family.size() > sfx.size() &&
          family.compare(family.size() - sfx.size(), sfx.size(), sfx) == 0) {
        family = family.substr(0, family.size() - sfx.size());
      }
    }
    REQUIRE(out.types.count(family) == 1);
    if (out.types[family] == "counter") {
      REQUIRE(family.size() > 6);
      CHECK(family.compare(family.size() - 6, 6, "_total") == 0);
      CHECK(s.value >= 0);
    }
    if (s.name == family + "_bucket") REQUIRE(s.labels.count("le") == 1);
    out.samples.push_back(std::move(s));
  }
  return out;
}

double value_of(const Exposition& e, const std::string& name,
                const std::map<std::string, std::string>& labels) {
  for (const auto& s : e.samples) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (match) return s.value;
  }
  FAIL("no sample " << name);
  return 0;
}

}  // namespace

TEST_CASE("/metrics is valid Prometheus text with the relay's series", "[metrics]") {
  FakeHttpServer oic;
  FakeHttpServer failing;
  failing.always(500);
  RelayHarness relay(
      "destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
      "\n  - name: failing\n    url: " + failing.url("/flow") +
      "\n    retry: { initial_backoff: 10s, max_backoff: 20s }\n"
      "routes:\n  - { name: finance, compartment: finance, destinations: [oic, failing] }\n");
  relay.start();
  TestClient client(relay.port());
  REQUIRE(client.post_event(fixture("events/createobject.json")).status == 202);
  REQUIRE(client.post_event(fixture("events/createobject.json")).status == 200);  // duplicate
  REQUIRE(client.post_event(fixture("events/deleteobject.json")).status == 200);  // filtered
  REQUIRE(client.post_event("{").status == 400);
  REQUIRE(oic.wait_for_requests(1, 10s));
  REQUIRE(failing.wait_for_requests(1, 10s));
  std::this_thread::sleep_for(300ms);

  auto reply = TestClient(relay.management_port()).request("GET", "/metrics");
  REQUIRE(reply.status == 200);
  CHECK(reply.headers.get("Content-Type")->find("text/plain; version=0.0.4") == 0);
  const Exposition e = parse(reply.body);

  CHECK(value_of(e, "ocirelay_events_received_total", {{"result", "queued"}}) == 1);
  CHECK(value_of(e, "ocirelay_events_received_total", {{"result", "duplicate"}}) == 1);
  CHECK(value_of(e, "ocirelay_events_received_total", {{"result", "filtered"}}) == 1);
  CHECK(value_of(e, "ocirelay_events_received_total", {{"result", "rejected"}}) == 1);
  CHECK(value_of(e, "ocirelay_events_rejected_total", {{"reason", "invalid_event"}}) == 1);
  CHECK(value_of(e, "ocirelay_route_matches_total", {{"route", "finance"}}) == 1);
  CHECK(value_of(e, "ocirelay_delivery_attempts_total",
                 {{"destination", "oic"}, {"outcome", "delivered"}, {"status_class", "2xx"}}) == 1);
  CHECK(value_of(e, "ocirelay_delivery_attempts_total",
                 {{"destination", "failing"}, {"outcome", "retry"}, {"status_class", "5xx"}}) == 1);
  CHECK(value_of(e, "ocirelay_queue_depth", {{"destination", "failing"}}) == 1);
  CHECK(value_of(e, "ocirelay_queue_depth", {{"destination", "oic"}}) == 0);
  CHECK(value_of(e, "ocirelay_deliveries_in_flight", {{"destination", "oic"}}) == 0);
  CHECK(value_of(e, "ocirelay_dead_letters", {{"destination", "oic"}}) == 0);
  CHECK(value_of(e, "ocirelay_oldest_queued_age_seconds", {{"destination", "failing"}}) >= 0);
  CHECK(value_of(e, "ocirelay_destination_state", {{"destination", "failing"}, {"state", "paused"}}) == 1);
  CHECK(value_of(e, "ocirelay_destination_state", {{"destination", "oic"}, {"state", "healthy"}}) == 1);
  CHECK(value_of(e, "ocirelay_delivery_latency_seconds_count", {{"destination", "oic"}}) == 1);
  CHECK(value_of(e, "ocirelay_delivery_attempts_count", {{"destination", "oic"}}) == 1);
  CHECK(value_of(e, "ocirelay_storage_commit_seconds_count", {}) >= 1);
  CHECK(value_of(e, "ocirelay_build_info", {}) == 1);
  // Storage space, measured by the storage thread (a disk with room: not full).
  CHECK(value_of(e, "ocirelay_storage_full", {}) == 0);
  CHECK(value_of(e, "ocirelay_storage_free_bytes", {}) > 0);
  CHECK(value_of(e, "ocirelay_storage_database_bytes", {}) > 0);
  CHECK(value_of(e, "ocirelay_storage_reserve_bytes", {}) > 0);
  CHECK(value_of(e, "ocirelay_storage_reusable_bytes", {}) >= 0);
  CHECK(e.types.at("ocirelay_delivery_latency_seconds") == "histogram");

  // Histogram buckets are cumulative and end at +Inf == _count.
  std::map<std::string, std::vector<double>> buckets;
  for (const auto& s : e.samples) {
    if (s.name.size() > 7 && s.name.compare(s.name.size() - 7, 7, "_bucket") == 0) {
      std::string key = s.name;
      for (const auto& [k, v] : s.labels) {
        if (k != "le") key += "," + k + "=" + v;
      }
      buckets[key].push_back(s.value);
    }
  }
  CHECK_FALSE(buckets.empty());
  for (const auto& [key, counts] : buckets) {
    INFO(key);
    CHECK(std::is_sorted(counts.begin(), counts.end()));
  }
}
