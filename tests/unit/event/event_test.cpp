#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include <rapidjson/document.h>

#include "ocirelay/event/event.hpp"
#include "support/fixtures.hpp"

using ocirelay::event::Event;
using ocirelay::event::Format;
using ocirelay::event::parse_event;
using ocirelay::event::ParseLimits;

namespace {

std::string parse_error(std::string body, const ParseLimits& limits = {}) {
  auto result = parse_event(std::move(body), limits);
  REQUIRE_FALSE(result.ok());
  return result.error();
}

// A minimal valid OCI event with its eventID replaced by `id_json` (raw JSON).
std::string oci_with_id(const std::string& id_json) {
  return R"({"eventType":"com.example.x","eventID":)" + id_json + R"(,"data":{}})";
}

}  // namespace

TEST_CASE("every OCI Events fixture parses", "[event][fixtures]") {
  struct FixtureCase {
    const char* file;
    const char* type;
    const char* id;
    const char* compartment;
  };
  const FixtureCase cases[] = {
      {"createobject.json", "com.oraclecloud.objectstorage.createobject",
       "3e47d127-19de-6eb8-eb67-0c1ab961fcbc", "finance"},
      {"updateobject.json", "com.oraclecloud.objectstorage.updateobject",
       "7f1c2a90-5d2e-4c7b-8a0e-91d3b6f4e201", "finance"},
      {"deleteobject.json", "com.oraclecloud.objectstorage.deleteobject",
       "c0ffee00-1111-4222-8333-944455556666", "hr"},
      {"createbucket.json", "com.oraclecloud.objectstorage.createbucket",
       "0b8e6a3c-2f1d-4c5e-9a7b-6d5c4b3a2f10", "finance"},
  };
  for (const auto& c : cases) {
    INFO(c.file);
    const std::string body = ocirelay::test::fixture(std::string("events/") + c.file);
    auto result = parse_event(body);
    REQUIRE(result.ok());
    const Event& event = *result;
    CHECK(event.format() == Format::oci_events);
    CHECK(event.event_type() == c.type);
    CHECK(event.event_id() == c.id);
    CHECK(event.body() == body);
    REQUIRE(event.json().IsObject());
    CHECK(event.json()["cloudEventsVersion"] == "0.1");
    REQUIRE(event.data().IsObject());
    CHECK(event.data()["compartmentName"] == c.compartment);
    CHECK(&event.data() == &event.json()["data"]);
  }
}

TEST_CASE("the CloudEvents 1.0 structured fixture parses", "[event][fixtures][cloudevents]") {
  const std::string body = ocirelay::test::fixture("events/cloudevents-1.0-structured.json");
  auto result = parse_event(body);
  REQUIRE(result.ok());
  CHECK(result->format() == Format::cloudevents_1_0);
  CHECK(result->event_type() == "com.oraclecloud.objectstorage.createobject");
  CHECK(result->event_id() == "9d2f4e10-8a1b-4c3d-9e5f-0a1b2c3d4e5f");
  CHECK(result->body() == body);
  REQUIRE(result->data().IsObject());
  CHECK(result->data()["additionalDetails"]["bucketName"] == "invoices-inbound");
}

