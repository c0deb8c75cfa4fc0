#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "ocirelay/event/event.hpp"
#include "ocirelay/filter/condition.hpp"
#include "ocirelay/filter/route.hpp"
#include "support/fixtures.hpp"

using ocirelay::event::Event;
using ocirelay::filter::Condition;
using ocirelay::filter::Route;
using ocirelay::filter::RouteDecision;
using ocirelay::filter::Router;
using ocirelay::filter::RouteSpec;
using Strings = std::vector<std::string>;

namespace {

Event fixture_event(const std::string& name) {
  auto result = ocirelay::event::parse_event(ocirelay::test::fixture("events/" + name));
  INFO(name);
  REQUIRE(result.ok());
  return std::move(result).value();
}

Event event_from(const std::string& body) {
  auto result = ocirelay::event::parse_event(body);
  INFO(body);
  REQUIRE(result.ok());
  return std::move(result).value();
}

Condition condition(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  auto compiled = Condition::compile(doc);
  REQUIRE(compiled.ok());
  return std::move(compiled).value();
}

RouteSpec spec(std::string name, Strings destinations) {
  RouteSpec s;
  s.name = std::move(name);
  s.destinations = std::move(destinations);
  return s;
}

const char* const kFixtures[] = {"createobject.json", "updateobject.json", "deleteobject.json",
                                 "createbucket.json", "cloudevents-1.0-structured.json"};

// Which fixtures (in kFixtures order) a route matches.
std::vector<bool> matched(const Route& route) {
  std::vector<bool> out;
  for (const char* name : kFixtures) {
    out.push_back(route.matches(fixture_event(name)));
  }
  return out;
}

}  // namespace

TEST_CASE("a route with nothing to match takes every event", "[route]") {
  const Route route(spec("all", {"oic"}));
  CHECK(route.name() == "all");
  CHECK(route.destinations() == Strings{"oic"});
  CHECK(matched(route) == std::vector<bool>{true, true, true, true, true});
}

TEST_CASE("route shorthands", "[route][fixtures]") {
  struct ShorthandCase {
    Strings compartments, buckets, event_types;
    std::vector<bool> expected;  // create, update, delete, createbucket, cloudevents
  };
  const ShorthandCase cases[] = {
      // Compartments by name...
      {{"finance"}, {}, {}, {true, true, false, true, true}},
      {{"hr"}, {}, {}, {false, false, true, false, false}},
      {{"fin*"}, {}, {}, {true, true, false, true, true}},
      {{"Finance"}, {}, {}, {false, false, false, false, false}},
      // ...or by OCID, in one list (OR).
      {{"ocid1.compartment.oc1..aaaaaaaahr000000000000000000000000000000000000000000000000002"},
       {},
       {},
       {false, false, true, false, false}},
      {{"hr", "ocid1.compartment.oc1..*finance*"}, {}, {}, {true, true, true, true, true}},
      {{"marketing"}, {}, {}, {false, false, false, false, false}},
      // Buckets.
      {{}, {"invoices-inbound"}, {}, {true, true, false, false, true}},
      {{}, {"invoices-*"}, {}, {true, true, false, true, true}},
      {{}, {"hr-photos", "invoices-archive"}, {}, {false, false, true, true, false}},
      {{}, {"*"}, {}, {true, true, true, true, true}},
      // Event types: eventType for OCI, `type` for CloudEvents.
      {{}, {}, {"com.oraclecloud.objectstorage.createobject"}, {true, false, false, false, true}},
      {{}, {}, {"com.oraclecloud.objectstorage.*object"}, {true, true, true, false, true}},
      {{}, {}, {"*bucket", "*.deleteobject"}, {false, false, true, true, false}},
      // The lists are ANDed.
      {{"finance"}, {"invoices-*"}, {"*.createobject"}, {true, false, false, false, true}},
      {{"finance"}, {"invoices-inbound"}, {"*.updateobject"}, {false, true, false, false, false}},
      {{"hr"}, {"invoices-*"}, {}, {false, false, false, false, false}},
  };
  for (const auto& c : cases) {
    RouteSpec s = spec("r", {"d"});
    s.compartments = c.compartments;
    s.buckets = c.buckets;
    s.event_types = c.event_types;
    const Route route(std::move(s));
    INFO("compartments " << c.compartments.size() << " buckets " << c.buckets.size()
                         << " event types " << c.event_types.size());
    CHECK(matched(route) == c.expected);
  }
}

TEST_CASE("the match condition is ANDed with the shorthands", "[route][fixtures]") {
  RouteSpec s = spec("versioned-finance", {"d"});
  s.match = condition(R"({"data":{"additionalDetails":{"versionId":"*"}}})");
  CHECK(matched(Route(s)) == std::vector<bool>{true, false, false, false, false});
  s.compartments = {"hr"};
  CHECK(matched(Route(s)) == std::vector<bool>{false, false, false, false, false});
  s.compartments = {"finance"};
  s.event_types = {"*.createobject"};
  CHECK(matched(Route(s)) == std::vector<bool>{true, false, false, false, false});

  RouteSpec tags = spec("cost-center", {"d"});
  tags.match = condition(R"({"data":{"definedTags":{"Finance":{"CostCenter":"4711"}}}})");
  tags.buckets = {"invoices-*"};
  CHECK(matched(Route(tags)) == std::vector<bool>{false, true, false, false, false});
}

