#include "storage/sqlite_store.hpp"

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ocirelay/common/directories.hpp"
#include "storage/sqlite_queries.hpp"
#include "storage/sqlite_schema.hpp"
#include "storage/sqlite_transaction.hpp"
#include "storage/sqlite_wal_vfs.hpp"

namespace ocirelay::storage {

namespace {

constexpr int kBusyTimeoutMs = 5000;

// Applied to every connection: durable commits, referential checks, an 8 MiB
// page cache, the WAL file truncated back to 64 MiB after a checkpoint that
// let it grow beyond (StorageWorker lowers it with limit_wal(), after the
// reserve), statement journals in memory (version 1's counting triggers
// gave every INSERT one, and in a temporary file it cost 8 writes per event),
// and what is deleted overwritten with zeros: a delivered event's body does
// not stay readable in the file's free space. Debian's SQLite is built that
// way, SQLite's own default is not; said here, every build behaves alike.
// (FAST, which leaves freed pages as they were, would save about 8% of the
// bytes written per delivered event: docs/benchmarks.md.)
constexpr const char* kConnectionPragmas =
    "PRAGMA synchronous = FULL;"
    "PRAGMA foreign_keys = ON;"
    "PRAGMA cache_size = -8192;"
    "PRAGMA journal_size_limit = 67108864;"
    "PRAGMA temp_store = MEMORY;"
    "PRAGMA secure_delete = ON;";

constexpr const char* kStatePending = "pending";
constexpr const char* kStateInflight = "inflight";
constexpr const char* kStateDead = "dead";

StoreError path_error(const std::string& path, const std::string& cause) {
  return StoreError{path + ": " + cause, false};
}

// Makes a new directory entry durable. Returns 0 or an errno value.
int sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return errno;
  }
  const int rc = ::fsync(fd) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

// Checks the folder and the file before SQLite sees them, so the errors say
// what is wrong ("unable to open database file" does not). Creates the parent
// folder (0750) and a new, empty database file (0600; SQLite gives its WAL
// and shared-memory files the same mode).
std::optional<StoreError> prepare_path(const SqliteOptions& options) {
  const std::string& path = options.path;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) {
    dir = ".";
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    int error = errno;
    if (error != ENOENT || !options.create_parent) {
      return path_error(path, "directory " + dir.string() + ": " + os_error_text(error));
    }
    error = make_private_directories(dir);
    if (error != 0) {
      return path_error(path,
                        "cannot create directory " + dir.string() + ": " + os_error_text(error));
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return path_error(path, dir.string() + " is not a directory");
  }

  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) {
      return path_error(path, "is a directory, not a database file");
    }
    if (!S_ISREG(st.st_mode)) {
      return path_error(path, "is not a regular file");
    }
    if (::access(path.c_str(), R_OK | W_OK) != 0) {
      return path_error(path, "cannot open for reading and writing: " + os_error_text(errno));
    }
  } else if (errno == ENOENT) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno != EEXIST) {  // else created by someone else meanwhile
        return path_error(path, "cannot create: " + os_error_text(errno));
      }
    } else {
      const int error = ::fchmod(fd, 0600) == 0 ? 0 : errno;  // whatever the umask
      ::close(fd);
      if (error != 0) {
        return path_error(path, "cannot set mode 0600: " + os_error_text(error));
      }
      const int sync_error = sync_directory(dir);
      if (sync_error != 0) {
        return path_error(
            path, "cannot sync directory " + dir.string() + ": " + os_error_text(sync_error));
      }
    }
  } else {
    return path_error(path, "cannot access: " + os_error_text(errno));
  }

  // SQLite creates the -wal and -shm files next to the database.
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return path_error(path,
                      "directory " + dir.string() + " is not writable: " + os_error_text(errno));
  }
  return std::nullopt;
}

std::int64_t clamp_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(limit, kMax));
}

}  // namespace

Result<std::unique_ptr<Store>, StoreError> open_sqlite_store(const SqliteOptions& options) {
  auto store = SqliteStore::open(options);
  if (!store) {
    return fail(std::move(store).error());
  }
  return std::unique_ptr<Store>(std::move(store).value());
}

