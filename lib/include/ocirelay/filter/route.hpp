// A route: an OCI condition plus the config shorthands, ANDed together, and the
// destinations an event that matches it is sent to. Router evaluates all
// routes and returns the union of destinations, each once, in config order.
//
// Immutable after construction; safe to share read-only between threads.
#pragma once

#include <string>
#include <vector>

#include "ocirelay/event/event.hpp"
#include "ocirelay/filter/condition.hpp"

namespace ocirelay::filter {

struct RouteSpec {
  std::string name;
  Condition match;                       // `match:`; default matches all
  std::vector<std::string> compartments; // data.compartmentName or data.compartmentId (OR)
  std::vector<std::string> buckets;      // data.additionalDetails.bucketName (OR)
  std::vector<std::string> event_types;  // the event type (OR); eventType or CloudEvents `type`
  std::vector<std::string> destinations;
};

class Route {
 public:
  explicit Route(RouteSpec spec);
  const std::string& name() const noexcept { return name_; }
  const std::vector<std::string>& destinations() const noexcept { return destinations_; }
  bool matches(const event::Event& event) const;

 private:
  std::string name_;
  Condition match_;
  std::vector<Pattern> compartments_;
  std::vector<Pattern> buckets_;
  std::vector<Pattern> event_types_;
  std::vector<std::string> destinations_;
};

struct RouteDecision {
  std::vector<std::string> routes;        // names of the routes that matched
  std::vector<std::string> destinations;  // union of their destinations, each once
};

class Router {
 public:
  explicit Router(std::vector<Route> routes);
  RouteDecision route(const event::Event& event) const;
  const std::vector<Route>& routes() const noexcept { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace ocirelay::filter
