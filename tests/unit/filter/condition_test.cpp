#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <utility>

#include <rapidjson/document.h>

#include "ocirelay/event/event.hpp"
#include "ocirelay/filter/condition.hpp"
#include "support/fixtures.hpp"

using ocirelay::filter::Condition;

namespace {

rapidjson::Document json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  INFO("test JSON: " << text);
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

Condition compile(const std::string& text) {
  const auto doc = json(text);
  auto condition = Condition::compile(doc);
  INFO("condition: " << text);
  REQUIRE(condition.ok());
  return std::move(condition).value();
}

std::string compile_error(const std::string& text) {
  const auto doc = json(text);
  auto condition = Condition::compile(doc);
  INFO("condition: " << text);
  REQUIRE_FALSE(condition.ok());
  return condition.error();
}

bool matches(const std::string& condition, const std::string& event) {
  return compile(condition).matches(json(event));
}

bool matches_fixture(const std::string& condition, const std::string& fixture) {
  const auto event = json(ocirelay::test::fixture("events/" + fixture));
  return compile(condition).matches(event);
}

struct Case {
  const char* condition;
  const char* event;
  bool expected;
};

void check_cases(const Case* begin, const Case* end) {
  for (const Case* c = begin; c != end; ++c) {
    INFO("condition " << c->condition << "\nevent " << c->event);
    CHECK(matches(c->condition, c->event) == c->expected);
  }
}

template <std::size_t N>
void check_cases(const Case (&cases)[N]) {
  check_cases(cases, cases + N);
}

const char* const kFixtures[] = {"createobject.json", "updateobject.json", "deleteobject.json",
                                 "createbucket.json", "cloudevents-1.0-structured.json"};

}  // namespace

TEST_CASE("the empty condition matches every event", "[condition]") {
  const Condition default_constructed;
  const Condition compiled = compile("{}");
  for (const char* name : kFixtures) {
    INFO(name);
    const auto event = json(ocirelay::test::fixture(std::string("events/") + name));
    CHECK(default_constructed.matches(event));
    CHECK(compiled.matches(event));
  }
  CHECK(compiled.matches(json("{}")));
  // Only objects are events.
  CHECK_FALSE(compiled.matches(json("[]")));
  CHECK_FALSE(default_constructed.matches(json("\"x\"")));
}

TEST_CASE("the typical condition from OCI's documentation", "[condition][fixtures]") {
  const std::string typical = R"({"eventType":["com.oraclecloud.objectstorage.createobject"],
    "data":{"compartmentName":"finance","additionalDetails":{"bucketName":["invoices-*"]}}})";
  CHECK(matches_fixture(typical, "createobject.json"));
  CHECK_FALSE(matches_fixture(typical, "updateobject.json"));  // eventType differs
  CHECK_FALSE(matches_fixture(typical, "deleteobject.json"));  // all differ
  CHECK_FALSE(matches_fixture(typical, "createbucket.json"));  // eventType differs
  // A CloudEvents 1.0 event has `type`, not `eventType`: a condition is
  // matched against the JSON as it is, so it must name `type`.
  CHECK_FALSE(matches_fixture(typical, "cloudevents-1.0-structured.json"));
  const std::string cloudevents = R"({"type":["com.oraclecloud.objectstorage.createobject"],
    "data":{"compartmentName":"finance","additionalDetails":{"bucketName":["invoices-*"]}}})";
  CHECK(matches_fixture(cloudevents, "cloudevents-1.0-structured.json"));
  CHECK_FALSE(matches_fixture(cloudevents, "createobject.json"));
}

