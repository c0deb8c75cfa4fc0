// SqliteConnection: owns one sqlite3 connection handle and the cached
// statements that frame transactions (BEGIN IMMEDIATE, COMMIT, ROLLBACK).
//
// Thread contract: used by one thread at a time. Results are SQLite result
// codes (extended codes are enabled); nothing throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ocirelay/storage/store.hpp"
#include "storage/sqlite_statement.hpp"

struct sqlite3;

namespace ocirelay::storage {

class SqliteConnection {
 public:
  SqliteConnection() = default;
  ~SqliteConnection();  // closes; statements finalized later close it for good
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  // Opens `path` read-write (never creating it: the caller creates the file
  // with the permissions it wants), with extended result codes and a busy
  // timeout. On failure the handle is kept for error() until close().
  int open(const std::string& path, int busy_timeout_ms);
  // Opens `path` read-only for inspection (never creating it). `immutable`:
  // also without locks or WAL, so SQLite creates no file next to it (only
  // for a database whose -wal file does not exist).
  int open_read_only(const std::string& path, bool immutable);
  // Opens a private in-memory database.
  int open_in_memory();
  void close() noexcept;
  sqlite3* handle() const noexcept { return db_; }

  // Prepares the transaction statements; call once the schema is readable.
  int prepare_transaction_statements();

  // Runs one or more statements, discarding rows (PRAGMAs, DDL).
  int exec(const char* sql);
  // Runs a single-value query (e.g. "PRAGMA user_version").
  int query_int(const char* sql, std::int64_t& out);
  int query_text(const char* sql, std::string& out);
  int prepare(SqliteStatement& statement, std::string_view sql);

  int begin_immediate();
  int commit();
  int rollback();
  bool in_transaction() const noexcept;
  // While grouped (SqliteStore::begin_group), the SqliteTransactions of the
  // store's calls join the one transaction the group opened instead of
  // beginning and committing their own.
  void set_grouped(bool grouped) noexcept { grouped_ = grouped; }
  bool grouped() const noexcept { return grouped_; }

  // Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t changes() const noexcept;
  std::int64_t last_insert_rowid() const noexcept;

  // "<what>: <SQLite message>[: <OS error>]", disk_full for SQLITE_FULL and
  // ENOSPC. Call right after the failing call, before any other.
  StoreError error(int rc, std::string_view what) const;
  // The SQLite message alone, for open-time errors that name the path.
  std::string describe(int rc) const;

 private:
  sqlite3* db_ = nullptr;
  SqliteStatement begin_;
  SqliteStatement commit_;
  SqliteStatement rollback_;
  bool grouped_ = false;
};

}  // namespace ocirelay::storage
