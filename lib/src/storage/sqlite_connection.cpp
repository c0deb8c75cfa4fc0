#include "storage/sqlite_connection.hpp"

#include <cerrno>
#include <system_error>

#include <sqlite3.h>

#include "storage/sqlite_wal_vfs.hpp"

namespace ocirelay::storage {

SqliteConnection::~SqliteConnection() { close(); }

namespace {
// Process-wide SQLite settings, applied once before SQLite initialises: no
// allocation statistics (they cost a global mutex on every malloc and free,
// a tenth of the storage thread's instructions per stored event).
void configure_sqlite_once() {
  static const bool configured = [] {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  }();
  (void)configured;
}
}  // namespace

int SqliteConnection::open(const std::string& path, int busy_timeout_ms) {
  close();
  configure_sqlite_once();
  // NOMUTEX: the store is used by one thread at a time, possibly not the one
  // that opened it. The VFS gathers WAL writes only once the owner asks it to
  // (SqliteWalVfs); until then it is the default VFS.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, SqliteWalVfs::name());
  if (db_ == nullptr) {
    return SQLITE_NOMEM;
  }
  sqlite3_extended_result_codes(db_, 1);
  if (rc != SQLITE_OK) {
    return rc;
  }
  return sqlite3_busy_timeout(db_, busy_timeout_ms);
}

namespace {

// "file:" URI of a path: '%', '?' and '#' (and anything not printable) are
// percent-encoded, so any file name reaches the VFS unchanged.
std::string file_uri(const std::string& path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string uri = "file:";
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '%' || c == '?' || c == '#' || u < 0x21 || u > 0x7e) {
      uri += '%';
      uri += kHex[u >> 4];
      uri += kHex[u & 0x0f];
    } else {
      uri += c;
    }
  }
  return uri;
}

}  // namespace

int SqliteConnection::open_read_only(const std::string& path, bool immutable) {
  close();
  std::string uri = file_uri(path) + "?mode=ro";
  if (immutable) {
    uri += "&immutable=1";
  }
  const int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(uri.c_str(), &db_, flags, nullptr);
  if (db_ == nullptr) {
    return SQLITE_NOMEM;
  }
  sqlite3_extended_result_codes(db_, 1);
  return rc;
}

int SqliteConnection::open_in_memory() {
  close();
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(":memory:", &db_, flags, nullptr);
  if (db_ == nullptr) {
    return SQLITE_NOMEM;
  }
  sqlite3_extended_result_codes(db_, 1);
  return rc;
}

void SqliteConnection::close() noexcept {
  begin_ = SqliteStatement();
  commit_ = SqliteStatement();
  rollback_ = SqliteStatement();
  if (db_ != nullptr) {
    // Deferred until the owner's remaining statements are finalized.
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

int SqliteConnection::prepare_transaction_statements() {
  int rc = begin_.prepare(db_, "BEGIN IMMEDIATE");
  if (rc == SQLITE_OK) {
    rc = commit_.prepare(db_, "COMMIT");
  }
  if (rc == SQLITE_OK) {
    rc = rollback_.prepare(db_, "ROLLBACK");
  }
  return rc;
}

int SqliteConnection::exec(const char* sql) {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
}

int SqliteConnection::query_int(const char* sql, std::int64_t& out) {
  SqliteStatement statement;
  int rc = statement.prepare(db_, sql);
  if (rc != SQLITE_OK) {
    return rc;
  }
  rc = statement.step();
  if (rc == SQLITE_ROW) {
    out = statement.column_int64(0);
    rc = statement.run();  // to the end (a PRAGMA may do its work there)
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int SqliteConnection::query_text(const char* sql, std::string& out) {
  SqliteStatement statement;
  int rc = statement.prepare(db_, sql);
  if (rc != SQLITE_OK) {
    return rc;
  }
  rc = statement.step();
  if (rc == SQLITE_ROW) {
    out = statement.column_text(0);
    rc = statement.run();
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int SqliteConnection::prepare(SqliteStatement& statement, std::string_view sql) {
  return statement.prepare(db_, sql);
}

int SqliteConnection::begin_immediate() {
  SqliteStatement::Scope scope(begin_);
  const int rc = begin_.step();
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int SqliteConnection::commit() {
  SqliteStatement::Scope scope(commit_);
  const int rc = commit_.step();
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int SqliteConnection::rollback() {
  SqliteStatement::Scope scope(rollback_);
  const int rc = rollback_.step();
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

bool SqliteConnection::in_transaction() const noexcept {
  return db_ != nullptr && sqlite3_get_autocommit(db_) == 0;
}

std::int64_t SqliteConnection::changes() const noexcept { return sqlite3_changes64(db_); }

std::int64_t SqliteConnection::last_insert_rowid() const noexcept {
  return sqlite3_last_insert_rowid(db_);
}

std::string SqliteConnection::describe(int rc) const {
  std::string message;
  // The connection's message is about the last call; prefer it when it is
  // about this code, else the generic text of the code.
  if (db_ != nullptr && sqlite3_extended_errcode(db_) == rc) {
    message = sqlite3_errmsg(db_);
  } else {
    message = sqlite3_errstr(rc);
  }
  const int primary = rc & 0xff;
  if (db_ != nullptr && (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN ||
                         primary == SQLITE_FULL || primary == SQLITE_READONLY)) {
    const int os_error = sqlite3_system_errno(db_);
    if (os_error != 0) {
      message += ": ";
      message += std::system_category().message(os_error);
    }
  }
  return message;
}

StoreError SqliteConnection::error(int rc, std::string_view what) const {
  const int primary = rc & 0xff;
  bool disk_full = primary == SQLITE_FULL;
  if (!disk_full && primary == SQLITE_IOERR && db_ != nullptr) {
    disk_full = sqlite3_system_errno(db_) == ENOSPC;
  }
  std::string message(what);
  message += ": ";
  message += describe(rc);
  return StoreError{std::move(message), disk_full};
}

}  // namespace ocirelay::storage
