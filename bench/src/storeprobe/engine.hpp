// StoreEngine: the storage work of one StorageWorker round, as one durable
// transaction, so that ocirelay-storeprobe can put the relay's SQLite store
// beside other embedded engines doing the same work per event (issue 15:
// "if the targets need a new storage engine, say so with numbers first").
//
// The work per event is the relay's: remember its ID for dedupe (and answer
// a repeated one as a duplicate), store its body, queue one delivery due at
// once; later take the delivery (it is in flight, durably) and, once it is
// delivered, remove it and the body. A round does, in one transaction that
// is durable (fsync'd) when run() returns: the `delivered` results of an
// earlier round's claims, the new events, and the claim of up to `claim`
// due deliveries with their bodies.
//
// Thread and lifetime contract: one thread uses an engine; it owns its files
// under the folder it was opened on until destroyed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ocirelay/common/result.hpp"
#include "ocirelay/storage/records.hpp"

namespace ocirelay::bench {

struct ProbeRound {
  std::span<const storage::NewEvent> events;  // to store (one destination each)
  std::span<const std::int64_t> delivered;    // claimed earlier, now delivered
  std::size_t claim = 0;                      // due deliveries to take
};

struct ProbeRoundResult {
  std::vector<std::int64_t> claimed;  // delivery ids, oldest first
  std::size_t duplicates = 0;         // events refused as already seen
  std::size_t body_bytes = 0;         // bodies read with the claimed deliveries
};

class StoreEngine {
 public:
  virtual ~StoreEngine() = default;
  virtual Result<ProbeRoundResult> run(const ProbeRound& round) = 0;
};

// Each opens (creating) its database under `dir`, an empty folder.
// The relay's own store (SqliteStore), grouped as StorageWorker groups it.
Result<std::unique_ptr<StoreEngine>> open_sqlite_engine(const std::string& dir);
// RocksDB (an LSM tree: a sequential log, sorted files merged in background).
Result<std::unique_ptr<StoreEngine>> open_rocksdb_engine(const std::string& dir);
// LMDB (a copy-on-write B+ tree in one memory-mapped file).
Result<std::unique_ptr<StoreEngine>> open_lmdb_engine(const std::string& dir);

}  // namespace ocirelay::bench