SqliteStore::SqliteStore(std::string path) : path_(std::move(path)), wal_path_(path_ + "-wal") {
  directory_ = std::filesystem::path(path_).parent_path().string();
  if (directory_.empty()) {
    directory_ = ".";
  }
}

Result<std::unique_ptr<SqliteStore>, StoreError> SqliteStore::open(const SqliteOptions& options) {
  if (options.path.empty()) {
    return fail(StoreError{"storage path is empty", false});
  }
  if (auto error = prepare_path(options)) {
    return fail(std::move(*error));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(options.path));
  SqliteConnection& db = store->db_;
  const std::string& path = store->path_;

  int rc = db.open(path, kBusyTimeoutMs);
  if (rc != SQLITE_OK) {
    return fail(path_error(path, "cannot open: " + db.describe(rc)));
  }
  auto version = read_sqlite_schema_version(db, path);
  if (!version) {
    return fail(std::move(version).error());
  }
  if (auto configured = store->configure(); !configured) {
    return fail(std::move(configured).error());
  }
  rc = db.prepare_transaction_statements();
  if (rc != SQLITE_OK) {
    return fail(path_error(path, "cannot prepare statements: " + db.describe(rc)));
  }
  if (*version == 0) {
    if (auto created = create_sqlite_schema(db, path); !created) {
      return fail(std::move(created).error());
    }
  }
  if (*version != 0 && *version < kSqliteSchemaVersion) {
    if (auto migrated = migrate_sqlite_schema(db, path, *version); !migrated) {
      return fail(std::move(migrated).error());
    }
  }
  if (auto prepared = store->prepare_statements(); !prepared) {
    return fail(std::move(prepared).error());
  }
  if (rc = store->check_bare_ids(); rc != SQLITE_OK) {
    return fail(path_error(path, "cannot read the dedupe table: " + db.describe(rc)));
  }
  return store;
}

StoreResult<Unit> SqliteStore::configure() {
  std::string mode;
  int rc = db_.query_text("PRAGMA journal_mode = WAL", mode);
  if (rc != SQLITE_OK) {
    return fail(path_error(path_, "cannot switch to WAL mode: " + db_.describe(rc)));
  }
  if (mode != "wal") {
    return fail(path_error(path_, "cannot switch to WAL mode (journal mode stays '" + mode + "')"));
  }
  rc = db_.exec(kConnectionPragmas);
  if (rc != SQLITE_OK) {
    return fail(path_error(path_, "cannot configure the connection: " + db_.describe(rc)));
  }
  durable_ = true;
  if (sqlite3_db_readonly(db_.handle(), "main") == 1) {
    return fail(path_error(path_, "opened read-only (permission denied?)"));
  }
  std::int64_t page_size = 0;
  rc = db_.query_int("PRAGMA page_size", page_size);
  if (rc != SQLITE_OK) {
    return fail(path_error(path_, "cannot read the page size: " + db_.describe(rc)));
  }
  page_size_ = page_size > 0 ? static_cast<std::uint64_t>(page_size) : page_size_;
  return Unit{};
}

StoreResult<Unit> SqliteStore::prepare_statements() {
  struct Entry {
    SqliteStatement* statement;
    const char* sql;
  };
  const Entry entries[] = {
      {&seen_insert_, kSqlSeenInsert},
      {&has_bare_ids_query_, kSqlHasBareIds},
      {&bare_id_seen_, kSqlBareIdSeen},
      {&event_insert_, kSqlEventInsert},
      {&delivery_insert_, kSqlDeliveryInsert},
      {&due_select_, kSqlDueSelect},
      {&mark_inflight_, kSqlMarkInflight},
      {&next_due_, kSqlNextDue},
      {&delivery_row_, kSqlDeliveryRow},
      {&delivered_, kSqlDelivered},
      {&event_release_, kSqlEventRelease},
      {&retry_, kSqlRetry},
      {&release_one_, kSqlReleaseOne},
      {&dead_, kSqlDead},
      {&release_inflight_, kSqlReleaseInflight},
      {&release_inflight_for_, kSqlReleaseInflightFor},
      {&prune_seen_, kSqlPruneSeen},
      {&count_states_, kSqlCountStates},
      {&oldest_received_, kSqlOldestReceived},
      {&dead_list_, kSqlDeadList},
      {&page_count_, "PRAGMA page_count"},
      {&freelist_count_, "PRAGMA freelist_count"},
  };
  for (const Entry& entry : entries) {
    const int rc = db_.prepare(*entry.statement, entry.sql);
    if (rc != SQLITE_OK) {
      return fail(path_error(path_, "schema does not match version " +
                                        std::to_string(kSqliteSchemaVersion) + ": " +
                                        db_.describe(rc)));
    }
  }
  int rc = counts_.prepare();
  if (rc == SQLITE_OK) rc = dead_letter_ops_.prepare();
  if (rc != SQLITE_OK) {
    return fail(path_error(path_, "schema does not match version " +
                                      std::to_string(kSqliteSchemaVersion) + ": " +
                                      db_.describe(rc)));
  }
  return Unit{};
}

