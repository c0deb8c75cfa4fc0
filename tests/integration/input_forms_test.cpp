// Every input form of POST /v1/events beyond a single JSON event, against the
// real daemon: CloudEvents binary mode (stored and delivered as the
// equivalent structured event), CloudEvents batch mode and JSON arrays of OCI
// Events envelopes (per-event results, one transaction, the batch limits).
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <string>
#include <utility>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/relay_metrics.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Order creations and Object Storage creations go to `oic`; everything else
// (cancellations, deletions) is filtered.
std::string relay_config(const FakeHttpServer& oic) {
  return "destinations:\n"
         "  - name: oic\n"
         "    url: " +
         oic.url("/ic/api/integration/v1/flows/rest/EVENTS/1.0/event") +
         "\n"
         "routes:\n"
         "  - name: created\n"
         "    event_types: [com.example.order.created, "
         "com.oraclecloud.objectstorage.createobject]\n"
         "    destinations: [oic]\n";
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

HeaderList ce_headers(const std::string& id, const std::string& type, HeaderList more = {}) {
  HeaderList h{
      {"ce-specversion", "1.0"}, {"ce-id", id}, {"ce-source", "/shop/orders"}, {"ce-type", type}};
  h.insert(h.end(), more.begin(), more.end());
  return h;
}

// The bodies the fake OIC received, in arrival order.
std::vector<std::string> bodies(const FakeHttpServer& oic) {
  std::vector<std::string> out;
  for (const auto& r : oic.requests()) out.push_back(r.body);
  return out;
}

std::string ce(const std::string& id, const std::string& type) {
  return R"({"specversion":"1.0","id":")" + id + R"(","source":"/s","type":")" + type +
         R"(","data":{"n":1}})";
}

double received(RelayHarness& relay, const std::string& result) {
  return metric(relay, "ocirelay_events_received_total{result=\"" + result + "\"}").value_or(0);
}

}  // namespace

