#include "storage/sqlite_schema.hpp"

#include <string>

#include <sqlite3.h>

#include "storage/sqlite_statement.hpp"
#include "storage/sqlite_transaction.hpp"

namespace ocirelay::storage {

namespace {

// Schema version 3. Version 2 differed only in how deliveries.state was
// checked (`state IN (...)`, for which SQLite builds a temporary index in
// every statement that writes the column, once per delivery row inserted or
// moved between states; SQLite's CPU per accepted event on the storage
// thread fell by about 8% without it, docs/benchmarks.md); version 1 also
// kept delivery_counts by three triggers on deliveries, dropped by the
// migration to 2.
//
// events      One row per accepted (non-duplicate) event. `body` is the
//             request body byte for byte (a BLOB, never re-encoded). The row
//             is deleted once no delivery row references it any more.
// deliveries  One row per (event, destination) not yet delivered. `state` is
//             'pending' (due at next_attempt_at), 'inflight' (handed to a
//             dispatcher by fetch_due) or 'dead' (a dead letter, kept with
//             last_status/last_error). Delivered rows are deleted.
//             `received_at` repeats events.received_at so the age of the
//             oldest waiting event is an index lookup. AUTOINCREMENT keeps
//             ids unique for the life of the file (never reused after a
//             delete), so a late complete() cannot hit a newer row.
// delivery_counts  Rows of deliveries per (destination, state), so stats()
//             reads a handful of rows instead of counting a million (a COUNT
//             over the covering index took ~170-300 ms for 1,000,000 rows).
//             The store updates it in the same transaction as the rows, once
//             per destination and state per transaction (DeliveryCounts); in
//             version 1 a trigger did it once per row, which cost about a
//             tenth of the storage thread's time. Rows whose count dropped to
//             0 stay and are skipped.
// seen        Events already accepted, by dedupe key (storage::dedupe_key;
//             bare eventIDs from builds before it), for dedupe; pruned by
//             age. The column keeps its name, event_id: the key changed
//             what goes in it, not the schema, so older builds still open
//             the file.
//
// Indexes (state first, so every query names a leading prefix):
//   deliveries_due    fetch_due: (state='pending', destination,
//                     next_attempt_at <= now) in (next_attempt_at, id) order
//                     (the rowid ends every index entry); next_due: MIN of
//                     next_attempt_at > now; release_inflight:
//                     state='inflight'; dead_letters: state='dead'.
//   deliveries_age    stats: MIN(received_at) per (state, destination).
//   deliveries_event  "does any delivery still need this body?" (and the
//                     foreign key check when an event row is deleted).
//   seen_age          prune_dedupe: first_seen_at < cutoff.
//
// The statements are kept apart so that a version's DDL can be put together
// (storage check compares a file with its own version's), and because the
// migration from 2 to 3 writes kDeliveriesV3 into sqlite_schema as the text
// SQLite itself stores for it: the statement without its semicolon.
constexpr const char* kEventsTable = R"sql(CREATE TABLE events (
  id          INTEGER PRIMARY KEY,
  event_id    TEXT    NOT NULL,
  body        BLOB    NOT NULL,
  received_at INTEGER NOT NULL
))sql";

constexpr const char* kDeliveriesV2 = R"sql(CREATE TABLE deliveries (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  event           INTEGER NOT NULL REFERENCES events (id),
  destination     TEXT    NOT NULL,
  state           TEXT    NOT NULL CHECK (state IN ('pending', 'inflight', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  received_at     INTEGER NOT NULL,
  last_status     INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT    NOT NULL DEFAULT '',
  updated_at      INTEGER NOT NULL
))sql";

// The same constraint as version 2's, written so that SQLite compares with
// each constant in turn instead of building an index of three.
constexpr const char* kDeliveriesV3 = R"sql(CREATE TABLE deliveries (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  event           INTEGER NOT NULL REFERENCES events (id),
  destination     TEXT    NOT NULL,
  state           TEXT    NOT NULL CHECK (state = 'pending' OR state = 'inflight' OR state = 'dead'),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  received_at     INTEGER NOT NULL,
  last_status     INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT    NOT NULL DEFAULT '',
  updated_at      INTEGER NOT NULL
))sql";

constexpr const char* kIndexesAndTables = R"sql(
CREATE INDEX deliveries_due ON deliveries (state, destination, next_attempt_at);
CREATE INDEX deliveries_age ON deliveries (state, destination, received_at);
CREATE INDEX deliveries_event ON deliveries (event);
CREATE TABLE delivery_counts (
  destination TEXT    NOT NULL,
  state       TEXT    NOT NULL,
  n           INTEGER NOT NULL,
  PRIMARY KEY (destination, state)
) WITHOUT ROWID;
CREATE TABLE seen (
  event_id      TEXT    PRIMARY KEY,
  first_seen_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX seen_age ON seen (first_seen_at);
)sql";

