// The PostgreSQL schema of PgStore and its migrations. Private to the
// storage library.
//
// Free functions on the caller's connection; no state of their own.
#pragma once

#include <cstdint>
#include <string>

#include "ocirelay/storage/store.hpp"
#include "storage/pg_connection.hpp"

namespace ocirelay::storage {

// The schema version this build writes (the highest migration it knows).
inline constexpr std::int64_t kPgSchemaVersion = 3;

// The version from which relays key `seen` by storage::dedupe_key; rows
// older than its migration may be bare eventIDs (pg_schema.cpp).
inline constexpr std::int64_t kPgDedupeKeyVersion = 3;

// The key of the transaction-level advisory lock taken while migrating
// (pg_advisory_xact_lock): "ocirelay" in ASCII.
inline constexpr std::int64_t kPgMigrationLock = 0x6f63697265'6c6179;

// Brings the database to kPgSchemaVersion, in one transaction holding the
// advisory lock: every relay opening the database at once waits for the
// first, which applies each missing migration once (recorded with its time
// and node in ocirelay_schema); the others then find nothing to do. Refuses
// a database whose schema is newer than this build's. Returns the version
// found before migrating (0: a new database).
StoreResult<std::int64_t> migrate_pg_schema(PgConnection& db, const std::string& node_id);

// The schema version of the database (0: no ocirelay schema).
StoreResult<std::int64_t> read_pg_schema_version(PgConnection& db);

}  // namespace ocirelay::storage
