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
#include "storage/sqlite_store.hpp"

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

// Attempt results as a dispatcher reports them.
inline AttemptResult delivered(std::int64_t id, int attempts = 1) {
  AttemptResult r;
  r.id = id;
  r.kind = AttemptResult::Kind::delivered;
  r.attempts = attempts;
  r.last_status = 200;
  return r;
}

inline AttemptResult retry(std::int64_t id, int attempts, Millis next, int status,
                           std::string error) {
  AttemptResult r;
  r.id = id;
  r.kind = AttemptResult::Kind::retry;
  r.attempts = attempts;
  r.next_attempt_at = next;
  r.last_status = status;
  r.last_error = std::move(error);
  return r;
}

inline AttemptResult dead(std::int64_t id, int attempts, int status, std::string error) {
  AttemptResult r;
  r.id = id;
  r.kind = AttemptResult::Kind::dead;
  r.attempts = attempts;
  r.last_status = status;
  r.last_error = std::move(error);
  return r;
}

// The same, for delivery `d` under the claim token it was fetched with, as
// the dispatcher reports it (PostgreSQL applies retry and dead results only
// under the claim they were made with).
inline AttemptResult delivered(const Delivery& d, int attempts = 1) {
  AttemptResult r = delivered(d.id, attempts);
  r.claim = d.claim;
  return r;
}
inline AttemptResult retry(const Delivery& d, int attempts, Millis next, int status,
                           std::string error) {
  AttemptResult r = retry(d.id, attempts, next, status, std::move(error));
  r.claim = d.claim;
  return r;
}
inline AttemptResult dead(const Delivery& d, int attempts, int status, std::string error) {
  AttemptResult r = dead(d.id, attempts, status, std::move(error));
  r.claim = d.claim;
  return r;
}

// Opens the SQLite store at `path`; fails the test with the error otherwise.
inline std::unique_ptr<SqliteStore> open_store(const std::string& path) {
  auto store = SqliteStore::open(SqliteOptions{path});
  if (!store) {
    FAIL("open failed: " << store.error().message);
  }
  return std::move(store).value();
}

// How many (destination, state) counts in delivery_counts differ from the
// rows of deliveries, counting both ways (0 when they all match).
std::int64_t counter_mismatches(const std::string& path);

// Runs a single-value query on the file through a connection of its own.
std::int64_t query_int(const std::string& path, const std::string& sql);
// EXPLAIN QUERY PLAN of `sql`, one detail line per step.
std::vector<std::string> query_plan(const std::string& path, const std::string& sql);
// The opcodes of `sql`'s program (EXPLAIN), through a connection of its own.
std::vector<std::string> program_opcodes(const std::string& path, const std::string& sql);
// Runs SQL on the file through a connection of its own.
void exec_sql(const std::string& path, const std::string& sql);

}  // namespace ocirelay::storage::test
