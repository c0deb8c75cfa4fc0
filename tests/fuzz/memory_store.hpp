// MemoryStore: a Store kept in memory, for the ingress fuzz target, where a
// real SQLite store would cost an fsync per input. It honours what ingress
// relies on (dedupe by event ID within the store's memory, stats per
// destination) and nothing of delivery: fetch_due returns nothing.
//
// Thread contract: as Store (one thread at a time: StorageWorker's); the fuzz
// target reads take_inserted() on that thread too, through
// StorageWorker::async_call.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ocirelay/storage/store.hpp"

namespace ocirelay::fuzz {

class MemoryStore final : public storage::Store {
 public:
  // Forgets everything once more than `max_events` event IDs are held, so a
  // long fuzzing run keeps a bounded footprint.
  explicit MemoryStore(std::size_t max_events = 1000) : max_events_(max_events) {}

  storage::StoreResult<std::vector<storage::InsertOutcome>> insert_batch(
      std::span<const storage::NewEvent> events) override;
  storage::StoreResult<storage::FetchResult> fetch_due(const std::string& destination,
                                                       storage::Millis now,
                                                       std::size_t limit) override;
  storage::StoreResult<Unit> complete(
      std::span<const storage::AttemptResult> results) override;
  storage::StoreResult<std::int64_t> release_inflight() override;
  storage::StoreResult<std::int64_t> release_inflight(const std::string& destination) override;
  storage::StoreResult<std::int64_t> prune_dedupe(storage::Millis cutoff) override;
  storage::StoreResult<std::vector<storage::DestinationStats>> stats() override;
  storage::StoreResult<std::vector<storage::DeadLetter>> dead_letters(std::size_t limit) override;

  // Every insert since the last call, in order, with its outcome.
  struct Inserted {
    storage::NewEvent event;
    storage::InsertOutcome outcome;
  };
  std::vector<Inserted> take_inserted();

 private:
  std::size_t max_events_;
  std::set<std::string> ids_;                          // dedupe keys seen
  std::map<std::string, std::int64_t> pending_;        // destination -> deliveries
  std::map<std::string, storage::Millis> oldest_;      // destination -> oldest received_at
  std::vector<Inserted> inserted_;
};

}  // namespace ocirelay::fuzz
