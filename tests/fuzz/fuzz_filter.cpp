// libFuzzer target: the filter compiler and matcher (filter::Condition,
// filter::Pattern, filter::Route, filter::Router).
//
// Each input is JSON text, used three ways:
//  1. as a condition: compiled, then matched against the fixture events of
//     tests/data/events (as a bare condition and inside a Route). When it
//     compiles and has no duplicate keys it must match itself, as the
//     condition semantics imply (AND of members, OR of array values, a
//     pattern matches its own text);
//  2. as an event: matched against a fixed set of compiled conditions, and,
//     when parse_event accepts it, routed through a Router of fixed routes
//     (each destination at most once, each matching route listed);
//  3. its strings, pairwise, as pattern and value: Pattern::matches must
//     agree with a straightforward dynamic-programming wildcard matcher.
//
// Single-threaded; libFuzzer calls LLVMFuzzerTestOneInput sequentially.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "ocirelay/event/event.hpp"
#include "ocirelay/event/event_batch.hpp"
#include "ocirelay/filter/condition.hpp"
#include "ocirelay/filter/route.hpp"

#ifndef OCIRELAY_FUZZ_EVENTS_DIR
#error "OCIRELAY_FUZZ_EVENTS_DIR must name tests/data/events"
#endif

namespace {

using ocirelay::event::Event;
using ocirelay::filter::Condition;
using ocirelay::filter::Pattern;
using ocirelay::filter::Route;
using ocirelay::filter::Router;
using ocirelay::filter::RouteSpec;

constexpr unsigned kJsonFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "fuzz_filter: invariant violated: %s\n", what);
  std::abort();
}

void check(bool ok, const char* what) {
  if (!ok) violated(what);
}

Condition compile_or_die(const char* json) {
  rapidjson::Document doc;
  doc.Parse(json);
  auto compiled = Condition::compile(doc);
  if (!compiled) {
    std::fprintf(stderr, "fuzz_filter: fixed condition %s does not compile: %s\n", json,
                 compiled.error().c_str());
    std::abort();
  }
  return std::move(compiled).value();
}

struct Fixtures {
  std::vector<Event> events;
  std::vector<Condition> conditions;
  std::unique_ptr<Router> router;
};

Fixtures& fixtures() {
  static Fixtures f = [] {
    Fixtures out;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(OCIRELAY_FUZZ_EVENTS_DIR)) {
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::ifstream in(file, std::ios::binary);
      std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      // Batch fixtures (a JSON array of events) are not single events.
      if (ocirelay::event::is_json_array(body)) continue;
      auto ev = ocirelay::event::parse_event(std::move(body));
      if (!ev) {
        std::fprintf(stderr, "fuzz_filter: fixture %s: %s\n", file.c_str(), ev.error().c_str());
        std::abort();
      }
      out.events.push_back(std::move(ev).value());
    }
    if (out.events.empty()) {
      std::fprintf(stderr, "fuzz_filter: no fixture events in %s\n", OCIRELAY_FUZZ_EVENTS_DIR);
      std::abort();
    }
    for (const char* json : {
             R"({})",
             R"({"eventType":"com.oraclecloud.objectstorage.*object"})",
             R"({"eventType":["com.oraclecloud.objectstorage.createobject","*bucket"]})",
             R"({"data":{"additionalDetails":{"bucketName":["invoices-*","*-archive"]}}})",
             R"({"data":{"compartmentName":"finance","resourceName":"*.pdf"}})",
             R"({"data":{"freeformTags":{"env":"*"}}})",
             R"({"data":{"definedTags":{"Operations":{"CostCenter":["42","4*2"]}}}})",
             R"({"specversion":"1.0","type":"*","data":{"size":5,"ok":true}})",
             R"({"data":{"n":[5.0,-0.5,1e300,true,"x*y*z"]}})",
             R"({"a":{"b":{"c":{"d":{"e":"**"}}}}})",
         }) {
      out.conditions.push_back(compile_or_die(json));
    }
    std::vector<Route> routes;
    auto add = [&](std::string name, const char* match, std::vector<std::string> compartments,
                   std::vector<std::string> buckets, std::vector<std::string> types,
                   std::vector<std::string> destinations) {
      RouteSpec spec;
      spec.name = std::move(name);
      spec.match = compile_or_die(match);
      spec.compartments = std::move(compartments);
      spec.buckets = std::move(buckets);
      spec.event_types = std::move(types);
      spec.destinations = std::move(destinations);
      routes.emplace_back(std::move(spec));
    };
    add("all", "{}", {}, {}, {}, {"a"});
    add("objects", "{}", {}, {}, {"com.oraclecloud.objectstorage.*object"}, {"b", "a"});
    add("finance", "{}", {"finance", "ocid1.compartment.*"}, {"invoices-*"}, {}, {"c"});
    add("tagged", R"({"data":{"freeformTags":{"env":["prod","stag*"]}}})", {}, {}, {"*"},
        {"c", "d", "c"});
    out.router = std::make_unique<Router>(std::move(routes));
    return out;
  }();
  return f;
}

