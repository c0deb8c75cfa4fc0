// CommitObserver: how storage reports each commit to metrics without knowing
// about them. storage::StorageWorker calls it; metrics::RelayMetrics
// implements it (commit duration histogram, failed commits).
//
// Thread contract: on_commit() is called on the storage thread, once per
// transaction; an implementation must be safe to call from there. The
// observer must outlive the worker that calls it.
#pragma once

#include <cstddef>

namespace ocirelay::metrics {

class CommitObserver {
 public:
  virtual ~CommitObserver() = default;
  // `events` operations were committed (or failed to commit: `ok` false) in
  // one transaction that took `seconds`.
  virtual void on_commit(std::size_t events, double seconds, bool ok) = 0;
};

}  // namespace ocirelay::metrics
