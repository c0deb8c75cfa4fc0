#include "ocirelay/storage/storage_copy.hpp"

#include <cerrno>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <sqlite3.h>
#include <sys/stat.h>

#include "ocirelay/common/directories.hpp"
#include "ocirelay/common/printable_text.hpp"
#include "ocirelay/event/event.hpp"
#include "ocirelay/storage/records.hpp"
#include "storage/pg_connection.hpp"
#include "storage/pg_schema.hpp"
#include "storage/pg_transaction.hpp"
#include "storage/sqlite_connection.hpp"
#include "storage/sqlite_schema.hpp"
#include "storage/sqlite_statement.hpp"

namespace ocirelay::storage {

namespace {

// Copies take turns on one database: "ocirelay" + 1 (the migration lock is
// "ocirelay").
constexpr std::int64_t kCopyLock = kPgMigrationLock + 1;

// Every delivery of the file with its event, event by event.
constexpr const char* kSqlSourceDeliveries =
    "SELECT e.id, e.event_id, e.body, e.received_at,"
    " d.destination, d.state, d.attempts, d.next_attempt_at, d.received_at, d.last_status,"
    " d.last_error, d.updated_at"
    " FROM deliveries AS d JOIN events AS e ON e.id = d.event ORDER BY e.id, d.id";

// An event's first-seen time in the file's dedupe table, by its key or, as
// builds before the dedupe key wrote it, its bare eventID (records.hpp);
// ?3, its receive time, once the table no longer has it.
constexpr const char* kSqlSourceFirstSeen =
    "SELECT coalesce(min(first_seen_at), ?3) FROM seen WHERE event_id IN (?1, ?2)";

constexpr const char* kSqlSourceSeen = "SELECT event_id, first_seen_at FROM seen";

// The (eventID, destination) of every delivery the database holds.
constexpr const char* kSqlTargetPairs =
    "SELECT e.event_id, d.destination FROM deliveries AS d JOIN events AS e ON e.id = d.event";

constexpr const char* kSqlSeenInsert =
    "INSERT INTO seen (event_id, first_seen_at) VALUES ($1, $2) ON CONFLICT DO NOTHING";

// $1 an event's dedupe key, $2 first seen at, $3 its bare eventID: inserts
// the key unless the database knows the event by either.
constexpr const char* kSqlEventSeenInsert =
    "INSERT INTO seen (event_id, first_seen_at) SELECT $1, $2"
    " WHERE NOT EXISTS (SELECT 1 FROM seen WHERE event_id = $3) ON CONFLICT DO NOTHING";

constexpr const char* kSqlEventInsert =
    "INSERT INTO events (event_id, body, received_at) VALUES ($1, $2, $3) RETURNING id";

// $1 event row, $2 destination, $3 state ('pending' or 'dead'), $4 attempts,
// $5 next attempt, $6 received_at, $7 last status, $8 last error,
// $9 updated_at. Not claimed by any relay.
constexpr const char* kSqlDeliveryInsert =
    "INSERT INTO deliveries (event, destination, state, attempts, next_attempt_at, received_at,"
    " last_status, last_error, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

StoreError source_error(const std::string& path, const std::string& why) {
  return StoreError{"storage copy: --from " + path + ": " + why, false};
}

// SqliteToPgCopier: one copy. Stack-only, on the caller's thread; owns both
// connections (the SQLite one read-only), closed with it.
class SqliteToPgCopier {
 public:
  SqliteToPgCopier(std::string path, const PostgresqlOptions& target)
      : path_(std::move(path)), target_(target) {
    report_.source = path_;
  }

  Result<StorageCopyReport, StoreError> run() {
    if (auto opened = open_source(); opened) return fail(std::move(*opened));
    if (auto opened = open_target(); opened) return fail(std::move(*opened));
    PgTransaction transaction(pg_);
    if (PgResult r = transaction.begin(); !r.ok()) {
      return fail(PgConnection::error(r, "storage copy: begin"));
    }
    if (PgResult r =
            pg_.exec("SELECT pg_advisory_xact_lock($1::bigint)", PgParams{}.int64(kCopyLock));
        !r.ok()) {
      return fail(PgConnection::error(r, "storage copy: advisory lock"));
    }
    if (auto failed = load_present(); failed) return fail(std::move(*failed));
    // One snapshot of the file for both reads.
    if (const int rc = sqlite_.exec("BEGIN"); rc != SQLITE_OK) {
      return fail(source_error(path_, "cannot read: " + sqlite_.describe(rc)));
    }
    if (auto failed = copy_deliveries(); failed) return fail(std::move(*failed));
    if (auto failed = copy_seen(); failed) return fail(std::move(*failed));
    if (PgResult r = transaction.commit(); !r.ok()) {
      return fail(PgConnection::error(r, "storage copy: commit"));
    }
    return report_;
  }

