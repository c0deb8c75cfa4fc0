// What storage check and --check-config --connect read first from a
// PostgreSQL database, without changing it. Private to the storage library
// (public: probe_postgresql() in ocirelay/storage/storage_check.hpp).
//
// Free functions on the caller's connection, on the caller's thread.
#pragma once

#include "ocirelay/storage/storage_check.hpp"
#include "ocirelay/storage/store.hpp"
#include "storage/pg_connection.hpp"

namespace ocirelay::storage {

// Connects as `application` and starts a read-only transaction (repeatable
// read: every query sees one snapshot); the caller ends it (or closes the
// connection). The error never contains the URL.
StoreResult<PgConnection> connect_read_only(const PostgresqlOptions& options,
                                            const char* application);

// The server version, the database's name and its schema version, in the
// transaction of connect_read_only().
StoreResult<PostgresqlProbe> read_probe(PgConnection& db);

}  // namespace ocirelay::storage