bool SqliteStore::begin_group(bool durable) {
  if (db_.grouped() || set_durable(durable) != SQLITE_OK) {
    return false;
  }
  if (db_.in_transaction()) {
    db_.rollback();  // left over from an earlier failure whose rollback failed too
  }
  if (db_.begin_immediate() != SQLITE_OK) {
    set_durable(true);
    return false;
  }
  db_.set_grouped(true);
  return true;
}

StoreResult<Unit> SqliteStore::end_group() {
  db_.set_grouped(false);
  StoreResult<Unit> out = Unit{};
  const int rc = db_.in_transaction() ? db_.commit() : SQLITE_ABORT;
  if (rc != SQLITE_OK) {
    out = fail(db_.error(rc, "commit"));
    if (db_.in_transaction()) {
      db_.rollback();
    }
  }
  set_durable(true);  // best effort, as after fetch_due() and complete()
  return out;
}

void SqliteStore::abort_group() {
  db_.set_grouped(false);
  if (db_.in_transaction()) {
    db_.rollback();
  }
  set_durable(true);
}

int SqliteStore::set_durable(bool durable) {
  if (db_.grouped()) {
    return SQLITE_OK;  // the group's setting holds until it ends
  }
  if (durable != durable_) {
    // Not a cached statement: PRAGMA synchronous takes effect when compiled.
    const int rc = db_.exec(durable ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
    if (rc != SQLITE_OK) {
      return rc;
    }
    durable_ = durable;
  }
  // Every commit's WAL writes are gathered, with or without its fsync
  // (SqliteWalVfs). Asked each time: the WAL file is opened lazily.
  return SqliteWalVfs::set_gathering(db_.handle(), true);
}

int SqliteStore::check_bare_ids() {
  SqliteStatement::Scope scope(has_bare_ids_query_);
  const int rc = has_bare_ids_query_.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return rc;
  }
  has_bare_ids_ = rc == SQLITE_ROW;
  return SQLITE_OK;
}

int SqliteStore::insert(const NewEvent& event, InsertOutcome& outcome) {
  if (has_bare_ids_) {
    SqliteStatement::Scope scope(bare_id_seen_);
    const int rc = bare_id_seen_.bind_text(1, event.event_id).step();
    if (rc == SQLITE_ROW) {
      outcome = InsertOutcome::duplicate;
      return SQLITE_OK;
    }
    if (rc != SQLITE_DONE) {
      return rc;
    }
  }
  {
    const std::string key = dedupe_key(event);
    SqliteStatement::Scope scope(seen_insert_);
    const int rc = seen_insert_.bind_text(1, key).bind(2, event.received_at).step();
    if (rc != SQLITE_DONE) {
      return rc;
    }
  }
  if (db_.changes() == 0) {
    outcome = InsertOutcome::duplicate;
    return SQLITE_OK;
  }
  outcome = InsertOutcome::queued;
  if (event.destinations.empty()) {
    return SQLITE_OK;  // nothing to deliver (callers route to at least one)
  }
  {
    SqliteStatement::Scope scope(event_insert_);
    const int rc = event_insert_.bind_text(1, event.event_id)
                       .bind_blob(2, event.body)
                       .bind(3, event.received_at)
                       .step();
    if (rc != SQLITE_DONE) {
      return rc;
    }
  }
  const std::int64_t row = db_.last_insert_rowid();
  const auto& destinations = event.destinations;
  for (auto it = destinations.begin(); it != destinations.end(); ++it) {
    if (std::find(destinations.begin(), it, *it) != it) {
      continue;  // one delivery per destination, even when named twice
    }
    SqliteStatement::Scope scope(delivery_insert_);
    const int rc =
        delivery_insert_.bind(1, row).bind_text(2, *it).bind(3, event.received_at).step();
    if (rc != SQLITE_DONE) {
      return rc;
    }
    counts_.add(*it, kStatePending, 1);
  }
  return SQLITE_OK;
}