TEST_CASE("binary-mode CloudEvents are stored and delivered as structured JSON",
          "[input][cloudevents]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_config(oic));
  relay.start();
  TestClient client(relay.port());

  // As the official SDKs send it, extensions and a percent-encoded value included.
  auto json = client.request(
      "POST", "/v1/events", R"({"orderId": 42, "total": "129.90", "n": 3})",
      ce_headers("4b1d7c5e-2f3a-4d6b-8e9f-1a2b3c4d5e6f", "com.example.order.created",
                 {{"Content-Type", "application/json"},
                  {"ce-time", "2026-05-14T09:13:05.120Z"},
                  {"ce-subject", "order%2042%20%E2%82%AC"},
                  {"ce-traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}));
  CHECK(json.status == 202);
  CHECK(json.body == R"({"status":"queued","eventID":"4b1d7c5e-2f3a-4d6b-8e9f-1a2b3c4d5e6f"})");

  // No extensions; text and binary data.
  auto text = client.request("POST", "/v1/events", "order 43 shipped",
                             ce_headers("t-1", "com.example.order.created",
                                        {{"Content-Type", "text/plain; charset=utf-8"}}));
  CHECK(text.status == 202);
  auto binary = client.request(
      "POST", "/v1/events", std::string("\x89PNG\r\n\x1a\n", 8),
      ce_headers("b-1", "com.example.order.created", {{"Content-Type", "image/png"}}));
  CHECK(binary.status == 202);

  // Routed exactly as a structured event: a cancellation is filtered, and the
  // same ID again (in either mode) is a duplicate.
  auto filtered = client.request(
      "POST", "/v1/events", "{}",
      ce_headers("c-1", "com.example.order.cancelled", {{"Content-Type", "application/json"}}));
  CHECK(filtered.status == 200);
  CHECK(filtered.body == R"({"status":"filtered"})");
  auto again = client.request("POST", "/v1/events", ce("t-1", "com.example.order.created"),
                              {{"Content-Type", "application/cloudevents+json"}});
  CHECK(again.status == 200);
  CHECK(again.body == R"({"status":"duplicate","eventID":"t-1"})");

  REQUIRE(wait_until_settled(relay, "oic", 20s));
  const auto requests = oic.requests();
  REQUIRE(requests.size() == 3);
  std::vector<std::string> got = bodies(oic);
  std::sort(got.begin(), got.end());
  std::vector<std::string> expected{
      R"({"specversion":"1.0","id":"4b1d7c5e-2f3a-4d6b-8e9f-1a2b3c4d5e6f",)"
      R"("source":"/shop/orders","type":"com.example.order.created",)"
      R"("datacontenttype":"application/json","time":"2026-05-14T09:13:05.120Z",)"
      "\"subject\":\"order 42 \xE2\x82\xAC\","
      R"("traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",)"
      R"("data":{"orderId": 42, "total": "129.90", "n": 3}})",
      R"({"specversion":"1.0","id":"t-1","source":"/shop/orders",)"
      R"("type":"com.example.order.created","datacontenttype":"text/plain; charset=utf-8",)"
      R"("data":"order 43 shipped"})",
      R"({"specversion":"1.0","id":"b-1","source":"/shop/orders",)"
      R"("type":"com.example.order.created","datacontenttype":"image/png",)"
      R"("data_base64":"iVBORw0KGgo="})"};
  std::sort(expected.begin(), expected.end());
  CHECK(got == expected);
  for (const auto& r : requests) {
    CHECK(r.headers.get("Content-Type") == "application/json");
  }
}

TEST_CASE("bad binary-mode CloudEvents get 400 naming the header", "[input][cloudevents]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_config(oic));
  relay.start();
  TestClient client(relay.port());

  HeaderList old = ce_headers("v-1", "com.example.order.created", {{"Content-Type", "text/plain"}});
  old[0].second = "0.3";
  auto version = client.request("POST", "/v1/events", "x", old);
  CHECK(version.status == 400);
  CHECK(contains(version.body, R"(header ce-specversion: unsupported CloudEvents specversion)"));

  HeaderList no_source{{"ce-specversion", "1.0"},
                       {"ce-id", "s-1"},
                       {"ce-type", "com.example.order.created"},
                       {"Content-Type", "application/xml"}};
  auto missing = client.request("POST", "/v1/events", "<a/>", no_source);
  CHECK(missing.status == 400);
  CHECK(missing.body == R"({"error":"missing header ce-source"})");

  auto bad_json = client.request(
      "POST", "/v1/events", "{oops",
      ce_headers("j-1", "com.example.order.created", {{"Content-Type", "application/json"}}));
  CHECK(bad_json.status == 400);
  CHECK(contains(bad_json.body, "is not valid JSON"));

  // Without ce-* headers a non-JSON body is still refused as before.
  CHECK(
      client.request("POST", "/v1/events", "<a/>", {{"Content-Type", "application/xml"}}).status ==
      415);
  CHECK(received(relay, "queued") == 0);
  CHECK(oic.request_count() == 0);
}

TEST_CASE("a CloudEvents batch gets per-event results in order", "[input][batch]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_config(oic));
  relay.start();
  TestClient client(relay.port());
  const HeaderList batch_type{{"Content-Type", "application/cloudevents-batch+json"}};

  const std::string fixture_batch = fixture("cloudevents/batch.json");
  auto first = client.request("POST", "/v1/events", fixture_batch, batch_type);
  CHECK(first.status == 202);
  CHECK(first.body == R"({"results":[{"eventID":"b-0001","status":"queued"},)"
                      R"({"eventID":"b-0002","status":"filtered"},)"
                      R"({"eventID":"b-0003","status":"queued"}]})");

  // Seen before, new, new twice in the same batch, filtered.
  const std::string mixed = "[" + ce("b-0001", "com.example.order.created") + "," +
                            ce("b-0004", "com.example.order.created") + "," +
                            ce("b-0004", "com.example.order.created") + "," +
                            ce("b-0005", "com.example.order.cancelled") + "]";
  auto second = client.request("POST", "/v1/events", mixed, batch_type);
  CHECK(second.status == 202);
  CHECK(second.body == R"({"results":[{"eventID":"b-0001","status":"duplicate"},)"
                       R"({"eventID":"b-0004","status":"queued"},)"
                       R"({"eventID":"b-0004","status":"duplicate"},)"
                       R"({"eventID":"b-0005","status":"filtered"}]})");

  // Nothing queued: 200.
  auto nothing_new = client.request("POST", "/v1/events",
                                    "[" + ce("b-0003", "com.example.order.created") + "," +
                                        ce("b-0006", "com.example.order.cancelled") + "]",
                                    batch_type);
  CHECK(nothing_new.status == 200);
  CHECK(nothing_new.body == R"({"results":[{"eventID":"b-0003","status":"duplicate"},)"
                            R"({"eventID":"b-0006","status":"filtered"}]})");

  REQUIRE(wait_until_settled(relay, "oic", 20s));
  std::vector<std::string> got = bodies(oic);
  std::sort(got.begin(), got.end());
  // Each member is delivered as its own bytes in the batch.
  std::vector<std::string> expected{
      "{\"specversion\": \"1.0\", \"id\": \"b-0001\", \"source\": \"/shop/orders\", \"type\": "
      "\"com.example.order.created\",\n   \"datacontenttype\": \"application/json\", \"data\": "
      "{\"orderId\": 43}}",
      "{\"specversion\": \"1.0\", \"id\": \"b-0003\", \"source\": \"/shop/orders\", \"type\": "
      "\"com.example.order.created\",\n   \"subject\": \"order-44\", \"data\": {\"orderId\": 44}}",
      ce("b-0004", "com.example.order.created")};
  std::sort(expected.begin(), expected.end());
  CHECK(got == expected);

  // Metrics count events, not requests.
  CHECK(received(relay, "queued") == 3);
  CHECK(received(relay, "duplicate") == 3);
  CHECK(received(relay, "filtered") == 3);
  CHECK(metric(relay, "ocirelay_route_matches_total{route=\"created\"}") == 3);
}

TEST_CASE("an array of OCI Events envelopes, as Connector Hub sends it", "[input][batch]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_config(oic));
  relay.start();
  TestClient client(relay.port());

  const std::string hub = fixture("events/connector-hub-batch.json");
  auto first = client.post_event(hub);
  CHECK(first.status == 202);
  CHECK(first.body ==
        R"({"results":[{"eventID":"3e47d127-19de-6eb8-eb67-0c1ab961fcbc","status":"queued"},)"
        R"({"eventID":"c0ffee00-1111-4222-8333-944455556666","status":"filtered"}]})");

  // The same createobject alone is now a duplicate; with a new one in an array, mixed.
  CHECK(client.post_event(fixture("events/createobject.json")).status == 200);
  auto second = client.post_event("[" + fixture("events/createobject.json") + "," +
                                  fixture("events/updateobject.json") + "]");
  CHECK(second.status == 200);  // updateobject is filtered
  CHECK(contains(second.body,
                 R"({"eventID":"3e47d127-19de-6eb8-eb67-0c1ab961fcbc","status":"duplicate"})"));
  CHECK(contains(second.body, R"("status":"filtered"}]})"));

  REQUIRE(wait_until_settled(relay, "oic", 20s));
  const auto requests = oic.requests();
  REQUIRE(requests.size() == 1);
  const auto begin = hub.find('{');
  const auto end = hub.find("\n  },") + 4;  // the first member, as it stands in the array
  CHECK(requests[0].body == hub.substr(begin, end - begin));
  CHECK(requests[0].headers.get("Idempotency-Key") == "3e47d127-19de-6eb8-eb67-0c1ab961fcbc");
}

TEST_CASE("a batch with one bad member stores nothing", "[input][batch]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_config(oic));
  relay.start();
  TestClient client(relay.port());

  const std::string good =
      ce("g-1", "com.example.order.created") + "," + ce("g-2", "com.example.order.created") + ",";
  auto bad = client.request(
      "POST", "/v1/events",
      "[" + good + R"({"specversion":"1.0","source":"/s","type":"com.example.order.created"}])",
      {{"Content-Type", "application/cloudevents-batch+json"}});
  CHECK(bad.status == 400);
  CHECK(bad.body == R"({"error":"events[2]: missing id"})");

  // Had g-1 or g-2 been stored, they would now be duplicates.
  auto fixed = client.request("POST", "/v1/events",
                              "[" + good + ce("g-3", "com.example.order.created") + "]",
                              {{"Content-Type", "application/cloudevents-batch+json"}});
  CHECK(fixed.status == 202);
  CHECK(fixed.body == R"({"results":[{"eventID":"g-1","status":"queued"},)"
                      R"({"eventID":"g-2","status":"queued"},)"
                      R"({"eventID":"g-3","status":"queued"}]})");
  REQUIRE(wait_until_settled(relay, "oic", 20s));
  CHECK(oic.request_count() == 3);
  CHECK(received(relay, "queued") == 3);
  CHECK(metric(relay, "ocirelay_events_rejected_total{reason=\"invalid_event\"}") == 1);
}

TEST_CASE("oversized batches are refused, empty ones answered with no results", "[input][batch]") {
  FakeHttpServer oic;
  RelayHarness relay(relay_config(oic), "  max_batch_events: 2\n  max_body_bytes: 2048\n");
  relay.start();
  TestClient client(relay.port());
  const std::string three = "[" + ce("o-1", "com.example.order.created") + "," +
                            ce("o-2", "com.example.order.created") + "," +
                            ce("o-3", "com.example.order.created") + "]";

  auto over = client.request("POST", "/v1/events", three,
                             {{"Content-Type", "application/cloudevents-batch+json"}});
  CHECK(over.status == 413);
  CHECK(over.body == R"x({"error":"batch has more than 2 events (server.max_batch_events)"})x");
  CHECK(client.post_event(three).status == 413);
  CHECK(metric(relay, "ocirelay_events_rejected_total{reason=\"too_many_events\"}") == 2);

  // max_body_bytes still applies to a batch.
  std::string big = "[" + ce("o-4", "com.example.order.created") + "," + std::string(2100, ' ') +
                    ce("o-5", "com.example.order.created") + "]";
  auto too_big = client.post_event(big);
  CHECK(too_big.status == 413);
  CHECK(contains(too_big.body, "2048"));

  for (const char* type : {"application/json", "application/cloudevents-batch+json"}) {
    auto empty = client.request("POST", "/v1/events", " [ ] ", {{"Content-Type", type}});
    CHECK(empty.status == 200);
    CHECK(empty.body == R"({"results":[]})");
  }
  CHECK(received(relay, "queued") == 0);

  // Reloadable: a larger limit takes the same batch.
  relay.rewrite(relay_config(oic), "  max_batch_events: 3\n  max_body_bytes: 2048\n");
  relay.daemon().signal(SIGHUP);
  REQUIRE(relay.daemon().wait_for_log("configuration reloaded", 15s));
  CHECK(client.post_event(three).status == 202);
  REQUIRE(wait_until_settled(relay, "oic", 20s));
  CHECK(oic.request_count() == 3);
}
