// Outbound batching (destinations[].batch) from the real daemon to a fake
// Oracle Integration bulk trigger that checks every request as strictly as
// the REST trigger would: the body is the envelope holding an array of
// complete OCI events, X-Event-Count is the array's length, the body is
// within max_bytes unless it carries one oversized event, and the
// Idempotency-Key is the batch key of the events it carries. The timing rules
// (max_wait) are checked in simulated time in tests/unit/delivery; here the
// tests wait on what the fake received and on /metrics.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <rapidjson/document.h>

#include "ocirelay/common/base64.hpp"
#include "ocirelay/common/oci_private_key.hpp"
#include "support/ctl_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_metrics.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;
using ocirelay::Duration;
using ocirelay::http::Response;

namespace {

// The key a batch of these events must carry: "batch-" and the hex SHA-256
// of the sorted IDs, each as "<length>:<id>\n" (docs/oic-batching.md).
std::string expected_key(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  std::string text;
  for (const auto& id : ids) text += std::to_string(id.size()) + ":" + id + "\n";
  const std::string digest =
      ocirelay::base64_decode(ocirelay::sha256_base64(text)).value_or(std::string());
  std::string key = "batch-";
  char hex[3];
  for (unsigned char c : digest) {
    std::snprintf(hex, sizeof hex, "%02x", c);
    key += hex;
  }
  return key;
}

// One request as the fake OIC understood it.
struct BulkRequest {
  std::vector<std::string> ids;  // eventIDs, in body order
  std::string key;
  std::size_t bytes = 0;
  int answered = 0;
};

// A fake OIC bulk trigger. Every request is parsed; anything a strict
// trigger would refuse is answered 400 and noted as a violation.
class BulkOic {
 public:
  BulkOic(std::string envelope, std::size_t max_bytes)
      : envelope_(std::move(envelope)), max_bytes_(max_bytes) {
    server_.set_script(
        [this](const RecordedRequest& r, std::size_t index) { return handle(r, index); });
  }

  std::string url() const {
    return server_.url("/ic/api/integration/v1/flows/rest/EVENTS_BULK/1.0/events");
  }
  FakeHttpServer& server() { return server_; }

  // The status to answer with (after the checks pass), by request index.
  void answer_with(std::function<int(std::size_t index)> status) {
    std::lock_guard lock(mutex_);
    status_ = std::move(status);
  }
  // Every request must carry this Authorization header.
  void require_authorization(std::string value) {
    std::lock_guard lock(mutex_);
    authorization_ = std::move(value);
  }
  // Answer after this long (deliveries stay in flight meanwhile).
  void delay(Duration d) {
    std::lock_guard lock(mutex_);
    delay_ = d;
  }