StoreResult<std::vector<InsertOutcome>> SqliteStore::insert_batch(
    std::span<const NewEvent> events) {
  std::vector<InsertOutcome> outcomes;
  if (events.empty()) {
    return outcomes;
  }
  outcomes.reserve(events.size());
  // SQLite keeps writing to a file that was deleted or replaced under it, and
  // whatever it commits there is gone at the next start: refuse new events.
  int moved = 0;
  if (sqlite3_file_control(db_.handle(), "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
      moved != 0) {
    return fail(path_error(path_,
                           "the storage file was deleted or replaced while the relay runs; new "
                           "events are refused (queued ones are still delivered); restart the "
                           "relay once the queue has drained"));
  }
  int rc = set_durable(true);
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "insert_batch"));
  }
  SqliteTransaction transaction(db_);
  rc = transaction.begin();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "insert_batch"));
  }
  counts_.clear();
  for (const NewEvent& event : events) {
    InsertOutcome outcome = InsertOutcome::queued;
    rc = insert(event, outcome);
    if (rc != SQLITE_OK) {
      return fail(db_.error(rc, "insert_batch"));  // the transaction rolls back
    }
    outcomes.push_back(outcome);
  }
  rc = counts_.write();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "insert_batch: counts"));
  }
  rc = transaction.commit();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "insert_batch: commit"));
  }
  return outcomes;
}

StoreResult<FetchResult> SqliteStore::fetch_due(const std::string& destination, Millis now,
                                                std::size_t limit) {
  // Marking rows inflight need not survive a crash: commit without fsync.
  int rc = set_durable(false);
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "fetch_due"));
  }
  auto result = fetch_due_in_transaction(destination, now, limit);
  // Best effort: every durable write switches back (and fails) on its own.
  set_durable(true);
  return result;
}

StoreResult<FetchResult> SqliteStore::fetch_due_in_transaction(const std::string& destination,
                                                               Millis now, std::size_t limit) {
  SqliteTransaction transaction(db_);
  int rc = transaction.begin();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "fetch_due"));
  }
  FetchResult out;
  {
    SqliteStatement::Scope scope(due_select_);
    due_select_.bind_text(1, destination).bind(2, now).bind(3, clamp_limit(limit));
    while ((rc = due_select_.step()) == SQLITE_ROW) {
      Delivery delivery;
      delivery.id = due_select_.column_int64(0);
      delivery.event_id = due_select_.column_text(1);
      delivery.destination = destination;
      delivery.body = due_select_.column_blob(2);
      delivery.attempts = static_cast<int>(due_select_.column_int64(3));
      delivery.received_at = due_select_.column_int64(4);
      out.due.push_back(std::move(delivery));
    }
    if (rc != SQLITE_DONE) {
      return fail(db_.error(rc, "fetch_due"));
    }
  }
  for (const Delivery& delivery : out.due) {
    SqliteStatement::Scope scope(mark_inflight_);
    rc = mark_inflight_.bind(1, delivery.id).bind(2, now).step();
    if (rc != SQLITE_DONE) {
      return fail(db_.error(rc, "fetch_due"));
    }
  }
  counts_.clear();
  counts_.move(destination, kStatePending, kStateInflight,
               static_cast<std::int64_t>(out.due.size()));
  rc = counts_.write();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "fetch_due: counts"));
  }
  {
    SqliteStatement::Scope scope(next_due_);
    rc = next_due_.bind_text(1, destination).bind(2, now).step();
    if (rc == SQLITE_ROW && !next_due_.column_is_null(0)) {
      out.next_due = next_due_.column_int64(0);
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return fail(db_.error(rc, "fetch_due"));
    }
  }
  rc = transaction.commit();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "fetch_due: commit"));
  }
  return out;
}