 private:
  std::optional<StoreError> open_source() {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
      const int error = errno;
      return source_error(path_, error == ENOENT ? std::string("does not exist")
                                                 : "cannot access: " + os_error_text(error));
    }
    if (!S_ISREG(st.st_mode)) return source_error(path_, "is not a regular file");
    // Without a -wal the file is read as immutable: no lock, no -shm made.
    const bool wal = ::stat((path_ + "-wal").c_str(), &st) == 0;
    if (const int rc = sqlite_.open_read_only(path_, !wal); rc != SQLITE_OK) {
      return source_error(path_, "cannot open: " + sqlite_.describe(rc));
    }
    auto version = read_sqlite_schema_version(sqlite_, path_);
    if (!version) return StoreError{"storage copy: --from " + version.error().message, false};
    if (version.value() == 0) {
      return source_error(path_, "holds no ocirelay schema (an empty database): nothing to copy");
    }
    return std::nullopt;
  }

  std::optional<StoreError> open_target() {
    PgConnectOptions connect;
    connect.url = target_.url;
    connect.ca_file = target_.ca_file;
    connect.connect_timeout = target_.connect_timeout;
    connect.application_name = "ocirelayd storage copy";
    auto db = PgConnection::connect(connect);
    if (!db) return std::move(db).error();
    pg_ = std::move(db).value();
    if (auto migrated = migrate_pg_schema(pg_, target_.node_id); !migrated) {
      return std::move(migrated).error();
    }
    PgResult name = pg_.exec("SELECT current_database()");
    if (!name.ok() || name.rows() != 1) return PgConnection::error(name, "storage copy");
    report_.target = "postgresql database " + name.bytes(0, 0);
    return std::nullopt;
  }

  std::optional<StoreError> load_present() {
    PgResult r = pg_.exec(kSqlTargetPairs);
    if (!r.ok()) return PgConnection::error(r, "storage copy: reading the deliveries");
    for (int row = 0; row < r.rows(); ++row) present_.emplace(r.bytes(row, 0), r.bytes(row, 1));
    return std::nullopt;
  }

  // The event's dedupe key, from the time its body carries, as the relay
  // made it when it accepted the body.
  static std::string key_of(const std::string& event_id, std::string body) {
    auto parsed = event::parse_event(std::move(body));
    return dedupe_key(parsed.ok() ? parsed->event_time() : std::string(), event_id);
  }

