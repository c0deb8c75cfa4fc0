// Helpers shared by the storage tests: building events, unwrapping results,
// and reading a database file behind the store's back.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "ocirelay/storage/records.hpp"
#include "ocirelay/storage/store.hpp"

namespace ocirelay::storage::test {

inline constexpr Millis kT0 = 1'700'000'000'000;

inline NewEvent make_event(std::string event_id, Millis received_at,
                           std::vector<std::string> destinations = {"oic"}, std::string body = "") {
  NewEvent event;
  if (body.empty()) {
    body = "{\"eventID\":\"" + event_id + "\"}";
  }
  event.event_id = std::move(event_id);
  event.body = std::move(body);
  event.destinations = std::move(destinations);
  event.received_at = received_at;
  return event;
}

// "e<i>". (Not "e" + std::to_string(i): GCC 12 warns with a false -Wrestrict.)
inline std::string numbered_id(int i) {
  std::string id = "e";
  id += std::to_string(i);
  return id;
}

// The value of a result that must be ok; fails the test with the message.
template <class T>
T ok(StoreResult<T> result) {
  if (!result.ok()) {
    FAIL("store error: " << result.error().message);
  }
  return std::move(result).value();
}

// Runs a single-value query on the file through a connection of its own.
std::int64_t query_int(const std::string& path, const std::string& sql);
// EXPLAIN QUERY PLAN of `sql`, one detail line per step.
std::vector<std::string> query_plan(const std::string& path, const std::string& sql);
// Runs SQL on the file through a connection of its own.
void exec_sql(const std::string& path, const std::string& sql);

}  // namespace ocirelay::storage::test