template <class OnRow>
int SqliteStore::each_row(SqliteStatement& statement, OnRow&& on_row) {
  int rc = SQLITE_OK;
  while ((rc = statement.step()) == SQLITE_ROW) on_row();
  return rc;
}

int SqliteStore::apply(const AttemptResult& result, Millis now) {
  // The row as it is: gone already (a result is final, a second one finds
  // nothing), or its event, destination and state for the counts.
  std::int64_t event = 0;
  std::string destination;
  std::string state;
  {
    SqliteStatement::Scope scope(delivery_row_);
    const int rc = delivery_row_.bind(1, result.id).step();
    if (rc == SQLITE_DONE) return SQLITE_OK;
    if (rc != SQLITE_ROW) return rc;
    event = delivery_row_.column_int64(0);
    destination = delivery_row_.column_text(1);
    state = delivery_row_.column_text(2);
  }
  if (result.kind == AttemptResult::Kind::delivered) {
    {
      SqliteStatement::Scope scope(delivered_);
      const int rc = delivered_.bind(1, result.id).step();
      if (rc != SQLITE_DONE) return rc;
    }
    counts_.add(destination, state, -1);
    SqliteStatement::Scope scope(event_release_);
    const int rc = event_release_.bind(1, event).step();
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  // Retry, released and dead apply to a row still in flight only.
  if (state != kStateInflight) return SQLITE_OK;
  SqliteStatement* statement = nullptr;
  const char* to = kStatePending;
  switch (result.kind) {
    case AttemptResult::Kind::retry:
      statement = &retry_;
      retry_.bind(1, result.id)
          .bind(2, result.attempts)
          .bind(3, result.next_attempt_at)
          .bind(4, result.last_status)
          .bind_text(5, result.last_error)
          .bind(6, now);
      break;
    case AttemptResult::Kind::released:
      statement = &release_one_;
      release_one_.bind(1, result.id).bind(2, now);
      break;
    case AttemptResult::Kind::dead:
      statement = &dead_;
      to = kStateDead;
      dead_.bind(1, result.id)
          .bind(2, result.attempts)
          .bind(3, result.last_status)
          .bind_text(4, result.last_error)
          .bind(5, now);
      break;
    case AttemptResult::Kind::delivered:
      return SQLITE_MISUSE;  // handled above
  }
  if (statement == nullptr) return SQLITE_MISUSE;
  SqliteStatement::Scope scope(*statement);
  const int rc = statement->step();
  if (rc != SQLITE_DONE) return rc;
  if (db_.changes() == 1) counts_.move(destination, kStateInflight, to, 1);
  return SQLITE_OK;
}

StoreResult<Unit> SqliteStore::complete(std::span<const AttemptResult> results) {
  if (results.empty()) {
    return Unit{};
  }
  // Attempt results commit without fsync (synchronous=NORMAL in WAL mode): a
  // process crash loses nothing, and a power loss can lose only the last
  // results, whose deliveries are then made again (at least once, as
  // promised). The next durable commit makes them durable too. This keeps
  // the disk's fsyncs for the accepts, which wait for them.
  int rc = set_durable(false);
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "complete"));
  }
  auto result = complete_in_transaction(results);
  // Best effort: every durable write switches back (and fails) on its own.
  set_durable(true);
  return result;
}

StoreResult<Unit> SqliteStore::complete_in_transaction(std::span<const AttemptResult> results) {
  SqliteTransaction transaction(db_);
  int rc = transaction.begin();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "complete"));
  }
  const Millis now = now_millis();
  counts_.clear();
  for (const AttemptResult& result : results) {
    rc = apply(result, now);
    if (rc != SQLITE_OK) {
      return fail(db_.error(rc, "complete"));
    }
  }
  rc = counts_.write();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "complete: counts"));
  }
  rc = transaction.commit();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "complete: commit"));
  }
  return Unit{};
}