TEST_CASE("an event's time is read as written, for its dedupe key", "[event][time]") {
  auto oci = parse_event(ocirelay::test::fixture("events/createobject.json"));
  REQUIRE(oci.ok());
  CHECK(oci->event_time() == "2026-05-14T09:12:41.372Z");
  auto cloud = parse_event(ocirelay::test::fixture("events/cloudevents-1.0-structured.json"));
  REQUIRE(cloud.ok());
  CHECK(cloud->event_time() == "2026-05-14T09:12:41.372Z");

  // Not validated as a time: any short string without control characters.
  auto odd = parse_event(R"({"eventType":"t","eventID":"i","eventTime":"yesterday","data":{}})");
  REQUIRE(odd.ok());
  CHECK(odd->event_time() == "yesterday");

  // Unfit for a key: the event is accepted, with no time.
  const std::string unfit[] = {
      R"({"eventType":"t","eventID":"i","data":{}})",
      R"({"eventType":"t","eventID":"i","eventTime":1765000000,"data":{}})",
      R"({"eventType":"t","eventID":"i","eventTime":"2026-05-14T09:12:41\u001fZ","data":{}})",
      R"({"eventType":"t","eventID":"i","eventTime":")" +
          std::string(Event::kMaxEventTimeBytes + 1, '1') + R"(","data":{}})",
      // A CloudEvent's time is `time`, not `eventTime`.
      R"({"specversion":"1.0","type":"t","id":"i","source":"/s","eventTime":"2026-05-14"})",
  };
  for (const auto& body : unfit) {
    INFO(body);
    auto result = parse_event(body);
    REQUIRE(result.ok());
    CHECK(result->event_time().empty());
  }
  auto longest = parse_event(R"({"eventType":"t","eventID":"i","eventTime":")" +
                             std::string(Event::kMaxEventTimeBytes, '1') + R"(","data":{}})");
  REQUIRE(longest.ok());
  CHECK(longest->event_time().size() == Event::kMaxEventTimeBytes);
}

TEST_CASE("the body is kept byte for byte", "[event]") {
  // Whitespace, key order, escapes and number spelling are all the sender's
  // business; the relay forwards exactly what it received.
  const std::string body =
      "\r\n\t {  \"data\" : {\"n\": 1.50e1, \"s\": \"caf\\u00e9 \\/ \xe2\x82\xac\"},"
      "\"eventID\":\"id-1\",\n\"eventType\":\"t\", \"extra\":[1, 2 ,3],"
      " \"Extra\": null }  \n";
  auto result = parse_event(body);
  REQUIRE(result.ok());
  CHECK(result->body() == body);
  CHECK(result->data()["s"] == "caf\xc3\xa9 / \xe2\x82\xac");
  CHECK(result->data()["n"].GetDouble() == 15.0);
  const std::string taken = result->take_body();
  CHECK(taken == body);
}

TEST_CASE("events move without losing their document", "[event]") {
  auto result = parse_event(ocirelay::test::fixture("events/createobject.json"));
  REQUIRE(result.ok());
  Event first = std::move(result).value();
  const rapidjson::Value* data = &first.data();
  Event second = std::move(first);
  CHECK(&second.data() == data);
  CHECK(second.event_id() == "3e47d127-19de-6eb8-eb67-0c1ab961fcbc");
  CHECK(second.data()["additionalDetails"]["bucketName"] == "invoices-inbound");
}

TEST_CASE("a document larger than its first chunk parses whole", "[event]") {
  // JsonDocument keeps the first 4 KiB inside itself and takes 16 KiB
  // chunks from the heap after that (or one as large as the text, for its
  // copy): 3,000 members and a 40 KB string span several of them.
  std::string body = R"({"eventType":"t","eventID":"big","data":{)";
  for (int i = 0; i < 3000; ++i) {
    body += "\"member-" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  }
  body += "\"long\":\"" + std::string(40000, 'x') + "\"}}";
  auto result = parse_event(body);
  REQUIRE(result.ok());
  const rapidjson::Value& data = result.value().data();
  REQUIRE(data.MemberCount() == 3001);
  CHECK(data["member-0"].GetInt() == 0);
  CHECK(data["member-1234"].GetInt() == 1234);
  CHECK(data["member-2999"].GetInt() == 2999);
  CHECK(data["long"].GetStringLength() == 40000);
  CHECK(result.value().event_id() == "big");
}

TEST_CASE("an event built by hand without data reads data() as null", "[event]") {
  auto doc = std::make_unique<ocirelay::event::JsonDocument>();
  doc->document().SetObject();
  const Event event("{}", std::move(doc), Format::oci_events, "t", "i", "");
  CHECK(event.data().IsNull());
  CHECK(event.event_type() == "t");
  CHECK(event.event_id() == "i");
}

