// The durable queue behind a small interface, so another backend (a shared
// PostgreSQL for several relays) can replace SQLite later.
//
// Thread contract: a Store is used by one thread at a time (StorageWorker's
// thread); methods block on disk I/O. Every method that writes is atomic, and
// returns only once its changes are durable (fsync'd); errors are returned as
// a StoreError, never thrown.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ocirelay/common/result.hpp"
#include "ocirelay/storage/records.hpp"
#include "ocirelay/storage/space_guard.hpp"

namespace ocirelay::storage {

struct StoreError {
  std::string message;
  bool disk_full = false;
  // Not attempted: storage is at its reserve or quota (StorageWorker refuses
  // new events until deliveries free space). disk_full is set too.
  bool space_refused = false;
};

template <class T>
using StoreResult = Result<T, StoreError>;

class Store {
 public:
  virtual ~Store() = default;

  // Inserts a batch in one transaction (group commit). For each input, in
  // order: duplicate when its dedupe key (records.hpp: event time and ID)
  // was seen within the dedupe window (including earlier in the same batch),
  // or its bare event_id as builds before the key stored it, else queued
  // with one pending delivery row per destination, due at once. All or
  // nothing.
  virtual StoreResult<std::vector<InsertOutcome>> insert_batch(
      std::span<const NewEvent> events) = 0;

  // Takes up to `limit` due pending deliveries of `destination` (next attempt
  // at or before `now`), oldest first, and marks them inflight.
  virtual StoreResult<FetchResult> fetch_due(const std::string& destination, Millis now,
                                             std::size_t limit) = 0;

  // Applies attempt results in one transaction: delivered rows are removed
  // (and their event body once no delivery needs it), retries go back to
  // pending with their next attempt time, dead ones are kept as dead letters.
  // Retry and dead results apply only to deliveries still in flight: one
  // released meanwhile (release_inflight) stays pending for a new attempt.
  // On a shared store, only to deliveries still in flight under the
  // result's claim token: a late result of a delivery claimed again since
  // (by any relay, this one included) changes nothing. A delivered result
  // is final whoever reports it: the destination has the event.
  virtual StoreResult<Unit> complete(std::span<const AttemptResult> results) = 0;

  // Returns inflight deliveries to pending (start-up after a crash, or
  // deliveries abandoned at shutdown). Returns how many.
  virtual StoreResult<std::int64_t> release_inflight() = 0;
  // The same for one destination only (its dispatcher was replaced or
  // removed by a configuration reload).
  virtual StoreResult<std::int64_t> release_inflight(const std::string& destination) = 0;

  // Forgets event IDs first seen before `cutoff`. Returns how many.
  virtual StoreResult<std::int64_t> prune_dedupe(Millis cutoff) = 0;

  // Counts per destination, for every destination that has rows.
  virtual StoreResult<std::vector<DestinationStats>> stats() = 0;

  virtual StoreResult<std::vector<DeadLetter>> dead_letters(std::size_t limit) = 0;

  // --- several relays on one database --------------------------------------
  // The defaults are a store of one relay's own.

  // Whether other relays take deliveries from the same queue: a dispatcher
  // then claims only what it can send soon (one round ahead), and gives
  // back what waits when its destination pauses, leaving the rest to them.
  virtual bool shared() const noexcept { return false; }
  // Extends to `now` plus the lease the lease of this relay's deliveries
  // still in flight under one of `claims` (claim tokens of its fetch_due()
  // calls whose deliveries it holds in memory: waiting, being sent, or held
  // for a batch's retry), so that another relay does not take one whose
  // attempt is still under way. A claim the relay no longer holds (its
  // fetch_due() failed after the server committed it) is not renewed: it
  // runs out and any relay takes it again. Returns how many.
  virtual StoreResult<std::int64_t> renew_claims(
      [[maybe_unused]] Millis now, [[maybe_unused]] std::span<const std::int64_t> claims) {
    return std::int64_t{0};
  }
  // Why the store cannot reach its database, as its last operation found;
  // nullopt when it could (or the store has no remote database).
  virtual std::optional<std::string> unreachable() const { return std::nullopt; }

  // --- dead letters, for the admin endpoint ---------------------------------
  // The defaults fail with "not supported": a backend without them still
  // relays, only without replay and purge.

  // Dead letters oldest first (by the time their delivery was queued, then
  // id), at most query.limit, of one destination or all.
  virtual StoreResult<std::vector<DeadLetter>> list_dead_letters(
      [[maybe_unused]] const DeadLetterQuery& query) {
    return fail(unsupported());
  }