  std::vector<BulkRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mutex_);
    return violations_;
  }
  // How often each event was accepted (answered 2xx).
  std::map<std::string, int> accepted() const {
    std::lock_guard lock(mutex_);
    return accepted_;
  }
  std::size_t accepted_distinct() const {
    std::lock_guard lock(mutex_);
    return accepted_.size();
  }
  bool wait_for_accepted(std::size_t n, Duration timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (accepted_distinct() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

 private:
  Reply handle(const RecordedRequest& r, std::size_t index) {
    std::lock_guard lock(mutex_);
    BulkRequest seen;
    seen.bytes = r.body.size();
    seen.key = std::string(r.headers.get("Idempotency-Key").value_or(""));
    auto refuse = [&](const std::string& why) {
      violations_.push_back("request " + std::to_string(index) + ": " + why);
      seen.answered = 400;
      requests_.push_back(seen);
      return Reply{Response{400, {}, why, false}, {}};
    };
    if (r.headers.get("Content-Type") != "application/json") return refuse("Content-Type");
    if (!authorization_.empty() && r.headers.get("Authorization") != authorization_) {
      return refuse("Authorization");
    }
    rapidjson::Document doc;
    doc.Parse(r.body.data(), r.body.size());
    if (doc.HasParseError()) return refuse("body is not JSON");
    const rapidjson::Value* array = &doc;
    if (!envelope_.empty()) {
      if (!doc.IsObject() || doc.MemberCount() != 1 || !doc.HasMember(envelope_.c_str())) {
        return refuse("body is not {\"" + envelope_ + "\": [...]}");
      }
      array = &doc[envelope_.c_str()];
    }
    if (!array->IsArray() || array->Empty()) return refuse("no array of events");
    for (const auto& e : array->GetArray()) {
      if (!e.IsObject() || !e.HasMember("eventID") || !e["eventID"].IsString() ||
          !e.HasMember("eventType") || !e.HasMember("data")) {
        return refuse("a member is not an OCI event");
      }
      seen.ids.push_back(e["eventID"].GetString());
    }
    const auto count = r.headers.get("X-Event-Count");
    if (!count || *count != std::to_string(seen.ids.size())) return refuse("X-Event-Count");
    if (r.body.size() > max_bytes_ && seen.ids.size() > 1) return refuse("body over max_bytes");
    if (seen.key != expected_key(seen.ids)) return refuse("Idempotency-Key");
    seen.answered = status_ ? status_(index) : 202;
    if (seen.answered >= 200 && seen.answered <= 299) {
      for (const auto& id : seen.ids) ++accepted_[id];
    }
    requests_.push_back(seen);
    return Reply{Response{seen.answered, {}, {}, false}, delay_};
  }

  std::string envelope_;
  std::size_t max_bytes_;
  FakeHttpServer server_;
  mutable std::mutex mutex_;
  std::function<int(std::size_t)> status_;
  std::string authorization_;
  Duration delay_{0};
  std::vector<BulkRequest> requests_;
  std::vector<std::string> violations_;
  std::map<std::string, int> accepted_;
};

std::string relay_yaml(const BulkOic& oic, const std::string& batch,
                       const std::string& extra = {}) {
  return "destinations:\n  - name: oic\n    url: " + oic.url() +
         "\n    retry: { initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }\n" +
         "    batch: { " + batch + " }\n" + extra +
         "routes:\n  - { name: all, destinations: [oic] }\n";
}

std::string destination_series(const std::string& name) { return name + "{destination=\"oic\"}"; }

double metric_or_zero(RelayHarness& relay, const std::string& series) {
  return metric(relay, series).value_or(0);
}

// createobject with a unique eventID and a `pad` member in its data of
// `pad` bytes, for events of chosen sizes.
std::string padded_event(long n, std::size_t pad) {
  std::string e = event_with_id(n);
  const std::string data = "\"data\": {";
  e.insert(e.find(data) + data.size(), "\"pad\": \"" + std::string(pad, 'p') + "\", ");
  return e;
}

std::string admin_yaml(RelayHarness& relay) {
  return "admin:\n  socket: " + relay.dir().file("run/admin.sock") + "\n";
}

}  // namespace

