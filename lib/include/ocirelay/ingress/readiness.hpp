// Whether the relay accepts events, as GET /ready (management) and the
// minimal ingress GET /health report it: not once shutdown has begun, not
// while storage cannot reach its database (a shared PostgreSQL; ready again
// once an operation reaches it, which deliveries try every second), not while
// storage refuses new events for lack of space (storage.reserve, max_size;
// that ends by itself once deliveries free space), and not
// for kStorageFailureHold after a commit failed, unless one succeeded or the
// database became reachable again since;
// after the hold, traffic may try again, so a relay that recovered is not kept
// out of rotation forever.
//
// Thread and lifetime contract: used on the servers' single-threaded
// executor only; the shutting_down function's target and the storage worker
// outlive it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "ocirelay/storage/storage_worker.hpp"

namespace ocirelay::ingress {

class Readiness {
 public:
  // Matches the Retry-After of a 503 for storage: after that, let senders retry.
  static constexpr std::chrono::seconds kStorageFailureHold{30};

  // shutting_down: true once shutdown has begun (may be empty: never).
  Readiness(std::function<bool()> shutting_down, const storage::StorageWorker& storage);

  void commit_failed();
  void commit_succeeded();

  // nullopt when ready; otherwise why not: "shutting down", "storage
  // unreachable", "storage full", "storage cannot commit" (no names of
  // destinations, routes or files).
  std::optional<std::string_view> not_ready_reason() const;

 private:
  std::function<bool()> shutting_down_;
  const storage::StorageWorker& storage_;
  std::optional<std::chrono::steady_clock::time_point> storage_failed_at_;
  std::uint64_t recoveries_at_failure_ = 0;  // StorageWorker::recoveries() then
};

}  // namespace ocirelay::ingress
