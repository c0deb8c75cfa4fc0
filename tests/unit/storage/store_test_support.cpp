#include "unit/storage/store_test_support.hpp"

#include <memory>
#include <stdexcept>

#include <sqlite3.h>

namespace ocirelay::storage::test {

namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct FinalizeStmt {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using DbPtr = std::unique_ptr<sqlite3, CloseDb>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, FinalizeStmt>;

DbPtr open_db(const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) {
    throw std::runtime_error("cannot open " + path + ": " + sqlite3_errstr(rc));
  }
  sqlite3_busy_timeout(raw, 5000);
  return db;
}

StmtPtr prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    throw std::runtime_error("cannot prepare '" + sql + "': " + sqlite3_errmsg(db));
  }
  return StmtPtr(raw);
}

}  // namespace

std::int64_t counter_mismatches(const std::string& path) {
  return query_int(path,
                   "SELECT count(*) FROM ("
                   " SELECT destination, state, count(*) AS n FROM deliveries GROUP BY 1, 2"
                   " EXCEPT SELECT destination, state, n FROM delivery_counts WHERE n > 0)") +
         query_int(path,
                   "SELECT count(*) FROM delivery_counts AS c WHERE c.n <> (SELECT count(*)"
                   " FROM deliveries AS d WHERE d.destination = c.destination"
                   " AND d.state = c.state)");
}

std::int64_t query_int(const std::string& path, const std::string& sql) {
  DbPtr db = open_db(path);
  StmtPtr stmt = prepare(db.get(), sql);
  if (sqlite3_step(stmt.get()) != SQLITE_ROW) {
    throw std::runtime_error("no row from '" + sql + "': " + sqlite3_errmsg(db.get()));
  }
  return sqlite3_column_int64(stmt.get(), 0);
}

std::vector<std::string> query_plan(const std::string& path, const std::string& sql) {
  DbPtr db = open_db(path);
  StmtPtr stmt = prepare(db.get(), "EXPLAIN QUERY PLAN " + sql);
  std::vector<std::string> lines;
  while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
    const auto* detail = sqlite3_column_text(stmt.get(), 3);
    lines.emplace_back(detail != nullptr ? reinterpret_cast<const char*>(detail) : "");
  }
  return lines;
}

std::vector<std::string> program_opcodes(const std::string& path, const std::string& sql) {
  DbPtr db = open_db(path);
  StmtPtr stmt = prepare(db.get(), "EXPLAIN " + sql);
  std::vector<std::string> opcodes;
  while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
    const auto* opcode = sqlite3_column_text(stmt.get(), 1);
    opcodes.emplace_back(opcode != nullptr ? reinterpret_cast<const char*>(opcode) : "");
  }
  return opcodes;
}

void exec_sql(const std::string& path, const std::string& sql) {
  DbPtr db = open_db(path);
  char* message = nullptr;
  if (sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message != nullptr ? message : "?";
    sqlite3_free(message);
    throw std::runtime_error("'" + sql + "' failed: " + text);
  }
}

}  // namespace ocirelay::storage::test
