#include "storage/sqlite_statement.hpp"

#include <limits>
#include <utility>

#include <sqlite3.h>

namespace ocirelay::storage {

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), bind_rc_(std::exchange(other.bind_rc_, 0)) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_rc_ = std::exchange(other.bind_rc_, 0);
  }
  return *this;
}

int SqliteStatement::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_finalize(stmt_);
  stmt_ = nullptr;
  bind_rc_ = SQLITE_OK;
  if (sql.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return SQLITE_TOOBIG;
  }
  return sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                            &stmt_, nullptr);
}

void SqliteStatement::note(int rc) noexcept {
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) {
    bind_rc_ = rc;
  }
}

SqliteStatement& SqliteStatement::bind(int index, std::int64_t value) {
  note(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

SqliteStatement& SqliteStatement::bind_text(int index, std::string_view value) {
  // A null pointer would bind NULL; an empty view may carry one.
  static constexpr char kEmpty[] = "";
  const char* data = value.data() != nullptr ? value.data() : kEmpty;
  note(sqlite3_bind_text64(stmt_, index, data, value.size(), SQLITE_STATIC, SQLITE_UTF8));
  return *this;
}

SqliteStatement& SqliteStatement::bind_blob(int index, std::string_view value) {
  if (value.empty()) {
    // sqlite3_bind_blob with a null pointer binds NULL, not an empty blob.
    note(sqlite3_bind_zeroblob(stmt_, index, 0));
  } else {
    note(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_STATIC));
  }
  return *this;
}

int SqliteStatement::step() {
  if (stmt_ == nullptr) {
    return SQLITE_MISUSE;
  }
  if (bind_rc_ != SQLITE_OK) {
    return bind_rc_;
  }
  return sqlite3_step(stmt_);
}

int SqliteStatement::run() {
  int rc = step();
  while (rc == SQLITE_ROW) {
    rc = sqlite3_step(stmt_);
  }
  return rc;
}

bool SqliteStatement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

std::int64_t SqliteStatement::column_int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string SqliteStatement::column_text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr || size <= 0) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(size));
}

std::string SqliteStatement::column_blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr || size <= 0) {
    return {};
  }
  return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

void SqliteStatement::reset() noexcept {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  bind_rc_ = SQLITE_OK;
}

}  // namespace ocirelay::storage