TEST_CASE("bodies that are not JSON are rejected with offset and reason", "[event][errors]") {
  struct ErrorCase {
    std::string body;
    const char* error;
  };
  const ErrorCase cases[] = {
      {"", "body is not valid JSON at offset 0: The document is empty."},
      {"   ", "body is not valid JSON at offset 3: The document is empty."},
      {"{", "body is not valid JSON at offset 1: Missing a name for object member."},
      {R"({"eventType":"t",})",
       "body is not valid JSON at offset 17: Missing a name for object member."},
      {"{} {}",
       "body is not valid JSON at offset 3: The document root must not be followed by other "
       "values."},
      {"{'a':1}", "body is not valid JSON at offset 1: Missing a name for object member."},
      {"nul", "body is not valid JSON at offset 3: Invalid value."},
      {std::string("{}\0{}", 5), "body is not valid JSON at offset 2: NUL byte."},
      {std::string("{\"eventType\":\"a\0b\"}", 19),
       "body is not valid JSON at offset 15: NUL byte."},
  };
  for (const auto& c : cases) {
    INFO("body: " << c.body);
    CHECK(parse_error(c.body) == c.error);
  }
}

TEST_CASE("bodies that are not event objects are rejected", "[event][errors]") {
  struct ErrorCase {
    const char* body;
    const char* error;
  };
  const ErrorCase cases[] = {
      {"[]", "body is not a JSON object"},
      {R"("eventType")", "body is not a JSON object"},
      {"42", "body is not a JSON object"},
      {"null", "body is not a JSON object"},
      {"{}", "missing eventType"},
      {R"({"eventID":"i","data":{}})", "missing eventType"},
      {R"({"eventType":5,"eventID":"i","data":{}})", "eventType must be a string"},
      {R"({"eventType":null,"eventID":"i","data":{}})", "eventType must be a string"},
      {R"({"eventType":["t"],"eventID":"i","data":{}})", "eventType must be a string"},
      {R"({"eventType":"","eventID":"i","data":{}})", "eventType must not be empty"},
      {R"({"eventType":"a\nb","eventID":"i","data":{}})",
       "eventType must not contain control characters"},
      {R"({"eventType":"t","data":{}})", "missing eventID"},
      {R"({"eventType":"t","eventID":7,"data":{}})", "eventID must be a string"},
      {R"({"eventType":"t","eventID":{},"data":{}})", "eventID must be a string"},
      {R"({"eventType":"t","eventID":"","data":{}})", "eventID must not be empty"},
      {R"({"eventType":"t","eventID":"i"})", "missing data"},
      {R"({"eventType":"t","eventID":"i","data":null})", "data must be an object"},
      {R"({"eventType":"t","eventID":"i","data":"{}"})", "data must be an object"},
      {R"({"eventType":"t","eventID":"i","data":[]})", "data must be an object"},
      // CloudEvents names its fields differently.
      {R"({"specversion":"1.0","eventType":"t","eventID":"i","data":{}})", "missing type"},
      {R"({"specversion":"1.0","type":"t","data":{}})", "missing id"},
      {R"({"specversion":"1.0","type":1,"id":"i","data":{}})", "type must be a string"},
      {R"({"specversion":"1.0","type":"t","id":1,"data":{}})", "id must be a string"},
      {R"({"specversion":"1.0","type":"t","id":"","data":{}})", "id must not be empty"},
      {R"({"specversion":"1.0","type":"t","id":"i","data":{},"data_base64":""})",
       "data and data_base64 must not both be present"},
      {R"({"specversion":"1.0","type":"t","id":"i","data_base64":5})",
       "data_base64 must be a base64 string"},
      {R"({"specversion":"1.0","type":"t","id":"i","data_base64":"b3JkZX"})",
       "data_base64 must be a base64 string"},
      {R"({"specversion":1.0,"type":"t","id":"i","data":{}})", "specversion must be a string"},
      {R"({"specversion":"0.3","type":"t","id":"i","data":{}})",
       "unsupported CloudEvents specversion (only \"1.0\" is accepted)"},
  };
  for (const auto& c : cases) {
    INFO("body: " << c.body);
    CHECK(parse_error(c.body) == c.error);
  }
}