TEST_CASE("shorthands need the fields they name", "[route]") {
  RouteSpec s = spec("r", {"d"});
  s.compartments = {"*"};
  const Route any_compartment(s);
  CHECK_FALSE(any_compartment.matches(event_from(R"({"eventType":"t","eventID":"i","data":{}})")));
  CHECK_FALSE(any_compartment.matches(
      event_from(R"({"eventType":"t","eventID":"i","data":{"compartmentName":null}})")));
  CHECK(any_compartment.matches(
      event_from(R"({"eventType":"t","eventID":"i","data":{"compartmentId":"x"}})")));
  CHECK(any_compartment.matches(
      event_from(R"({"eventType":"t","eventID":"i","data":{"compartmentName":""}})")));

  RouteSpec b = spec("b", {"d"});
  b.buckets = {"x"};
  const Route bucket(b);
  CHECK_FALSE(bucket.matches(event_from(R"({"eventType":"t","eventID":"i","data":{}})")));
  CHECK_FALSE(bucket.matches(
      event_from(R"({"eventType":"t","eventID":"i","data":{"additionalDetails":"x"}})")));
  CHECK_FALSE(
      bucket.matches(event_from(R"({"eventType":"t","eventID":"i","data":{"bucketName":"x"}})")));
  CHECK(bucket.matches(event_from(
      R"({"eventType":"t","eventID":"i","data":{"additionalDetails":{"bucketName":"x"}}})")));
  // A non-Object-Storage event passes a route without a bucket list.
  const Route open(spec("open", {"d"}));
  CHECK(open.matches(event_from(R"({"eventType":"com.oraclecloud.computeapi.launchinstance.end",
                                    "eventID":"i","data":{"compartmentName":"x"}})")));
}

TEST_CASE("the router fans out to the union of destinations, each once", "[router]") {
  std::vector<Route> routes;
  {
    RouteSpec s = spec("finance-objects", {"oic-finance", "archive"});
    s.compartments = {"finance"};
    s.event_types = {"*object"};
    routes.emplace_back(std::move(s));
  }
  {
    RouteSpec s = spec("invoices", {"oic-invoices", "oic-finance"});
    s.buckets = {"invoices-*"};
    routes.emplace_back(std::move(s));
  }
  {
    RouteSpec s = spec("everything", {"archive", "audit", "audit"});
    routes.emplace_back(std::move(s));
  }
  {
    RouteSpec s = spec("hr-deletes", {"oic-hr"});
    s.compartments = {"hr"};
    s.event_types = {"*.deleteobject"};
    routes.emplace_back(std::move(s));
  }
  {
    RouteSpec s = spec("never", {"nowhere"});
    s.match = condition(R"({"eventType":"com.example.none"})");
    routes.emplace_back(std::move(s));
  }
  const Router router(std::move(routes));
  REQUIRE(router.routes().size() == 5);

  struct RouterCase {
    const char* fixture;
    Strings routes;
    Strings destinations;
  };
  const RouterCase cases[] = {
      {"createobject.json",
       {"finance-objects", "invoices", "everything"},
       {"oic-finance", "archive", "oic-invoices", "audit"}},
      {"updateobject.json",
       {"finance-objects", "invoices", "everything"},
       {"oic-finance", "archive", "oic-invoices", "audit"}},
      {"deleteobject.json", {"everything", "hr-deletes"}, {"archive", "audit", "oic-hr"}},
      {"createbucket.json",
       {"invoices", "everything"},
       {"oic-invoices", "oic-finance", "archive", "audit"}},
      {"cloudevents-1.0-structured.json",
       {"finance-objects", "invoices", "everything"},
       {"oic-finance", "archive", "oic-invoices", "audit"}},
  };
  for (const auto& c : cases) {
    INFO(c.fixture);
    const RouteDecision decision = router.route(fixture_event(c.fixture));
    CHECK(decision.routes == c.routes);
    CHECK(decision.destinations == c.destinations);
  }
}

TEST_CASE("a router without matching routes decides nothing", "[router]") {
  CHECK(Router({}).route(fixture_event("createobject.json")).routes.empty());
  std::vector<Route> routes;
  RouteSpec s = spec("hr", {"oic-hr"});
  s.compartments = {"hr"};
  routes.emplace_back(std::move(s));
  const Router router(std::move(routes));
  const RouteDecision decision = router.route(fixture_event("createobject.json"));
  CHECK(decision.routes.empty());
  CHECK(decision.destinations.empty());
}

TEST_CASE("a matching route without destinations is still reported", "[router]") {
  std::vector<Route> routes;
  routes.emplace_back(spec("drop", {}));
  routes.emplace_back(spec("keep", {"oic"}));
  const RouteDecision decision =
      Router(std::move(routes)).route(fixture_event("createobject.json"));
  CHECK(decision.routes == Strings{"drop", "keep"});
  CHECK(decision.destinations == Strings{"oic"});
}
