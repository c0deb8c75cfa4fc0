// Offline integrity check of an ocirelay SQLite storage file, behind
// `ocirelayd storage check`: SQLite's own integrity check, the schema against
// the version this build writes, the delivery counters kept by triggers
// against real counts, rows in states the relay never writes, and whether a
// write-ahead log (-wal) is present. The same for a PostgreSQL database
// (check_postgresql_storage), and the connection check of
// `ocirelayd --check-config --connect` (probe_postgresql).
//
// Thread and lifetime contract: check_sqlite_storage() is a blocking free
// function, safe on any thread; it opens its own read-only connection and
// closes it before returning. It never writes the database or its -wal file
// and never creates the database: a missing file is reported, not made. (With
// a -wal present SQLite may rebuild the -shm index next to it, as any reader
// does; without one, the file is read with no lock and nothing is created.)
// Meant for a stopped relay; on a running one it checks a consistent
// snapshot. The report is a plain value.
//
// check_postgresql_storage() and probe_postgresql() are blocking free
// functions too: they open their own connection (loading libpq), read in one
// read-only transaction, never create or migrate the schema, and close the
// connection before returning. Safe on a database that relays are using.
// No message they produce contains the URL or any part of it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ocirelay/common/result.hpp"
#include "ocirelay/storage/records.hpp"
#include "ocirelay/storage/store.hpp"

namespace ocirelay::storage {

// Exit codes of `ocirelayd storage check` (2 is a usage or configuration
// error, as for every ocirelayd command).
inline constexpr int kStorageCheckOk = 0;
inline constexpr int kStorageCheckProblems = 1;
inline constexpr int kStorageCheckCannotOpen = 3;

struct StorageCheckReport {
  enum class Outcome { ok, problems, cannot_open };
  enum class Backend { sqlite, postgresql };

  Backend backend = Backend::sqlite;
  // SQLite: the file; PostgreSQL: "postgresql database NAME" once connected.
  std::string path;
  Outcome outcome = Outcome::ok;
  std::string cannot_open_reason;     // set with Outcome::cannot_open
  std::vector<std::string> problems;  // each one makes the outcome `problems`
  std::vector<std::string> notes;     // worth knowing, not wrong

  // What was found (meaningful unless cannot_open).
  std::int64_t file_bytes = 0;
  std::int64_t schema_version = 0;
  std::int64_t page_size = 0;
  std::int64_t page_count = 0;
  std::int64_t free_pages = 0;
  bool wal_present = false;
  std::int64_t wal_bytes = 0;
  std::int64_t events = 0;
  std::int64_t pending = 0;
  std::int64_t inflight = 0;
  std::int64_t dead = 0;
  std::int64_t seen = 0;

  // PostgreSQL only.
  std::string server_version;                  // "15.5"
  std::int64_t expired_leases = 0;             // in flight, lease over: another relay takes them
  std::vector<NodeInflight> inflight_by_node;  // by node name
};

StorageCheckReport check_sqlite_storage(const std::string& path);

// The database of `options` (node_id and lease are not used): the server
// version, the schema version and its tables and indexes, the row counts,
// and rows in states the relays never write. Cannot connect: cannot_open.
StorageCheckReport check_postgresql_storage(const PostgresqlOptions& options);

// What a relay would find at start (`--check-config --connect`).
struct PostgresqlProbe {
  enum class Schema {
    current,           // this build's version
    will_be_created,   // an empty database: the first relay creates it
    will_be_upgraded,  // older: the first relay of this build upgrades it
    newer,             // newer than this build: a relay refuses to start
  };
  std::string server_version;  // "15.5"
  std::string database;        // its name
  std::int64_t schema_version = 0;
  std::int64_t supported_version = 0;  // this build's
  Schema schema = Schema::will_be_created;
};

// Connects and reads the server and schema versions; the error (cannot
// connect, libpq missing) never contains the URL.
Result<PostgresqlProbe, StoreError> probe_postgresql(const PostgresqlOptions& options);

// "PostgreSQL 15.5, database relay; schema version 1: current", for people.
std::string describe_probe(const PostgresqlProbe& probe);

// A report for people: what was found, one note or problem per line, and the
// verdict on the last line.
std::string format_storage_check(const StorageCheckReport& report);

// kStorageCheckOk, kStorageCheckProblems or kStorageCheckCannotOpen.
int storage_check_exit_code(const StorageCheckReport& report) noexcept;

}  // namespace ocirelay::storage
