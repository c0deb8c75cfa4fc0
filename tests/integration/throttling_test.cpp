// How the relay treats a destination, end to end: concurrency and rate
// limits as the fake OIC measures them, Retry-After, pausing a failing
// destination instead of hammering it with its backlog, max_attempts,
// retry_on and dead_letter_on. The state machine behind them is tested in
// simulated time in tests/unit/delivery (dispatcher_test.cpp and the tests
// of DestinationHealth, RateLimiter and plan_attempt); these check that the
// configuration reaches it and that a real process behaves the same.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_metrics.hpp"
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

}  // namespace

TEST_CASE("concurrency caps the requests in flight to a destination", "[throttling]") {
  FakeHttpServer oic;
  oic.set_script([](const RecordedRequest&, std::size_t) { return reply(202, {}, 150ms); });
  RelayHarness relay(relay_to(oic, "    concurrency: 3\n"));
  relay.start();
  std::vector<std::string> bodies;
  for (int i = 0; i < 12; ++i) bodies.push_back(event_with_id(i));
  for (int s : post_events(relay.port(), bodies, 8)) REQUIRE(s == 202);
  REQUIRE(oic.wait_for_requests(12, 30s));
  CHECK(oic.max_concurrent() == 3);
}

TEST_CASE("rate_limit spaces deliveries as the fake measures them", "[throttling]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_to(oic, "    rate_limit: 10\n    concurrency: 8\n"));
  relay.start();
  std::vector<std::string> bodies;
  for (int i = 0; i < 6; ++i) bodies.push_back(event_with_id(i));
  for (int s : post_events(relay.port(), bodies, 6)) REQUIRE(s == 202);
  REQUIRE(oic.wait_for_requests(6, 30s));
  // At 10/s the six starts span at least half a second; the slack of one
  // interval covers when the fake happens to see each request. Only a lower
  // bound: a slow machine cannot fail it. (The spacing itself is tested in
  // simulated time.)
  auto reqs = oic.requests();
  CHECK(reqs.back().at - reqs.front().at >= 400ms);
}

TEST_CASE("max_attempts sends an event to the dead letters", "[throttling]") {
  FakeHttpServer oic;
  oic.always(500);
  RelayHarness relay(relay_to(oic, "", "initial_backoff: 50ms, max_backoff: 100ms, max_age: 1h, max_attempts: 3"));
  relay.start();
  REQUIRE(TestClient(relay.port()).post_event(event_with_id(1)).status == 202);
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "dead", "5xx"), 1, 15s));
  // A dead letter is never sent again: the count is final.
  CHECK(oic.request_count() == 3);
  CHECK(attempts(relay, "oic", "retry", "5xx") == 2);
  CHECK(metric(relay, "ocirelay_dead_letters{destination=\"oic\"}") == 1.0);
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
  REQUIRE(wait_until_settled(relay, "a", 10s));
  REQUIRE(wait_until_settled(relay, "b", 10s));
  CHECK(attempts(relay, "a", "dead", "5xx") == 1);
  CHECK(attempts(relay, "b", "retry", "4xx") == 1);
  CHECK(attempts(relay, "b", "delivered", "2xx") == 1);
  CHECK(dead_on_503.request_count() == 1);
  CHECK(retry_400.request_count() == 2);
}

TEST_CASE("10,000 events behind a dead destination: a few probes, then all delivered",
          "[throttling][slow]") {
  FakeHttpServer oic;
  std::atomic<bool> up{false};
  oic.set_script([&up](const RecordedRequest&, std::size_t) { return reply(up ? 202 : 503); });
  RelayHarness relay(relay_to(oic, "    concurrency: 8\n",
                              "initial_backoff: 200ms, max_backoff: 400ms, max_age: 1h"));
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
  // Two more probes once everything is queued: the backlog has been behind
  // the dead destination for two pauses at least.
  const double failed_so_far = attempts(relay, "oic", "retry", "5xx");
  REQUIRE(wait_for_metric(relay, attempts_series("oic", "retry", "5xx"), failed_so_far + 2, 30s));
  const double outage_seconds = std::chrono::duration<double>(Clock::now() - outage_started).count();
  const std::size_t during_outage = oic.request_count();
  // One burst at full concurrency before the first failure is known, then
  // one probe per pause (at least half of initial_backoff each): a bound
  // that grows with the time the outage took, so a slow machine cannot fail
  // it, while sending the backlog would.
  const std::size_t allowed = 8 + static_cast<std::size_t>(outage_seconds / 0.1) + 2;
  std::printf("10,000 queued behind a dead destination: %zu request(s) in a %.1f s outage\n",
              during_outage, outage_seconds);
  INFO("outage of " << outage_seconds << " s; requests during it: " << during_outage);
  CHECK(during_outage <= allowed);
  CHECK(during_outage < kEvents / 20);

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