TEST_CASE("1,000 createobject events reach a batching OIC in at most 30 requests, each once",
          "[batch][delivery]") {
  BulkOic oic("events", 51200);
  RelayHarness relay("");
  relay.rewrite(relay_yaml(oic, "max_events: 100, max_bytes: 50KiB, max_wait: 1s") +
                admin_yaml(relay));
  relay.start();
  std::vector<std::string> bodies;
  for (long n = 1; n <= 1000; ++n) bodies.push_back(event_with_id(n));
  const auto statuses = post_events(relay.port(), bodies, 8);
  REQUIRE(std::count(statuses.begin(), statuses.end(), 202) == 1000);

  REQUIRE(oic.wait_for_accepted(1000, 60s));
  REQUIRE(wait_until_settled(relay, "oic", 20s));
  CHECK(oic.violations().empty());
  const auto requests = oic.requests();
  CHECK(requests.size() <= 30);
  std::size_t billed = 0;
  for (const auto& r : requests) {
    CHECK(r.bytes <= 51200);
    billed += (r.bytes + 51199) / 51200;
  }
  const auto accepted = oic.accepted();
  REQUIRE(accepted.size() == 1000);
  for (long n = 1; n <= 1000; ++n) {
    INFO(event_id_for(n));
    CHECK(accepted.at(event_id_for(n)) == 1);
  }
  // The billed-message metric is what OIC would have counted from the
  // bodies it received.
  CHECK(metric_or_zero(relay, destination_series("ocirelay_oic_billed_messages_total")) ==
        static_cast<double>(billed));
  CHECK(metric_or_zero(relay, destination_series("ocirelay_delivered_events_total")) == 1000);
  CHECK(metric_or_zero(
            relay, "ocirelay_delivery_requests_total{destination=\"oic\",status_class=\"2xx\"}") ==
        static_cast<double>(requests.size()));
  CHECK(metric_or_zero(relay, destination_series("ocirelay_delivery_request_events_sum")) == 1000);
  CHECK(attempts(relay, "oic", "delivered", "2xx") == 1000);

  // ocirelayctl queue stats: events per billed message.
  auto stats = run_ocirelayctl({"--socket", relay.dir().file("run/admin.sock"), "queue", "stats"});
  INFO(stats.out << stats.err);
  CHECK(stats.exit_code == 0);
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.1f", 1000.0 / static_cast<double>(billed));
  CHECK_THAT(stats.out,
             Catch::Contains("delivered to oic: 1000 events in " + std::to_string(billed) +
                             " billed messages (" + ratio + " events per message)"));
}

TEST_CASE("a 503 then a 202 redelivers the same batch with the same key", "[batch][delivery]") {
  BulkOic oic("events", 51200);
  oic.answer_with([](std::size_t index) { return index == 0 ? 503 : 202; });
  RelayHarness relay(relay_yaml(oic, "max_events: 5, max_wait: 1s"));
  relay.start();
  // Five events in one POST (an array, as Connector Hub sends): one batch.
  std::string array = "[";
  for (long n = 1; n <= 5; ++n) array += (n > 1 ? "," : "") + event_with_id(n);
  REQUIRE(TestClient(relay.port()).post_event(array + "]").status == 202);

  REQUIRE(oic.wait_for_accepted(5, 20s));
  REQUIRE(wait_until_settled(relay, "oic", 10s));
  CHECK(oic.violations().empty());
  const auto requests = oic.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].answered == 503);
  CHECK(requests[1].answered == 202);
  CHECK(requests[0].ids.size() == 5);
  CHECK(requests[1].ids == requests[0].ids);
  CHECK(requests[1].key == requests[0].key);
  std::vector<std::string> ids;
  for (long n = 1; n <= 5; ++n) ids.push_back(event_id_for(n));
  CHECK(requests[0].key == expected_key(ids));
  for (const auto& [id, times] : oic.accepted()) CHECK(times == 1);
  CHECK(attempts(relay, "oic", "retry", "5xx") == 5);
  CHECK(attempts(relay, "oic", "delivered", "2xx") == 5);
  CHECK(metric_or_zero(relay, destination_series("ocirelay_oic_billed_messages_total")) == 1);
}