TEST_CASE("a CloudEvent's data is optional and any JSON value, or base64", "[event]") {
  const std::string head = R"({"specversion":"1.0","type":"t","id":"i")";
  for (const std::string& tail :
       {std::string("}"), std::string(R"(,"data":"text"})"), std::string(R"(,"data":[1,2]})"),
        std::string(R"(,"data":null})"), std::string(R"(,"data_base64":"b3JkZXIgNDI="})")}) {
    INFO(tail);
    auto ev = parse_event(head + tail);
    REQUIRE(ev.ok());
    CHECK(ev->format() == Format::cloudevents_1_0);
    CHECK(ev->body() == head + tail);
  }
  // The data of one without `data` reads as null (routes on data.* do not match).
  auto none = parse_event(head + "}");
  REQUIRE(none.ok());
  CHECK(none->data().IsNull());
}

TEST_CASE("the key order of an event does not matter", "[event]") {
  auto result = parse_event(R"({"data":{"a":1},"eventID":"i","eventType":"t"})");
  REQUIRE(result.ok());
  CHECK(result->event_id() == "i");
  auto ce = parse_event(R"({"data":{},"id":"i","type":"t","specversion":"1.0"})");
  REQUIRE(ce.ok());
  CHECK(ce->format() == Format::cloudevents_1_0);
}

TEST_CASE("eventID length is limited", "[event][errors]") {
  const std::string max_id(256, 'a');
  CHECK(parse_event(oci_with_id("\"" + max_id + "\"")).ok());
  CHECK(parse_error(oci_with_id("\"" + max_id + "a\"")) == "eventID is longer than 256 bytes");

  ParseLimits limits;
  limits.max_event_id_bytes = 8;
  CHECK(parse_event(oci_with_id(R"("12345678")"), limits).ok());
  CHECK(parse_error(oci_with_id(R"("123456789")"), limits) == "eventID is longer than 8 bytes");
  // Bytes, not characters: four two-byte characters are 8 bytes.
  CHECK(parse_event(oci_with_id("\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\""), limits).ok());
  CHECK(parse_error(oci_with_id("\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x\""), limits) ==
        "eventID is longer than 8 bytes");
  // The error never echoes the ID.
  const std::string huge(100000, 'x');
  CHECK(parse_error(oci_with_id("\"" + huge + "\"")).size() < 100);
}

TEST_CASE("eventID must not contain control characters", "[event][errors]") {
  for (const char* id : {R"("a\nb")", R"("a\rb")", R"("a\u0000b")", R"("\t")", R"("a\u001fb")",
                         R"("a\u007fb")", R"("a\u0085b")", R"("a\u009fb")", "\"a\x7f\""}) {
    INFO("id " << id);
    CHECK(parse_error(oci_with_id(id)) == "eventID must not contain control characters");
  }
  for (const char* id : {R"("a b")", R"("a\u00a0b")", R"("\u00e9")", R"("a\/b")", R"("\u20ac")",
                         R"("ocid1.event.oc1..aaaa:bbbb")"}) {
    INFO("id " << id);
    CHECK(parse_event(oci_with_id(id)).ok());
  }
  CHECK(parse_error(R"({"specversion":"1.0","type":"t","id":"a\nb","data":{}})") ==
        "id must not contain control characters");
}

