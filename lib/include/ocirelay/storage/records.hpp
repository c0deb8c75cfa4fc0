// Plain records exchanged with the durable store. Value types.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ocirelay::storage {

// Wall-clock milliseconds since the Unix epoch: what is stored on disk, so
// times survive restarts.
using Millis = std::int64_t;
Millis now_millis();

struct NewEvent {
  std::string event_id;
  std::string body;  // byte for byte as received
  std::vector<std::string> destinations;  // one delivery row each; non-empty
  Millis received_at = 0;
};

enum class InsertOutcome { queued, duplicate };

// One delivery of one event to one destination.
struct Delivery {
  std::int64_t id = 0;  // delivery row id
  std::string event_id;
  std::string destination;
  std::string body;
  int attempts = 0;      // attempts made before this one
  Millis received_at = 0;
};

enum class DeliveryState { pending, inflight, dead };

// The outcome of one delivery attempt, applied by Store::complete().
struct AttemptResult {
  enum class Kind { delivered, retry, dead };
  std::int64_t id = 0;
  Kind kind = Kind::delivered;
  int attempts = 0;         // total attempts made, including this one
  Millis next_attempt_at = 0;  // for retry
  int last_status = 0;      // HTTP status, 0 when none (connection error)
  std::string last_error;   // short reason; never contains secrets
};

struct FetchResult {
  std::vector<Delivery> due;  // now inflight, oldest first
  // Earliest next_attempt_at among pending rows of that destination that are
  // not yet due; nullopt when there are none.
  std::optional<Millis> next_due;
};

struct DestinationStats {
  std::string destination;
  std::int64_t pending = 0;   // waiting (due or backing off)
  std::int64_t inflight = 0;
  std::int64_t dead = 0;
  std::optional<Millis> oldest_received_at;  // among pending and inflight
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

}  // namespace ocirelay::storage