TEST_CASE("conditions against every fixture", "[condition][fixtures]") {
  struct FixtureCase {
    const char* condition;
    bool create, update, remove, bucket, cloudevents;
  };
  const FixtureCase cases[] = {
      {R"({"eventType":"com.oraclecloud.objectstorage.*object"})", true, true, true, false, false},
      {R"({"eventType":"com.oraclecloud.objectstorage.*bucket"})", false, false, false, true,
       false},
      {R"({"eventType":"com.oraclecloud.objectstorage.*"})", true, true, true, true, false},
      {R"({"eventType":"*"})", true, true, true, true, false},
      {R"({"type":"*"})", false, false, false, false, true},
      {R"({"source":"ObjectStorage"})", true, true, true, true, false},
      {R"({"source":"objectstorage"})", false, false, false, false, false},  // case-sensitive
      {R"({"data":{"compartmentName":"finance"}})", true, true, false, true, true},
      {R"({"data":{"compartmentName":["finance","hr"]}})", true, true, true, true, true},
      {R"({"data":{"compartmentName":"hr"}})", false, false, true, false, false},
      {R"({"data":{"compartmentId":"ocid1.compartment.oc1..*finance*"}})", true, true, false, true,
       true},
      {R"({"data":{"additionalDetails":{"bucketName":"invoices-*"}}})", true, true, false, true,
       true},
      {R"({"data":{"additionalDetails":{"versionId":"*"}}})", true, false, false, false, false},
      {R"({"data":{"additionalDetails":{"versioning":"Disabled"}}})", false, false, false, true,
       false},
      {R"({"data":{"resourceId":"/n/acmetenancy/b/*/o/*"}})", true, true, true, false, true},
      {R"({"data":{"resourceName":"invoices/2026/*.pdf"}})", true, true, false, false, true},
      {R"({"data":{"availabilityDomain":"FRA-AD-*"}})", true, true, true, true, false},
      {R"({"extensions":{"compartmentId":"*"}})", true, true, true, true, false},
      {R"({"data":{"freeformTags":"*"}})", false, true, false, true, false},
      {R"({"data":{"freeformTags":{}}})", false, true, false, true, false},
      {R"({"data":{"freeformTags":{"team":"ap"}}})", false, true, false, false, false},
      {R"({"data":{"freeFormTags":{"team":"ap"}}})", false, false, false, false, false},
      {R"({"data":{"definedTags":{"Finance":{"CostCenter":"47*"}}}})", false, true, false, false,
       false},
      {R"({"eventType":"com.oraclecloud.objectstorage.createobject",
           "data":{"compartmentName":"hr"}})",
       false, false, false, false, false},
  };
  for (const auto& c : cases) {
    INFO("condition " << c.condition);
    CHECK(matches_fixture(c.condition, "createobject.json") == c.create);
    CHECK(matches_fixture(c.condition, "updateobject.json") == c.update);
    CHECK(matches_fixture(c.condition, "deleteobject.json") == c.remove);
    CHECK(matches_fixture(c.condition, "createbucket.json") == c.bucket);
    CHECK(matches_fixture(c.condition, "cloudevents-1.0-structured.json") == c.cloudevents);
  }
}

TEST_CASE("'*' versus null, missing, empty and container values", "[condition]") {
  const Case cases[] = {
      {R"({"k":"*"})", R"({"k":"v"})", true},
      {R"({"k":"*"})", R"({"k":""})", true},
      {R"({"k":"*"})", R"({"k":0})", true},
      {R"({"k":"*"})", R"({"k":false})", true},
      {R"({"k":"*"})", R"({"k":{}})", true},
      {R"({"k":"*"})", R"({"k":{"a":1}})", true},
      {R"({"k":"*"})", R"({"k":[]})", true},
      {R"({"k":"*"})", R"({"k":[null]})", true},
      {R"({"k":"*"})", R"({"k":null})", false},
      {R"({"k":"*"})", R"({})", false},
      {R"({"k":"*"})", R"({"K":"v"})", false},  // keys are case-sensitive
      {R"({"k":["*"]})", R"({"k":null})", false},
      {R"({"k":["*"]})", R"({"k":{"a":1}})", true},
      // The empty string matches only itself.
      {R"({"k":""})", R"({"k":""})", true},
      {R"({"k":""})", R"({"k":"v"})", false},
      {R"({"k":""})", R"({"k":null})", false},
      {R"({"k":""})", R"({"k":{}})", false},
      {R"({"k":""})", R"({"k":[]})", false},
      {R"({"k":""})", R"({"k":[""]})", true},
      // "null" is text, not null.
      {R"({"k":"null"})", R"({"k":null})", false},
      {R"({"k":"null"})", R"({"k":"null"})", true},
      // Patterns other than "*" never match objects.
      {R"({"k":"**"})", R"({"k":{}})", false},
      {R"({"k":"**"})", R"({"k":""})", true},
      {R"({"k":"{*"})", R"({"k":{"a":1}})", false},
  };
  check_cases(cases);
}

TEST_CASE("wildcards inside condition values", "[condition]") {
  const Case cases[] = {
      {R"({"k":"ab*"})", R"({"k":"abc"})", true},
      {R"({"k":"*bc"})", R"({"k":"abc"})", true},
      {R"({"k":"a*c"})", R"({"k":"abc"})", true},
      {R"({"k":"a*c"})", R"({"k":"ac"})", true},
      {R"({"k":"a*c"})", R"({"k":"ab"})", false},
      {R"({"k":"*a*b*"})", R"({"k":"xaxbx"})", true},
      {R"({"k":"*a*b*"})", R"({"k":"xbxax"})", false},
      {R"({"k":"a*a"})", R"({"k":"a"})", false},
      {R"({"k":"a.b"})", R"({"k":"axb"})", false},
      {R"({"k":"a.*"})", R"({"k":"a.b"})", true},
      {R"({"k":"a.*"})", R"({"k":"ab"})", false},
      // '*' in a key is literal.
      {R"({"k*":"v"})", R"({"k1":"v"})", false},
      {R"({"k*":"v"})", R"({"k*":"v"})", true},
      {R"({"*":"v"})", R"({"k":"v"})", false},
      // '.' in a key is literal, not a path separator.
      {R"({"data.compartmentName":"x"})", R"({"data":{"compartmentName":"x"}})", false},
      {R"({"data.compartmentName":"x"})", R"({"data.compartmentName":"x"})", true},
  };
  check_cases(cases);
}

TEST_CASE("keys are ANDed, array values are ORed", "[condition]") {
  const Case cases[] = {
      {R"({"a":"1","b":"2"})", R"({"a":"1","b":"2"})", true},
      {R"({"a":"1","b":"2"})", R"({"a":"1","b":"3"})", false},
      {R"({"a":"1","b":"2"})", R"({"a":"1"})", false},
      {R"({"a":"1","b":"2"})", R"({"a":"1","b":"2","c":"extra"})", true},
      {R"({"a":["1","2","3"]})", R"({"a":"2"})", true},
      {R"({"a":["1","2","3"]})", R"({"a":"4"})", false},
      {R"({"a":["x*","*y"]})", R"({"a":"xa"})", true},
      {R"({"a":["x*","*y"]})", R"({"a":"ay"})", true},
      {R"({"a":["x*","*y"]})", R"({"a":"ab"})", false},
      {R"({"a":["1","2"],"b":["3","4"]})", R"({"a":"2","b":"3"})", true},
      {R"({"a":["1","2"],"b":["3","4"]})", R"({"a":"2","b":"5"})", false},
      // A repeated key in a condition must match both times.
      {R"({"a":"x*","a":"*y"})", R"({"a":"xy"})", true},
      {R"({"a":"x*","a":"*y"})", R"({"a":"xz"})", false},
  };
  check_cases(cases);
}

TEST_CASE("nested conditions need objects at the same nesting", "[condition]") {
  const Case cases[] = {
      {R"({"data":{"a":"1"}})", R"({"data":{"a":"1"}})", true},
      {R"({"data":{"a":"1"}})", R"({"a":"1"})", false},
      {R"({"data":{"a":"1"}})", R"({"data":{"x":{"a":"1"}}})", false},
      {R"({"data":{"a":"1"}})", R"({"data":"a"})", false},
      {R"({"data":{"a":"1"}})", R"({"data":null})", false},
      {R"({"data":{"a":"1"}})", R"({"data":[{"a":"1"}]})", false},
      {R"({"data":{"a":{"b":{"c":"d*"}}}})", R"({"data":{"a":{"b":{"c":"done"}}}})", true},
      {R"({"data":{"a":{"b":{"c":"d*"}}}})", R"({"data":{"a":{"b":{"c":"nope"}}}})", false},
      {R"({"data":{"a":{"b":{"c":"d*"}}}})", R"({"data":{"a":{"b":"done"}}})", false},
      // {} requires the key to be present and an object.
      {R"({"data":{}})", R"({"data":{}})", true},
      {R"({"data":{}})", R"({"data":{"a":1}})", true},
      {R"({"data":{}})", R"({})", false},
      {R"({"data":{}})", R"({"data":null})", false},
      {R"({"data":{}})", R"({"data":"x"})", false},
      {R"({"data":{}})", R"({"data":[]})", false},
      // AND across levels.
      {R"({"t":"x","data":{"a":"1","b":{"c":["2","3"]}}})",
       R"({"t":"x","data":{"a":"1","b":{"c":"3"}}})", true},
      {R"({"t":"x","data":{"a":"1","b":{"c":["2","3"]}}})",
       R"({"t":"y","data":{"a":"1","b":{"c":"3"}}})", false},
  };
  check_cases(cases);
}

TEST_CASE("tags are matched as written, at their nesting", "[condition][tags]") {
  const char* const free_form_docs = R"({"data":{"freeFormTags":{"team":"ap"}}})";
  const char* const freeform_real = R"({"data":{"freeformTags":{"team":"ap"}}})";
  const char* const defined = R"({"data":{"definedTags":{"Finance":{"CostCenter":"4711"}}}})";
  const Case cases[] = {
      // OCI writes both spellings; each condition matches only its own.
      {free_form_docs, R"({"data":{"freeFormTags":{"team":"ap"}}})", true},
      {free_form_docs, R"({"data":{"freeformTags":{"team":"ap"}}})", false},
      {freeform_real, R"({"data":{"freeformTags":{"team":"ap"}}})", true},
      {freeform_real, R"({"data":{"freeFormTags":{"team":"ap"}}})", false},
      {freeform_real, R"({"data":{"freeformTags":{"team":"ar"}}})", false},
      {freeform_real, R"({"data":{"freeformTags":{}}})", false},
      {freeform_real, R"({"data":{}})", false},  // object events often carry no tags
      {R"({"data":{"freeformTags":{"team":"*"}}})", R"({"data":{"freeformTags":{"team":""}}})",
       true},
      {R"({"data":{"freeformTags":{"team":"*"}}})", R"({"data":{"freeformTags":{"env":"p"}}})",
       false},
      // Defined tags nest two levels: namespace, then key.
      {defined, R"({"data":{"definedTags":{"Finance":{"CostCenter":"4711"}}}})", true},
      {defined, R"({"data":{"definedTags":{"Finance":{"CostCenter":"4712"}}}})", false},
      {defined, R"({"data":{"definedTags":{"HR":{"CostCenter":"4711"}}}})", false},
      {defined, R"({"data":{"definedTags":{"CostCenter":"4711"}}})", false},
      {defined, R"({"data":{"definedTags":{"Finance":{"CostCenter":4711}}}})", true},
      {R"({"data":{"definedTags":{"Finance":{"CostCenter":["1*","47*"]}}}})",
       R"({"data":{"definedTags":{"Finance":{"CostCenter":"4711","Owner":"x"}}}})", true},
      {R"({"data":{"definedTags":{"Finance":"*"}}})",
       R"({"data":{"definedTags":{"Finance":{"CostCenter":"4711"}}}})", true},
  };
  check_cases(cases);
}

TEST_CASE("numbers and booleans compare as text", "[condition]") {
  const Case cases[] = {
      {R"({"n":5})", R"({"n":5})", true},
      {R"({"n":5})", R"({"n":"5"})", true},
      {R"({"n":"5"})", R"({"n":5})", true},
      {R"({"n":5})", R"({"n":5.0})", true},
      {R"({"n":5.0})", R"({"n":5})", true},
      {R"({"n":5})", R"({"n":6})", false},
      {R"({"n":5})", R"({"n":"5.0"})", false},
      {R"({"n":-3})", R"({"n":-3})", true},
      {R"({"n":2.5})", R"({"n":2.5})", true},
      {R"({"n":2.5})", R"({"n":"2.5"})", true},
      {R"({"n":2.5})", R"({"n":2.50})", true},
      {R"({"n":"2.50"})", R"({"n":2.50})", false},
      {R"({"n":"1*"})", R"({"n":1234})", true},
      {R"({"n":[1,2,3]})", R"({"n":2})", true},
      {R"({"n":[1,2,3]})", R"({"n":4})", false},
      {R"({"n":18446744073709551615})", R"({"n":18446744073709551615})", true},
      {R"({"n":-9223372036854775808})", R"({"n":"-9223372036854775808"})", true},
      {R"({"b":true})", R"({"b":true})", true},
      {R"({"b":true})", R"({"b":"true"})", true},
      {R"({"b":"true"})", R"({"b":true})", true},
      {R"({"b":true})", R"({"b":false})", false},
      {R"({"b":false})", R"({"b":false})", true},
      {R"({"b":false})", R"({"b":0})", false},
      {R"({"b":false})", R"({"b":null})", false},
      {R"({"b":"t*"})", R"({"b":true})", true},
      {R"({"b":[true,"yes"]})", R"({"b":"yes"})", true},
  };
  check_cases(cases);
}

TEST_CASE("event arrays match when any element matches", "[condition]") {
  const Case cases[] = {
      {R"({"k":"b"})", R"({"k":["a","b","c"]})", true},
      {R"({"k":"d"})", R"({"k":["a","b","c"]})", false},
      {R"({"k":"b*"})", R"({"k":["a","bee"]})", true},
      {R"({"k":["x","c"]})", R"({"k":["a","b","c"]})", true},
      {R"({"k":["x","y"]})", R"({"k":["a","b","c"]})", false},
      {R"({"k":"5"})", R"({"k":[1,5]})", true},
      {R"({"k":true})", R"({"k":[false,true]})", true},
      {R"({"k":"a"})", R"({"k":[]})", false},
      {R"({"k":"a"})", R"({"k":[null]})", false},
      {R"({"k":"a"})", R"({"k":[{"a":"a"}]})", false},
      {R"({"k":"a"})", R"({"k":[["a"]]})", false},
      // A nested condition never matches an array of objects.
      {R"({"k":{"a":"1"}})", R"({"k":[{"a":"1"}]})", false},
  };
  check_cases(cases);
}

TEST_CASE("conditions are values: copies share the compiled tree", "[condition]") {
  const Condition original = compile(R"({"a":"1"})");
  const Condition copy = original;  // NOLINT(performance-unnecessary-copy-initialization)
  Condition moved = compile(R"({"a":"1"})");
  const Condition target = std::move(moved);
  CHECK(copy.matches(json(R"({"a":"1"})")));
  CHECK_FALSE(copy.matches(json(R"({"a":"2"})")));
  CHECK(target.matches(json(R"({"a":"1"})")));
  CHECK_FALSE(target.matches(json(R"({"a":"2"})")));
}

TEST_CASE("condition compile errors name the path", "[condition][errors]") {
  struct ErrorCase {
    const char* condition;
    const char* error;
  };
  const ErrorCase cases[] = {
      {R"([])", "must be an object"},
      {R"("x")", "must be an object"},
      {R"(null)", "must be an object"},
      {R"(5)", "must be an object"},
      {R"({"eventType":null})", "eventType: must not be null (use \"*\" to require any value)"},
      {R"({"eventType":[]})", "eventType: must not be an empty array (it would match nothing)"},
      {R"({"data":{"additionalDetails":{"bucketName":["a",{"x":1}]}}})",
       "data.additionalDetails.bucketName[1]: must be a string, number or boolean"},
      {R"({"data":{"additionalDetails":{"bucketName":["a","b",null]}}})",
       "data.additionalDetails.bucketName[2]: must be a string, number or boolean"},
      {R"({"data":{"tags":[["a"]]}})", "data.tags[0]: must be a string, number or boolean"},
      {R"({"data":{"compartmentName":null}})",
       "data.compartmentName: must not be null (use \"*\" to require any value)"},
      {R"({"data":{"definedTags":{"Finance":{"CostCenter":[]}}}})",
       "data.definedTags.Finance.CostCenter: must not be an empty array (it would match nothing)"},
      // The first error wins, in document order.
      {R"({"a":"ok","b":null,"c":[]})", "b: must not be null (use \"*\" to require any value)"},
  };
  for (const auto& c : cases) {
    INFO("condition " << c.condition);
    CHECK(compile_error(c.condition) == c.error);
  }
}

TEST_CASE("non-finite numbers built in memory are rejected", "[condition][errors]") {
  rapidjson::Document doc(rapidjson::kObjectType);
  doc.AddMember("n", rapidjson::Value(std::numeric_limits<double>::infinity()), doc.GetAllocator());
  const auto result = Condition::compile(doc);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error() == "n: must be a finite number");
}

TEST_CASE("very deeply nested conditions are rejected, not recursed", "[condition][errors]") {
  auto nested = [](int depth) {
    std::string text;
    for (int i = 0; i < depth; ++i) {
      text += "{\"k\":";
    }
    text += "\"v\"";
    text += std::string(static_cast<std::size_t>(depth), '}');
    return text;
  };
  // 64 levels of objects are fine.
  CHECK(Condition::compile(json(nested(64))).ok());
  const auto error = compile_error(nested(65));
  CHECK_THAT(error, Catch::Matchers::StartsWith("k.k.k."));
  CHECK_THAT(error, Catch::Matchers::EndsWith(": nested deeper than 64 levels"));

  rapidjson::Document deep;
  const std::string very_deep = nested(100000);
  deep.Parse<rapidjson::kParseIterativeFlag>(very_deep.c_str());
  REQUIRE_FALSE(deep.HasParseError());
  CHECK_FALSE(Condition::compile(deep).ok());
}
