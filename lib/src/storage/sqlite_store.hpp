// SqliteStore: the Store on a local SQLite file (WAL mode). Private to the
// library; others get it through open_sqlite_store().
//
// Durability: inserts, complete(), release_inflight() and prune_dedupe()
// commit with synchronous=FULL, so they return only once the WAL is fsync'd.
// fetch_due() only marks rows inflight, which release_inflight() undoes at
// start-up after a crash; it commits with synchronous=NORMAL (no fsync), and
// the next FULL commit makes it durable along with everything before it.
// A group (begin_group) is one transaction, FULL when durable, else NORMAL.
//
// Thread contract: one thread at a time (see Store).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ocirelay/storage/store.hpp"
#include "storage/sqlite_connection.hpp"
#include "storage/sqlite_dead_letters.hpp"
#include "storage/sqlite_delivery_counts.hpp"
#include "storage/sqlite_statement.hpp"
#include "storage/sqlite_wal_vfs.hpp"

namespace ocirelay::storage {

class SqliteStore final : public Store {
 public:
  static Result<std::unique_ptr<SqliteStore>, StoreError> open(const SqliteOptions& options);

  ~SqliteStore() override = default;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  StoreResult<std::vector<InsertOutcome>> insert_batch(std::span<const NewEvent> events) override;
  StoreResult<FetchResult> fetch_due(const std::string& destination, Millis now,
                                     std::size_t limit) override;
  StoreResult<Unit> complete(std::span<const AttemptResult> results) override;
  bool begin_group(bool durable) override;
  StoreResult<Unit> end_group() override;
  void abort_group() override;
  StoreResult<std::int64_t> release_inflight() override;
  StoreResult<std::int64_t> release_inflight(const std::string& destination) override;
  StoreResult<std::int64_t> prune_dedupe(Millis cutoff) override;
  StoreResult<std::vector<DestinationStats>> stats() override;
  StoreResult<std::vector<DeadLetter>> dead_letters(std::size_t limit) override;
  // The dead-letter operations of the admin endpoint (SqliteDeadLetters);
  // replay and purge commit with synchronous=FULL.
  StoreResult<std::vector<DeadLetter>> list_dead_letters(const DeadLetterQuery& query) override;
  StoreResult<std::optional<DeadLetterDetail>> dead_letter(std::int64_t id) override;
  StoreResult<ReplayOutcome> replay_dead_letters(const DeadLetterSelection& selection,
                                                 Millis now) override;
  StoreResult<std::int64_t> purge_dead_letters(const DeadLetterSelection& selection) override;
  // Space: statvfs on the database's directory, stat of the -wal file,
  // PRAGMA page_count and freelist_count.
  bool measures_space() const noexcept override { return true; }
  StoreResult<SpaceSample> measure_space() override;
  void limit_wal(std::uint64_t pages) override;
  StoreResult<Unit> shrink_wal() override;

  // Runs SQL outside the cached statements, with no transaction of its own:
  // maintenance, and tests that need to provoke errors.
  StoreResult<Unit> execute(const std::string& sql);
  const std::string& path() const noexcept { return path_; }
  // The WAL file's write calls, gathered and passed on (tests, benchmarks).
  SqliteWalVfs::Counts wal_writes() const noexcept { return SqliteWalVfs::counts(db_.handle()); }

 private:
  StoreResult<std::int64_t> release(SqliteStatement& statement, const std::string* destination);
  // Runs a statement that returns one row per changed delivery (RETURNING):
  // SQLITE_DONE after every row, `on_row` called for each.
  template <class OnRow>
  static int each_row(SqliteStatement& statement, OnRow&& on_row);
  explicit SqliteStore(std::string path);

  StoreResult<Unit> configure();
  StoreResult<Unit> prepare_statements();
  // Switches PRAGMA synchronous between FULL (durable commits) and NORMAL,
  // and keeps WAL write gathering on (SqliteWalVfs).
  // Outside transactions only; inside a group, the group's setting holds.
  int set_durable(bool durable);
  StoreResult<Unit> complete_in_transaction(std::span<const AttemptResult> results);
  StoreResult<FetchResult> fetch_due_in_transaction(const std::string& destination, Millis now,
                                                    std::size_t limit);
  int insert(const NewEvent& event, InsertOutcome& outcome);
  // Whether `seen` still holds rows keyed by a bare eventID (written by a
  // build before the dedupe key: records.hpp), set at open and after each
  // prune. While it does, an event whose bare ID is among them is a
  // duplicate too.
  int check_bare_ids();
  int apply(const AttemptResult& result, Millis now);

  std::string path_;
  std::string directory_;  // of path_, for statvfs
  std::string wal_path_;   // path_ + "-wal"
  std::uint64_t page_size_ = 4096;
  SqliteConnection db_;  // declared before the statements: closed after them
  bool durable_ = true;
  bool has_bare_ids_ = false;

  SqliteStatement seen_insert_;
  SqliteStatement has_bare_ids_query_;
  SqliteStatement bare_id_seen_;
  SqliteStatement event_insert_;
  SqliteStatement delivery_insert_;
  SqliteStatement due_select_;
  SqliteStatement mark_inflight_;
  SqliteStatement next_due_;
  SqliteStatement delivery_row_;
  SqliteStatement delivered_;
  SqliteStatement event_release_;
  SqliteStatement retry_;
  SqliteStatement release_one_;
  SqliteStatement dead_;
  SqliteStatement release_inflight_;
  SqliteStatement release_inflight_for_;
  SqliteStatement prune_seen_;
  SqliteStatement count_states_;
  SqliteStatement oldest_received_;
  SqliteStatement dead_list_;
  SqliteStatement page_count_;
  SqliteStatement freelist_count_;
  DeliveryCounts counts_{db_};
  SqliteDeadLetters dead_letter_ops_{db_, counts_};
};

}  // namespace ocirelay::storage