StoreResult<std::int64_t> SqliteStore::release_inflight() {
  return release(release_inflight_, nullptr);
}

StoreResult<std::int64_t> SqliteStore::release_inflight(const std::string& destination) {
  return release(release_inflight_for_, &destination);
}

// Runs one of the release statements (?1 now, ?2 the destination when given)
// in its own durable transaction; returns how many rows went back to pending.
StoreResult<std::int64_t> SqliteStore::release(SqliteStatement& statement,
                                               const std::string* destination) {
  int rc = set_durable(true);
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "release_inflight"));
  }
  SqliteTransaction transaction(db_);
  rc = transaction.begin();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "release_inflight"));
  }
  std::int64_t released = 0;
  counts_.clear();
  {
    SqliteStatement::Scope scope(statement);
    statement.bind(1, now_millis());
    if (destination != nullptr) statement.bind_text(2, *destination);
    rc = each_row(statement, [&] {
      ++released;
      counts_.move(statement.column_text(0), kStateInflight, kStatePending, 1);
    });
    if (rc != SQLITE_DONE) {
      return fail(db_.error(rc, "release_inflight"));
    }
  }
  rc = counts_.write();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "release_inflight: counts"));
  }
  rc = transaction.commit();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "release_inflight: commit"));
  }
  return released;
}

StoreResult<std::int64_t> SqliteStore::prune_dedupe(Millis cutoff) {
  int rc = set_durable(true);
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "prune_dedupe"));
  }
  SqliteTransaction transaction(db_);
  rc = transaction.begin();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "prune_dedupe"));
  }
  {
    SqliteStatement::Scope scope(prune_seen_);
    rc = prune_seen_.bind(1, cutoff).step();
    if (rc != SQLITE_DONE) {
      return fail(db_.error(rc, "prune_dedupe"));
    }
  }
  const std::int64_t pruned = db_.changes();
  rc = transaction.commit();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "prune_dedupe: commit"));
  }
  if (has_bare_ids_ && pruned > 0) {
    if (rc = check_bare_ids(); rc != SQLITE_OK) {
      return fail(db_.error(rc, "prune_dedupe: bare IDs"));
    }
  }
  return pruned;
}

