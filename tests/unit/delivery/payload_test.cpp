// Payload shaping: raw passes the event through byte for byte; fields build a
// compact JSON object from JSON Pointers into the event.
#include <catch2/catch.hpp>

#include <string>

#include "ocirelay/delivery/payload.hpp"
#include "support/fixtures.hpp"

using namespace ocirelay;
using namespace ocirelay::delivery;

namespace {

config::DestinationPayload fields(std::vector<std::pair<std::string, std::string>> f) {
  config::DestinationPayload spec;
  spec.kind = config::DestinationPayload::Kind::fields;
  spec.fields = std::move(f);
  return spec;
}

Payload compiled(const config::DestinationPayload& spec) {
  auto p = Payload::compile(spec);
  INFO((p.ok() ? std::string() : p.error()));
  REQUIRE(p.ok());
  return std::move(p).value();
}

}  // namespace

TEST_CASE("raw payload is the event byte for byte", "[payload]") {
  const Payload raw = compiled(config::DestinationPayload{});
  CHECK(raw.raw());
  CHECK(Payload().raw());
  const std::string event = "  " + test::fixture("events/createobject.json") + "\n\n";
  CHECK(raw.shape(event) == event);
  CHECK(raw.shape("") == "");
  CHECK(raw.shape("not even json") == "not even json");
}

TEST_CASE("fields give a compact object in configuration order", "[payload]") {
  const Payload p = compiled(fields({{"bucket", "/data/additionalDetails/bucketName"},
                                     {"object", "/data/resourceName"},
                                     {"namespace", "/data/additionalDetails/namespace"}}));
  CHECK_FALSE(p.raw());
  CHECK(p.shape(test::fixture("events/createobject.json")) ==
        R"({"bucket":"invoices-inbound","object":"invoices/2026/inv-0001.pdf",)"
        R"("namespace":"acmetenancy"})");
}

TEST_CASE("fields: order is the configuration's, not the event's", "[payload]") {
  const Payload p = compiled(fields({{"z", "/eventID"}, {"a", "/eventType"}}));
  CHECK(p.shape(test::fixture("events/createobject.json")) ==
        R"({"z":"3e47d127-19de-6eb8-eb67-0c1ab961fcbc",)"
        R"("a":"com.oraclecloud.objectstorage.createobject"})");
}

TEST_CASE("fields: a missing pointer gives null", "[payload]") {
  const Payload p = compiled(fields({{"object", "/data/resourceName"},
                                     {"missing", "/data/noSuchKey"},
                                     {"deep", "/data/resourceName/deeper"},
                                     {"index", "/data/0"}}));
  CHECK(p.shape(test::fixture("events/createobject.json")) ==
        R"({"object":"invoices/2026/inv-0001.pdf","missing":null,"deep":null,"index":null})");
}

TEST_CASE("fields: values that are not strings stay JSON", "[payload]") {
  const std::string event = R"({"n": 42, "x": -1.5, "big": 12345678901234567,
    "ok": true, "none": null, "list": [1, "two", {"three": 3}],
    "obj": {"a": {"b": "c"}, "d": []}, "text": "line\nbreak \"quoted\" \u00e9",
    "a/b": "slash", "m~n": "tilde"})";
  const Payload p = compiled(fields({{"n", "/n"},
                                     {"x", "/x"},
                                     {"big", "/big"},
                                     {"ok", "/ok"},
                                     {"none", "/none"},
                                     {"list", "/list"},
                                     {"second", "/list/1"},
                                     {"obj", "/obj"},
                                     {"text", "/text"},
                                     {"slash", "/a~1b"},
                                     {"tilde", "/m~0n"}}));
  CHECK(p.shape(event) ==
        R"({"n":42,"x":-1.5,"big":12345678901234567,"ok":true,"none":null,)"
        R"("list":[1,"two",{"three":3}],"second":"two","obj":{"a":{"b":"c"},"d":[]},)"
        "\"text\":\"line\\nbreak \\\"quoted\\\" \xc3\xa9\","
        R"("slash":"slash","tilde":"tilde"})");
}

TEST_CASE("fields: the whole event, and names that need escaping", "[payload]") {
  const Payload p = compiled(fields({{"event \"all\"", ""}}));
  CHECK(p.shape(R"({ "a" : [ 1 , 2 ] })") == R"({"event \"all\"":{"a":[1,2]}})");
}

TEST_CASE("fields: an event that is not JSON gives nulls", "[payload]") {
  const Payload p = compiled(fields({{"a", "/a"}, {"b", "/b"}}));
  CHECK(p.shape("{oops") == R"({"a":null,"b":null})");
}

TEST_CASE("fields: fixtures of other event types", "[payload]") {
  const Payload p = compiled(fields({{"type", "/eventType"},
                                     {"bucket", "/data/additionalDetails/bucketName"},
                                     {"object", "/data/resourceName"},
                                     {"namespace", "/data/additionalDetails/namespace"}}));
  for (const char* f :
       {"events/updateobject.json", "events/deleteobject.json", "events/createbucket.json"}) {
    INFO(f);
    const std::string shaped = p.shape(test::fixture(f));
    CHECK_THAT(shaped, Catch::StartsWith("{\"type\":\"com.oraclecloud.objectstorage."));
    CHECK(shaped.find('\n') == std::string::npos);
    CHECK(shaped.find(" ") == std::string::npos);
  }
}

TEST_CASE("compile rejects bad pointers and empty field lists", "[payload]") {
  auto bad = Payload::compile(fields({{"a", "data/resourceName"}}));
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error(), Catch::Contains("field a"));
  CHECK_FALSE(Payload::compile(fields({{"a", "/x~2"}})).ok());
  CHECK_FALSE(Payload::compile(fields({})).ok());
}
