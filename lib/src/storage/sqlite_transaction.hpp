// SqliteTransaction: a write transaction (BEGIN IMMEDIATE) that is rolled back
// on destruction unless committed, so no error path leaves one open. On a
// grouped connection (SqliteConnection::set_grouped) it joins the group's
// transaction instead: begin() fails if SQLite has already rolled that back
// (after an error in it), commit() and the destructor leave it to the group.
//
// Thread contract: scoped to one call on the connection's thread.
#pragma once

#include "storage/sqlite_connection.hpp"

namespace ocirelay::storage {

class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteConnection& connection) noexcept : connection_(connection) {}
  ~SqliteTransaction();
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;

  // SQLite result codes. After a failed commit() the destructor rolls back
  // whatever SQLite has not already rolled back itself.
  int begin();
  int commit();

 private:
  SqliteConnection& connection_;
  bool open_ = false;
};

}  // namespace ocirelay::storage