// Version 1's counting triggers, as they were created (storage check compares
// a version 1 file with them).
constexpr const char* kTriggersV1 = R"sql(
CREATE TRIGGER deliveries_counted_insert AFTER INSERT ON deliveries BEGIN
  INSERT INTO delivery_counts (destination, state, n) VALUES (NEW.destination, NEW.state, 1)
    ON CONFLICT (destination, state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER deliveries_counted_delete AFTER DELETE ON deliveries BEGIN
  UPDATE delivery_counts SET n = n - 1
    WHERE destination = OLD.destination AND state = OLD.state;
END;
CREATE TRIGGER deliveries_counted_update AFTER UPDATE OF destination, state ON deliveries
  WHEN OLD.destination IS NOT NEW.destination OR OLD.state IS NOT NEW.state BEGIN
  UPDATE delivery_counts SET n = n - 1
    WHERE destination = OLD.destination AND state = OLD.state;
  INSERT INTO delivery_counts (destination, state, n) VALUES (NEW.destination, NEW.state, 1)
    ON CONFLICT (destination, state) DO UPDATE SET n = n + 1;
END;
)sql";

// Version 1 to 2: the counts move from triggers to the store's statements.
// They are recounted on the way (one scan of deliveries), so a version 1 file
// whose counters had drifted comes out right.
constexpr const char* kMigrateV1ToV2 = R"sql(
DROP TRIGGER deliveries_counted_insert;
DROP TRIGGER deliveries_counted_delete;
DROP TRIGGER deliveries_counted_update;
DELETE FROM delivery_counts;
INSERT INTO delivery_counts (destination, state, n)
  SELECT destination, state, count(*) FROM deliveries GROUP BY destination, state;
PRAGMA user_version = 2;
)sql";

StoreError open_error(const std::string& path, std::string cause) {
  return StoreError{path + ": " + std::move(cause), false};
}

StoreError newer_version_error(const std::string& path, std::int64_t version) {
  return open_error(path, "schema version " + std::to_string(version) +
                              " is newer than this ocirelay supports (" +
                              std::to_string(kSqliteSchemaVersion) +
                              "); run a newer ocirelay or use another storage path");
}

}  // namespace

std::string sqlite_schema_sql(std::int64_t version) {
  // Appended, not `std::string(a) + b`: GCC 12 at -O3 misreads that
  // concatenation as an out-of-bounds copy (-Warray-bounds).
  std::string sql(kEventsTable);
  sql.append(";\n");
  sql.append(version >= 3 ? kDeliveriesV3 : kDeliveriesV2);
  sql.append(";\n");
  sql.append(kIndexesAndTables);
  if (version == 1) sql.append(kTriggersV1);
  return sql;
}

StoreResult<std::int64_t> read_sqlite_schema_version(SqliteConnection& db,
                                                     const std::string& path) {
  // The first read of the header: where a file that is not a database fails.
  std::int64_t application_id = 0;
  int rc = db.query_int("PRAGMA application_id", application_id);
  if ((rc & 0xff) == SQLITE_NOTADB) {
    return fail(open_error(path, "not an SQLite database (" + db.describe(rc) + ")"));
  }
  if (rc != SQLITE_OK) {
    return fail(open_error(path, "cannot read the database: " + db.describe(rc)));
  }
  std::int64_t version = 0;
  rc = db.query_int("PRAGMA user_version", version);
  if (rc != SQLITE_OK) {
    return fail(open_error(path, "cannot read the schema version: " + db.describe(rc)));
  }
  // Every database this code created carries the application ID.
  if (application_id != kSqliteApplicationId && (application_id != 0 || version != 0)) {
    return fail(open_error(
        path, "not an ocirelay database (application_id " + std::to_string(application_id) + ")"));
  }
  if (version > kSqliteSchemaVersion) {
    return fail(newer_version_error(path, version));
  }
  if (version < 0) {
    return fail(open_error(path, "invalid schema version " + std::to_string(version)));
  }
  if (version == 0) {
    std::int64_t objects = 0;
    rc = db.query_int("SELECT count(*) FROM sqlite_schema", objects);
    if (rc != SQLITE_OK) {
      return fail(open_error(path, "cannot read the schema: " + db.describe(rc)));
    }
    if (objects != 0) {
      return fail(open_error(path,
                             "not an ocirelay database (it has tables but no ocirelay "
                             "schema version)"));
    }
  }
  return version;
}

