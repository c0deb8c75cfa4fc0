#include <catch2/catch.hpp>

#include <string>
#include <utility>

#include <rapidjson/document.h>

#include "ocirelay/event/event.hpp"
#include "ocirelay/event/event_batch.hpp"
#include "support/fixtures.hpp"

using ocirelay::event::BatchForm;
using ocirelay::event::Format;
using ocirelay::event::is_json_array;
using ocirelay::event::parse_event;
using ocirelay::event::parse_event_batch;
using ocirelay::event::ParseLimits;

namespace {

std::string batch_error(std::string_view body, BatchForm form = BatchForm::events,
                        std::size_t max_events = 1000, const ParseLimits& limits = {}) {
  auto batch = parse_event_batch(body, form, max_events, limits);
  REQUIRE_FALSE(batch.ok());
  CHECK_FALSE(batch.error().too_many);
  return batch.error().reason;
}

std::string oci(const std::string& id) {
  return R"({"eventType":"t","eventID":")" + id + R"(","data":{}})";
}

}  // namespace

TEST_CASE("the CloudEvents batch fixture parses member by member", "[event][batch]") {
  const std::string body = ocirelay::test::fixture("cloudevents/batch.json");
  auto batch = parse_event_batch(body, BatchForm::cloudevents, 1000);
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == 3);
  const char* ids[] = {"b-0001", "b-0002", "b-0003"};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto& ev = (*batch)[i];
    CHECK(ev.event_id() == ids[i]);
    CHECK(ev.format() == Format::cloudevents_1_0);
    // Each member's body is its own text, exactly as it stands in the array.
    CHECK(body.find(ev.body()) != std::string::npos);
    CHECK(ev.body().front() == '{');
    CHECK(ev.body().back() == '}');
  }
  CHECK((*batch)[0].body() ==
        "{\"specversion\": \"1.0\", \"id\": \"b-0001\", \"source\": \"/shop/orders\", \"type\": "
        "\"com.example.order.created\",\n   \"datacontenttype\": \"application/json\", \"data\": "
        "{\"orderId\": 43}}");
  CHECK((*batch)[1].json().HasMember("data_base64"));
  CHECK((*batch)[2].event_type() == "com.example.order.created");
}

TEST_CASE("the Connector Hub fixture is an array of OCI Events envelopes", "[event][batch]") {
  const std::string body = ocirelay::test::fixture("events/connector-hub-batch.json");
  CHECK(is_json_array(body));
  auto batch = parse_event_batch(body, BatchForm::events, 1000);
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == 2);
  CHECK((*batch)[0].event_id() == "3e47d127-19de-6eb8-eb67-0c1ab961fcbc");
  CHECK((*batch)[0].event_type() == "com.oraclecloud.objectstorage.createobject");
  CHECK((*batch)[1].event_id() == "c0ffee00-1111-4222-8333-944455556666");
  CHECK((*batch)[1].format() == Format::oci_events);
  // A member parses on its own to the same document as within the array.
  rapidjson::Document whole;
  whole.Parse(body.c_str());
  for (std::size_t i = 0; i < 2; ++i) {
    auto alone = parse_event((*batch)[i].body());
    REQUIRE(alone.ok());
    CHECK(alone->json() == whole[static_cast<rapidjson::SizeType>(i)]);
  }
  // Only a CloudEvents batch insists on CloudEvents.
  CHECK(batch_error(body, BatchForm::cloudevents) ==
        "events[0]: not a CloudEvent (missing specversion)");
}

TEST_CASE("member bodies keep their bytes, whitespace and escapes included", "[event][batch]") {
  const std::string first =
      "{ \"eventType\" : \"t\",\n \"eventID\":\"a\\u0062\", \"data\":{\"x\":[{}]} }";
  const std::string body = "\xEF\xBB\xBF [ " + first + " ,\n" + oci("c") + "]\n";
  auto batch = parse_event_batch(body, BatchForm::events, 1000);
  REQUIRE(batch.ok());
  REQUIRE(batch->size() == 2);
  CHECK((*batch)[0].body() == first);
  CHECK((*batch)[0].event_id() == "ab");
  CHECK((*batch)[1].body() == oci("c"));
}

TEST_CASE("an empty array is a batch of no events, in both forms", "[event][batch]") {
  for (const BatchForm form : {BatchForm::events, BatchForm::cloudevents}) {
    for (const char* body : {"[]", " [ ]\n"}) {
      auto batch = parse_event_batch(body, form, 1000);
      REQUIRE(batch.ok());
      CHECK(batch->empty());
    }
  }
}

TEST_CASE("a bad member fails the whole batch, naming its index", "[event][batch][errors]") {
  CHECK(batch_error(oci("a")) == "body is not a JSON array of events");
  CHECK(batch_error("42") == "body is not a JSON array of events");
  CHECK(batch_error(std::string("[") + oci("a") + ",7]") == "events[1]: not a JSON object");
  CHECK(batch_error(std::string("[") + oci("a") + ",[]]") == "events[1]: not a JSON object");
  CHECK(batch_error(std::string("[") + oci("a") + "," + oci("b") +
                    R"(,{"eventType":"t","data":{}}])") == "events[2]: missing eventID");
  CHECK(batch_error(std::string("[") + oci("a") + R"(,{"specversion":"1.0","type":"t"}])",
                    BatchForm::cloudevents) == "events[0]: not a CloudEvent (missing specversion)");
  CHECK(
      batch_error(R"([{"specversion":"1.0","type":"t","id":"x"},{"specversion":"1.0","type":"t"}])",
                  BatchForm::cloudevents) == "events[1]: missing id");
  CHECK(batch_error(std::string("[") + oci("a") + ",")
            .starts_with("body is not valid JSON at offset"));
  CHECK(batch_error(std::string("[") + oci("a") + "] x")
            .starts_with("body is not valid JSON at offset"));
  CHECK(batch_error(std::string("[\0]", 3)) == "body is not valid JSON at offset 1: NUL byte.");

  ParseLimits shallow;
  shallow.max_depth = 2;
  CHECK(parse_event_batch(R"([{"eventType":"t","eventID":"i","data":{}}])", BatchForm::events, 10,
                          shallow)
            .ok());
  CHECK(
      batch_error(
          R"([{"eventType":"t","eventID":"i","data":{}},{"eventType":"t","eventID":"j","data":{"x":{}}}])",
          BatchForm::events, 10, shallow) == "events[1]: nests JSON deeper than 2 levels");
  CHECK_THAT(batch_error(std::string("[") + oci("a") +
                         R"(,{"eventType":"t","eventID":"j","data":{"x":1,"x":2}}])"),
             Catch::Matchers::StartsWith(
                 "events[1]: has the member name \"x\" twice in the object at \"/data\""));
}

TEST_CASE("a batch over max_events is refused as too large", "[event][batch][errors]") {
  const std::string three = std::string("[") + oci("a") + "," + oci("b") + "," + oci("c") + "]";
  CHECK(parse_event_batch(three, BatchForm::events, 3).ok());
  auto over = parse_event_batch(three, BatchForm::events, 2);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().too_many);
  CHECK(over.error().reason == "batch has more than 2 events (server.max_batch_events)");
}

TEST_CASE("is_json_array looks at the first non-blank byte", "[event][batch]") {
  CHECK(is_json_array(" \n\t[1]"));
  CHECK_FALSE(is_json_array(" {}"));
  CHECK_FALSE(is_json_array(""));
  CHECK_FALSE(is_json_array("x["));
  CHECK(is_json_array("\xEF\xBB\xBF [1]"));  // after a UTF-8 byte order mark
}