TEST_CASE("a 400 dead-letters each event of the batch, and one replayed is delivered",
          "[batch][delivery][admin]") {
  BulkOic oic("events", 51200);
  std::atomic<int> status{400};
  oic.answer_with([&status](std::size_t) { return status.load(); });
  RelayHarness relay("");
  relay.rewrite(relay_yaml(oic, "max_events: 3, max_wait: 1s") + admin_yaml(relay));
  relay.start();
  const std::string socket = relay.dir().file("run/admin.sock");
  std::string array = "[";
  for (long n = 1; n <= 3; ++n) array += (n > 1 ? "," : "") + event_with_id(n);
  REQUIRE(TestClient(relay.port()).post_event(array + "]").status == 202);
  REQUIRE(wait_until_settled(relay, "oic", 20s));
  REQUIRE(oic.requests().size() == 1);

  // Three dead letters, one per event.
  auto listed = run_ocirelayctl({"--socket", socket, "dlq", "list", "--json"});
  REQUIRE(listed.exit_code == 0);
  rapidjson::Document doc;
  doc.Parse(listed.out.c_str());
  REQUIRE(doc["dead_letters"].Size() == 3);
  std::set<std::string> dead_ids;
  std::int64_t replay_id = 0;
  std::string replayed_event;
  for (const auto& l : doc["dead_letters"].GetArray()) {
    dead_ids.insert(l["event_id"].GetString());
    CHECK(l["last_status"].GetInt() == 400);
    CHECK(l["attempts"].GetInt() == 1);
    replay_id = l["id"].GetInt64();
    replayed_event = l["event_id"].GetString();
  }
  CHECK(dead_ids == std::set<std::string>{event_id_for(1), event_id_for(2), event_id_for(3)});
  // Each can be shown on its own, with its own event.
  auto shown = run_ocirelayctl({"--socket", socket, "dlq", "show", std::to_string(replay_id)});
  CHECK_THAT(shown.out, Catch::Contains("event id:     " + replayed_event));

  status = 202;
  auto replayed = run_ocirelayctl({"--socket", socket, "dlq", "replay", std::to_string(replay_id)});
  INFO(replayed.out << replayed.err);
  REQUIRE(replayed.exit_code == 0);
  REQUIRE(oic.wait_for_accepted(1, 20s));
  const auto requests = oic.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].ids == std::vector<std::string>{replayed_event});
  CHECK(requests[1].key == expected_key({replayed_event}));
  CHECK(oic.violations().empty());
  REQUIRE(wait_until_settled(relay, "oic", 10s));
  CHECK(attempts(relay, "oic", "dead", "4xx") == 3);
  CHECK(attempts(relay, "oic", "delivered", "2xx") == 1);
}

TEST_CASE("a batch that is not full goes after max_wait, with the destination's auth",
          "[batch][delivery]") {
  BulkOic oic("events", 51200);
  oic.require_authorization(basic_auth("relay", "bulk-pa55word"));
  RelayHarness relay(relay_yaml(oic, "max_events: 100, max_wait: 200ms",
                                "    auth: { type: basic, username: relay, password: "
                                "\"${env:OIC_PASSWORD}\" }\n"));
  relay.options().extra_env.push_back("OIC_PASSWORD=bulk-pa55word");
  relay.start();
  TestClient client(relay.port());
  // One event alone: nothing more comes, so max_wait sends it.
  REQUIRE(client.post_event(event_with_id(1)).status == 202);
  REQUIRE(oic.wait_for_accepted(1, 20s));
  // Three in one POST: queued together, sent together after max_wait.
  std::string array = "[";
  for (long n = 2; n <= 4; ++n) array += (n > 2 ? "," : "") + event_with_id(n);
  REQUIRE(client.post_event(array + "]").status == 202);
  REQUIRE(oic.wait_for_accepted(4, 20s));
  const auto requests = oic.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].ids.size() == 1);
  CHECK(requests[1].ids.size() == 3);
  CHECK(oic.violations().empty());
  CHECK(metric_or_zero(relay, destination_series("ocirelay_delivery_request_events_count")) == 2);
  CHECK(metric_or_zero(relay, destination_series("ocirelay_delivery_request_events_sum")) == 4);
  CHECK(metric_or_zero(relay,
                       "ocirelay_delivery_request_events_bucket{destination=\"oic\","
                       "le=\"1\"}") == 1);
  CHECK(relay.log().find("bulk-pa55word") == std::string::npos);
}

