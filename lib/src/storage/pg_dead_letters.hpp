// PgDeadLetters: the dead-letter operations of PgStore (list, show, replay,
// purge) on the store's connection, with SqliteDeadLetters' semantics.
// Cluster-wide: they see and act on every relay's dead letters, since a dead
// letter belongs to no relay (its claim ends when it dies). Private to the
// storage area; reached through the Store interface.
//
// Thread and lifetime contract: one thread at a time, like the connection it
// works on; must not outlive it. replay() and purge() are the bodies of a
// transaction that PgStore runs (and runs again after a deadlock): they
// return an error, or nullopt to commit, and fill their output afresh on
// every run. purge() locks the event rows it may free in id order before
// touching deliveries, as PgStore::complete() does, so the last relay to
// drop a body's deliveries always sees it is the last.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ocirelay/storage/store.hpp"
#include "storage/pg_connection.hpp"

namespace ocirelay::storage {

class PgDeadLetters {
 public:
  explicit PgDeadLetters(PgConnection& db) noexcept : db_(db) {}
  PgDeadLetters(const PgDeadLetters&) = delete;
  PgDeadLetters& operator=(const PgDeadLetters&) = delete;

  StoreResult<std::vector<DeadLetter>> list(const DeadLetterQuery& query);
  StoreResult<std::optional<DeadLetterDetail>> get(std::int64_t id);
  std::optional<StoreError> replay(const DeadLetterSelection& selection, Millis now,
                                   ReplayOutcome& outcome);
  std::optional<StoreError> purge(const DeadLetterSelection& selection, std::int64_t& purged);

  // A row whose columns start with id, event_id, destination, attempts,
  // last_status, last_error, received_at, updated_at.
  static DeadLetter read(const PgResult& r, int row);

 private:
  PgConnection& db_;
};

}  // namespace ocirelay::storage
