// PgStore: the Store on a PostgreSQL database that several relays share
// (storage.backend postgresql). Private to the library; others get it
// through open_postgresql_store().
//
// What differs from SqliteStore, for several relays on one database:
// - dedupe is cluster-wide (seen's primary key): of two relays inserting the
//   same dedupe key (records.hpp) at once, one commits it and the other
//   waits for that commit and finds a duplicate;
// - fetch_due() claims rows with FOR UPDATE SKIP LOCKED, marking them
//   inflight with claimed_by = node_id, lease_until = now + lease and a
//   claim token (one value of a sequence per call), and also takes rows
//   whose lease ran out (their relay died or lost the database); a delivery
//   is claimed by one relay at a time;
// - retry and dead results apply only under the claim token the attempt was
//   made with (so not to a row claimed again since, by any relay);
//   renew_claims() renews only the tokens the relay says it holds; and
//   release_inflight() returns only this relay's claims;
// - rows are locked in a fixed order (seen by dedupe key, event bodies by id),
//   and a transaction that still meets a deadlock or serialization failure
//   is run again (up to 3 times).
//
// Durability: inserts, release_inflight() and prune_dedupe() commit with
// synchronous_commit on, so they return only once the WAL is flushed on the
// server. An insert is one statement in its own transaction: one round trip
// per batch. fetch_due() and complete() commit with synchronous_commit off
// (SET LOCAL), as SqliteStore commits them without fsync: a server crash can
// lose only their last effects, which makes a delivery happen again.
//
// The connection: one, opened by open(); a lost connection is opened again
// at the next call. While the database cannot be reached, calls fail at
// once without trying: a new connection is tried again after a backoff
// (250 ms doubling up to 5 s), so that the storage thread never waits for
// more than one connection attempt at a time (connect_timeout).
// unreachable() says why, until a connection works again.
//
// Other relays learn of new events from a NOTIFY on kPgNewEventsChannel in
// the insert's transaction (PgListener), its payload the destinations with
// new deliveries, one a line. At most one per options.notify_interval (20
// ms): PostgreSQL holds a database-wide lock from a notifying transaction's
// commit until its WAL flush, so a notification per batch serialized the
// commits of relays sharing the database. A batch stored within the
// interval owes its destinations to the next notification: the next
// batch's after the interval, or run_deferred()'s (a transaction of its own,
// not waiting for its flush). The accepting relay wakes its own dispatchers
// directly, so the interval delays only the other relays.
//
// Thread contract: one thread at a time (see Store).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "ocirelay/storage/store.hpp"
#include "storage/pg_connection.hpp"
#include "storage/pg_dead_letters.hpp"

namespace ocirelay::storage {

class PgStore final : public Store {
 public:
  static Result<std::unique_ptr<PgStore>, StoreError> open(const PostgresqlOptions& options);

  ~PgStore() override = default;
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  StoreResult<std::vector<InsertOutcome>> insert_batch(std::span<const NewEvent> events) override;
  StoreResult<FetchResult> fetch_due(const std::string& destination, Millis now,
                                     std::size_t limit) override;
  StoreResult<Unit> complete(std::span<const AttemptResult> results) override;
  StoreResult<std::int64_t> release_inflight() override;
  StoreResult<std::int64_t> release_inflight(const std::string& destination) override;
  StoreResult<std::int64_t> prune_dedupe(Millis cutoff) override;
  StoreResult<std::vector<DestinationStats>> stats() override;
  StoreResult<std::vector<DeadLetter>> dead_letters(std::size_t limit) override;

  // Dead letters of every relay (pg_dead_letters.cpp); replay and purge are
  // durable, like inserts.
  StoreResult<std::vector<DeadLetter>> list_dead_letters(const DeadLetterQuery& query) override;
  StoreResult<std::optional<DeadLetterDetail>> dead_letter(std::int64_t id) override;
  StoreResult<ReplayOutcome> replay_dead_letters(const DeadLetterSelection& selection,
                                                 Millis now) override;
  StoreResult<std::int64_t> purge_dead_letters(const DeadLetterSelection& selection) override;
  bool shared() const noexcept override { return true; }
  StoreResult<std::int64_t> renew_claims(Millis now, std::span<const std::int64_t> claims) override;
  std::optional<std::string> unreachable() const override { return unreachable_; }
  // The notification owed to other relays (see above).
  std::optional<std::chrono::steady_clock::time_point> deferred_until() const override;
  void run_deferred(bool now = false) override;

  const std::string& node_id() const noexcept { return options_.node_id; }
  int server_version() const { return db_.server_version(); }

 private:
  explicit PgStore(PostgresqlOptions options) : options_(std::move(options)) {}

  // Opens the connection again when it was lost (not before the backoff
  // after a failed attempt has passed).
  StoreResult<Unit> connected();
  // `error`, after noting that the database is unreachable when it was the
  // connection that failed.
  StoreError failed(StoreError error);
  // NOTIFY on kPgNewEventsChannel, its payload `destinations` (sorted), one
  // a line; nothing when there are none.
  std::optional<StoreError> notify(const std::vector<std::string>& destinations,
                                   const char* context);
  // Runs `body` in a transaction (with synchronous_commit off unless
  // `durable`), again when it failed with a deadlock or serialization
  // failure. `body` returns an error, or nullopt to commit.
  StoreResult<Unit> in_transaction(const char* context, bool durable,
                                   const std::function<std::optional<StoreError>()>& body);
  std::optional<StoreError> apply_all(std::span<const AttemptResult> results, Millis now);
  // Whether `seen` may still hold bare eventIDs (rows first seen before the
  // schema 3 migration, from relays before the dedupe key: records.hpp).
  // Set at open and after each prune; while it is, insert_batch looks the
  // batch's bare eventIDs up first.
  StoreResult<Unit> check_bare_ids();
  StoreResult<std::int64_t> release(const std::string* destination);

  PostgresqlOptions options_;
  PgConnection db_;
  std::optional<std::string> unreachable_;
  std::chrono::milliseconds connect_backoff_{0};
  std::chrono::steady_clock::time_point next_connect_{};
  PgDeadLetters dead_letters_{db_};  // after db_: it works on it
  // Destinations of deliveries stored since the last notification, and when
  // the next may be sent.
  std::set<std::string> owed_;
  std::chrono::steady_clock::time_point next_notify_{};
  bool has_bare_ids_ = false;
};

}  // namespace ocirelay::storage