  std::optional<StoreError> copy_deliveries() {
    SqliteStatement rows;
    int rc = sqlite_.prepare(rows, kSqlSourceDeliveries);
    if (rc != SQLITE_OK) {
      return source_error(path_, "cannot read the deliveries: " + sqlite_.describe(rc));
    }
    SqliteStatement first_seen;
    rc = sqlite_.prepare(first_seen, kSqlSourceFirstSeen);
    if (rc != SQLITE_OK) {
      return source_error(path_, "cannot read the event IDs: " + sqlite_.describe(rc));
    }
    std::int64_t event = -1;  // the file's event row being copied
    bool known = false;       // the database knows it (by its key or its bare eventID)
    std::int64_t copy = 0;    // its row in the database once copied (ids start at 1)
    while ((rc = rows.step()) == SQLITE_ROW) {
      const std::string event_id = rows.column_text(1);
      if (rows.column_int64(0) != event) {
        event = rows.column_int64(0);
        copy = 0;
        std::string key = key_of(event_id, rows.column_blob(2));
        std::int64_t seen_at = 0;
        {
          SqliteStatement::Scope scope(first_seen);
          rc = first_seen.bind_text(1, key)
                   .bind_text(2, event_id)
                   .bind(3, rows.column_int64(3))
                   .step();
          if (rc != SQLITE_ROW) {
            return source_error(path_, "cannot read the event IDs: " + sqlite_.describe(rc));
          }
          seen_at = first_seen.column_int64(0);
        }
        handled_.insert(event_id);  // the file's row for it: the bare ID or the key
        handled_.insert(key);
        PgResult seen = pg_.exec(kSqlEventSeenInsert,
                                 PgParams{}.text(std::move(key)).int64(seen_at).text(event_id));
        if (!seen.ok()) return PgConnection::error(seen, "storage copy: seen");
        known = seen.changed() == 0;
        ++(known ? report_.seen_present : report_.seen_added);
      }
      std::string destination = rows.column_text(4);
      if (known || present_.count({event_id, destination}) > 0) {
        ++report_.already_present;
        continue;
      }
      if (copy == 0) {
        PgResult inserted = pg_.exec(
            kSqlEventInsert,
            PgParams{}.text(event_id).bytes(rows.column_blob(2)).int64(rows.column_int64(3)));
        if (!inserted.ok() || inserted.rows() != 1) {
          return PgConnection::error(inserted, "storage copy: event " + event_id);
        }
        copy = inserted.int64(0, 0);
        ++report_.events_copied;
      }
      const bool dead = rows.column_text(5) == "dead";
      PgResult inserted = pg_.exec(kSqlDeliveryInsert, PgParams{}
                                                           .int64(copy)
                                                           .text(destination)
                                                           .text(dead ? "dead" : "pending")
                                                           .int64(rows.column_int64(6))
                                                           .int64(rows.column_int64(7))
                                                           .int64(rows.column_int64(8))
                                                           .int64(rows.column_int64(9))
                                                           .text(valid_utf8(rows.column_text(10)))
                                                           .int64(rows.column_int64(11)));
      if (!inserted.ok()) {
        return PgConnection::error(inserted, "storage copy: delivery of " + event_id);
      }
      ++(dead ? report_.dead_copied : report_.pending_copied);
      present_.emplace(event_id, std::move(destination));
    }
    if (rc != SQLITE_DONE) {
      return source_error(path_, "cannot read the deliveries: " + sqlite_.describe(rc));
    }
    return std::nullopt;
  }

  // The rest of the file's dedupe table: events it delivered within the
  // dedupe window, which ONS may still send again.
  std::optional<StoreError> copy_seen() {
    SqliteStatement rows;
    int rc = sqlite_.prepare(rows, kSqlSourceSeen);
    if (rc != SQLITE_OK) {
      return source_error(path_, "cannot read the event IDs: " + sqlite_.describe(rc));
    }
    while ((rc = rows.step()) == SQLITE_ROW) {
      std::string event_id = rows.column_text(0);
      if (handled_.count(event_id) > 0) continue;  // counted with its deliveries
      PgResult seen = pg_.exec(kSqlSeenInsert,
                               PgParams{}.text(std::move(event_id)).int64(rows.column_int64(1)));
      if (!seen.ok()) return PgConnection::error(seen, "storage copy: seen");
      ++(seen.changed() == 1 ? report_.seen_added : report_.seen_present);
    }
    if (rc != SQLITE_DONE) {
      return source_error(path_, "cannot read the event IDs: " + sqlite_.describe(rc));
    }
    return std::nullopt;
  }

  std::string path_;
  const PostgresqlOptions& target_;
  StorageCopyReport report_;
  SqliteConnection sqlite_;
  PgConnection pg_;
  std::set<std::pair<std::string, std::string>> present_;  // (eventID, destination)
  std::set<std::string> handled_;  // the file's seen rows of its deliveries' events
};

std::string plural(std::int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

Result<StorageCopyReport, StoreError> copy_sqlite_to_postgresql(const std::string& sqlite_path,
                                                                const PostgresqlOptions& target) {
  return SqliteToPgCopier(sqlite_path, target).run();
}

std::string format_storage_copy(const StorageCopyReport& r) {
  std::string out = "storage copy: " + r.source + " -> " + r.target + "\n";
  out += "  deliveries copied: " + std::to_string(r.pending_copied + r.dead_copied) + " (" +
         std::to_string(r.pending_copied) + " queued, " +
         plural(r.dead_copied, "dead letter", "dead letters") + "), with " +
         plural(r.events_copied, "event body", "event bodies") + "\n";
  out += "  already present: " + plural(r.already_present, "delivery", "deliveries") +
         " (not copied)\n";
  out += "  event IDs for deduplication: " + std::to_string(r.seen_added) + " added, " +
         std::to_string(r.seen_present) + " already present\n";
  out += "result: OK\n";
  return out;
}

}  // namespace ocirelay::storage
