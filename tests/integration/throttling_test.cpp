// How the relay treats a destination: concurrency and rate limits as the
// fake OIC measures them, Retry-After, pausing a failing destination instead
// of hammering it, max_attempts, retry_on and dead_letter_on.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <set>
#include <thread>

#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;
using ocirelay::http::Response;
using Clock = std::chrono::steady_clock;

namespace {

std::string relay_to(const FakeHttpServer& oic, const std::string& destination_extra,
                     const std::string& retry = "initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h") {
  return "destinations:\n  - name: oic\n    url: " + oic.url("/flow") + "\n    retry: { " + retry +
         " }\n" + destination_extra + "routes:\n  - { name: all, destinations: [oic] }\n";
}

Reply reply(int status, std::vector<std::pair<std::string, std::string>> headers = {},
            ocirelay::Duration delay = ocirelay::Duration(0)) {
  Response r;
  r.status = status;
  for (auto& [n, v] : headers) r.headers.add(n, v);
  return Reply{r, delay};
}

std::string http_date(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

}  // namespace

TEST_CASE("concurrency caps the requests in flight to a destination", "[throttling]") {
  FakeHttpServer oic;
  oic.set_script([](const RecordedRequest&, std::size_t) { return reply(202, {}, 150ms); });
  RelayHarness relay(relay_to(oic, "    concurrency: 3\n"));
  relay.start();
  std::vector<std::string> bodies;
  for (int i = 0; i < 30; ++i) bodies.push_back(event_with_id(i));
  for (int s : post_events(relay.port(), bodies, 8)) REQUIRE(s == 202);
  REQUIRE(oic.wait_for_requests(30, 30s));
  CHECK(oic.max_concurrent() == 3);
}

TEST_CASE("rate_limit spaces deliveries as the fake measures them", "[throttling]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic, "    rate_limit: 20\n    concurrency: 8\n"));
  relay.start();
  std::vector<std::string> bodies;
  for (int i = 0; i < 41; ++i) bodies.push_back(event_with_id(i));
  for (int s : post_events(relay.port(), bodies, 8)) REQUIRE(s == 202);
  REQUIRE(oic.wait_for_requests(41, 30s));
  auto reqs = oic.requests();
  // At 20/s, any 21 consecutive requests span at least a second (with slack
  // for timer granularity), and the 41 span at least two.
  for (std::size_t i = 0; i + 20 < reqs.size(); ++i) {
    CHECK(reqs[i + 20].at - reqs[i].at >= 900ms);
  }
  CHECK(reqs.back().at - reqs.front().at >= 1800ms);
}

TEST_CASE("Retry-After in seconds is honoured", "[throttling]") {
  FakeHttpServer oic;
  oic.set_script([](const RecordedRequest&, std::size_t i) {
    return i == 0 ? reply(429, {{"Retry-After", "2"}}) : reply(202);
  });
  RelayHarness relay(relay_to(oic, "", "initial_backoff: 100ms, max_backoff: 10s, max_age: 1h"));
  relay.start();
  REQUIRE(TestClient(relay.port()).post_event(event_with_id(1)).status == 202);
  REQUIRE(oic.wait_for_requests(2, 20s));
  auto reqs = oic.requests();
  CHECK(reqs[1].at - reqs[0].at >= 1900ms);
  CHECK(reqs[1].at - reqs[0].at < 8s);
}

TEST_CASE("Retry-After as an HTTP date is honoured, capped by max_backoff", "[throttling]") {
  FakeHttpServer oic;
  oic.set_script([](const RecordedRequest&, std::size_t i) {
    if (i == 0) return reply(503, {{"Retry-After", http_date(std::chrono::system_clock::now() + 3s)}});
    if (i == 1) return reply(503, {{"Retry-After", "3600"}});
    return reply(202);
  });
  RelayHarness relay(relay_to(oic, "", "initial_backoff: 100ms, max_backoff: 2500ms, max_age: 1h"));
  relay.start();
  REQUIRE(TestClient(relay.port()).post_event(event_with_id(1)).status == 202);
  REQUIRE(oic.wait_for_requests(3, 30s));
  auto reqs = oic.requests();
  CHECK(reqs[1].at - reqs[0].at >= 1900ms);  // the date is 2-3 s ahead (whole seconds)
  CHECK(reqs[2].at - reqs[1].at >= 2400ms);  // an hour asked, max_backoff given
  CHECK(reqs[2].at - reqs[1].at < 6s);
}

TEST_CASE("max_attempts sends an event to the dead letters", "[throttling]") {
  FakeHttpServer oic;
  oic.always(500);
  RelayHarness relay(relay_to(oic, "", "initial_backoff: 50ms, max_backoff: 100ms, max_age: 1h, max_attempts: 3"));
  relay.start();
  REQUIRE(TestClient(relay.port()).post_event(event_with_id(1)).status == 202);
  REQUIRE(relay.daemon().wait_for_log("max_attempts reached", 15s));
  std::this_thread::sleep_for(500ms);
  CHECK(oic.request_count() == 3);
  auto health = TestClient(relay.management_port()).request("GET", "/health");
  CHECK(health.body.find("\"dead_letters\":1") != std::string::npos);
}

TEST_CASE("retry_on and dead_letter_on override the default verdicts", "[throttling]") {
  FakeHttpServer dead_on_503;
  dead_on_503.always(503);
  FakeHttpServer retry_400;
  retry_400.set_script([](const RecordedRequest&, std::size_t i) { return reply(i == 0 ? 400 : 202); });
  RelayHarness relay(
      "destinations:\n"
      "  - name: a\n    url: " + dead_on_503.url("/a") +
      "\n    retry: { initial_backoff: 50ms, max_backoff: 100ms, dead_letter_on: [503] }\n"
      "  - name: b\n    url: " + retry_400.url("/b") +
      "\n    retry: { initial_backoff: 50ms, max_backoff: 100ms, retry_on: [\"4xx\"] }\n"
      "routes:\n  - { name: all, destinations: [a, b] }\n");
  relay.start();
  REQUIRE(TestClient(relay.port()).post_event(event_with_id(1)).status == 202);
  REQUIRE(retry_400.wait_for_requests(2, 10s));
  REQUIRE(relay.daemon().wait_for_log("to a dead-lettered after attempt 1", 10s));
  REQUIRE(relay.daemon().wait_for_log("delivered to b (attempt 2", 10s));
  std::this_thread::sleep_for(500ms);
  CHECK(dead_on_503.request_count() == 1);
  CHECK(retry_400.request_count() == 2);
}

TEST_CASE("10,000 events behind a dead destination: a few probes, then all delivered",
          "[throttling][slow]") {
  FakeHttpServer oic;
  std::atomic<bool> up{false};
  oic.set_script([&up](const RecordedRequest&, std::size_t) { return reply(up ? 202 : 503); });
  RelayHarness relay(relay_to(oic, "    concurrency: 8\n",
                              "initial_backoff: 1s, max_backoff: 2s, max_age: 1h"));
  relay.start();

  constexpr int kEvents = 10000;
  std::vector<std::string> bodies;
  std::set<std::string> accepted;
  for (int i = 0; i < kEvents; ++i) {
    bodies.push_back(event_with_id(i));
    accepted.insert(event_id_for(i));
  }
  const auto outage_started = Clock::now();
  auto statuses = post_events(relay.port(), bodies, 16);
  for (int s : statuses) REQUIRE(s == 202);
  std::this_thread::sleep_for(3s);
  const double outage_seconds = std::chrono::duration<double>(Clock::now() - outage_started).count();
  const std::size_t during_outage = oic.request_count();
  // One burst at full concurrency before the first failure is known, then
  // one probe per pause (at least half of initial_backoff each).
  const std::size_t allowed = 8 + static_cast<std::size_t>(outage_seconds / 0.5) + 2;
  std::printf("10,000 queued behind a dead destination: %zu request(s) in a %.1f s outage\n",
              during_outage, outage_seconds);
  INFO("outage of " << outage_seconds << " s; requests during it: " << during_outage);
  CHECK(during_outage >= 1);
  CHECK(during_outage <= allowed);

  up = true;
  const std::size_t before_recovery = oic.request_count();
  bool all = false;
  std::set<std::string> delivered;
  const auto deadline = Clock::now() + 120s;
  while (!all && Clock::now() < deadline) {
    std::this_thread::sleep_for(200ms);
    delivered.clear();
    auto reqs = oic.requests();
    for (std::size_t i = before_recovery; i < reqs.size(); ++i) {
      delivered.emplace(*reqs[i].headers.get("Idempotency-Key"));
    }
    all = delivered.size() == accepted.size();
  }
  CHECK(delivered == accepted);
  std::printf("after recovery: %zu distinct events delivered in %zu request(s)\n",
              delivered.size(), oic.request_count() - before_recovery);
  // Every event at least once; duplicates, if any, are few.
  CHECK(oic.request_count() - before_recovery < kEvents + 20);
  // The backlog drains oldest first: early events come before late ones.
  auto reqs = oic.requests();
  auto index_of = [](const RecordedRequest& r) {
    return std::stol(std::string(r.headers.get("Idempotency-Key")->substr(24)));
  };
  double first = 0, last = 0;
  for (std::size_t i = 0; i < 500; ++i) {
    first += static_cast<double>(index_of(reqs[before_recovery + i]));
    last += static_cast<double>(index_of(reqs[reqs.size() - 1 - i]));
  }
  CHECK(first < last);
}
