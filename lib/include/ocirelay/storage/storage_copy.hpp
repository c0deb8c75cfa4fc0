// `ocirelayd storage copy`: moves a relay's backlog from its SQLite file into
// the PostgreSQL database that several relays share (going to high
// availability keeps the queue).
//
// What is copied: every delivery still to make (pending, and in flight as
// pending: the relay that held it is stopped) and every dead letter, each
// with its event body, attempts, last status and error and times; and the
// event IDs of the file's deduplication table. Idempotent: a delivery is
// keyed on its eventID and destination, and is not copied when the database
// already has a delivery of that eventID to that destination, or already
// knows the eventID (a former copy, whose delivery may be done since, or the
// cluster accepted the event itself): copying the same file twice adds
// nothing the second time.
//
// Thread and lifetime contract: copy_sqlite_to_postgresql() is a blocking
// free function, on the caller's thread. It opens the file read-only (never
// creating or changing it, nor its -wal) and reads it in one snapshot; it
// writes the database in one transaction (all or nothing, committed with
// synchronous_commit on), creating or upgrading the schema first as a relay
// would. Concurrent copies take turns (an advisory lock); relays may run on
// the database meanwhile. No message contains the URL.
#pragma once

#include <cstdint>
#include <string>

#include "ocirelay/common/result.hpp"
#include "ocirelay/storage/store.hpp"

namespace ocirelay::storage {

struct StorageCopyReport {
  std::string source;               // the SQLite file
  std::string target;               // "postgresql database NAME"
  std::int64_t pending_copied = 0;  // pending or in flight in the file
  std::int64_t dead_copied = 0;
  std::int64_t already_present = 0;  // deliveries not copied: already there
  std::int64_t events_copied = 0;    // event bodies
  std::int64_t seen_added = 0;       // event IDs for deduplication
  std::int64_t seen_present = 0;
};

// The file at `sqlite_path` (an ocirelay SQLite database of any version this
// build reads) into the database of `target` (node_id names this copy as
// the migrator, if it creates the schema).
Result<StorageCopyReport, StoreError> copy_sqlite_to_postgresql(const std::string& sqlite_path,
                                                                const PostgresqlOptions& target);

// The counts, for people.
std::string format_storage_copy(const StorageCopyReport& report);

}  // namespace ocirelay::storage
