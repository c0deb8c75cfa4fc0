// StorageObserver: how storage reports its commits and its space to metrics
// without knowing about them. storage::StorageWorker calls it;
// metrics::RelayMetrics implements it (commit duration histogram, failed
// commits, the storage space gauges).
//
// Thread contract: called on the storage thread (on_space also once from the
// worker's constructor); an implementation must be safe to call from there.
// The observer must outlive the worker that calls it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ocirelay::metrics {

// Storage space as last measured, in bytes.
struct StorageSpace {
  std::uint64_t free = 0;      // free on the file system
  std::uint64_t database = 0;  // database file and WAL
  std::uint64_t reusable = 0;  // free pages inside the database
  std::uint64_t reserve = 0;   // effective storage.reserve
  bool full = false;           // new events are refused for lack of space
};

class StorageObserver {
 public:
  virtual ~StorageObserver() = default;
  // `events` operations were committed (or failed to commit: `ok` false) in
  // one transaction that took `seconds`.
  virtual void on_commit(std::size_t events, double seconds, bool ok) = 0;
  // Space was measured (only by a worker whose store measures it).
  virtual void on_space(const StorageSpace& space) = 0;
};

}  // namespace ocirelay::metrics