  // One dead letter and its event body; nullopt when `id` is not a dead
  // letter (unknown, purged, or a delivery that is pending or inflight).
  virtual StoreResult<std::optional<DeadLetterDetail>> dead_letter(
      [[maybe_unused]] std::int64_t id) {
    return fail(unsupported());
  }

  // Puts the selected dead letters back in their destinations' queues, in one
  // transaction: state pending, attempts 0, last status and error cleared,
  // next attempt time 0 (so they come before every other pending delivery of
  // their destination, oldest first among themselves) and their queue time
  // (received_at of the delivery, from which max_age counts) set to `now`.
  // The event body is unchanged. Returns how many and their destinations.
  virtual StoreResult<ReplayOutcome> replay_dead_letters(
      [[maybe_unused]] const DeadLetterSelection& selection, [[maybe_unused]] Millis now) {
    return fail(unsupported());
  }

  // Deletes the selected dead letters, and the event bodies no delivery
  // needs any more, in one transaction. Returns how many dead letters.
  virtual StoreResult<std::int64_t> purge_dead_letters(
      [[maybe_unused]] const DeadLetterSelection& selection) {
    return fail(unsupported());
  }

  // --- one transaction for several calls (StorageWorker) -------------------
  // begin_group() opens one transaction that the insert_batch(), complete()
  // and fetch_due() calls made before end_group() join instead of each
  // committing its own; end_group() commits them together, durably when
  // begin_group() was told `durable` (and returns only once they are
  // durable), else as fetch_due() and complete() commit alone. Their results
  // hold only once end_group() succeeded: when a call inside the group
  // fails, or end_group() does, nothing of the group is kept (abort_group()
  // after a failed call), and the caller makes the calls again one by one.
  // begin_group() returns false when the store does not group (the default)
  // or could not open the transaction; nothing is open then.
  virtual bool begin_group([[maybe_unused]] bool durable) { return false; }
  virtual StoreResult<Unit> end_group() { return Unit{}; }
  virtual void abort_group() {}

  // --- work a store defers to a quiet moment (StorageWorker) ---------------
  // When the store has put off work of its own, the time by which it wants
  // run_deferred() called (PgStore: a notification it owes other relays);
  // nullopt when it has none. The worker calls run_deferred() once that time
  // has passed, between operations, and with `now` true when it stops (the
  // work done before its time); it never fails an operation.
  virtual std::optional<std::chrono::steady_clock::time_point> deferred_until() const {
    return std::nullopt;
  }
  virtual void run_deferred([[maybe_unused]] bool now = false) {}

  // --- space, for storage.reserve and storage.max_size (StorageWorker) -----
  // The defaults measure nothing: a backend without them is never refused
  // new events for lack of space. None of these may be called inside
  // another operation; each costs a few system calls, not one per event.

  virtual bool measures_space() const noexcept { return false; }
  // The file system's size and free space, the database's size, its free
  // pages and its write-ahead log.
  virtual StoreResult<SpaceSample> measure_space() {
    return fail(StoreError{"this store does not measure its space", false});
  }
  // Checkpoints the write-ahead log whenever it reaches `pages` pages, and
  // trims its file back to twice that after a checkpoint.
  virtual void limit_wal([[maybe_unused]] std::uint64_t pages) {}
  // Checkpoints the write-ahead log and truncates its file, giving its space
  // back to the file system.
  virtual StoreResult<Unit> shrink_wal() { return Unit{}; }

 protected:
  static StoreError unsupported() {
    return StoreError{"dead-letter operations are not supported by this store", false};
  }
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

// A PostgreSQL database shared by several relays (storage.postgresql).
struct PostgresqlOptions {
  std::string url;  // libpq URI or conninfo; a secret, never in any message
  // This relay's name in the cluster: its claims carry it, and
  // release_inflight() returns only those.
  std::string node_id;
  // How long a delivery taken by fetch_due() stays this relay's; after that
  // any relay's fetch_due() takes it again.
  std::chrono::milliseconds lease{30000};
  std::chrono::milliseconds connect_timeout{5000};
  std::string ca_file;  // sslrootcert; empty: libpq's default
  // At most one NOTIFY of new events per this interval (see PgStore).
  std::chrono::milliseconds notify_interval{20};
};

// Connects (loading libpq.so.5), and creates or upgrades the schema under an
// advisory lock, so relays starting at once apply each migration once. A
// database whose schema is newer than this build's is refused. The error
// never contains the URL.
Result<std::unique_ptr<Store>, StoreError> open_postgresql_store(const PostgresqlOptions& options);

}  // namespace ocirelay::storage
