// SqliteStatement: one prepared SQLite statement, prepared once and kept for
// the connection's lifetime (finalized on destruction, before the connection
// closes). Bind, step, read columns, then reset: a Scope resets on exit so no
// statement keeps a read transaction open (which would stall WAL checkpoints).
//
// Thread contract: used by one thread at a time, like its connection.
// Results are SQLite result codes (extended codes when the connection enables
// them); nothing throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace ocirelay::storage {

class SqliteStatement {
 public:
  // Resets the statement (and clears its bindings) when it leaves scope.
  class Scope {
   public:
    explicit Scope(SqliteStatement& statement) noexcept : statement_(statement) {}
    ~Scope() { statement_.reset(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    SqliteStatement& statement_;
  };

  SqliteStatement() = default;
  ~SqliteStatement();
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  // Compiles `sql` (one statement) for `db`, replacing any previous one.
  int prepare(sqlite3* db, std::string_view sql);
  bool prepared() const noexcept { return stmt_ != nullptr; }

  // Parameters are numbered from 1, as ?1, ?2 in the SQL. Text and blobs are
  // not copied: they must stay alive until reset(). A failed bind is reported
  // by the next step().
  SqliteStatement& bind(int index, std::int64_t value);
  SqliteStatement& bind_text(int index, std::string_view value);
  SqliteStatement& bind_blob(int index, std::string_view value);

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step();
  // Steps until done, ignoring rows: SQLITE_DONE or an error code.
  int run();

  // Columns are numbered from 0; valid after step() returned SQLITE_ROW.
  bool column_is_null(int column) const;
  std::int64_t column_int64(int column) const;
  std::string column_text(int column) const;
  std::string column_blob(int column) const;  // byte for byte

  // Ends the current execution and clears the bindings. Always safe.
  void reset() noexcept;

 private:
  void note(int rc) noexcept;

  sqlite3_stmt* stmt_ = nullptr;
  int bind_rc_ = 0;  // first bind error since the last reset (SQLITE_OK = 0)
};

}  // namespace ocirelay::storage