StoreResult<Unit> create_sqlite_schema(SqliteConnection& db, const std::string& path) {
  SqliteTransaction transaction(db);
  int rc = transaction.begin();
  if (rc != SQLITE_OK) {
    return fail(open_error(path, "cannot create the schema: " + db.describe(rc)));
  }
  std::int64_t version = 0;
  rc = db.query_int("PRAGMA user_version", version);
  if (rc != SQLITE_OK) {
    return fail(open_error(path, "cannot read the schema version: " + db.describe(rc)));
  }
  if (version != 0) {
    return Unit{};  // created by another process since we looked
  }
  rc = db.exec(sqlite_schema_sql().c_str());
  if (rc == SQLITE_OK) {
    const std::string pragmas =
        "PRAGMA user_version = " + std::to_string(kSqliteSchemaVersion) +
        "; PRAGMA application_id = " + std::to_string(kSqliteApplicationId) + ";";
    rc = db.exec(pragmas.c_str());
  }
  if (rc == SQLITE_OK) {
    rc = transaction.commit();
  }
  if (rc != SQLITE_OK) {
    return fail(open_error(path, "cannot create the schema: " + db.describe(rc)));
  }
  return Unit{};
}

namespace {

// One upgrade step, in one transaction: `step` runs inside it once the file
// is still found at `from` (another process may have upgraded it since it was
// read); returns the version the file is at afterwards.
template <typename Step>
StoreResult<std::int64_t> upgrade(SqliteConnection& db, const std::string& path, std::int64_t from,
                                  Step&& step) {
  SqliteTransaction transaction(db);
  int rc = transaction.begin();
  if (rc == SQLITE_OK) {
    std::int64_t current = 0;
    rc = db.query_int("PRAGMA user_version", current);
    if (rc == SQLITE_OK && current != from) return current;  // upgraded by another process
  }
  std::string detail;
  if (rc == SQLITE_OK) rc = step(detail);
  if (rc == SQLITE_OK) rc = transaction.commit();
  if (rc != SQLITE_OK) {
    return fail(open_error(path, "cannot upgrade the schema from version " + std::to_string(from) +
                                     " to " + std::to_string(from + 1) + ": " +
                                     (detail.empty() ? db.describe(rc) : detail)));
  }
  return from + 1;
}

// Version 2 to 3: deliveries' CHECK constraint is rewritten in place. Only
// the constraint's text changes (every row satisfies both forms), which is
// the case SQLite documents for editing sqlite_schema directly (ALTER TABLE,
// "making other kinds of table schema changes"): with writable_schema on,
// the table's SQL is replaced and the schema cookie incremented, so that
// every connection reads the new definition, all in the upgrade's
// transaction. No row is copied, whatever the backlog. The table's text must
// be version 2's exactly; anything else is refused rather than overwritten.
int rewrite_deliveries_check(SqliteConnection& db, std::string& detail) {
  std::int64_t cookie = 0;
  int rc = db.query_int("PRAGMA schema_version", cookie);
  if (rc == SQLITE_OK) rc = db.exec("PRAGMA writable_schema = ON");
  if (rc != SQLITE_OK) return rc;
  SqliteStatement rewrite;
  rc = db.prepare(rewrite,
                  "UPDATE sqlite_schema SET sql = ?1"
                  " WHERE type = 'table' AND name = 'deliveries' AND sql = ?2");
  if (rc == SQLITE_OK) rc = rewrite.bind_text(1, kDeliveriesV3).bind_text(2, kDeliveriesV2).run();
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  if (rc == SQLITE_OK && db.changes() != 1) {
    detail = "the deliveries table is not version 2's (storage check shows how it differs)";
    rc = SQLITE_ERROR;
  }
  rewrite.reset();
  if (rc == SQLITE_OK) {
    const std::string bump = "PRAGMA schema_version = " + std::to_string(cookie + 1);
    rc = db.exec(bump.c_str());
  }
  // SQLite's reason, before the next statement replaces it.
  if (rc != SQLITE_OK && detail.empty()) detail = db.describe(rc);
  // Off again whatever happened; the transaction rolls back on an error.
  const int off = db.exec("PRAGMA writable_schema = OFF");
  if (rc == SQLITE_OK) rc = off;
  // The changed cookie makes SQLite parse the schema again here, inside the
  // transaction: a definition it could not read fails now and rolls back,
  // instead of leaving a file no connection can open.
  if (rc == SQLITE_OK) rc = db.exec("SELECT 1 FROM deliveries LIMIT 0");
  if (rc == SQLITE_OK) rc = db.exec("PRAGMA user_version = 3");
  return rc;
}

}  // namespace

StoreResult<std::int64_t> migrate_sqlite_schema(SqliteConnection& db, const std::string& path,
                                                std::int64_t version) {
  while (version != 0 && version < kSqliteSchemaVersion) {
    StoreResult<std::int64_t> next = std::int64_t{0};
    if (version == 1) {
      next = upgrade(db, path, 1, [&](std::string&) { return db.exec(kMigrateV1ToV2); });
    } else {
      next = upgrade(db, path, 2,
                     [&](std::string& detail) { return rewrite_deliveries_check(db, detail); });
    }
    if (!next) return next;
    version = *next;
  }
  // Another process, a newer ocirelay, upgraded it past this one meanwhile.
  if (version > kSqliteSchemaVersion) return fail(newer_version_error(path, version));
  return version;
}

}  // namespace ocirelay::storage