StoreResult<std::vector<DestinationStats>> SqliteStore::stats() {
  std::map<std::string, DestinationStats> by_destination;
  {
    SqliteStatement::Scope scope(count_states_);
    int rc = SQLITE_OK;
    while ((rc = count_states_.step()) == SQLITE_ROW) {
      const std::string state = count_states_.column_text(0);
      const std::string destination = count_states_.column_text(1);
      const std::int64_t count = count_states_.column_int64(2);
      DestinationStats& s = by_destination[destination];
      s.destination = destination;
      if (state == kStatePending) {
        s.pending = count;
      } else if (state == kStateInflight) {
        s.inflight = count;
      } else if (state == kStateDead) {
        s.dead = count;
      }
    }
    if (rc != SQLITE_DONE) {
      return fail(db_.error(rc, "stats"));
    }
  }
  for (auto& [destination, s] : by_destination) {
    if (s.inflight > 0) s.inflight_by_node = {NodeInflight{kLocalNode, s.inflight}};
  }
  std::vector<DestinationStats> out;
  out.reserve(by_destination.size());
  for (auto& [destination, s] : by_destination) {
    for (const char* state : {kStatePending, kStateInflight}) {
      if ((state == kStatePending ? s.pending : s.inflight) == 0) {
        continue;
      }
      SqliteStatement::Scope scope(oldest_received_);
      const int rc = oldest_received_.bind_text(1, state).bind_text(2, destination).step();
      if (rc == SQLITE_ROW && !oldest_received_.column_is_null(0)) {
        const Millis oldest = oldest_received_.column_int64(0);
        if (!s.oldest_received_at || oldest < *s.oldest_received_at) {
          s.oldest_received_at = oldest;
        }
      } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        return fail(db_.error(rc, "stats"));
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

StoreResult<std::vector<DeadLetter>> SqliteStore::dead_letters(std::size_t limit) {
  std::vector<DeadLetter> out;
  SqliteStatement::Scope scope(dead_list_);
  dead_list_.bind(1, clamp_limit(limit));
  int rc = SQLITE_OK;
  while ((rc = dead_list_.step()) == SQLITE_ROW) {
    DeadLetter letter;
    letter.id = dead_list_.column_int64(0);
    letter.event_id = dead_list_.column_text(1);
    letter.destination = dead_list_.column_text(2);
    letter.attempts = static_cast<int>(dead_list_.column_int64(3));
    letter.last_status = static_cast<int>(dead_list_.column_int64(4));
    letter.last_error = dead_list_.column_text(5);
    letter.received_at = dead_list_.column_int64(6);
    letter.updated_at = dead_list_.column_int64(7);
    out.push_back(std::move(letter));
  }
  if (rc != SQLITE_DONE) {
    return fail(db_.error(rc, "dead_letters"));
  }
  return out;
}

StoreResult<std::vector<DeadLetter>> SqliteStore::list_dead_letters(const DeadLetterQuery& query) {
  return dead_letter_ops_.list(query);
}

StoreResult<std::optional<DeadLetterDetail>> SqliteStore::dead_letter(std::int64_t id) {
  return dead_letter_ops_.get(id);
}

StoreResult<ReplayOutcome> SqliteStore::replay_dead_letters(const DeadLetterSelection& selection,
                                                            Millis now) {
  if (const int rc = set_durable(true); rc != SQLITE_OK) {
    return fail(db_.error(rc, "replay_dead_letters"));
  }
  return dead_letter_ops_.replay(selection, now);
}

StoreResult<std::int64_t> SqliteStore::purge_dead_letters(const DeadLetterSelection& selection) {
  if (const int rc = set_durable(true); rc != SQLITE_OK) {
    return fail(db_.error(rc, "purge_dead_letters"));
  }
  return dead_letter_ops_.purge(selection);
}

StoreResult<SpaceSample> SqliteStore::measure_space() {
  SpaceSample sample;
  sample.page_size = page_size_;
  sample.writes = static_cast<std::uint64_t>(sqlite3_total_changes64(db_.handle()));
  struct statvfs fs {};
  if (::statvfs(directory_.c_str(), &fs) != 0) {
    return fail(path_error(
        path_, "cannot measure the free space of " + directory_ + ": " + os_error_text(errno)));
  }
  sample.fs_size = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize;
  sample.fs_free = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
  struct stat wal {};
  if (::stat(wal_path_.c_str(), &wal) == 0) {
    sample.wal_bytes = static_cast<std::uint64_t>(wal.st_size);
  } else if (errno != ENOENT) {
    return fail(path_error(path_, "cannot measure " + wal_path_ + ": " + os_error_text(errno)));
  }
  for (auto [statement, out] : {std::pair{&page_count_, &sample.database_bytes},
                                std::pair{&freelist_count_, &sample.reusable_bytes}}) {
    SqliteStatement::Scope scope(*statement);
    const int rc = statement->step();
    if (rc != SQLITE_ROW) {
      return fail(db_.error(rc, "measure_space"));
    }
    *out = static_cast<std::uint64_t>(std::max<std::int64_t>(0, statement->column_int64(0))) *
           page_size_;
  }
  return sample;
}

void SqliteStore::limit_wal(std::uint64_t pages) {
  const auto n = static_cast<int>(std::min<std::uint64_t>(pages, 1u << 30));
  sqlite3_wal_autocheckpoint(db_.handle(), n);
  const std::string limit = "PRAGMA journal_size_limit = " + std::to_string(2 * pages * page_size_);
  db_.exec(limit.c_str());  // best effort: the WAL only stays larger
}

StoreResult<Unit> SqliteStore::shrink_wal() {
  const int rc =
      sqlite3_wal_checkpoint_v2(db_.handle(), "main", SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "checkpoint"));
  }
  return Unit{};
}

StoreResult<Unit> SqliteStore::execute(const std::string& sql) {
  const int rc = db_.exec(sql.c_str());
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "execute"));
  }
  return Unit{};
}

}  // namespace ocirelay::storage
