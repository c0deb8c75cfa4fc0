// The on-disk layout of the SQLite store and its version (PRAGMA
// user_version). The layout itself is documented in sqlite_schema.cpp.
// Free functions used while opening a store, on the opening thread.
#pragma once

#include <cstdint>
#include <string>

#include "ocirelay/storage/store.hpp"
#include "storage/sqlite_connection.hpp"

namespace ocirelay::storage {

// The schema version this code reads and writes.
inline constexpr std::int64_t kSqliteSchemaVersion = 3;
// PRAGMA application_id of ocirelay databases ("OCIR").
inline constexpr std::int64_t kSqliteApplicationId = 0x4F434952;

// The DDL of a schema version (tables, indexes, triggers): the current one
// by default, or an older one that the store still upgrades (storage check
// compares an older file with it).
std::string sqlite_schema_sql(std::int64_t version = kSqliteSchemaVersion);

// Reads the file's schema version: 0 for a new (empty) database. Fails, naming
// the path, when the file is not an SQLite database, belongs to another
// application, or was written by a newer ocirelay.
StoreResult<std::int64_t> read_sqlite_schema_version(SqliteConnection& db, const std::string& path);

// Creates the schema in a database whose version was 0, in one transaction
// (a no-op when another process created it meanwhile).
StoreResult<Unit> create_sqlite_schema(SqliteConnection& db, const std::string& path);

// Upgrades a database of an older version to the current one, one version
// at a time, each in one transaction; returns the version it ends at.
// Version 1 to 2 drops the counting triggers and recounts delivery_counts;
// 2 to 3 rewrites deliveries' CHECK constraint in place (no row is copied).
// Fails as read_sqlite_schema_version does when another process, a newer
// ocirelay, upgraded the file past this version meanwhile.
StoreResult<std::int64_t> migrate_sqlite_schema(SqliteConnection& db, const std::string& path,
                                                std::int64_t version);

}  // namespace ocirelay::storage
