#include "storage/pg_schema.hpp"

#include <iterator>

#include "storage/pg_transaction.hpp"

namespace ocirelay::storage {

namespace {

// Version 1: the tables of the SQLite schema (sqlite_schema.cpp), with what
// several relays on one database need:
//
// events      One row per accepted (non-duplicate) event; `body` byte for
//             byte (bytea). Deleted once no delivery needs it.
// deliveries  One row per (event, destination) not yet delivered: state
//             'pending' (due at next_attempt_at), 'inflight' (claimed by the
//             relay `claimed_by` until `lease_until`, both NULL otherwise) or
//             'dead' (a dead letter). An identity column: ids are never
//             reused, so a late result cannot hit a newer row.
// seen        Events accepted within the dedupe window, for every relay, by
//             dedupe key (storage::dedupe_key; bare eventIDs from relays
//             before it): its primary key makes dedupe cluster-wide. The
//             column keeps its name, event_id, so that relays of both kinds
//             share the table.
// ocirelay_schema  One row per migration applied: version, when, by whom.
//
// Times are milliseconds since the Unix epoch (bigint), as in SQLite, from
// the relays' clocks (which must be synchronised well within `lease`).
//
// Indexes:
//   deliveries_due      fetch_due's pending rows of a destination in
//                       (next_attempt_at, id) order (partial: pending only);
//   deliveries_claims   inflight rows by destination and lease end (expired
//                       claims; next_due of other relays' claims), and
//                       release_inflight's rows of one node;
//   deliveries_age      stats and dead letters by (state, destination,
//                       received_at);
//   deliveries_event    "does any delivery still need this body?";
//   seen_age            prune_dedupe.
constexpr const char* kMigration1 = R"sql(
CREATE TABLE events (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id    text   NOT NULL,
  body        bytea  NOT NULL,
  received_at bigint NOT NULL
);
CREATE TABLE deliveries (
  id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event           bigint  NOT NULL REFERENCES events (id),
  destination     text    NOT NULL,
  state           text    NOT NULL CHECK (state IN ('pending', 'inflight', 'dead')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at bigint  NOT NULL,
  received_at     bigint  NOT NULL,
  last_status     integer NOT NULL DEFAULT 0,
  last_error      text    NOT NULL DEFAULT '',
  updated_at      bigint  NOT NULL,
  claimed_by      text,
  lease_until     bigint,
  CHECK ((state = 'inflight') = (claimed_by IS NOT NULL AND lease_until IS NOT NULL))
);
CREATE INDEX deliveries_due ON deliveries (destination, next_attempt_at, id)
  WHERE state = 'pending';
CREATE INDEX deliveries_claims ON deliveries (destination, lease_until)
  WHERE state = 'inflight';
CREATE INDEX deliveries_claimed_by ON deliveries (claimed_by) WHERE state = 'inflight';
CREATE INDEX deliveries_age ON deliveries (state, destination, received_at);
CREATE INDEX deliveries_event ON deliveries (event);
CREATE TABLE seen (
  event_id      text   PRIMARY KEY,
  first_seen_at bigint NOT NULL
);
CREATE INDEX seen_age ON seen (first_seen_at);
)sql";

// Version 2: claim tokens. Each fetch_due() call takes one value of
// delivery_claims and stamps it on the rows it claims (`claim`, NULL unless
// inflight; rows claimed by a version 1 relay have none). Results apply, and
// renewals extend, only where the token matches: a relay's late result for a
// row claimed again since, or a claim whose rows the relay never received,
// no longer passes for its current claim. A version 1 database keeps its
// rows; the column is added without rewriting the table.
constexpr const char* kMigration2 = R"sql(
CREATE SEQUENCE delivery_claims AS bigint;
ALTER TABLE deliveries ADD COLUMN claim bigint;
)sql";

// Version 3: `seen` is keyed by storage::dedupe_key (the event's time, then
// its eventID) instead of the bare eventID. No table changes; the migration
// says so on the table, and its applied_at tells a relay which rows may
// still be bare (PgStore checks them while any is left). It also keeps relays
// of earlier builds, which would key by the bare eventID alone, from
// starting on the database.
constexpr const char* kMigration3 = R"sql(
COMMENT ON TABLE seen IS 'dedupe keys: U+001F, the event time as written, U+001F, the eventID (schema 3); bare eventIDs before';
)sql";

// Migration n is kMigrations[n - 1].
constexpr const char* kMigrations[] = {kMigration1, kMigration2, kMigration3};
static_assert(std::size(kMigrations) == kPgSchemaVersion);

constexpr const char* kSchemaTable =
    "CREATE TABLE IF NOT EXISTS ocirelay_schema ("
    " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(),"
    " applied_by text NOT NULL)";

}  // namespace

StoreResult<std::int64_t> read_pg_schema_version(PgConnection& db) {
  PgResult exists = db.exec("SELECT to_regclass('ocirelay_schema') IS NOT NULL");
  if (!exists.ok() || exists.rows() != 1) {
    return fail(PgConnection::error(exists, "cannot read the schema version"));
  }
  if (exists.bytes(0, 0) != std::string(1, '\1')) {
    return std::int64_t{0};
  }
  PgResult version = db.exec("SELECT coalesce(max(version), 0)::bigint FROM ocirelay_schema");
  if (!version.ok() || version.rows() != 1) {
    return fail(PgConnection::error(version, "cannot read the schema version"));
  }
  return version.int64(0, 0);
}

StoreResult<std::int64_t> migrate_pg_schema(PgConnection& db, const std::string& node_id) {
  PgTransaction transaction(db);
  if (PgResult r = transaction.begin(); !r.ok()) {
    return fail(PgConnection::error(r, "schema: begin"));
  }
  // Held until the transaction ends: one relay migrates, the others wait.
  if (PgResult r =
          db.exec("SELECT pg_advisory_xact_lock($1::bigint)", PgParams{}.int64(kPgMigrationLock));
      !r.ok()) {
    return fail(PgConnection::error(r, "schema: advisory lock"));
  }
  if (PgResult r = db.exec(kSchemaTable); !r.ok()) {
    return fail(PgConnection::error(r, "schema: cannot create ocirelay_schema"));
  }
  auto found = read_pg_schema_version(db);
  if (!found) return fail(std::move(found).error());
  const std::int64_t version = found.value();
  if (version > kPgSchemaVersion) {
    return fail(StoreError{"postgresql: the database's schema version " + std::to_string(version) +
                               " is newer than this ocirelay supports (" +
                               std::to_string(kPgSchemaVersion) +
                               "); upgrade this relay to the version the other relays run",
                           false});
  }
  for (std::int64_t next = version + 1; next <= kPgSchemaVersion; ++next) {
    const std::string context = "schema: migration " + std::to_string(next);
    if (PgResult r = db.exec_script(kMigrations[next - 1]); !r.ok()) {
      return fail(PgConnection::error(r, context));
    }
    if (PgResult r = db.exec("INSERT INTO ocirelay_schema (version, applied_by) VALUES ($1, $2)",
                             PgParams{}.int64(next).text(node_id));
        !r.ok()) {
      return fail(PgConnection::error(r, context));
    }
  }
  if (PgResult r = transaction.commit(); !r.ok()) {
    return fail(PgConnection::error(r, "schema: commit"));
  }
  return version;
}

}  // namespace ocirelay::storage