TEST_CASE("a stream of mixed sizes never exceeds max_bytes, and an oversized event goes alone",
          "[batch][delivery]") {
  constexpr std::size_t kMax = 8192;
  BulkOic oic("", kMax);  // a bare array
  RelayHarness relay(relay_yaml(oic,
                                "max_events: 50, max_bytes: 8KiB, max_wait: 300ms, "
                                "envelope: \"\""));
  relay.start();
  std::vector<std::string> bodies;
  std::size_t oversized = 0;
  for (long n = 1; n <= 200; ++n) {
    // 1.1 KB to about 4 KB, and every 50th larger than max_bytes.
    const std::size_t pad = n % 50 == 0 ? 9000 : static_cast<std::size_t>((n * 733) % 3000);
    bodies.push_back(padded_event(n, pad));
    if (bodies.back().size() + 2 > kMax) ++oversized;
  }
  REQUIRE(oversized == 4);
  const auto statuses = post_events(relay.port(), bodies, 4);
  REQUIRE(std::count(statuses.begin(), statuses.end(), 202) == 200);
  REQUIRE(oic.wait_for_accepted(200, 60s));
  REQUIRE(wait_until_settled(relay, "oic", 20s));
  CHECK(oic.violations().empty());
  std::size_t alone_and_over = 0;
  for (const auto& r : oic.requests()) {
    if (r.bytes > kMax) {
      CHECK(r.ids.size() == 1);
      ++alone_and_over;
    }
  }
  CHECK(alone_and_over == oversized);
  CHECK(metric_or_zero(relay, destination_series("ocirelay_batch_oversized_events_total")) ==
        static_cast<double>(oversized));
  for (const auto& [id, times] : oic.accepted()) CHECK(times == 1);
}

TEST_CASE("kill -9 with batches in flight loses no acknowledged event", "[batch][crash]") {
  BulkOic oic("events", 51200);
  oic.delay(300ms);  // batches are in flight when the daemon dies
  RelayHarness relay(relay_yaml(oic, "max_events: 40, max_wait: 100ms"));
  relay.start();
  std::vector<std::string> bodies;
  for (long n = 1; n <= 400; ++n) bodies.push_back(event_with_id(n));
  const auto statuses = post_events(relay.port(), bodies, 8);
  REQUIRE(std::count(statuses.begin(), statuses.end(), 202) == 400);
  REQUIRE(oic.server().wait_for_requests(1, 20s));
  relay.daemon().kill_hard();
  oic.delay(0ms);
  relay.start();  // the same storage
  REQUIRE(oic.wait_for_accepted(400, 60s));
  REQUIRE(wait_until_settled(relay, "oic", 20s));
  CHECK(oic.violations().empty());
  const auto accepted = oic.accepted();
  for (long n = 1; n <= 400; ++n) CHECK(accepted.count(event_id_for(n)) == 1);
}

TEST_CASE("a reload changes a destination's batching, and a batch waiting for its retry goes along",
          "[batch][reload]") {
  BulkOic old_oic("events", 51200);
  old_oic.answer_with([](std::size_t) { return 503; });
  BulkOic new_oic("items", 51200);
  RelayHarness relay(relay_yaml(old_oic, "max_events: 3, max_wait: 1s"));
  relay.start();
  std::string array = "[";
  for (long n = 1; n <= 3; ++n) array += (n > 1 ? "," : "") + event_with_id(n);
  REQUIRE(TestClient(relay.port()).post_event(array + "]").status == 202);
  REQUIRE(old_oic.server().wait_for_requests(1, 10s));

  // The batch that got 503 waits in memory for its retry; the reload
  // returns it to storage and the new settings deliver it.
  relay.rewrite("destinations:\n  - name: oic\n    url: " + new_oic.url() +
                "\n    retry: { initial_backoff: 100ms, max_backoff: 400ms, max_age: 1h }\n"
                "    batch: { max_events: 10, max_wait: 200ms, envelope: items }\n"
                "routes:\n  - { name: all, destinations: [oic] }\n");
  relay.daemon().signal(SIGHUP);
  REQUIRE(relay.daemon().wait_for_log("(1 new or changed, 0 removed)", 15s));
  REQUIRE(new_oic.wait_for_accepted(3, 20s));
  REQUIRE(wait_until_settled(relay, "oic", 10s));
  CHECK(new_oic.violations().empty());
  CHECK(old_oic.violations().empty());
  std::size_t events = 0;
  for (const auto& r : new_oic.requests()) events += r.ids.size();
  CHECK(events == 3);
}