TEST_CASE("escaped identity fields are decoded", "[event]") {
  auto result = parse_event(R"({"eventType":"com.example.\u0078","eventID":"a\/b","data":{}})");
  REQUIRE(result.ok());
  CHECK(result->event_type() == "com.example.x");
  CHECK(result->event_id() == "a/b");
}

TEST_CASE("invalid UTF-8 is rejected", "[event][errors][utf8]") {
  const std::string bad_sequences[] = {
      "\xff",              // never valid
      "\xc3",              // truncated two-byte sequence
      "\xc0\xaf",          // overlong '/'
      "\xed\xa0\x80",      // UTF-16 surrogate
      "\xf4\x90\x80\x80",  // above U+10FFFF
      "\x80",              // lone continuation byte
  };
  for (const auto& bad : bad_sequences) {
    INFO("bytes in the data");
    const std::string body =
        R"({"eventType":"t","eventID":"i","data":{"resourceName":")" + bad + R"("}})";
    const std::string error = parse_error(body);
    CHECK_THAT(error, Catch::Matchers::StartsWith("body is not valid JSON at offset "));
    CHECK_THAT(error, Catch::Matchers::Contains("Invalid encoding in string."));
  }
  // In a key, and in the event ID.
  CHECK_THAT(parse_error("{\"eventType\":\"t\",\"eventID\":\"i\",\"data\":{\"\xff\":1}}"),
             Catch::Matchers::Contains("Invalid encoding in string."));
  CHECK_THAT(parse_error(oci_with_id("\"\xc3(\"")),
             Catch::Matchers::Contains("Invalid encoding in string."));
  // Valid multi-byte UTF-8 passes.
  CHECK(parse_event(R"({"eventType":"t","eventID":"i","data":{"n":")"
                    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
                    R"("}})")
            .ok());
}

TEST_CASE("a body ending inside a UTF-8 sequence is rejected without reading past it",
          "[event][errors][utf8]") {
  // Found by fuzz_event: RapidJSON takes every continuation byte a lead byte
  // announces before checking them, so these bodies made the parser read up
  // to two bytes beyond the end of the string (ASan: heap-buffer-overflow).
  for (const std::string lead : {"\xf0", "\xf0\x9f", "\xe2", "\xc3"}) {
    const std::string body = R"({"eventType":"t","eventID":"i","data":{"n":")" + lead;
    const std::string error = parse_error(body);
    CHECK_THAT(error, Catch::Matchers::StartsWith("body is not valid JSON at offset "));
  }
}

TEST_CASE("nesting is limited", "[event][errors][depth]") {
  auto nested_data = [](unsigned levels) {
    // The root object and `data` are two levels; add arrays inside data.
    std::string body = R"({"eventType":"t","eventID":"i","data":{"x":)";
    body += std::string(levels - 2, '[');
    body += std::string(levels - 2, ']');
    body += "}}";
    return body;
  };
  CHECK(parse_event(nested_data(64)).ok());
  CHECK_THAT(parse_error(nested_data(65)),
             Catch::Matchers::StartsWith("body nests JSON deeper than 64 levels (at offset "));

  ParseLimits limits;
  limits.max_depth = 3;
  CHECK(parse_event(R"({"eventType":"t","eventID":"i","data":{"a":{}}})", limits).ok());
  CHECK(parse_event(R"({"eventType":"t","eventID":"i","data":{"a":{"b":1},"c":[]}})", limits).ok());
  CHECK(parse_error(R"({"eventType":"t","eventID":"i","data":{"a":{"b":{}}}})", limits) ==
        "body nests JSON deeper than 3 levels (at offset 48)");
  CHECK(parse_error(R"({"eventType":"t","eventID":"i","data":{"a":[[]]}})", limits) ==
        "body nests JSON deeper than 3 levels (at offset 44)");
}

