// The durable queue behind a small interface, so another backend (a shared
// PostgreSQL for several relays) can replace SQLite later.
//
// Thread contract: a Store is used by one thread at a time (StorageWorker's
// thread); methods block on disk I/O. Every method that writes is atomic, and
// returns only once its changes are durable (fsync'd); errors are returned as
// a StoreError, never thrown.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ocirelay/common/result.hpp"
#include "ocirelay/storage/records.hpp"

namespace ocirelay::storage {

struct StoreError {
  std::string message;
  bool disk_full = false;
};

template <class T>
using StoreResult = Result<T, StoreError>;

struct Unit {};

class Store {
 public:
  virtual ~Store() = default;

  // Inserts a batch in one transaction (group commit). For each input, in
  // order: duplicate when its event_id was seen within the dedupe window
  // (including earlier in the same batch), else queued with one pending
  // delivery row per destination, due at once. All or nothing.
  virtual StoreResult<std::vector<InsertOutcome>> insert_batch(std::span<const NewEvent> events) = 0;

  // Takes up to `limit` due pending deliveries of `destination` (next attempt
  // at or before `now`), oldest first, and marks them inflight.
  virtual StoreResult<FetchResult> fetch_due(const std::string& destination, Millis now,
                                             std::size_t limit) = 0;

  // Applies attempt results in one transaction: delivered rows are removed
  // (and their event body once no delivery needs it), retries go back to
  // pending with their next attempt time, dead ones are kept as dead letters.
  virtual StoreResult<Unit> complete(std::span<const AttemptResult> results) = 0;

  // Returns inflight deliveries to pending (start-up after a crash, or
  // deliveries abandoned at shutdown). Returns how many.
  virtual StoreResult<std::int64_t> release_inflight() = 0;

  // Forgets event IDs first seen before `cutoff`. Returns how many.
  virtual StoreResult<std::int64_t> prune_dedupe(Millis cutoff) = 0;

  // Counts per destination, for every destination that has rows.
  virtual StoreResult<std::vector<DestinationStats>> stats() = 0;

  virtual StoreResult<std::vector<DeadLetter>> dead_letters(std::size_t limit) = 0;
};

struct SqliteOptions {
  std::string path;
  // Create the parent folder when missing (0750).
  bool create_parent = true;
};

// Opens (creating if needed) the SQLite database in WAL mode with
// synchronous=FULL, and checks its schema. The error names the path and the
// cause (unreadable, not a database, newer schema version, ...).
Result<std::unique_ptr<Store>, StoreError> open_sqlite_store(const SqliteOptions& options);

}  // namespace ocirelay::storage
