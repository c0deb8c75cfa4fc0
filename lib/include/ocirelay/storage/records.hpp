// Plain records exchanged with the durable store. Value types.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ocirelay::storage {

// Wall-clock milliseconds since the Unix epoch: what is stored on disk, so
// times survive restarts.
using Millis = std::int64_t;
Millis now_millis();

struct NewEvent {
  std::string event_id;
  std::string event_time;                 // event::Event::event_time(): may be empty
  std::string body;                       // byte for byte as received
  std::vector<std::string> destinations;  // one delivery row each; non-empty
  Millis received_at = 0;
};

// What the dedupe table (`seen`) is keyed by: the event's time as written,
// then its ID, so that a duplicate is the same eventID with the same
// eventTime (CloudEvents: id and time). Events arrive in about the order of
// their times, so the keys a commit adds sit together at the end of the
// index whatever their IDs look like; keyed by a UUID alone, each landed on
// a page of its own (docs/benchmarks.md, section 6b).
//
// The key is "\x1f" time "\x1f" id. Neither an ID nor a key time holds a
// control character, so a key never reads as an ID, and the time ends at
// the second mark. Rows written by builds before the key, keyed by the bare
// ID, make an event with that ID a duplicate too until they age out: the
// SQLite store looks for them while its file has any (they sort after every
// key), the PostgreSQL one while `seen` has rows first seen before its
// schema version 3 (pg_schema.cpp).
std::string dedupe_key(std::string_view event_time, std::string_view event_id);
inline std::string dedupe_key(const NewEvent& event) {
  return dedupe_key(event.event_time, event.event_id);
}
inline constexpr char kDedupeKeyMark = '\x1f';

enum class InsertOutcome { queued, duplicate };

// One delivery of one event to one destination.
struct Delivery {
  std::int64_t id = 0;  // delivery row id
  std::string event_id;
  std::string destination;
  std::string body;
  int attempts = 0;  // attempts made before this one
  Millis received_at = 0;
  // The claim token of the fetch_due() call that took it (PostgreSQL: one
  // value of a sequence per call, never reused); 0 with SQLite, whose one
  // relay needs none. Results carry it back (AttemptResult::claim), and the
  // relay renews the claims it still holds by it (Store::renew_claims).
  std::int64_t claim = 0;
};

enum class DeliveryState { pending, inflight, dead };

// The outcome of one delivery attempt, applied by Store::complete().
struct AttemptResult {
  // released: not attempted by this relay; back to pending as it was (its
  // attempts, due time and last error untouched), for any relay to take.
  enum class Kind { delivered, retry, dead, released };
  std::int64_t id = 0;
  std::int64_t claim = 0;  // the Delivery's claim token
  Kind kind = Kind::delivered;
  int attempts = 0;            // total attempts made, including this one
  Millis next_attempt_at = 0;  // for retry
  int last_status = 0;         // HTTP status, 0 when none (connection error)
  std::string last_error;      // short reason; never contains secrets
};

struct FetchResult {
  std::vector<Delivery> due;  // now inflight, oldest first
  // Earliest next_attempt_at among pending rows of that destination that are
  // not yet due; nullopt when there are none. A store may leave it out when
  // `due` holds as many as were asked for (the caller asks again at once).
  std::optional<Millis> next_due;
};

// The in-flight deliveries of one destination claimed by one relay.
struct NodeInflight {
  std::string node;  // storage.postgresql.node_id; kLocalNode for SQLite
  std::int64_t inflight = 0;
  friend bool operator==(const NodeInflight&, const NodeInflight&) = default;
};

// The node name SQLite reports: its one relay.
inline constexpr const char* kLocalNode = "local";

struct DestinationStats {
  std::string destination;
  std::int64_t pending = 0;  // waiting (due or backing off)
  std::int64_t inflight = 0;
  std::int64_t dead = 0;
  std::optional<Millis> oldest_received_at;  // among pending and inflight
  // `inflight` by the relay holding the claims (a claim whose lease ran out
  // stays its relay's until another takes it), by node name, only relays
  // with some; they add up to `inflight`.
  std::vector<NodeInflight> inflight_by_node;
};

struct DeadLetter {
  std::int64_t id = 0;
  std::string event_id;
  std::string destination;
  int attempts = 0;
  int last_status = 0;
  std::string last_error;
  Millis received_at = 0;
  Millis updated_at = 0;
};

// Which dead letters Store::list_dead_letters() returns.
struct DeadLetterQuery {
  std::optional<std::string> destination;  // nullopt: every destination
  std::size_t limit = 100;
};

// One dead letter with its event (Store::dead_letter()).
struct DeadLetterDetail {
  DeadLetter letter;
  std::string body;  // byte for byte as received
};

// Which dead letters Store::replay_dead_letters() and purge_dead_letters()
// act on: the one whose delivery row id is `id`, or (id unset) all of them;
// either way only those of `destination` and last updated (dead-lettered)
// before `updated_before`, when set.
struct DeadLetterSelection {
  std::optional<std::int64_t> id;
  std::optional<std::string> destination;
  std::optional<Millis> updated_before;
};

struct ReplayOutcome {
  std::int64_t count = 0;                 // deliveries put back in the queue
  std::vector<std::string> destinations;  // theirs, sorted, each once
};

}  // namespace ocirelay::storage
