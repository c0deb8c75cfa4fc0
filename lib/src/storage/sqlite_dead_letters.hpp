// SqliteDeadLetters: the dead-letter operations of SqliteStore (list, show,
// replay, purge), with their own cached statements on the store's connection.
// Private to the storage area; reached through the Store interface.
//
// Thread and lifetime contract: one thread at a time, like the connection it
// works on. Owned by SqliteStore and declared after its connection, so the
// statements are finalized before the connection closes. replay() and purge()
// run in a write transaction of their own, and keep the store's
// DeliveryCounts in step; the caller has made commits durable
// (synchronous=FULL) beforehand. Errors are returned, never thrown.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "ocirelay/storage/store.hpp"
#include "storage/sqlite_connection.hpp"
#include "storage/sqlite_delivery_counts.hpp"
#include "storage/sqlite_statement.hpp"

namespace ocirelay::storage {

class SqliteDeadLetters {
 public:
  SqliteDeadLetters(SqliteConnection& db, DeliveryCounts& counts) noexcept
      : db_(db), counts_(counts) {}
  SqliteDeadLetters(const SqliteDeadLetters&) = delete;
  SqliteDeadLetters& operator=(const SqliteDeadLetters&) = delete;

  // Compiles the statements once the schema is in place: SQLITE_OK or the
  // first error (the connection's message describes it).
  int prepare();

  StoreResult<std::vector<DeadLetter>> list(const DeadLetterQuery& query);
  StoreResult<std::optional<DeadLetterDetail>> get(std::int64_t id);
  StoreResult<ReplayOutcome> replay(const DeadLetterSelection& selection, Millis now);
  StoreResult<std::int64_t> purge(const DeadLetterSelection& selection);

 private:
  // The statement that acts on `selection`: by id, by destination, or all.
  SqliteStatement& pick(const DeadLetterSelection& selection, SqliteStatement& one,
                        SqliteStatement& of_destination, SqliteStatement& all);
  // Binds ?1 id, ?3 destination and ?4 cutoff (unset ones stay NULL, the
  // cutoff becomes "no limit"). `selection` must outlive the statement's run.
  static void bind_selection(SqliteStatement& statement, const DeadLetterSelection& selection);

  SqliteConnection& db_;
  DeliveryCounts& counts_;
  SqliteStatement list_all_;
  SqliteStatement list_destination_;
  SqliteStatement get_;
  SqliteStatement replay_one_;
  SqliteStatement replay_destination_;
  SqliteStatement replay_all_;
  SqliteStatement purge_one_;
  SqliteStatement purge_destination_;
  SqliteStatement purge_all_;
  SqliteStatement purge_event_body_;
};

}  // namespace ocirelay::storage