// Reference wildcard matcher: '*' matches any run of bytes, everything else
// itself; "*" alone matches everything. Dynamic programming over prefixes.
bool reference_match(std::string_view pattern, std::string_view value) {
  std::vector<char> row(value.size() + 1, 0), next(value.size() + 1, 0);
  row[0] = 1;
  for (std::size_t j = 1; j <= value.size(); ++j) row[j] = 0;
  for (const char p : pattern) {
    if (p == '*') {
      next[0] = row[0];
      for (std::size_t j = 1; j <= value.size(); ++j) next[j] = row[j] || next[j - 1];
    } else {
      next[0] = 0;
      for (std::size_t j = 1; j <= value.size(); ++j) next[j] = row[j - 1] && value[j - 1] == p;
    }
    std::swap(row, next);
  }
  return row[value.size()] != 0;
}

// Up to `limit` strings (keys and values) of a document, without recursion.
std::vector<std::string_view> strings_of(const rapidjson::Value& root, std::size_t limit) {
  std::vector<std::string_view> out;
  std::vector<const rapidjson::Value*> stack{&root};
  while (!stack.empty() && out.size() < limit) {
    const rapidjson::Value* v = stack.back();
    stack.pop_back();
    if (v->IsString()) {
      out.emplace_back(v->GetString(), v->GetStringLength());
    } else if (v->IsObject()) {
      for (auto m = v->MemberBegin(); m != v->MemberEnd(); ++m) {
        out.emplace_back(m->name.GetString(), m->name.GetStringLength());
        stack.push_back(&m->value);
      }
    } else if (v->IsArray()) {
      for (const auto& e : v->GetArray()) stack.push_back(&e);
    }
  }
  if (out.size() > limit) out.resize(limit);
  return out;
}

bool has_duplicate_keys(const rapidjson::Value& root) {
  std::vector<const rapidjson::Value*> stack{&root};
  while (!stack.empty()) {
    const rapidjson::Value* v = stack.back();
    stack.pop_back();
    if (v->IsObject()) {
      std::set<std::string_view> keys;
      for (auto m = v->MemberBegin(); m != v->MemberEnd(); ++m) {
        if (!keys.emplace(m->name.GetString(), m->name.GetStringLength()).second) return true;
        stack.push_back(&m->value);
      }
    } else if (v->IsArray()) {
      for (const auto& e : v->GetArray()) stack.push_back(&e);
    }
  }
  return false;
}

void as_condition(const rapidjson::Document& doc) {
  auto compiled = Condition::compile(doc);
  if (!compiled) {
    check(!compiled.error().empty(), "compile error without a reason");
    return;
  }
  const Condition& condition = compiled.value();
  for (const Event& ev : fixtures().events) {
    const bool bare = condition.matches(ev.json());
    RouteSpec spec;
    spec.name = "fuzzed";
    spec.match = condition;
    spec.destinations = {"x"};
    const Route route(std::move(spec));
    check(route.matches(ev) == bare, "a route with only `match` disagrees with its condition");
  }
  if (!has_duplicate_keys(doc)) {
    check(condition.matches(doc), "a compiled condition does not match itself");
  }
}

void as_event(const std::string& text, const rapidjson::Document& doc) {
  for (const Condition& condition : fixtures().conditions) {
    (void)condition.matches(doc);
  }
  auto ev = ocirelay::event::parse_event(text);
  if (!ev) return;
  const Router& router = *fixtures().router;
  const auto decision = router.route(ev.value());
  std::set<std::string> seen(decision.destinations.begin(), decision.destinations.end());
  check(seen.size() == decision.destinations.size(), "a destination listed twice");
  std::size_t matching = 0;
  for (const Route& route : router.routes()) {
    if (!route.matches(ev.value())) continue;
    ++matching;
    check(std::find(decision.routes.begin(), decision.routes.end(), route.name()) !=
              decision.routes.end(),
          "a matching route is not in the decision");
    for (const auto& d : route.destinations()) {
      check(seen.count(d) == 1, "a matching route's destination is missing");
    }
  }
  check(matching == decision.routes.size(), "the decision lists a route that does not match");
}

void as_patterns(const rapidjson::Document& doc) {
  const auto strings = strings_of(doc, 12);
  for (const auto pattern_text : strings) {
    if (pattern_text.size() > 64) continue;
    const Pattern pattern{std::string(pattern_text)};
    for (const auto value : strings) {
      if (value.size() > 512) continue;
      check(pattern.matches(value) == reference_match(pattern_text, value),
            "Pattern::matches disagrees with the reference matcher");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)fixtures();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  rapidjson::Document doc;
  doc.Parse<kJsonFlags>(text.data(), text.size());
  if (doc.HasParseError()) return 0;
  as_condition(doc);
  as_event(text, doc);
  as_patterns(doc);
  return 0;
}
