#include "ocirelay/filter/route.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace ocirelay::filter {

namespace {

std::vector<Pattern> to_patterns(std::vector<std::string> texts) {
  std::vector<Pattern> patterns;
  patterns.reserve(texts.size());
  for (auto& text : texts) {
    patterns.emplace_back(std::move(text));
  }
  return patterns;
}

// Whether any pattern matches the member `name` of `object` (condition
// semantics: a missing member or null matches nothing).
bool member_matches(const std::vector<Pattern>& patterns, const rapidjson::Value& object,
                    const char* name) {
  if (!object.IsObject()) {
    return false;
  }
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd()) {
    return false;
  }
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const Pattern& p) { return p.matches_value(it->value); });
}

}  // namespace

Route::Route(RouteSpec spec)
    : name_(std::move(spec.name)),
      match_(std::move(spec.match)),
      compartments_(to_patterns(std::move(spec.compartments))),
      buckets_(to_patterns(std::move(spec.buckets))),
      event_types_(to_patterns(std::move(spec.event_types))),
      destinations_(std::move(spec.destinations)) {}

bool Route::matches(const event::Event& event) const {
  const rapidjson::Value& data = event.data();
  if (!event_types_.empty() &&
      std::none_of(event_types_.begin(), event_types_.end(),
                   [&](const Pattern& p) { return p.matches(event.event_type()); })) {
    return false;
  }
  if (!compartments_.empty() && !member_matches(compartments_, data, "compartmentName") &&
      !member_matches(compartments_, data, "compartmentId")) {
    return false;
  }
  if (!buckets_.empty()) {
    if (!data.IsObject()) {
      return false;
    }
    const auto details = data.FindMember("additionalDetails");
    if (details == data.MemberEnd() || !member_matches(buckets_, details->value, "bucketName")) {
      return false;
    }
  }
  return match_.matches(event.json());
}

Router::Router(std::vector<Route> routes) : routes_(std::move(routes)) {}

RouteDecision Router::route(const event::Event& event) const {
  RouteDecision decision;
  for (const Route& r : routes_) {
    if (!r.matches(event)) {
      continue;
    }
    decision.routes.push_back(r.name());
    for (const std::string& destination : r.destinations()) {
      if (std::find(decision.destinations.begin(), decision.destinations.end(), destination) ==
          decision.destinations.end()) {
        decision.destinations.push_back(destination);
      }
    }
  }
  return decision;
}

}  // namespace ocirelay::filter