TEST_CASE("pathologically deep JSON is rejected quickly without a crash",
          "[event][errors][depth]") {
  const auto start = std::chrono::steady_clock::now();
  CHECK(parse_error(std::string(100000, '[')) ==
        "body nests JSON deeper than 64 levels (at offset 64)");
  std::string objects;
  for (int i = 0; i < 100000; ++i) {
    objects += R"({"a":)";
  }
  CHECK(parse_error(objects) == "body nests JSON deeper than 64 levels (at offset 320)");
  // Balanced, inside an otherwise valid event.
  std::string body = R"({"eventType":"t","eventID":"i","data":{"x":)";
  body += std::string(100000, '[');
  body += std::string(100000, ']');
  body += "}}";
  const std::string error = parse_error(body);
  CHECK(error == "body nests JSON deeper than 64 levels (at offset 105)");
  // The same with a nesting limit that allows it: the parser is iterative, so
  // even 100000 levels do not exhaust the stack.
  ParseLimits unlimited;
  unlimited.max_depth = 200000;
  CHECK(parse_event(body, unlimited).ok());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(elapsed < std::chrono::seconds(2));
}

TEST_CASE("error reasons stay short", "[event][errors]") {
  const std::string long_garbage = "{\"eventType\":\"t\"," + std::string(60000, 'x') + "}";
  CHECK(parse_error(long_garbage).size() < 120);
  std::string long_type = R"({"eventType":[)";
  for (int i = 0; i < 30000; ++i) {
    long_type += "1,";
  }
  long_type += R"(1],"eventID":"i","data":{}})";
  CHECK(parse_error(long_type) == "eventType must be a string");
}

TEST_CASE("a member name twice in one object is refused, at any depth", "[event][errors][names]") {
  // The filter would read the first eventType or bucketName, a Java reader
  // at OIC the last: an event one could route past a rule is refused.
  CHECK(parse_error(R"({"eventType":"t","eventID":"i","eventType":"u","data":{}})") ==
        "body has the member name \"eventType\" twice in the object at \"\" (JSON leaves "
        "repeated names to each reader, so they are refused)");
  CHECK_THAT(parse_error(R"({"eventType":"t","eventID":"i","data":{"a":{"b":1,"c":2,"b":3}}})"),
             Catch::Matchers::StartsWith(
                 "body has the member name \"b\" twice in the object at \"/data/a\""));
  CHECK_THAT(
      parse_error(R"({"eventType":"t","eventID":"i","data":{"l":[1,{"x/y~":{"k":0,"k":0}}]}})"),
      Catch::Matchers::StartsWith(
          "body has the member name \"k\" twice in the object at \"/data/l/1/x~1y~0\""));
  // Past the small-object path: 40 members, the repeat far apart.
  std::string wide = R"({"eventType":"t","eventID":"i","data":{)";
  for (int i = 0; i < 40; ++i) wide += "\"m" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  wide += R"("m7":true}})";
  CHECK_THAT(parse_error(wide),
             Catch::Matchers::StartsWith("body has the member name \"m7\" twice in the object at "
                                         "\"/data\""));
  // A control character in the name is not echoed.
  CHECK_THAT(parse_error("{\"eventType\":\"t\",\"eventID\":\"i\",\"data\":{\"a\\u0007\":1,"
                         "\"a\\u0007\":2}}"),
             Catch::Matchers::StartsWith("body has the member name \"a \" twice"));

  // Equal values make no difference; names that differ only in case or by
  // an escape of the same character are the same or different as JSON says.
  CHECK_FALSE(parse_event(R"({"eventType":"t","eventID":"i","data":{"a":1,"a":1}})").ok());
  CHECK_FALSE(parse_event(R"({"eventType":"t","eventID":"i","data":{"a":1,"\u0061":1}})").ok());
  CHECK(parse_event(R"({"eventType":"t","eventID":"i","data":{"a":1,"A":1,"b":{"a":1}}})").ok());
  CHECK(parse_event(R"({"eventType":"t","eventID":"i","data":{"l":[{"a":1},{"a":2}]}})").ok());
}
